"""Notifications (SPEC §6b): what happened becomes a delivery to each webhook that asked for
it, and a worker (notifications.tasks, run by `manage.py run_huey`) sends the deliveries,
in order per webhook, signed, retried with backoff for 24 hours, each attempt logged.

Nothing here runs inside a request but `notify` (rows written in the request's
transaction, the worker woken after its commit). The worker's sweep also looks at the
results every minute: a verdict reached or changed, a sample ratio mismatch flagged, REST
goals refused or not credited above a webhook's share.
"""

import http.client
import ipaddress
import json
import logging
import random
import socket
import ssl
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from accounts.models import Account
from agents.models import Agent, AgentDecision, AgentStatus
from goals.models import GoalOutcomeCount
from notifications.choices import DeliveryStatus, WebhookEvent
from notifications.models import REST_MIN_GOALS, AgentWatch, Delivery, Webhook
from notifications.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature
from reports.lifecycle import agents_reports
from reports.overview import REST_PROBLEMS

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
SEND_TIMEOUT_SECONDS = 10
CLAIM = timedelta(seconds=SEND_TIMEOUT_SECONDS * 3)  # a claimed delivery is not re-sent sooner
USER_AGENT = "conductrics-webhooks/1"
ERROR_MAX = 500


# --- what happened becomes deliveries ----------------------------------------------------


def notify(*, account: Account, event: str, data: dict[str, Any], only: Webhook | None = None):
    """A delivery of `event` to each enabled webhook of `account` that asked for it (or to
    `only`, whatever it asked for: the admin's test); the worker is woken once the
    caller's transaction commits. Returns the deliveries."""
    now = timezone.now()
    webhooks = [only] if only else Webhook.objects.filter(account=account, enabled=True)
    made = []
    for webhook in webhooks:
        if only is None and event not in (webhook.events or []):
            continue
        body = {"event": event, "account": account.code, "at": _iso(now), "data": data}
        made.append(
            Delivery.objects.create(
                webhook=webhook,
                event=event,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                created_at=now,
                next_attempt_at=now,
            )
        )
    ids = sorted({d.webhook_id for d in made})
    if ids:
        transaction.on_commit(lambda: _wake(ids))
    return made


def _wake(webhook_ids: Iterable[int], eta: datetime | None = None) -> None:
    """Ask the worker to send (at `eta`, else now); if its queue cannot be reached, the
    sweep sends when due (the deliveries are rows: nothing is lost)."""
    from notifications.tasks import deliver_task

    for webhook_id in webhook_ids:
        try:
            if eta is None:
                deliver_task(webhook_id)
            else:
                deliver_task.schedule((webhook_id,), eta=eta)
        except Exception:  # the queue's store is down: the sweep will send
            logger.warning("webhook worker's queue unreachable; the sweep will send")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def status_changes_connect() -> None:
    """An agent's status changed (a decision included) notifies `status`."""
    pre_save.connect(_status_before, sender=Agent, dispatch_uid="notifications.status.pre")
    post_save.connect(_status_after, sender=Agent, dispatch_uid="notifications.status.post")


def _status_before(sender: type, instance: Agent, raw: bool = False, **kwargs: object) -> None:
    if raw or instance.pk is None:
        return
    if not Webhook.objects.filter(account_id=instance.account_id, enabled=True).exists():
        return
    before = Agent.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
    instance._status_before = before  # type: ignore[attr-defined]


def _status_after(sender: type, instance: Agent, raw: bool = False, **kwargs: object) -> None:
    before = getattr(instance, "_status_before", None)
    if raw or before is None or before == instance.status:
        return
    instance._status_before = instance.status  # type: ignore[attr-defined]
    decision: AgentDecision | None = getattr(instance, "decided", None)
    notify(
        account=instance.account,
        event=WebhookEvent.STATUS,
        data={
            "agent": instance.code,
            "name": instance.name,
            "status": instance.status,
            "previous": before,
            "decision": None
            if decision is None
            else {
                "variation": decision.variation_code,
                "by": decision.decided_by_label,
                "note": decision.note,
                "verdicts": decision.verdicts,
            },
        },
    )


