from django.apps import AppConfig


class AgentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agents"
    verbose_name = "Agents (tests)"

    def ready(self) -> None:
        from accounts.audit import audit_register
        from agents.models import Agent, AgentGroup, GroupMember, Variation

        audit_register(
            Agent,
            fields=["name", "status", "paused_variation", "eligibility", "rules", "qa"],
            related=["targets", "goals"],
        )
        audit_register(Variation, fields=["code", "name", "weight", "metadata", "position"])
        audit_register(AgentGroup, fields=["code", "name"])
        audit_register(GroupMember, fields=["group", "agent", "weight", "position"])
