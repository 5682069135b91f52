from typing import Any

from django.apps import AppConfig
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save


def _account_id_of(instance: Model) -> int | None:
    """The account whose configuration `instance` is part of (None: the account itself is
    gone, and so is its version)."""
    from accounts.models import Account
    from agents.models import GroupMember, Variation

    if isinstance(instance, Account):
        return instance.pk
    if isinstance(instance, Variation | GroupMember):
        try:
            parent = instance.agent if isinstance(instance, Variation) else instance.group
            return parent.account_id
        except ObjectDoesNotExist:  # the agent or group went first
            return None
    return getattr(instance, "account_id", None)


def _config_changed(*, instance: Model, **kwargs: Any) -> None:
    from visitors.config import config_cache_clear, config_version_bump

    config_cache_clear()
    account_id = _account_id_of(instance)
    if account_id is not None:
        config_version_bump(account_id=account_id)


def _account_deleted(*, instance: Model, **kwargs: Any) -> None:
    from visitors.config import config_cache_clear
    from visitors.models import ConfigVersion

    config_cache_clear()
    ConfigVersion.objects.filter(account_id=instance.pk).delete()


class VisitorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "visitors"
    verbose_name = "Visitors (raw data)"

    def ready(self) -> None:
        # The agent-api's configuration snapshots must not outlive a change made in the
        # admin or the management API, in this process (dropped) or any other (the
        # account's version raised); this is cache upkeep, not business logic.
        from accounts.models import Account
        from agents.models import Agent, AgentGroup, GroupMember, Variation
        from goals.models import Goal
        from targets.models import DeployTarget

        post_save.connect(_config_changed, sender=Account, dispatch_uid="cfg-save-account")
        post_delete.connect(_account_deleted, sender=Account, dispatch_uid="cfg-del-account")
        for model in (DeployTarget, Goal, Agent, Variation, AgentGroup, GroupMember):
            post_save.connect(_config_changed, sender=model, dispatch_uid=f"cfg-save-{model}")
            post_delete.connect(_config_changed, sender=model, dispatch_uid=f"cfg-del-{model}")
        for through in (Agent.goals.through, Agent.targets.through):
            m2m_changed.connect(_config_changed, sender=through, dispatch_uid=f"cfg-m2m-{through}")
        from accounts.audit import audit_register
        from visitors.models import GoalImport, GoalReplay

        # a replay of skipped goal events, with who ran it (SPEC §4c)
        audit_register(
            GoalReplay,
            fields=["goal_code", "reasons", "since", "until", "events", "credited", "credits"],
        )
        # an import of offline conversions: uploaded, started, finished, discarded, by whom
        audit_register(GoalImport, fields=["name", "target", "status"])
