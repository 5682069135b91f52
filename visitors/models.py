"""Raw visitor-level data: who saw what (assignments), goal events, and their credits.

Written by the agent-api's request engine (`visitors.execution`), deleted by the purges
(`visitors.purge`), kept for the account's retention. Reports read the aggregates in
`reports.models`, never these rows.

The tables keep the names they had when the models lived in `agents` and `goals` (the
move was a change of Django's state only: tables, indexes and data unchanged).
"""

from django.db import models

from accounts.models import Account
from agents.models import Agent, Variation
from goals.models import Goal
from targets.choices import Channel


class Assignment(models.Model):
    """A visitor's assignment to a variation of an agent: raw visitor-level data.

    `identity` is what the visitor was bucketed by: `v:<vid>` when an External Visitor ID
    was passed and allowed, else `s:<session>`. `vid` is set only in the first case, so
    an assignment found by vid was always made on a target that allowed passing it.
    `confirmed_at` is null while the assignment is provisional.
    """

    # Raw rows carry no foreign-key constraints: checking them cost the agent-api more than
    # writing the rows. Deletes still cascade (Django does it), and every request writes its
    # report aggregates, which keep their constraints, in the same statement.
    # No index where a composite index below starts with the column.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    agent = models.ForeignKey(
        Agent,
        on_delete=models.CASCADE,
        related_name="assignments",
        db_constraint=False,
        db_index=False,
    )
    variation = models.ForeignKey(
        Variation, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    identity = models.CharField(max_length=130)
    session = models.CharField(max_length=128)
    vid = models.CharField(max_length=128, null=True, blank=True)
    target = models.ForeignKey(
        "targets.DeployTarget",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    target_kind = models.CharField(max_length=8)
    traits = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # how it was chosen: "r" by weighted hash, "f" forced by a rule (reported apart)
    policy = models.CharField(max_length=1, default="r", db_default="r")
    # the agent's phase when it was made (SPEC §4e): its visitor and credits count there
    phase = models.PositiveIntegerField(default=1, db_default=1)

    recorded_as = "assignments"  # accounts.recorded_data

    class Meta:
        db_table = "agents_assignment"
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "identity", "account"], name="assignment_once_per_visitor"
            ),
        ]
        indexes = [
            models.Index(fields=["session", "agent"], name="assignment_by_session"),
            models.Index(
                fields=["vid", "agent"],
                name="assignment_by_vid",
                condition=models.Q(vid__isnull=False),
            ),
            # purges find where the rows older than a cutoff end
            models.Index(fields=["account", "created_at"], name="assignment_by_account_time"),
        ]

    def __str__(self) -> str:
        return f"{self.identity} → {self.variation.code} in {self.agent.code}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class GoalEvent(models.Model):
    """A goal command received by the agent-api (raw visitor-level data).

    `event_id` is the caller's id for idempotent retries, unique per goal and channel (the
    kind of target it came through: a page's id never takes a server's, SPEC §4);
    `response` is the goal item first answered, replayed for a retry of the same visitor.
    """

    # No foreign-key constraints on raw rows (see Assignment), and no index
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
        "targets.DeployTarget",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    value = models.FloatField()
    received_at = models.DateTimeField()
    # when it happened: the `t` a REST target sent (SPEC §4c), else when it was received
    occurred_at = models.DateTimeField("happened at")
    response = models.JSONField(default=dict)

    recorded_as = "goal_events"  # accounts.recorded_data

    class Meta:
        db_table = "goals_goalevent"
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "channel", "event_id", "account"],
                name="goal_event_id_once_per_channel",
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
        return f"{self.goal.code} at {self.received_at:%Y-%m-%d %H:%M:%S}"


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
        GoalEvent,
        on_delete=models.CASCADE,
        related_name="credits",
        db_constraint=False,
        db_index=False,
    )
    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="credits", db_constraint=False
    )
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="credits", db_constraint=False
    )
    variation = models.ForeignKey(
        Variation, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    assignment = models.ForeignKey(
        Assignment,
        on_delete=models.CASCADE,
        related_name="credits",
        db_constraint=False,
        db_index=False,
    )
    value = models.FloatField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    first = models.BooleanField()
    created_at = models.DateTimeField()

    recorded_as = "credits"  # accounts.recorded_data

    class Meta:
        db_table = "goals_credit"
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "assignment", "account"],
                name="credit_first_once_per_assignment",
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
        return f"{self.goal.code} → {self.variation.code} ({self.value:g})"


