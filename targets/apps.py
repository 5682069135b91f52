from django.apps import AppConfig


class TargetsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "targets"
    verbose_name = "Deploy targets"

    def ready(self) -> None:
        from accounts.audit import audit_register
        from targets.models import DeployTarget

        audit_register(
            DeployTarget,
            fields=[
                "name",
                "enabled",
                "allow_external_vid",
                "allow_linking",
                "allowed_origins",
                "api_key",
            ],  # fmt: skip
            masked=("api_key",),  # a rotation shows; the key itself is never stored
        )
