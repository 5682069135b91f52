from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.audit import audit_register
        from accounts.models import Account

        audit_register(
            Account,
            fields=[
                "name",
                "attribution_window_hours",
                "retention_days",
                "mde_rel",
                "sequential_tuning",
            ],
        )
