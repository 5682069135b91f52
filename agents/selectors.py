"""Reads on agents."""

from django.db.models import Q

from agents.models import Agent, Variation


def agent_paused_variation(*, agent: Agent) -> Variation | None:
    """Return the variation served while `agent` is paused: the chosen one, else the first."""
    if agent.paused_variation_id:
        return agent.paused_variation
    return agent.variations.order_by("position", "id").first()


def tag_filter(tag: str) -> Q:
    """Agents with the tag `tag` (tags are kept joined by commas: first, inside, last or
    alone)."""
    return (
        Q(tags=tag)
        | Q(tags__startswith=f"{tag},")
        | Q(tags__endswith=f",{tag}")
        | Q(tags__contains=f",{tag},")
    )
