"""Additive aggregates kept by the agent-api's write path; reports read only these.

They survive purges of raw visitor-level data (assignments, goal events, credits), and
are incremented by `INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`, so
concurrent requests never lose an increment. `day` is the UTC date of the event; the
channel is where it happened: `client` (Express target) or `server` (REST target).

A key (variation, day, channel...) may have up to `AGGREGATE_SHARDS` rows, told apart by
`shard`, so that concurrent requests do not all wait on one row's lock; a report sums
them. `phase` is the phase of the assignment counted (SPEC §4e): a goal that arrives
late counts in its assignment's phase. `forced` rows count assignments that a rule
(targeted selection) forced: reported as each variation's `fixed` block, never in its
statistics.
"""

from django.db import models

from accounts.distribution import account_in_key

AGGREGATE_SHARDS = 16


class VisitorDay(models.Model):
    """New visitors (confirmed first assignments) of a variation, per day and channel."""

    account = account_in_key()  # in every key (accounts.distribution)
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    variation = models.ForeignKey("agents.Variation", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=8)
    forced = models.BooleanField(default=False, db_default=False)  # by a rule: "fixed"
    phase = models.PositiveIntegerField(default=1, db_default=1)  # the assignment's
    shard = models.PositiveSmallIntegerField(default=0)
    visitors = models.BigIntegerField(default=0)

    recorded_as = "report_rows"  # accounts.recorded_data

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    *("agent", "variation", "day", "channel", "forced", "phase", "shard"),
                    "account",
                ],
                name="visitor_day_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variation_id} {self.day} {self.channel}: {self.visitors}"


class GoalDay(models.Model):
    """Credits of a goal to a variation, per day and channel.

    `conversions` counts visitors credited for the first time; `credits` every credit;
    `value_sum` the credited values; `value_sumsq` the increments of the sum over visitors
    of (visitor's total value)², so value per visitor gets a variance without raw data.
    """

    account = account_in_key()  # in every key (accounts.distribution)
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    variation = models.ForeignKey("agents.Variation", on_delete=models.CASCADE, related_name="+")
    goal = models.ForeignKey("goals.Goal", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=8)
    forced = models.BooleanField(default=False, db_default=False)  # by a rule: "fixed"
    phase = models.PositiveIntegerField(default=1, db_default=1)  # the assignment's
    shard = models.PositiveSmallIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    credits = models.BigIntegerField(default=0)
    value_sum = models.FloatField(default=0)
    value_sumsq = models.FloatField(default=0)

    recorded_as = "report_rows"  # accounts.recorded_data

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    *("agent", "variation", "goal", "day", "channel", "forced", "phase"),
                    *("shard", "account"),
                ],
                name="goal_day_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.goal_id}/{self.variation_id} {self.day} {self.channel}: {self.conversions}"


class LinkConflict(models.Model):
    """Assignments that linking ids made a person's second in an agent (SPEC §4d): both
    stay recorded (each counted as a visitor when it was made), the earliest is the one
    kept and credited, and each later one is counted here, by its variation and phase."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    variation = models.ForeignKey("agents.Variation", on_delete=models.CASCADE, related_name="+")
    phase = models.PositiveIntegerField(default=1)
    conflicts = models.BigIntegerField(default=0)

    recorded_as = "report_rows"  # accounts.recorded_data

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "agent", "variation", "phase"], name="link_conflict_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variation_id} phase {self.phase}: {self.conflicts}"
