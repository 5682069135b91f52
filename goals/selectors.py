"""Reads of a visitor's raw data for the agent-api: assignments, once-credits, event ids."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, Subquery, Sum

from agents.models import Assignment
from goals.models import Credit, GoalEvent


@dataclass
class AssignmentRow:
    """An assignment as the matching rules see it (mutable while a request is executed)."""

    id: int | None
    agent_id: int
    variation_id: int
    identity: str
    session: str
    vid: str | None
    target_kind: str
    created_at: datetime
    confirmed_at: datetime | None
    credited_goal_ids: set[int] = field(default_factory=set)
    goal_values: dict[int, float] = field(default_factory=dict)  # value credited so far


@dataclass
class VisitorState:
    assignments: list[AssignmentRow]
    events: dict[tuple[int, str], dict[str, Any]]  # (goal id, event id) -> first answer


def visitor_state_read(
    *,
    agent_ids: Iterable[int],
    session: str,
    vid: str | None,
    goal_ids: Iterable[int] = (),
    every_goal_ids: Iterable[int] = (),
    event_keys: Iterable[tuple[int, str]] = (),
) -> VisitorState:
    """Return the visitor's assignments in `agent_ids` and the events already received.

    The visitor is `session` and, when given, the external visitor id `vid`: assignments
    made for that session, and those made with that vid. Each assignment carries the
    goals among `goal_ids` already credited to this visitor in its agent, and for
    `every_goal_ids` the value already credited to it. One query for the assignments
    (on the session and vid indexes), one more only when `event_keys` is not empty.
    """
    agent_ids = list(agent_ids)
    goal_ids = list(goal_ids)
    every_goal_ids = list(every_goal_ids)
    event_keys = list(event_keys)
    rows: list[AssignmentRow] = []
    if agent_ids:
        who = Q(session=session) | Q(vid=vid) if vid else Q(session=session)
        qs = Assignment.objects.filter(who, agent_id__in=agent_ids)
        # A goal is credited to this visitor in an agent when one of the assignments
        # found holds a credit of it, or when one of the visitor's own events (same session
        # or vid) was credited in that agent, through any assignment.
        flags = {
            f"credited_{gid}": Exists(
                Credit.objects.filter(assignment_id=OuterRef("pk"), goal_id=gid)
            )
            | Exists(
                GoalEvent.objects.filter(who, goal_id=gid, credits__agent_id=OuterRef("agent_id"))
            )
            for gid in goal_ids
        }
        flags.update(
            {
                f"value_{gid}": Subquery(
                    Credit.objects.filter(assignment_id=OuterRef("pk"), goal_id=gid)
                    .values("assignment_id")
                    .annotate(total=Sum("value"))
                    .values("total")
                )
                for gid in every_goal_ids
            }
        )
        if flags:
            qs = qs.annotate(**flags)
        fields = [
            "id", "agent_id", "variation_id", "identity", "session", "vid", "target_kind",
            "created_at", "confirmed_at", *flags,
        ]  # fmt: skip
        for values in qs.values(*fields):
            rows.append(
                AssignmentRow(
                    id=values["id"],
                    agent_id=values["agent_id"],
                    variation_id=values["variation_id"],
                    identity=values["identity"],
                    session=values["session"],
                    vid=values["vid"],
                    target_kind=values["target_kind"],
                    created_at=values["created_at"],
                    confirmed_at=values["confirmed_at"],
                    credited_goal_ids={gid for gid in goal_ids if values[f"credited_{gid}"]},
                    goal_values={
                        gid: values[f"value_{gid}"]
                        for gid in every_goal_ids
                        if values[f"value_{gid}"] is not None
                    },
                )
            )
    events: dict[tuple[int, str], dict[str, Any]] = {}
    if event_keys:
        match = Q()
        for goal_id, event_id in event_keys:
            match |= Q(goal_id=goal_id, event_id=event_id)
        for goal_id, event_id, response in GoalEvent.objects.filter(match).values_list(
            "goal_id", "event_id", "response"
        ):
            events[(goal_id, event_id)] = response
    return VisitorState(assignments=rows, events=events)
