"""Create the demo account (idempotent) and print its keys."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from accounts.audit import AuditedCommand
from agents.demo import demo_seed


class Command(AuditedCommand):
    help = (
        "Create (or complete) the demo account ac-demo: an Express target and a REST target "
        "passing the External Visitor ID, g-purchase sent via REST, a running agent a-hero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="also create this superuser (or reset it)")
        parser.add_argument("--password", help="password of --username")
        parser.add_argument(
            "--new-admin-key",
            action="store_true",
            help="create a new admin API key even if the account has one",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["username"]) != bool(options["password"]):
            raise CommandError("--username and --password go together.")
        demo = demo_seed(
            username=options["username"],
            password=options["password"],
            new_admin_key=options["new_admin_key"],
        )
        verb = "Created" if demo.created else "Checked"
        self.stdout.write(self.style.SUCCESS(f"{verb} demo account {demo.account.code}."))
        self.stdout.write(
            f"Express target {demo.express_target.code} key: {demo.express_target.api_key}"
        )
        self.stdout.write(f"REST target    {demo.rest_target.code} key: {demo.rest_target.api_key}")
        self.stdout.write(f"Agent {demo.agent.code} ({demo.agent.status}), goal g-purchase")
        if demo.admin_key:
            self.stdout.write(f"Admin API key (shown once): {demo.admin_key}")
        else:
            self.stdout.write(
                "Admin API key: already created (run with --new-admin-key for another)."
            )
        if demo.user is not None:
            self.stdout.write(f"Admin login: user “{demo.user.get_username()}”")
