"""Distribute this installation's database by account on Citus (docs/scaling.md)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from accounts.distribution import distributed, distribution_steps, shape_problems


class Command(BaseCommand):
    help = (
        "Make the configuration tables Citus reference tables and distribute the tables "
        "requests write by account, co-located. Idempotent: what is done already is "
        "skipped, and a run stopped half-way goes on where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="print the SQL it would run, run nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not distributed():
            raise CommandError(
                "The database is not a Citus coordinator (no citus extension): install Citus, "
                "CREATE EXTENSION citus, and add the workers (citus_add_node) first."
            )
        problems = shape_problems()
        if problems:
            listed = "\n  ".join(map(str, problems))
            raise CommandError(f"The schema cannot be distributed yet (migrate first):\n  {listed}")
        try:
            steps = distribution_steps()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not steps:
            self.stdout.write("Already distributed by account: nothing to do.")
            return
        if options["dry_run"]:
            for step in steps:
                self.stdout.write(f"-- {step.what}\n{step.sql};")
            return
        for number, step in enumerate(steps, 1):
            self.stdout.write(f"[{number}/{len(steps)}] {step.what}")
            try:
                with connection.cursor() as cursor:
                    cursor.execute(step.sql)
            except DatabaseError as exc:
                raise CommandError(
                    f"{step.sql} failed: {exc}\nWhat went before is kept; run the command "
                    "again to go on from here."
                ) from exc
        self.stdout.write(self.style.SUCCESS(f"Distributed by account ({len(steps)} steps)."))
