"""An agent's phases (SPEC §4e): changing the weights, the variations or the eligibility of
an agent that has served visitors begins a new phase, so that the report can test sample
ratios against the weights each visitor was assigned with, and weigh phases fairly.

Whoever changes an agent reads its signature before the change (`phase_signature_stored`)
and calls `phase_note` after it, in the same transaction: the new phase number reaches
the agent-api's configuration snapshot with the new weights, never apart from them.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from agents.choices import AgentStatus, Allocation
from agents.models import Agent, AgentPhase, AgentRun, Variation

PHASE_CONFIRM = "phase_confirm"  # the admin's "Begin a new phase" box, in the agent's form


@dataclass(frozen=True)
class Signature:
    """What a phase holds fixed: the weights by variation code, and the eligibility."""

    weights: dict[str, float]
    eligibility: Any

    def cause_against(self, before: "Signature", *, adaptive: bool = False) -> str:
        """Why going from `before` to this begins a phase ("" when it does not). An
        adaptive agent's phase holds its shares, not the weights: a change of weights
        (0 or not) is applied by its next allocation period."""
        if set(self.weights) != set(before.weights):
            return AgentPhase.Cause.VARIATIONS
        if self.weights != before.weights and not adaptive:
            return AgentPhase.Cause.WEIGHTS
        if self.eligibility != before.eligibility:
            return AgentPhase.Cause.ELIGIBILITY
        return ""


def phase_signature_stored(*, agent_id: int | None) -> Signature | None:
    """The signature the database holds for the agent (None for one not saved yet)."""
    if agent_id is None:
        return None
    eligibility = Agent.objects.filter(pk=agent_id).values_list("eligibility", flat=True).first()
    weights = dict(Variation.objects.filter(agent_id=agent_id).values_list("code", "weight"))
    return phase_signature(weights=weights, eligibility=eligibility)


def phase_signature(*, weights: dict[str, float], eligibility: Any) -> Signature:
    return Signature({c: float(w) for c, w in weights.items()}, eligibility)


def _cause(agent: Agent, phase: AgentPhase, after: Signature) -> str:
    """Why `after` differs from what `phase` of `agent` holds ("" when it does not)."""
    recorded = Signature(phase.weights, phase.eligibility)
    return after.cause_against(recorded, adaptive=agent.allocation == Allocation.ADAPTIVE)


def _served_since(agent: Agent, at: datetime) -> bool:
    """Whether the agent ran (so assigned visitors) at some time since `at`."""
    if agent.status == AgentStatus.RUNNING:
        return True
    return AgentRun.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=at), agent_id=agent.pk
    ).exists()


def phase_current(*, agent: Agent, before: Signature | None = None) -> AgentPhase:
    """The agent's current phase, recorded from `before` (or what is stored now) if it was
    never recorded (agents made before phases, or by hand in a test)."""
    phase = AgentPhase.objects.filter(agent_id=agent.pk, number=agent.phase).first()
    if phase is None:
        signature = before or phase_signature_stored(agent_id=agent.pk)
        if signature is None:
            raise AssertionError("a phase is recorded for a saved agent")
        phase = AgentPhase.objects.create(
            agent_id=agent.pk,
            number=agent.phase,
            started_at=agent.created_at,
            weights=signature.weights,
            eligibility=signature.eligibility,
        )
    return phase


def phase_note(*, agent: Agent, before: Signature | None, at: datetime | None = None) -> str:
    """After a change of `agent` (saved, with its variations): begin a new phase if its
    signature changed from `before` and it served visitors in the current phase, else keep
    the current phase's record up to date. Returns the cause of the new phase, or ""."""
    after = phase_signature_stored(agent_id=agent.pk)
    if after is None:
        raise AssertionError("phases are noted for saved agents")
    current = phase_current(agent=agent, before=before or after)
    cause = _cause(agent, current, after)
    if not cause:
        return ""
    if not _served_since(agent, current.started_at):
        current.weights, current.eligibility = after.weights, after.eligibility
        current.save(update_fields=["weights", "eligibility"])
        return ""
    agent.phase = current.number + 1
    AgentPhase.objects.create(
        agent_id=agent.pk,
        number=agent.phase,
        started_at=at or timezone.now(),
        weights=after.weights,
        eligibility=after.eligibility,
        cause=cause,
    )
    agent.save(update_fields=["phase"])  # a configuration change: the snapshot follows
    return cause


def phase_would_begin(*, agent: Agent, after: Signature) -> str:
    """The cause of the phase that saving `after` would begin ("" when none): for the
    admin's warning before the save."""
    if agent.pk is None:
        return ""
    current = AgentPhase.objects.filter(agent_id=agent.pk, number=agent.phase).first()
    if current is None:  # never recorded: as phase_current would record it, unsaved
        stored = phase_signature_stored(agent_id=agent.pk)
        if stored is None:
            return ""
        current = AgentPhase(
            number=agent.phase,
            started_at=agent.created_at,
            weights=stored.weights,
            eligibility=stored.eligibility,
        )
    cause = _cause(agent, current, after)
    return cause if cause and _served_since(agent, current.started_at) else ""
