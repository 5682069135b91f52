from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from accounts.audit import audit_actor_connect, audit_register
        from accounts.distribution import citus_detect
        from accounts.models import Account, AdminApiKey, Membership

        connection_created.connect(citus_detect, dispatch_uid="citus_detect")
        audit_actor_connect()
        # an admin key's hash is never recorded: its name, prefix, creation and revocation
        audit_register(AdminApiKey, fields=["name", "prefix", "revoked_at", "scope", "expires_at"])
        audit_register(Membership, fields=["user", "role"])

        audit_register(
            Account,
            fields=[
                "name",
                "attribution_window_hours",
                "retention_days",
                "mde_rel",
                "sequential_tuning",
                "adaptive_period_minutes",
                "adaptive_floor",
                "adaptive_burn_in",
                "match_rate_min",
                "require_two_factor",
            ],
        )