class VisitorLink(models.Model):
    """One id of a person whose ids are linked (SPEC §4d): raw data, kept for the account's
    retention. The ids sharing a `person` (an opaque label, never an id itself, so a purged
    id that comes back alone never rejoins its old person) are one visitor for matching
    and for selections (`visitors.links`)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    vid = models.CharField(max_length=128)
    person = models.UUIDField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "visitors_visitorlink"
        constraints = [
            models.UniqueConstraint(fields=["account", "vid"], name="visitor_link_one_person"),
        ]
        indexes = [
            # by person alone (a label unique across accounts): the visitor read's lookup of
            # an id then has only the unique key (account, vid) to use
            models.Index(fields=["person"], name="visitor_link_by_person"),
            # purges find the rows older than a cutoff (not led by the account: the read's
            # lookup of an id by (account, vid) has the unique key alone to choose)
            models.Index(fields=["created_at"], name="visitor_link_by_time"),
        ]

    def __str__(self) -> str:
        return f"{self.vid} (person {self.person})"


class ConfigVersion(models.Model):
    """A counter per account, raised by every change of its configuration (in the same
    transaction), so that every server process sees a change within
    `CONFIG_CHECK_SECONDS` by reading one number (see visitors.config)."""

    # No constraint: an account's deletion raises the version of what it takes with it
    # until its very end; the row goes last (visitors.apps).
    account = models.OneToOneField(
        Account,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        related_name="+",
        db_constraint=False,
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.version}"


class GoalReplay(models.Model):
    """A replay of skipped goal events (SPEC §4c): what was judged again, by whom (the
    audit log records its creation with its actor), and how many it credited."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    goal_code = models.CharField(max_length=64, blank=True)  # blank: every goal
    reasons = models.CharField(max_length=300)
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    events = models.PositiveIntegerField("events judged again", default=0)
    credited = models.PositiveIntegerField("events credited", default=0)
    credits = models.PositiveIntegerField("credits made", default=0)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = "goal replay"

    def __str__(self) -> str:
        return f"{self.goal_code or 'every goal'}: {self.credited} of {self.events} credited"

    def get_additional_data(self) -> dict[str, int]:
        return {"account_id": self.account_id}  # the audit log's account (accounts.audit)


class GoalImport(models.Model):
    """An import of offline conversions from the admin (SPEC §4c "Offline import"): the
    file read and split into parts of up to 1,000 rows on upload, previewed (a dry run of
    its first rows), then judged a part at a time (so it resumes where it stopped after the
    page is closed), kept with its counts and its verdict report. Audited: who uploaded,
    started and discarded it."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "previewed, not started"
        RUNNING = "running", "importing"
        DONE = "done", "imported"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey("targets.DeployTarget", on_delete=models.CASCADE, related_name="+")
    name = models.CharField("file", max_length=255)
    size = models.PositiveBigIntegerField("bytes", default=0)
    rows = models.PositiveIntegerField(default=0)
    parts = models.PositiveIntegerField(default=0)
    parts_done = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEW)
    counts = models.JSONField(default=dict, blank=True)  # visitors.imports.ImportCounts
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "goal import"

    def __str__(self) -> str:
        return f"{self.name} ({self.rows} rows, {self.get_status_display()})"

    def get_additional_data(self) -> dict[str, int]:
        return {"account_id": self.account_id}  # the audit log's account (accounts.audit)


class GoalImportPart(models.Model):
    """Up to 1,000 rows of an import, as read from the file (`[line, row or why not]`),
    and, once judged, their verdict report (CSV lines). The rows are cleared once judged:
    the report names lines and verdicts, no visitor."""

    goal_import = models.ForeignKey(GoalImport, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    rows = models.JSONField(default=list)
    report = models.TextField(blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["goal_import", "index"], name="goal_import_part_once")
        ]

    def __str__(self) -> str:
        return f"part {self.index + 1} of {self.goal_import_id}"
