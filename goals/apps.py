from django.apps import AppConfig


class GoalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "goals"
    verbose_name = "Goals"

    def ready(self) -> None:
        from accounts.audit import audit_register
        from goals.models import Goal

        audit_register(
            Goal,
            fields=[
                "name",
                "trigger",
                "rest_send",
                "accepted_from",
                "counting",
                "max_value",
                "attribution_window_hours",
                "when",
            ],
        )