def webhook_save(webhook: Webhook, **fields: Any) -> Webhook:
    """Set `fields` on `webhook` (name, url, events, rest_share, enabled), check it as the
    admin does, save it. Raises ValidationError on bad input; nothing is saved then."""
    for name, value in fields.items():
        setattr(webhook, name, value)
    webhook.full_clean()
    webhook.save()
    return webhook


# --- the worker: sending ------------------------------------------------------------------


def webhook_send_due(*, webhook_id: int, now: datetime | None = None) -> int:
    """Send the webhook's due deliveries in order, oldest first, until one fails (it is
    retried later, and the later ones wait behind it); return how many were attempted."""
    attempted = 0
    while True:
        now = now or timezone.now()
        head = (
            Delivery.objects.filter(webhook_id=webhook_id, status=DeliveryStatus.PENDING)
            .order_by("id")
            .select_related("webhook")
            .first()
        )
        if head is None or head.next_attempt_at > now or not _claim(head, now):
            return attempted
        attempted += 1
        if delivery_attempt(head, now=now) == DeliveryStatus.PENDING:
            return attempted  # retried later; the later ones wait behind it
        now = None  # the next one at its own time


def _claim(delivery: Delivery, now: datetime) -> bool:
    """Take `delivery` for one attempt, unless another worker took it first."""
    return bool(
        Delivery.objects.filter(
            pk=delivery.pk,
            status=DeliveryStatus.PENDING,
            next_attempt_at=delivery.next_attempt_at,
        ).update(next_attempt_at=now + CLAIM)
    )


def delivery_attempt(delivery: Delivery, *, now: datetime) -> str:
    """POST the delivery once; record the outcome and return its status: delivered,
    pending (a retry planned), or failed (given up GIVE_UP_AFTER after its first attempt:
    one that waited behind another still gets its own 24 hours)."""
    webhook = delivery.webhook
    status_code, error = _post(webhook.url, webhook.secret, delivery)
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_attempt_at = now
    delivery.last_status_code = status_code
    delivery.last_error = error[:ERROR_MAX]
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = timezone.now()
    elif now - delivery.first_attempt_at >= GIVE_UP_AFTER:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save()
    if delivery.status == DeliveryStatus.PENDING:
        _wake([webhook.pk], eta=delivery.next_attempt_at)
    return delivery.status


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s doubling to 1 hour, ±20%."""
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(attempts - 1, 20))
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - spreading retries, not a secret


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to the address `address_vetted` checked, never to a second resolution
    of the host's name: a name that answers a public address to the check and a private
    one to the connection (DNS rebinding) reaches nothing it should not."""

    def __init__(self, host: str, port: int | None, *, address: str) -> None:
        super().__init__(host, port, timeout=SEND_TIMEOUT_SECONDS)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """`_PinnedHTTP` over TLS: the certificate checked against the host's name (SNI)."""

    def __init__(self, host: str, port: int | None, *, address: str) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=SEND_TIMEOUT_SECONDS, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, secret: str, delivery: Delivery) -> tuple[int | None, str]:
    """(status code or None, error text) of one POST of the delivery's body. A redirect is
    answered as it is (not a 2xx, so retried), never followed; no proxy is used."""
    address, refused = address_vetted(url)
    if refused:
        return None, refused
    parts = urlsplit(url)
    body = delivery.body.encode()
    pinned = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection = pinned(parts.hostname or "", parts.port, address=address)
        try:
            connection.request(
                "POST",
                path,
                body=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": USER_AGENT,
                    SIGNATURE_HEADER: signature(secret, body),
                    EVENT_HEADER: delivery.event,
                    DELIVERY_HEADER: str(delivery.pk),
                },
            )
            response = connection.getresponse()
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status} {response.reason}"


