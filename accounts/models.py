"""Tenants: accounts, the staff who belong to them, and their admin API keys."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.codes import validate_account_code
from accounts.roles import NEW_MEMBER_ROLE, KeyScope, Role

ATTRIBUTION_WINDOW_DEFAULT_HOURS = 72
ATTRIBUTION_WINDOW_MAX_HOURS = 2160
RETENTION_DEFAULT_DAYS = 30
RETENTION_MAX_DAYS = 3650


# the statistics' account settings (SPEC §7b; docs/statistics.md)
SEQUENTIAL_TUNING_DEFAULT = 5000  # GrowthBook's default tuning of its confidence sequences
SEQUENTIAL_TUNING_MAX = 1_000_000_000
MDE_REL_DEFAULT = 0.10
MDE_REL_MIN = 0.001
MDE_REL_MAX = 10.0
# adaptive allocation's account settings (SPEC §4e; docs/statistics.md)
ADAPTIVE_PERIOD_DEFAULT_MINUTES = 60
ADAPTIVE_PERIOD_MIN_MINUTES = 5
ADAPTIVE_PERIOD_MAX_MINUTES = 7 * 24 * 60
ADAPTIVE_FLOOR_DEFAULT = 0.05
ADAPTIVE_FLOOR_MAX = 0.25  # with four variations or more, at most an equal share each
ADAPTIVE_BURN_IN_DEFAULT = 100
ADAPTIVE_BURN_IN_MAX = 1_000_000
MATCH_RATE_MIN_DEFAULT = 0.8  # the overview's warning (goals.match_rate)


class Account(models.Model):
    code = models.CharField(
        max_length=43,
        unique=True,
        validators=[validate_account_code],
        help_text=(
            "“ac-” and 1 to 40 lower-case letters, digits or dashes. Appears in runtime URLs."
        ),
    )
    name = models.CharField(max_length=200)
    attribution_window_hours = models.PositiveIntegerField(
        "attribution window (hours)",
        default=ATTRIBUTION_WINDOW_DEFAULT_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(ATTRIBUTION_WINDOW_MAX_HOURS)],
        help_text="How long after a selection a goal is still credited to it (1 to 2160 hours).",
    )
    retention_days = models.PositiveIntegerField(
        "retention (days)",
        default=RETENTION_DEFAULT_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(RETENTION_MAX_DAYS)],
        help_text="How long raw visitor-level data is kept. Must cover the attribution window.",
    )
    sequential_tuning = models.PositiveIntegerField(
        "sequential tuning (visitors)",
        default=SEQUENTIAL_TUNING_DEFAULT,
        validators=[MinValueValidator(100), MaxValueValidator(SEQUENTIAL_TUNING_MAX)],
        help_text="Where the always-valid intervals are tightest: about the number of "
        "visitors (all variations together) at which you expect to decide. 100 to "
        "1,000,000,000.",
    )
    mde_rel = models.FloatField(
        "minimum detectable effect (relative)",
        default=MDE_REL_DEFAULT,
        validators=[MinValueValidator(MDE_REL_MIN), MaxValueValidator(MDE_REL_MAX)],
        help_text="The smallest change of conversion rate worth finding, relative to the first "
        "variation (0.1: 10%). Sets “visitors needed” and what counts as no difference.",
    )
    adaptive_period_minutes = models.PositiveIntegerField(
        "allocation period (minutes)",
        default=ADAPTIVE_PERIOD_DEFAULT_MINUTES,
        validators=[
            MinValueValidator(ADAPTIVE_PERIOD_MIN_MINUTES),
            MaxValueValidator(ADAPTIVE_PERIOD_MAX_MINUTES),
        ],
        help_text="How often adaptive agents recompute their shares of new visitors (each "
        "period is a phase). 5 to 10,080 minutes.",
    )
    adaptive_floor = models.FloatField(
        "allocation floor",
        default=ADAPTIVE_FLOOR_DEFAULT,
        validators=[MinValueValidator(0.0), MaxValueValidator(ADAPTIVE_FLOOR_MAX)],
        help_text="The least share of new visitors each variation of an adaptive agent keeps "
        "(0.05: 5%), so that none stops being measured. 0 to 0.25; with many variations, "
        "at most an equal share each.",
    )
    adaptive_burn_in = models.PositiveIntegerField(
        "allocation burn-in (visitors)",
        default=ADAPTIVE_BURN_IN_DEFAULT,
        validators=[MaxValueValidator(ADAPTIVE_BURN_IN_MAX)],
        help_text="Adaptive agents split new visitors equally until every variation has this "
        "many visitors whose goals are all in.",
    )
    match_rate_min = models.FloatField(
        "match rate warning below",
        default=MATCH_RATE_MIN_DEFAULT,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="The overview warns when fewer than this share of a goal's REST goals found "
        "the visitor's assignment over the last 7 days (at least 20 goals; 0.8: 80%; 0: "
        "never).",
    )
    require_two_factor = models.BooleanField(
        "require two-factor sign-in",
        default=False,
        help_text="Members set up an authenticator app and enter its code after each sign-in "
        "before they see any of this account's data (admin API keys are unaffected).",
    )
    members: "models.ManyToManyField[Any, Any]" = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="conductrics_accounts",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def get_additional_data(self) -> dict:
        return {"account_id": self.pk}  # the audit log's account (accounts.audit)

    def clean(self) -> None:
        window = self.attribution_window_hours
        retention = self.retention_days
        if window and retention and retention * 24 < window:
            raise ValidationError(
                {
                    "retention_days": (
                        f"Retention ({retention} days) must cover the attribution window "
                        f"({window} hours): keep raw data at least "
                        f"{-(-window // 24)} days, or shorten the window."
                    )
                },
                code="retention_below_window",
            )
        if self.pk and retention:
            longest = (
                self.goals.exclude(attribution_window_hours__isnull=True)
                .order_by("-attribution_window_hours")
                .values_list("code", "attribution_window_hours")
                .first()
            )
            if longest and longest[1] is not None and retention * 24 < longest[1]:
                raise ValidationError(
                    {
                        "retention_days": (
                            f"Retention ({retention} days) must cover the attribution window of "
                            f"goal {longest[0]} ({longest[1]} hours)."
                        )
                    },
                    code="retention_below_window",
                )


class Membership(models.Model):
    """A staff user's membership of an account: what they may see and edit in the admin."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=NEW_MEMBER_ROLE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "staff member"
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.account.code}"

    def get_additional_data(self) -> dict:
        return {"account_id": self.account_id}  # the audit log's account (accounts.audit)


