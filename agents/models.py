"""Agents (tests) and their variations."""

import math
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from accounts.codes import (
    BAD_TEXT_RULE,
    text_ok,
    validate_agent_code,
    validate_group_code,
    validate_variation_code,
)
from accounts.models import Account, CodedModel, Membership, code_unique_in_account
from agents.choices import AgentStatus, Allocation

METADATA_MAX_KEYS = 20
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 256


WEIGHT_MAX = 1e6
VARIATIONS_MIN = 2  # an agent compares at least two variations (SPEC §3)


def validate_weight(value: float) -> None:
    if value is None or not math.isfinite(value) or not 0 <= value <= WEIGHT_MAX:
        raise ValidationError(
            f"A weight is a number from 0 to {WEIGHT_MAX:,.0f}.", code="invalid_weight"
        )


def validate_metadata(value: object) -> None:
    """Metadata is an object of short strings: at most 20 keys of 64 chars, values of 256."""
    if not isinstance(value, dict):
        raise ValidationError(
            'Metadata must be an object of strings, such as {"headline": "Hello"}.',
            code="invalid_metadata",
        )
    if len(value) > METADATA_MAX_KEYS:
        raise ValidationError(
            f"Metadata holds at most {METADATA_MAX_KEYS} keys.", code="invalid_metadata"
        )
    for key, item in value.items():
        if not key or len(key) > METADATA_KEY_MAX:
            raise ValidationError(
                f"Metadata key “{key}” must be 1 to {METADATA_KEY_MAX} characters.",
                code="invalid_metadata",
            )
        if not text_ok(key) or (isinstance(item, str) and not text_ok(item)):
            raise ValidationError(
                f"Metadata keys and values must be {BAD_TEXT_RULE}.", code="invalid_metadata"
            )
        if not isinstance(item, str) or len(item) > METADATA_VALUE_MAX:
            raise ValidationError(
                f"Metadata value of “{key}” must be a string of at most "
                f"{METADATA_VALUE_MAX} characters.",
                code="invalid_metadata",
            )


TAGS_MAX = 20
TAG_LENGTH_MAX = 40
# ASCII (as the schema's pattern reads it); no comma: tags are kept joined by commas
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .:/-]*$")
TAG_RULE = (
    f"1 to {TAG_LENGTH_MAX} of A-Z a-z 0-9 and space _ . : / -, starting with a letter, "
    "a digit or _"
)
# an agent's lifecycle columns (SPEC §6b), as its page shows them and the audit log keeps them
LIFECYCLE_COLUMNS = ("starts_at", "ends_at", "owner", "hypothesis", "tags", "archived_at")
HYPOTHESIS_MAX = 2000
DECISION_NOTE_MAX = 2000


def tags_split(text: str) -> list[str]:
    """An agent's tags as a list (stored joined by commas, for a filter every database
    runs alike)."""
    return [tag for tag in text.split(",") if tag]


def tags_validate(tags: list[str]) -> None:
    """Raise ValidationError unless `tags` are at most TAGS_MAX distinct well-formed tags."""
    if len(tags) > TAGS_MAX:
        raise ValidationError(f"At most {TAGS_MAX} tags.", code="invalid_tags")
    for tag in tags:
        if not (0 < len(tag) <= TAG_LENGTH_MAX and TAG_RE.match(tag)):
            raise ValidationError(
                f"Tag “{tag[: TAG_LENGTH_MAX + 1]}”: a tag is {TAG_RULE}.", code="invalid_tags"
            )
    twice = sorted({t for t in tags if tags.count(t) > 1})
    if twice:
        raise ValidationError(f"Tags listed twice: {', '.join(twice)}.", code="invalid_tags")


def _validate_tags_text(value: str) -> None:
    tags_validate(tags_split(value))


