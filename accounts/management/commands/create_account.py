"""Create an account and print its first admin API key (shown once)."""

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from accounts.audit import AuditedCommand
from accounts.models import ATTRIBUTION_WINDOW_DEFAULT_HOURS, RETENTION_DEFAULT_DAYS
from accounts.roles import Role
from accounts.services import account_create, admin_key_create, membership_add


class Command(AuditedCommand):
    help = "Create an account (ac-…) and print its admin API key, which is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="account code, such as ac-acme")
        parser.add_argument("--name", required=True, help="display name")
        parser.add_argument(
            "--attribution-window-hours", type=int, default=ATTRIBUTION_WINDOW_DEFAULT_HOURS
        )
        parser.add_argument("--retention-days", type=int, default=RETENTION_DEFAULT_DAYS)
        parser.add_argument(
            "--staff",
            action="append",
            default=[],
            metavar="USERNAME",
            help="make this existing user a member of the account (repeatable)",
        )
        parser.add_argument(
            "--role",
            choices=Role.values,
            default=Role.OWNER,
            help="the --staff members' role (default owner: they set the account up)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        users = []
        for username in options["staff"]:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named “{username}”: create it first.")
            users.append(user)
        try:
            with transaction.atomic():
                account = account_create(
                    code=options["code"],
                    name=options["name"],
                    attribution_window_hours=options["attribution_window_hours"],
                    retention_days=options["retention_days"],
                )
                _, raw_key = admin_key_create(account=account, name="created by create_account")
                for user in users:
                    membership_add(account=account, user=user, role=options["role"])
        except ValidationError as exc:
            messages = [
                f"{field}: {message}" if field != "__all__" else message
                for field, field_messages in exc.message_dict.items()
                for message in field_messages
            ]
            raise CommandError("; ".join(messages)) from exc
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "code": account.code,
                        "name": account.name,
                        "attribution_window_hours": account.attribution_window_hours,
                        "retention_days": account.retention_days,
                        "admin_key": raw_key,
                    }
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Created account {account.code} ({account.name})."))
        self.stdout.write(f"Admin API key: {raw_key}")
        self.stdout.write("Copy it now: it is stored hashed and never shown again.")