class AdminApiKey(models.Model):
    """An admin key of an account, for the management API. Only its hash is stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="admin_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="The start of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(
        max_length=8, choices=KeyScope.choices, default=KeyScope.WRITE,
        help_text="Read: a viewer (reads only). Write: an owner.",
    )  # fmt: skip
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from then on. Blank: never expires."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "admin API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.account.code})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.expired

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def get_additional_data(self) -> dict:
        return {"account_id": self.account_id}  # the audit log's account (accounts.audit)


class CodedModel(models.Model):
    """An object of an account named by a code unique in it (SPEC §2): an agent, a group,
    a goal, a deploy target. Listed by account and code, shown as "name (code)", and its
    account given to the audit log (accounts.audit). A model has its own `account`,
    `code` and `name` fields (each its own related name, pattern and help), and its
    constraint from `code_unique_in_account`."""

    # each model's own fields (declared there, each with its pattern and help)
    account_id: int
    code: str
    name: str

    class Meta:
        abstract = True
        ordering = ["account__code", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def get_additional_data(self) -> dict:
        return {"account_id": self.account_id}


def code_unique_in_account(*, name: str, label: str) -> models.UniqueConstraint:
    """The constraint that a code names one object of its kind (`label`) in an account."""
    return models.UniqueConstraint(
        fields=["account", "code"],
        name=name,
        violation_error_message=f"{label} with this code already exists in this account.",
    )
