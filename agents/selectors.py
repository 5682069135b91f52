"""Reads on agents."""

from agents.models import Agent, Variation


def agent_paused_variation(*, agent: Agent) -> Variation | None:
    """Return the variation served while `agent` is paused: the chosen one, else the first."""
    if agent.paused_variation_id:
        return agent.paused_variation
    return agent.variations.order_by("position", "id").first()
