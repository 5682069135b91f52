"""Writes on agents and their variations, and the rules that keep an agent runnable."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.codes import code_generate, code_validate_free
from accounts.models import Account
from accounts.recorded_data import recorded_data_count, recorded_data_refuse
from agents.choices import Allocation
from agents.models import (
    VARIATIONS_MIN,
    Agent,
    AgentDecision,
    AgentGroup,
    AgentStatus,
    GroupMember,
    Variation,
    tags_validate,
    validate_weight,
)
from agents.phases import phase_current, phase_note, phase_signature_stored
from goals.models import Goal
from targeting.conditions import ConditionError
from targeting.rules import agent_targeting_check
from targets.models import DeployTarget


@dataclass(frozen=True)
class VariationSpec:
    code: str
    name: str = ""
    weight: float = 1.0
    metadata: dict[str, str] = field(default_factory=dict)


def variations_validate(*, variations: Sequence[VariationSpec]) -> None:
    """Check a whole set of variations of one agent.

    Raises ValidationError (code `too_few_variations`, `duplicate_variation` or
    `all_weights_zero`) unless there are two or more variations, with distinct codes,
    whose weights are not all zero. Each variation's own fields are checked by the model.
    """
    if len(variations) < VARIATIONS_MIN:
        raise ValidationError(
            f"An agent needs two or more variations (it has {len(variations)}).",
            code="too_few_variations",
        )
    seen: set[str] = set()
    for variation in variations:
        if variation.code in seen:
            raise ValidationError(
                f"Variation code “{variation.code}” is used twice; "
                "codes are unique within an agent.",
                code="duplicate_variation",
            )
        seen.add(variation.code)
    if all((v.weight or 0) == 0 for v in variations):
        raise ValidationError(
            "The weights of the variations are all 0: at least one must be above 0 "
            "so visitors can be assigned.",
            code="all_weights_zero",
        )


def agent_links_validate(
    *, account: Account, goals: Iterable[Goal], targets: Iterable[DeployTarget]
) -> None:
    """Raise ValidationError unless every goal and target belongs to `account`."""
    errors: dict[str, list[str]] = {}
    foreign_goals = [g.code for g in goals if g.account_id != account.pk]
    if foreign_goals:
        errors["goals"] = [f"Goals {', '.join(foreign_goals)} belong to another account."]
    foreign_targets = [t.code for t in targets if t.account_id != account.pk]
    if foreign_targets:
        errors["targets"] = [
            f"Deploy targets {', '.join(foreign_targets)} belong to another account."
        ]
    if errors:
        raise ValidationError(errors, code="foreign_link")


TARGETING_FIELDS = ("eligibility", "rules", "qa")


def agent_targeting_validate(
    *, eligibility: object, rules: object, qa: object, variation_codes: Sequence[str]
) -> None:
    """Raise ValidationError on the field at fault, its message naming the path inside it
    (`rules[0].when.all[1].op: unknown operator "equals"`)."""
    try:
        agent_targeting_check(
            eligibility=eligibility, rules=rules, qa=qa, variation_codes=variation_codes
        )
    except ConditionError as exc:
        field_name = exc.path.split(".")[0].split("[")[0]
        raise ValidationError({field_name: str(exc)}, code="invalid_targeting") from exc


def _as_list(value: object) -> object:
    """Rules or QA overrides as stored: none is an empty list; anything else is checked."""
    return [] if value is None or value == () else value


def agent_code_generate(*, account: Account, name: str) -> str:
    """Return a free agent code for `account`, made from `name`."""
    return code_generate(
        prefix="a-",
        name=name,
        is_taken=lambda c: Agent.objects.filter(account=account, code=c).exists(),
    )


@transaction.atomic
def agent_create(
    *,
    account: Account,
    name: str,
    variations: Sequence[VariationSpec],
    code: str | None = None,
    status: str = AgentStatus.PAUSED,
    paused_variation: str | None = None,
    goals: Sequence[Goal] = (),
    targets: Sequence[DeployTarget] = (),
    eligibility: object = None,
    rules: object = (),
    qa: object = (),
    allocation: str = Allocation.FIXED,
    **lifecycle: Any,
) -> Agent:
    """Create an agent with its variations, goals, targets and targeting; return it.
    `lifecycle` takes the fields of LIFECYCLE_FIELDS (tags as a list, archived as a bool).

    Raises ValidationError on any bad input (codes, variations, links, paused variation,
    conditions); nothing is saved then.
    """
    variations_validate(variations=variations)
    agent_links_validate(account=account, goals=goals, targets=targets)
    rules, qa = _as_list(rules), _as_list(qa)
    agent_targeting_validate(
        eligibility=eligibility, rules=rules, qa=qa, variation_codes=[v.code for v in variations]
    )
    if code:
        code_validate_free(
            taken=Agent.objects.filter(account=account, code=code).exists(),
            code=code,
            label="agent",
        )
    agent = Agent(
        account=account,
        code=code or agent_code_generate(account=account, name=name),
        name=name,
        status=status,
        eligibility=eligibility,
        rules=rules,
        qa=qa,
        allocation=allocation,
    )
    _lifecycle_set(agent, lifecycle)
    agent.full_clean()
    agent.save()
    _variations_save(agent=agent, variations=variations)
    _paused_variation_set(agent=agent, code=paused_variation)
    agent.goals.set(goals)
    agent.targets.set(targets)
    phase_current(agent=agent)  # its first phase, as created
    return agent


def _variations_save(*, agent: Agent, variations: Sequence[VariationSpec]) -> None:
    """Make the agent's variations exactly `variations`, in order: update those whose code
    exists, add the others, delete the rest (refused when they hold assignments)."""
    existing = {v.code: v for v in agent.variations.all()}
    wanted = {spec.code for spec in variations}
    gone = [v for code, v in existing.items() if code not in wanted]
    busy = [v.code for v in gone if recorded_data_count(obj=v, kinds=["assignments"]).assignments]
    if busy:
        raise ValidationError(
            {
                "variations": (
                    f"Variations {', '.join(busy)} have visitors: they cannot be removed. "
                    "Set their weight to 0 to stop assigning them."
                )
            },
            code="variation_in_use",
        )
    for variation in gone:
        variation.delete()
    for position, spec in enumerate(variations):
        variation = existing.get(spec.code) or Variation(agent=agent, code=spec.code)
        variation.name = spec.name
        variation.weight = spec.weight
        variation.metadata = spec.metadata
        variation.position = position
        try:
            variation.full_clean()
        except ValidationError as exc:
            raise ValidationError(
                {"variations": [f"Variation “{spec.code}”: {m}" for m in exc.messages]},
                code="invalid_variation",
            ) from exc
        variation.save()


def _paused_variation_set(*, agent: Agent, code: str | None) -> None:
    if code is None:
        return
    variation = agent.variations.filter(code=code).first()
    if variation is None:
        raise ValidationError(
            {"paused_variation": f"“{code}” is not a variation of this agent."},
            code="unknown_paused_variation",
        )
    agent.paused_variation = variation
    agent.save(update_fields=["paused_variation"])


# what a team records of a test (SPEC §6b): `tags` a list of strings, `archived` a bool
LIFECYCLE_FIELDS = ("starts_at", "ends_at", "owner", "hypothesis", "tags", "archived")


def _lifecycle_set(agent: Agent, changes: dict[str, Any]) -> list[str]:
    """Set the lifecycle fields named in `changes` on `agent` (unsaved); return the model
    fields that changed. Tags are checked here (the model keeps them joined)."""
    unknown = set(changes) - set(LIFECYCLE_FIELDS)
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))}: not lifecycle fields of an agent")
    names = []
    for name, value in changes.items():
        if name == "tags":
            tags = list(value or [])
            try:
                tags_validate(tags)
            except ValidationError as exc:
                raise ValidationError({"tags": exc.messages}, code="invalid_tags") from exc
            agent.tags = ",".join(tags)
        elif name == "archived":
            if bool(value) != (agent.archived_at is not None):
                agent.archived_at = timezone.now() if value else None
            name = "archived_at"
        else:
            setattr(agent, name, value)
        names.append(name)
    return names


AGENT_EDITABLE = (
    "name",
    "status",
    "allocation",
    "variations",
    "paused_variation",
    "goals",
    "targets",
    *TARGETING_FIELDS,
    *LIFECYCLE_FIELDS,
)


@transaction.atomic
def agent_update(*, agent: Agent, **changes: Any) -> Agent:
    """Change an agent: name, status, variations (the whole list), paused variation (a
    code), goals and targets (whole lists), eligibility, rules and QA overrides. Its code
    is fixed. Raises ValidationError on bad input; nothing is saved then."""
    for name in changes:
        if name not in AGENT_EDITABLE:
            raise ValueError(f"{name} is not an editable field of an agent")
    if "variations" in changes:
        variations_validate(variations=changes["variations"])
    goals = changes.get("goals", agent.goals.all())
    targets = changes.get("targets", agent.targets.all())
    agent_links_validate(account=agent.account, goals=goals, targets=targets)
    for name in ("rules", "qa"):
        if name in changes:
            changes[name] = _as_list(changes[name])
    targeting = {name: changes.get(name, getattr(agent, name)) for name in TARGETING_FIELDS}
    if "variations" in changes or any(name in changes for name in TARGETING_FIELDS):
        codes = (
            [v.code for v in changes["variations"]]
            if "variations" in changes
            else list(agent.variations.values_list("code", flat=True))
        )
        agent_targeting_validate(**targeting, variation_codes=codes)
    before = phase_signature_stored(agent_id=agent.pk)
    own = [name for name in ("name", "status", "allocation", *TARGETING_FIELDS) if name in changes]
    for name in own:
        setattr(agent, name, changes[name])
    own += _lifecycle_set(agent, {n: changes[n] for n in LIFECYCLE_FIELDS if n in changes})
    agent.full_clean()
    agent.save(update_fields=[*own, "updated_at"])  # only what changed
    if "variations" in changes:
        _variations_save(agent=agent, variations=changes["variations"])
    if "paused_variation" in changes and changes["paused_variation"] is None:
        agent.paused_variation = None  # back to the default: the first variation
        agent.save(update_fields=["paused_variation"])
    _paused_variation_set(agent=agent, code=changes.get("paused_variation"))
    if "goals" in changes:
        agent.goals.set(goals)
    if "targets" in changes:
        agent.targets.set(targets)
    phase_note(agent=agent, before=before)
    return agent


@transaction.atomic
def agent_decide(
    *,
    agent: Agent,
    variation_code: str,
    note: str = "",
    by: Any = None,
    by_label: str,
    verdicts: list[dict[str, Any]],
) -> AgentDecision:
    """Record a decision on `agent` (SPEC §6b): `variation_code` won, decided by the user
    `by` (None: an admin key or a command, named by `by_label`), with the goals' verdicts
    at this moment; pause the agent on the winner, so every visitor gets it from now on.
    Raises ValidationError for a variation the agent does not have or a note too long."""
    winner = agent.variations.filter(code=variation_code).first()
    if winner is None:
        raise ValidationError(
            {"variation": f"“{variation_code}” is not a variation of {agent.code}."},
            code="unknown_variation",
        )
    decision = AgentDecision(
        agent=agent,
        variation=winner,
        variation_code=winner.code,
        decided_by=by,
        decided_by_label=by_label[:200],
        decided_at=timezone.now(),
        note=note,
        verdicts=verdicts,
    )
    decision.full_clean()
    decision.save()
    agent.status = AgentStatus.PAUSED
    agent.paused_variation = winner
    agent.decided = decision  # what this save carries, for a listener of saves to name
    agent.save(update_fields=["status", "paused_variation", "updated_at"])
    return decision


def agent_delete(*, agent: Agent, force: bool = False) -> None:
    """Delete `agent`; refuse (ValidationError) when it has recorded data, unless `force`."""
    recorded_data_refuse(obj=agent, label=f"Agent {agent.code}", force=force)
    agent.delete()


def agents_status_set(*, agents: Iterable[Agent], status: str) -> int:
    """Set the status of several agents; return how many changed. Raises on an unknown status."""
    if status not in AgentStatus.values:
        raise ValidationError(f"Unknown status “{status}”.", code="invalid_status")
    count = 0
    for agent in agents:
        if agent.status != status:
            agent.status = status
            agent.save(update_fields=["status", "updated_at"])
            count += 1
    return count


def agents_archive(*, agents: Iterable[Agent], archived: bool) -> int:
    """Archive (or restore) several agents; return how many changed. Archived agents are
    hidden from the lists; they keep their status, configuration and data."""
    count = 0
    for agent in agents:
        if (agent.archived_at is not None) != archived:
            _lifecycle_set(agent, {"archived": archived})
            agent.save(update_fields=["archived_at", "updated_at"])
            count += 1
    return count


@dataclass(frozen=True)
class MemberSpec:
    agent: Agent
    weight: float = 1.0


def group_members_validate(
    *, account: Account, members: Sequence[MemberSpec], group: AgentGroup | None = None
) -> None:
    """Raise ValidationError on `members` unless they are one or more distinct agents of
    `account`, none in another group, with weights from 0 to WEIGHT_MAX not all 0."""
    if not members:
        raise ValidationError({"agents": "A group lists one or more agents."}, code="no_members")
    codes = [m.agent.code for m in members]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise ValidationError({"agents": f"Listed twice: {', '.join(twice)}."}, code="duplicate")
    foreign = [m.agent.code for m in members if m.agent.account_id != account.pk]
    if foreign:
        raise ValidationError(
            {"agents": f"Agents {', '.join(foreign)} belong to another account."},
            code="foreign_link",
        )
    taken = (
        GroupMember.objects.filter(agent__in=[m.agent for m in members])
        .exclude(group=group)
        .select_related("agent", "group")
    )
    if taken:
        found = ", ".join(f"{m.agent.code} is in {m.group.code}" for m in taken)
        raise ValidationError(
            {"agents": f"An agent is in at most one group: {found}."}, code="in_another_group"
        )
    for member in members:
        try:
            validate_weight(member.weight)
        except ValidationError as exc:
            raise ValidationError({"agents": f"{member.agent.code}: {exc.messages[0]}"}) from exc
    if all(m.weight == 0 for m in members):
        raise ValidationError(
            {"agents": "The weights are all 0: at least one must be above 0."},
            code="all_weights_zero",
        )


def _members_save(*, group: AgentGroup, members: Sequence[MemberSpec]) -> None:
    group.members.all().delete()
    for i, member in enumerate(members):  # one by one: each save is a configuration change
        GroupMember(group=group, agent=member.agent, weight=member.weight, position=i).save()


@transaction.atomic
def group_create(
    *, account: Account, code: str, name: str, members: Sequence[MemberSpec]
) -> AgentGroup:
    """Create a mutually exclusive group of `members`; raises ValidationError on bad input."""
    code_validate_free(
        taken=AgentGroup.objects.filter(account=account, code=code).exists(),
        code=code,
        label="group",
    )
    group = AgentGroup(account=account, code=code, name=name)
    group.full_clean()
    group_members_validate(account=account, members=members)
    group.save()
    _members_save(group=group, members=members)
    return group


@transaction.atomic
def group_update(
    *, group: AgentGroup, name: str | None = None, members: Sequence[MemberSpec] | None = None
) -> AgentGroup:
    """Rename a group or replace its members (the whole list). Visitors' slots are a hash of
    the group code and the visitor over all its members: changing members moves slots."""
    if name is not None:
        group.name = name
        group.full_clean()
        group.save(update_fields=["name"])
    if members is not None:
        group_members_validate(account=group.account, members=members, group=group)
        _members_save(group=group, members=members)
    return group


def group_delete(*, group: AgentGroup) -> None:
    group.delete()