class Agent(CodedModel):
    Status = AgentStatus  # Agent.Status.RUNNING, for code that reaches agents by relation
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="agents")
    code = models.CharField(
        max_length=42,
        validators=[validate_agent_code],
        help_text=(
            "“a-” and 1 to 40 letters, digits or dashes. Left blank, it is made from the name."
        ),
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=AgentStatus.choices, default=AgentStatus.PAUSED)
    paused_variation = models.ForeignKey(
        "agents.Variation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Served while the agent is paused. Blank: the first variation.",
    )
    eligibility = models.JSONField(
        null=True,
        blank=True,
        default=None,
        verbose_name="agent applies to",
        help_text="A condition (docs/targeting.md); blank: every visitor.",
    )
    rules = models.JSONField(
        default=list,
        blank=True,
        verbose_name="targeted selections",
        help_text="Ordered rules {name, when, variation}: the first that holds forces its "
        "variation.",
    )
    qa = models.JSONField(
        default=list,
        blank=True,
        verbose_name="QA overrides",
        help_text="{session or vid, variation}: that visitor always sees that variation, "
        "whatever the status; nothing is recorded.",
    )
    goals = models.ManyToManyField("goals.Goal", related_name="agents", blank=True)
    targets = models.ManyToManyField(
        "targets.DeployTarget", related_name="agents", blank=True, verbose_name="deploy targets"
    )
    # lifecycle (SPEC §6b)
    starts_at = models.DateTimeField(
        null=True, blank=True, help_text="A running agent runs from then on. Blank: at once."
    )
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="A running agent runs until then. Blank: no end."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_agents",
        help_text="Who answers for this test: a member of its account.",
    )
    hypothesis = models.TextField(
        max_length=HYPOTHESIS_MAX, blank=True, help_text="What the test expects, and why."
    )
    tags = models.CharField(
        max_length=TAGS_MAX * (TAG_LENGTH_MAX + 1) + 1,
        blank=True,
        validators=[_validate_tags_text],
        help_text=f"Separated by commas; each {TAG_RULE}.",
    )
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Archived agents are hidden from the lists; their data is kept.",
    )
    allocation = models.CharField(
        max_length=8,
        choices=Allocation.choices,
        default=Allocation.FIXED,
        help_text="Adaptive: each allocation period (an account setting), new visitors are "
        "shared by each variation's chance of converting best on the first goal; a "
        "variation of weight 0 gets none.",
    )
    # the phase new assignments are recorded in (SPEC §4e, agents.phases)
    phase = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # not a column: the decision a save by agents.services.agent_decide carries
    decided: "AgentDecision | None" = None

    class Meta(CodedModel.Meta):
        constraints = [
            code_unique_in_account(name="agent_code_unique_in_account", label="An agent"),
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(starts_at__lt=models.F("ends_at")),
                name="agent_starts_before_it_ends",
                violation_error_message="The agent must start before it ends.",
            ),
        ]

    @property
    def tag_list(self) -> list[str]:
        return tags_split(self.tags)

    def get_additional_data(self) -> dict:
        # the audit log's account and agent (accounts.audit)
        return {"account_id": self.account_id, "agent_id": self.pk}

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            raise ValidationError(
                {"ends_at": "The end must come after the start."}, code="invalid_schedule"
            )
        owner_id = self.owner_id
        if (
            owner_id
            and not Membership.objects.filter(account_id=self.account_id, user_id=owner_id).exists()
        ):
            raise ValidationError(
                {"owner": "The owner must be a member of the agent's account."},
                code="owner_not_member",
            )
        paused = self.paused_variation if self.paused_variation_id else None
        if paused is not None and self.pk and paused.agent_id != self.pk:
            raise ValidationError(
                {
                    "paused_variation": (
                        "The paused variation must be one of this agent's variations."
                    )
                },
                code="foreign_paused_variation",
            )


