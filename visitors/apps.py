from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


def _config_changed(**kwargs: object) -> None:
    from visitors.config import config_cache_clear

    config_cache_clear()


class VisitorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "visitors"
    verbose_name = "Visitors (raw data)"

    def ready(self) -> None:
        # The agent-api's configuration snapshot must not outlive a change made in the
        # admin or the management API; this is cache upkeep, not business logic.
        from accounts.models import Account
        from agents.models import Agent, Variation
        from goals.models import Goal
        from targets.models import DeployTarget

        for model in (Account, DeployTarget, Goal, Agent, Variation):
            post_save.connect(_config_changed, sender=model, dispatch_uid=f"cfg-save-{model}")
            post_delete.connect(_config_changed, sender=model, dispatch_uid=f"cfg-del-{model}")
        for through in (Agent.goals.through, Agent.targets.through):
            m2m_changed.connect(_config_changed, sender=through, dispatch_uid=f"cfg-m2m-{through}")
