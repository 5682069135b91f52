"""Judge stored goal events again under today's configuration (SPEC §4c)."""

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser

from accounts.audit import AuditedCommand
from visitors.config import account_conf
from visitors.replay import REPLAYABLE, goal_events_replay


def _date(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"“{value}” is not a date: write it as YYYY-MM-DD.") from None


class Command(AuditedCommand):
    help = (
        "Judge again the stored goal events that were skipped for a setting since fixed (the "
        "REST option, a window, the agent's status), at their own time: credit what matches "
        "now, never twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="account code")
        parser.add_argument("--goal", help="goal code (default: every goal)")
        parser.add_argument("--since", type=_date, help="events that happened from this date")
        parser.add_argument("--until", type=_date, help="events that happened before this date")
        parser.add_argument(
            "--reason", action="append", choices=REPLAYABLE,
            help=f"skip reasons to judge again (repeatable; default: {', '.join(REPLAYABLE)})",
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="count, credit nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        account = account_conf(code=options["account"])
        if account is None:
            raise CommandError(f"No account “{options['account']}”.")
        if options["goal"] and options["goal"] not in account.goals:
            raise CommandError(f"No goal “{options['goal']}” in {account.code}.")
        counts = goal_events_replay(
            account=account,
            goal_code=options["goal"],
            since=options["since"],
            until=options["until"],
            replay_reasons=options["reason"] or REPLAYABLE,
            dry_run=options["dry_run"],
        )
        verb = "Would credit" if options["dry_run"] else "Credited"
        self.stdout.write(
            f"Judged {counts.events:,} stored goal events again. {verb} {counts.credited:,} of "
            f"them ({counts.credits:,} credits)."
        )
        if counts.no_context:
            self.stdout.write(
                f"{counts.no_context:,} left as they were: the goal has a condition now and "
                "they kept no inputs or traits for it (they arrived before it had one)."
            )
        self.stdout.write(f"{'reason':28s} {'before':>9s} {'after':>9s}")
        for reason in sorted(set(counts.before) | set(counts.after)):
            self.stdout.write(
                f"{reason:28s} {counts.before[reason]:>9,} {counts.after[reason]:>9,}"
            )