class AgentRun(models.Model):
    """A period in which an agent ran (SPEC §4c): a goal that happened inside one is
    credited even if the agent was stopped or paused since. `ended_at` is empty while it
    runs. Kept by `agents.runs` whenever an agent is saved."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agent", "started_at"]
        constraints = [  # at most one open period per agent
            models.UniqueConstraint(
                fields=["agent"], condition=models.Q(ended_at__isnull=True), name="agent_run_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.started_at} – {self.ended_at or 'now'}"


class AgentPhase(models.Model):
    """A phase of an agent (SPEC §4e): from `started_at` until the next one began, new
    visitors were assigned with these weights (by variation code) and this eligibility.
    Each assignment records its phase; the report tests sample ratios per phase and
    weights phases by their share of visitors (agents.phases, reports.phases)."""

    class Cause(models.TextChoices):
        START = "start", "the agent's first phase"
        WEIGHTS = "weights", "the weights changed"
        VARIATIONS = "variations", "variations were added or removed"
        ELIGIBILITY = "eligibility", "the eligibility changed"
        PERIOD = "period", "a new allocation period"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="phases")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    weights = models.JSONField(default=dict)  # {variation code: weight}
    eligibility = models.JSONField(null=True, blank=True, default=None)
    cause = models.CharField(max_length=12, choices=Cause.choices, default=Cause.START)

    class Meta:
        ordering = ["agent", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "number"], name="agent_phase_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} phase {self.number} from {self.started_at:%Y-%m-%d %H:%M}"

    def get_additional_data(self) -> dict:
        return {"agent_id": self.agent_id}


class AgentDecision(models.Model):
    """A decision recorded on an agent (SPEC §6b "Decide"): the winning variation, who,
    when, a note, and the verdicts of the agent's goals at that moment. Deciding pauses
    the agent on the winner, so every visitor gets it; the latest decision is the one
    shown."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="decisions")
    variation = models.ForeignKey(
        "agents.Variation", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    variation_code = models.CharField(max_length=32)  # kept if the variation goes
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    decided_by_label = models.CharField(max_length=200)  # a user's name, or an admin key's
    decided_at = models.DateTimeField()
    note = models.TextField(max_length=DECISION_NOTE_MAX, blank=True)
    # [{goal, state, text}] of each goal of the agent when it was decided
    verdicts = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["agent", "-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.variation_code} decided {self.decided_at:%Y-%m-%d}"

    def get_additional_data(self) -> dict:
        return {"account_id": self.agent.account_id, "agent_id": self.agent_id}


class Variation(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="variations")
    code = models.CharField(
        max_length=32,
        validators=[validate_variation_code],
        help_text="1 to 32 letters, digits, underscores or dashes, such as A or B.",
    )
    name = models.CharField(max_length=200, blank=True)
    weight = models.FloatField(default=1, validators=[validate_weight])
    metadata = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_metadata],
        help_text="An object of short strings returned to clients as “md”.",
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order of the variations; the first one is the baseline."
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "code"],
                name="variation_code_unique_in_agent",
                violation_error_message="A variation with this code already exists in this agent.",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def get_additional_data(self) -> dict:
        return {"account_id": self.agent.account_id, "agent_id": self.agent_id}


class AgentGroup(CodedModel):
    """A mutually exclusive group (SPEC §4b): a visitor gets selections from one of its
    agents only, the one of its slot (a weighted hash of the group code and the visitor)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="agent_groups")
    code = models.CharField(
        max_length=43,
        validators=[validate_group_code],
        help_text="“mx-” and 1 to 40 letters, digits or dashes.",
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(CodedModel.Meta):
        verbose_name = "mutually exclusive group"
        constraints = [
            code_unique_in_account(name="agent_group_code_unique_in_account", label="A group"),
        ]


class GroupMember(models.Model):
    """An agent's place in its group (an agent is in at most one), with its weight."""

    group = models.ForeignKey(AgentGroup, on_delete=models.CASCADE, related_name="members")
    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="group_membership")
    weight = models.FloatField(default=1, validators=[validate_weight])
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.agent_id} in {self.group_id} ({self.weight:g})"

    def get_additional_data(self) -> dict:
        return {"account_id": self.group.account_id, "agent_id": self.agent_id}
