from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from accounts.audit import audit_register
        from notifications.models import Webhook
        from notifications.services import status_changes_connect

        audit_register(Webhook, fields=["name", "url", "events", "rest_share", "enabled"])
        status_changes_connect()
