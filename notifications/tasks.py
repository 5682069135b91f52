"""The worker's tasks (Huey, `manage.py run_huey`): send a webhook's due deliveries when
woken, and every minute the sweep (notifications.services.sweep)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from notifications.services import sweep, webhook_send_due


@db_task()
def deliver_task(webhook_id: int) -> None:
    webhook_send_due(webhook_id=webhook_id)


@db_periodic_task(crontab(minute="*"))
def sweep_task() -> None:
    sweep()
