"""The vocabulary of notifications (SPEC §6b), without the database."""

from accounts.choices import LabeledChoices


class WebhookEvent(LabeledChoices):
    VERDICT = "verdict", "A verdict reached or changed"
    SRM = "srm", "Sample ratio mismatch flagged"
    STATUS = "status", "An agent's status changed (decided included)"
    REST_GOALS = "rest_goals", "REST goals refused or not credited above the share"
    TEST = "test", "A test sent from the admin"


SUBSCRIBABLE = [e for e in WebhookEvent if e != WebhookEvent.TEST]


class DeliveryStatus(LabeledChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"
