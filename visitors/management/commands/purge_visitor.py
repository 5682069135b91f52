"""Erase one visitor's raw data (assignments, goal events, credits); reports are unchanged."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from visitors.purge import visitor_erase


class Command(BaseCommand):
    help = "Erase one visitor's raw data, by external visitor id or by session."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="account code")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--vid", help="external visitor id (with every session seen with it)")
        who.add_argument("--session", help="session id")
        parser.add_argument("--dry-run", action="store_true", help="count, erase nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(code=options["account"]).first()
        if account is None:
            raise CommandError(f"No account “{options['account']}”.")
        try:
            counts = visitor_erase(
                account=account,
                vid=options["vid"],
                session=options["session"],
                dry_run=options["dry_run"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        verb = "Would erase" if options["dry_run"] else "Erased"
        self.stdout.write(f"{verb} {counts.describe()} of this visitor in {account.code}.")
