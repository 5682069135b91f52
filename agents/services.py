"""Writes on agents and their variations, and the rules that keep an agent runnable."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.codes import code_generate
from accounts.models import Account
from agents.models import Agent, AgentStatus, Variation
from goals.models import Goal
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
    if len(variations) < 2:
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
) -> Agent:
    """Create an agent with its variations, goals and targets; return it.

    Raises ValidationError on any bad input (codes, variations, links, paused variation);
    nothing is saved then.
    """
    variations_validate(variations=variations)
    agent_links_validate(account=account, goals=goals, targets=targets)
    agent = Agent(
        account=account,
        code=code or agent_code_generate(account=account, name=name),
        name=name,
        status=status,
    )
    agent.full_clean()
    agent.save()
    created: dict[str, Variation] = {}
    for position, spec in enumerate(variations):
        variation = Variation(
            agent=agent,
            code=spec.code,
            name=spec.name,
            weight=spec.weight,
            metadata=spec.metadata,
            position=position,
        )
        variation.full_clean()
        variation.save()
        created[spec.code] = variation
    if paused_variation is not None:
        if paused_variation not in created:
            raise ValidationError(
                {"paused_variation": f"“{paused_variation}” is not a variation of this agent."},
                code="unknown_paused_variation",
            )
        agent.paused_variation = created[paused_variation]
        agent.save(update_fields=["paused_variation"])
    agent.goals.set(goals)
    agent.targets.set(targets)
    return agent


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
