from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.db.models.signals import post_save

if TYPE_CHECKING:
    from agents.models import Agent


class AgentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agents"
    verbose_name = "Agents (tests)"

    def ready(self) -> None:
        from accounts.audit import audit_register
        from agents.models import (
            LIFECYCLE_COLUMNS,
            Agent,
            AgentDecision,
            AgentGroup,
            GroupMember,
            Variation,
        )

        audit_register(
            Agent,
            fields=[
                "name",
                "status",
                "paused_variation",
                "eligibility",
                "rules",
                "qa",
                "allocation",
                *LIFECYCLE_COLUMNS,
            ],
            related=["targets", "goals"],
        )
        audit_register(AgentDecision, fields=["variation_code", "note"])
        audit_register(Variation, fields=["code", "name", "weight", "metadata", "position"])
        audit_register(AgentGroup, fields=["code", "name"])
        audit_register(GroupMember, fields=["group", "agent", "weight", "position"])
        post_save.connect(_runs_noted, sender=Agent, dispatch_uid="agents.runs")


def _runs_noted(sender: type, instance: "Agent", raw: bool = False, **kwargs: object) -> None:
    """Every save of an agent keeps its run periods (agents.runs) in step with its status."""
    if raw:  # loaddata: the fixture holds the periods it wants
        return
    from agents.runs import agent_runs_note

    agent_runs_note(agent_id=instance.pk, status=instance.status)
