"""Goals (conversion events) and their settings for server-side sending."""

import math

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.codes import validate_goal_code
from accounts.models import ATTRIBUTION_WINDOW_MAX_HOURS, Account


class GoalTrigger(models.TextChoices):
    PAGE_EVENT = "page_event", "Page events (Express-style trigger)"
    API = "api", "Programmatically, via API"


class GoalCounting(models.TextChoices):
    ONCE = "once", "Once per visitor per agent"
    EVERY = "every", "Every event (values add up)"


REST_SEND_LABEL = "Goal events to be sent via REST API"
TRIGGER_API_LABEL = GoalTrigger.API.label


def validate_positive_finite(value: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value <= 0:
        raise ValidationError("Enter a finite number greater than 0.", code="not_positive_finite")


class Goal(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="goals")
    code = models.CharField(
        max_length=42,
        validators=[validate_goal_code],
        help_text=(
            "“g-” and 1 to 40 letters, digits or dashes. Left blank, it is made from the name."
        ),
    )
    name = models.CharField(max_length=200)
    trigger = models.CharField(
        max_length=16, choices=GoalTrigger.choices, default=GoalTrigger.PAGE_EVENT
    )
    rest_send = models.BooleanField(
        REST_SEND_LABEL,
        default=False,
        help_text=(
            "Lets goal events of this goal, sent server-side through the REST API, be credited "
            f"to selections made client-side (Express). Needs Trigger “{TRIGGER_API_LABEL}”."
        ),
    )
    counting = models.CharField(
        max_length=8, choices=GoalCounting.choices, default=GoalCounting.ONCE
    )
    max_value = models.FloatField(
        null=True,
        blank=True,
        validators=[validate_positive_finite],
        help_text="Larger values are capped to this. Blank: no cap.",
    )
    attribution_window_hours = models.PositiveIntegerField(
        "attribution window (hours)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(ATTRIBUTION_WINDOW_MAX_HOURS)],
        help_text="Overrides the account's attribution window for this goal. Blank: the account's.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account__code", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "code"],
                name="goal_code_unique_in_account",
                violation_error_message="A goal with this code already exists in this account.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def window_hours(self) -> int:
        """The attribution window in force: the goal's own, else the account's."""
        return self.attribution_window_hours or self.account.attribution_window_hours

    def clean(self) -> None:
        if self.rest_send and self.trigger != GoalTrigger.API:
            raise ValidationError(
                {
                    "rest_send": (
                        f"“{REST_SEND_LABEL}” can only be turned on for API goals: set Trigger "
                        f"to “{TRIGGER_API_LABEL}” first, or turn “{REST_SEND_LABEL}” off."
                    )
                },
                code="rest_send_needs_api_trigger",
            )
        account = getattr(self, "account", None) if self.account_id else None
        if (
            account is not None
            and self.attribution_window_hours
            and account.retention_days * 24 < self.attribution_window_hours
        ):
            raise ValidationError(
                {
                    "attribution_window_hours": (
                        f"The account keeps raw data {account.retention_days} days, "
                        f"less than this window ({self.attribution_window_hours} hours): "
                        "raise the account's retention first, or shorten the window."
                    )
                },
                code="window_beyond_retention",
            )


class Channel(models.TextChoices):
    CLIENT = "client", "Client-side (Express / JS)"
    SERVER = "server", "Server-side (REST API)"


class GoalEvent(models.Model):
    """A goal command received by the agent-api (raw visitor-level data).

    `event_id` is the caller's id for idempotent retries, unique per goal; `response`
    is the goal item first answered, replayed for a retry.
    """

    # No foreign-key constraints on raw rows (see agents.models.Assignment), and no index
    # where a composite index below starts with the column.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    event_id = models.CharField(max_length=128, null=True, blank=True)
    session = models.CharField(max_length=128)
    vid = models.CharField(max_length=128, null=True, blank=True)
    target = models.ForeignKey(
        "targets.DeployTarget", on_delete=models.SET_NULL, null=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    channel = models.CharField(max_length=8, choices=Channel.choices)
    value = models.FloatField()
    received_at = models.DateTimeField()
    response = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "event_id"],
                name="goal_event_id_unique_per_goal",
                condition=models.Q(event_id__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["session", "goal"], name="goal_event_by_session"),
            models.Index(
                fields=["vid", "goal"],
                name="goal_event_by_vid",
                condition=models.Q(vid__isnull=False),
            ),
            # purges find where the rows older than a cutoff end
            models.Index(fields=["account", "received_at"], name="goal_event_by_account_time"),
        ]

    def __str__(self) -> str:
        return f"{self.goal_id} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class Credit(models.Model):
    """A goal event credited to an assignment (one variation of one agent).

    `first` marks the credit that made this assignment's visitor a conversion of the goal:
    at most one per assignment and goal, enforced by the database, so concurrent requests
    can neither double count a conversion nor credit a once-counted goal twice.

    Its links carry no database constraint: each raw table is purged by its own age (a
    credit can outlive the assignment it went to), purges then need no per-row reference
    checks, and the agent-api's write needs no constraint checks. Credits are only ever
    written together with what they point at.
    """

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    event = models.ForeignKey(
        GoalEvent, on_delete=models.CASCADE, related_name="credits", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="credits", db_constraint=False
    )
    agent = models.ForeignKey(
        "agents.Agent", on_delete=models.CASCADE, related_name="credits", db_constraint=False
    )
    variation = models.ForeignKey(
        "agents.Variation", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    assignment = models.ForeignKey(
        "agents.Assignment", on_delete=models.CASCADE, related_name="credits",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    value = models.FloatField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    first = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "assignment"],
                name="credit_first_per_assignment",
                condition=models.Q(first=True),
            ),
        ]
        indexes = [
            models.Index(fields=["assignment", "goal"], name="credit_by_assignment"),
            # the agent-api's "already credited in this agent through the visitor's events"
            models.Index(fields=["event", "agent"], name="credit_by_event_agent"),
            # purges find where the rows older than a cutoff end
            models.Index(fields=["account", "created_at"], name="credit_by_account_time"),
        ]

    def __str__(self) -> str:
        return f"{self.goal_id} → {self.variation_id} ({self.value:g})"