def address_vetted(url: str) -> tuple[str, str]:
    """(the address to connect to, "") for `url`, or ("", why the worker will not POST
    there): not http(s), or a loopback, private, link-local or reserved address unless
    WEBHOOKS_ALLOW_PRIVATE (the product's own network is not a webhook's to reach). The
    name is resolved here once and the POST goes to the address checked (`_PinnedHTTP`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "", f"{parts.scheme or 'no'} scheme: a webhook is http or https"
    host = parts.hostname or ""
    try:
        port = parts.port
        found = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        return "", f"cannot resolve {host}: {exc}"
    if not found:
        return "", f"cannot resolve {host}"
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        for address in found:
            ip = ipaddress.ip_address(str(address).split("%")[0])
            if not ip.is_global:
                return "", f"{host} is a private address ({ip}): refused (WEBHOOKS_ALLOW_PRIVATE)"
    return str(found[0]), ""


# --- the worker: looking at the results ---------------------------------------------------


def sweep(*, now: datetime | None = None) -> None:
    """The worker's minute: notice what changed in the results, then send what is due."""
    now = now or timezone.now()
    accounts = list(Account.objects.filter(webhooks__enabled=True).distinct().order_by("pk"))
    for account in accounts:
        results_watch(account=account, now=now)
        rest_goals_watch(account=account, now=now)
    due = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .values_list("webhook_id", flat=True)
        .distinct()
    )
    for webhook_id in sorted(set(due)):
        webhook_send_due(webhook_id=webhook_id, now=now)


def results_watch(*, account: Account, now: datetime) -> None:
    """Notify `verdict` for each goal whose verdict was reached (not "keep running") or
    changed, and `srm` when a sample ratio mismatch is flagged, since the last look."""
    agents = list(
        Agent.objects.filter(account=account, status=AgentStatus.RUNNING, archived_at=None)
        .select_related("account")
        .prefetch_related("variations", "goals")
    )
    watches = {w.agent_id: w for w in AgentWatch.objects.filter(agent__in=agents)}
    by_id = {a.pk: a for a in agents}
    for agent_id, (_, report) in agents_reports(agents).items():
        agent = by_id[agent_id]
        watch = watches.get(agent_id) or AgentWatch(agent=agent, checked_at=now)
        verdicts = {}
        for goal in report["goals"]:
            verdict = goal["verdict"]
            key = f"{verdict['state']}:{verdict['variation'] or ''}"
            verdicts[goal["code"]] = key
            before = watch.verdicts.get(goal["code"])
            if key != before and (before is not None or verdict["state"] != "keep_running"):
                notify(
                    account=account,
                    event=WebhookEvent.VERDICT,
                    data={"agent": agent.code, "goal": goal["code"], **verdict,
                          "previous": before, "phase": report["phase"]["shown"]},
                )  # fmt: skip
        flagged = bool(report["srm"]["flagged"])
        if flagged and not watch.srm_flagged:
            notify(
                account=account,
                event=WebhookEvent.SRM,
                data={
                    "agent": agent.code,
                    "p_value": report["srm"]["p_value"],
                    "phase": report["phase"]["shown"],
                },
            )
        watch.verdicts, watch.srm_flagged, watch.checked_at = verdicts, flagged, now
        watch.save()


def rest_goals_watch(*, account: Account, now: datetime) -> None:
    """Notify `rest_goals` to each webhook whose share the last hour's REST problems went
    above (at least REST_MIN_GOALS goals); once, until the share falls below again."""
    since = now - timedelta(hours=1)
    rows = (
        GoalOutcomeCount.objects.filter(account=account, hour__gte=since.replace(minute=0))
        .values("outcome")
        .annotate(n=Sum("count"))
    )
    counts = {row["outcome"]: row["n"] for row in rows}
    total = sum(counts.values())
    problems = {reason: counts[reason] for reason in REST_PROBLEMS if counts.get(reason)}
    share = sum(problems.values()) / total if total else 0.0
    for webhook in Webhook.objects.filter(account=account, enabled=True):
        above = total >= REST_MIN_GOALS and share > webhook.rest_share
        if above and webhook.rest_alert_at is None:
            webhook.rest_alert_at = now
            webhook.save(update_fields=["rest_alert_at"])
            if WebhookEvent.REST_GOALS in (webhook.events or []):
                notify(
                    account=account,
                    event=WebhookEvent.REST_GOALS,
                    data={"share": round(share, 4), "threshold": webhook.rest_share,
                          "goals": total, "by_reason": problems, "since": _iso(since)},
                    only=webhook,
                )  # fmt: skip
        elif not above and webhook.rest_alert_at is not None:
            webhook.rest_alert_at = None
            webhook.save(update_fields=["rest_alert_at"])
