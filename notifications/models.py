"""Webhooks of an account and their deliveries (SPEC §6b): what a worker sends, retries and
logs, never a request."""

import secrets

from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models

from accounts.models import Account
from agents.models import Agent
from notifications.choices import SUBSCRIBABLE, DeliveryStatus, WebhookEvent

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?"
_OCTET = r"(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)"
# controls and every space, spelt out: `\s` differs between Python (which counts U+001C-1F
# and U+0085) and the schema's ECMA regexes (which count U+FEFF)
_NOT_IN_PATH = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# a webhook's URL: http(s), a host name with a top-level domain, an IPv4 address or
# localhost, an optional port, then anything but spaces (what the schema states, and a
# subset of what Django's URLValidator takes)
WEBHOOK_URL_RE = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:(?:{_LABEL}\.){{1,3}}[A-Za-z]{{2,20}}|{_OCTET}(?:\.{_OCTET}){{3}}"
    r"|localhost)(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}))?(?:[/?#][^" + _NOT_IN_PATH + r"]*)?$"
)
WEBHOOK_URL_RULE = (
    "http:// or https://, a host name (with its domain), an IPv4 address or localhost, an "
    "optional port, then a path without spaces"
)
REST_SHARE_DEFAULT = 0.05
REST_MIN_GOALS = 20  # fewer REST goals in the hour say nothing of a share


def secret_new() -> str:
    return secrets.token_urlsafe(32)


def _events_default() -> list[str]:
    return [e.value for e in SUBSCRIBABLE]


class Webhook(models.Model):
    """Where an account's notifications are POSTed, signed with `secret`."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=200)
    url = models.URLField(
        max_length=2000,
        validators=[
            RegexValidator(WEBHOOK_URL_RE, message=f"A webhook's URL is {WEBHOOK_URL_RULE}."),
            URLValidator(schemes=["http", "https"]),
        ],
        help_text="Receives JSON POSTs signed in X-Conductrics-Signature (sha256=<hex>).",
    )
    secret = models.CharField(
        max_length=100,
        default=secret_new,
        help_text="The HMAC-SHA256 key of the signature: give it to the receiver.",
    )
    events = models.JSONField(
        default=_events_default,
        blank=True,
        help_text="The events sent: " + ", ".join(f"{e.value} ({e.label})" for e in SUBSCRIBABLE),
    )
    rest_share = models.FloatField(
        default=REST_SHARE_DEFAULT,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        verbose_name="REST problems share",
        help_text="rest_goals is sent when more than this share of the last hour's REST goals "
        f"(at least {REST_MIN_GOALS}) were refused or not credited for a setting's or the "
        "sender's fault.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # the rest_goals alert is on (sent once when the share goes above, again after it fell)
    rest_alert_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["account__code", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def get_additional_data(self) -> dict:
        return {"account_id": self.account_id}


class Delivery(models.Model):
    """One notification to one webhook: its exact body (signed anew at each attempt, the
    same bytes), its attempts and its outcome. A webhook's deliveries are sent in order: a
    later one waits while an earlier one is retried."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16, choices=WebhookEvent.choices)
    body = models.TextField()  # the JSON sent
    status = models.CharField(
        max_length=9, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    first_attempt_at = models.DateTimeField(null=True, blank=True)  # retried 24 h from it
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["webhook", "status", "id"], name="delivery_order"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} → {self.webhook_id}: {self.status}"


class AgentWatch(models.Model):
    """What the last look at an agent's results found (its goals' verdicts and SRM), so
    that a change is notified once."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="+")
    verdicts = models.JSONField(default=dict)  # goal code -> "state:variation"
    srm_flagged = models.BooleanField(default=False)
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.agent_id} checked {self.checked_at:%Y-%m-%d %H:%M}"
