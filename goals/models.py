"""Goals (conversion events) and their settings for server-side sending."""

import math

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.codes import validate_goal_code
from accounts.models import (
    ATTRIBUTION_WINDOW_MAX_HOURS,
    Account,
    CodedModel,
    code_unique_in_account,
)
from goals.choices import GoalAcceptedFrom, GoalCounting, GoalTrigger
from targeting.conditions import GOAL_SOURCES, LEAVES_MAX, ConditionError, condition_check

REST_SEND_LABEL = "Goal events to be sent via REST API"
ACCEPTED_FROM_LABEL = "Goal events accepted from"

# A goal command's value `v` is a finite number from 0 to this (SPEC §10): the aggregates'
# sums of squares then stay far inside a double's range, whatever the traffic.
GOAL_VALUE_MAX = 1e12
TRIGGER_API_LABEL = GoalTrigger.API.label


def validate_max_value(value: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value <= 0 or value > GOAL_VALUE_MAX:
        raise ValidationError(
            f"Enter a number greater than 0 and at most {GOAL_VALUE_MAX:,.0f}.",
            code="invalid_max_value",
        )


validate_positive_finite = validate_max_value  # the name goals/migrations/0001 refers to


class Goal(CodedModel):
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
    accepted_from = models.CharField(
        ACCEPTED_FROM_LABEL,
        max_length=8,
        choices=GoalAcceptedFrom.choices,
        default=GoalAcceptedFrom.ANY,
        help_text=(
            "“Servers only”: goal events sent from a page (an Express target, whose key is "
            "public) are refused, so that nobody can forge this goal for another visitor or "
            "send it before your server does. Recommended for goals that carry a value."
        ),
    )
    counting = models.CharField(
        max_length=8, choices=GoalCounting.choices, default=GoalCounting.ONCE
    )
    max_value = models.FloatField(
        null=True,
        blank=True,
        validators=[validate_max_value],
        help_text="Larger values are capped to this. Blank: no cap.",
    )
    attribution_window_hours = models.PositiveIntegerField(
        "attribution window (hours)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(ATTRIBUTION_WINDOW_MAX_HOURS)],
        help_text="Overrides the account's attribution window for this goal. Blank: the account's.",
    )
    when = models.JSONField(
        null=True,
        blank=True,
        default=None,
        verbose_name="condition",
        help_text="A condition (docs/targeting.md) a goal command must meet to be credited; blank: "
        "always. Sources: input, trait, target, goal, variation.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(CodedModel.Meta):
        constraints = [
            code_unique_in_account(name="goal_code_unique_in_account", label="A goal"),
        ]

    @property
    def window_hours(self) -> int:
        """The attribution window in force: the goal's own, else the account's."""
        return self.attribution_window_hours or self.account.attribution_window_hours

    def clean(self) -> None:
        try:
            leaves = condition_check(self.when, path="when", sources=GOAL_SOURCES)
        except ConditionError as exc:
            raise ValidationError({"when": str(exc)}, code="invalid_condition") from exc
        if leaves > LEAVES_MAX:
            raise ValidationError(
                {"when": f"when: at most {LEAVES_MAX} leaves, not {leaves}"},
                code="invalid_condition",
            )
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


class GoalOutcomeCount(models.Model):
    """Goal diagnostics: how many goal commands of a goal ended with an outcome in one hour
    (goals.diagnostics). Kept 25 hours; counts, not visitor data."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    goal_code = models.CharField(max_length=64)
    hour = models.DateTimeField()
    outcome = models.CharField(max_length=32)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "goal_code", "hour", "outcome"], name="goal_outcome_per_hour"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="goal_outcome_by_hour")]

    def __str__(self) -> str:
        return f"{self.goal_code} {self.hour:%Y-%m-%d %H}h {self.outcome}: {self.count}"


class GoalMatchDay(models.Model):
    """The match rate (SPEC §4d): per day (UTC) and REST target, how many of a goal's goal
    commands found an assignment of the visitor (credited, or skipped for another reason)
    and how many found none (`no_selection`). Counts, not visitor data (goals.match_rate)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    goal_code = models.CharField(max_length=64)
    target_code = models.CharField(max_length=64)
    day = models.DateField()
    found = models.BigIntegerField(default=0)
    not_found = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "goal_code", "target_code", "day"], name="goal_match_per_day"
            ),
        ]
        indexes = [models.Index(fields=["day"], name="goal_match_by_day")]

    def __str__(self) -> str:
        return f"{self.goal_code} {self.target_code} {self.day}: {self.found}/{self.not_found}"


class GoalDelayDay(models.Model):
    """The time to convert (SPEC §4d): per day (UTC) a goal happened, how many of its
    credits came `hours` whole hours after the assignment's confirmation, and how many
    skips as `outside_window` (measured to the assignment the window was read from)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    goal_code = models.CharField(max_length=64)
    day = models.DateField()
    hours = models.PositiveIntegerField()
    credited = models.BigIntegerField(default=0)
    outside = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "goal_code", "day", "hours"], name="goal_delay_per_day"
            ),
        ]
        indexes = [models.Index(fields=["day"], name="goal_delay_by_day")]

    def __str__(self) -> str:
        return f"{self.goal_code} {self.day} +{self.hours}h: {self.credited}, {self.outside}"
