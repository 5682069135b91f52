"""Webhooks (SPEC §6b): deliveries made where something happens, sent by the worker (never
a request), signed, in order per webhook, retried with backoff for 24 hours, logged; the
results watched for verdicts and SRM, and REST goals' problems above the webhook's share."""

import socket
import ssl
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
import trustme
from django.test import override_settings
from django.utils import timezone

from agents.models import AgentStatus
from agents.services import agent_update
from goals.diagnostics import CREDITED
from goals.models import GoalOutcomeCount
from goals.reasons import REST_SEND_NOT_ENABLED
from notifications.choices import DeliveryStatus, WebhookEvent
from notifications.models import Delivery, Webhook
from notifications.services import (
    BACKOFF_MAX,
    backoff,
    notify,
    rest_goals_watch,
    results_watch,
    sweep,
)
from notifications.signing import signature, signature_valid
from reports.models import GoalDay, VisitorDay
from targets.choices import Channel
from tests.notifications.receiver import receiver_start

pytestmark = pytest.mark.django_db


def test_signature__hmac_sha256_of_the_body():
    # RFC 4231, test case 2: what any receiver's HMAC-SHA256 computes
    body = b"what do ya want for nothing?"
    assert signature("Jefe", body) == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert signature_valid("Jefe", body, signature("Jefe", body))
    assert not signature_valid("Jefe", body + b" ", signature("Jefe", body))
    assert not signature_valid("other", body, signature("Jefe", body))
    assert not signature_valid("Jefe", body, None)


def test_status_change__queued_by_the_save_sent_by_the_sweep(admin_api, agent, webhook, receiver):
    response = admin_api("patch", "agents/a-hero", {"status": "paused"})
    assert response.status_code == 200
    assert receiver.received == []  # the request sent nothing
    delivery = Delivery.objects.get()
    assert (delivery.event, delivery.status) == (WebhookEvent.STATUS, DeliveryStatus.PENDING)
    sweep()
    (got,) = receiver.received
    assert got.signed
    assert got.event == "status"
    assert got.delivery == delivery.pk
    assert got.body["account"] == "ac-acme"
    assert got.body["data"] == {
        "agent": "a-hero", "name": "Hero", "status": "paused", "previous": "running",
        "decision": None,
    }  # fmt: skip
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_decision__status_event_names_it(admin_api, agent, webhook, receiver):
    admin_api("post", "agents/a-hero/decide", {"variation": "B", "note": "Ship B."})
    sweep()
    (got,) = receiver.received
    decision = got.body["data"]["decision"]
    assert decision["variation"] == "B"
    assert decision["note"] == "Ship B."
    assert got.body["data"]["status"] == "paused"


def test_no_change__nothing_sent(admin_api, agent, webhook, receiver):
    admin_api("patch", "agents/a-hero", {"name": "Renamed"})
    assert not Delivery.objects.exists()


def test_events_not_asked_for__nothing_queued(agent, webhook):
    webhook.events = [WebhookEvent.VERDICT]
    webhook.save()
    agent_update(agent=agent, status=AgentStatus.PAUSED)
    assert not Delivery.objects.exists()


def test_retries__backoff_order_and_the_same_body(account, webhook, receiver):
    receiver.fail = 2
    first = notify(account=account, event=WebhookEvent.TEST, data={"n": 1}, only=webhook)[0]
    notify(account=account, event=WebhookEvent.TEST, data={"n": 2}, only=webhook)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        sweep()
        first.refresh_from_db()
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert len(receiver.received) == 1  # the second waits behind the first
        sweep()  # not due yet: nothing sent
        assert len(receiver.received) == 1
        clock.shift(timedelta(seconds=40))
        sweep()
        clock.shift(timedelta(minutes=2))
        sweep()
    assert [r.answered for r in receiver.received] == [500, 500, 200, 200]
    assert [r.body["data"]["n"] for r in receiver.received] == [1, 1, 1, 2]  # in order
    assert len({r.delivery for r in receiver.received[:3]}) == 1  # the same delivery
    assert all(r.signed for r in receiver.received)
    assert Delivery.objects.filter(status="delivered").count() == 2


def test_gives_up_after_24_hours_then_the_next_goes(account, webhook, receiver):
    receiver.fail = 10_000
    first = notify(account=account, event=WebhookEvent.TEST, data={"n": 1}, only=webhook)[0]
    notify(account=account, event=WebhookEvent.TEST, data={"n": 2}, only=webhook)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(40):
            clock.shift(BACKOFF_MAX * 1.25)
            sweep()
            first.refresh_from_db()
            if first.status != DeliveryStatus.PENDING:
                break
        assert first.status == DeliveryStatus.FAILED  # it was tried for 24 hours, no more
        assert 20 <= first.attempts <= 40
        receiver.fail = 0  # the receiver is back: the second goes at its next try
        clock.shift(timedelta(minutes=1))
        sweep()
    assert receiver.received[-1].body["data"]["n"] == 2
    assert receiver.received[-1].answered == 200


def test_backoff__doubles_from_30s_to_an_hour():
    assert timedelta(seconds=24) <= backoff(1) <= timedelta(seconds=36)
    assert timedelta(seconds=48) <= backoff(2) <= timedelta(seconds=72)
    assert BACKOFF_MAX * 0.8 <= backoff(30) <= BACKOFF_MAX * 1.2


def test_unreachable_receiver__logged_and_retried(account, webhook, receiver):
    webhook.url = "http://127.0.0.1:9/closed"
    webhook.save()
    delivery = notify(account=account, event=WebhookEvent.TEST, data={}, only=webhook)[0]
    sweep()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code is None
    assert "refused" in delivery.last_error.lower() or "error" in delivery.last_error.lower()


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_private_address__refused_unless_allowed(account, webhook, receiver):
    delivery = notify(account=account, event=WebhookEvent.TEST, data={}, only=webhook)[0]
    sweep()
    delivery.refresh_from_db()
    assert receiver.received == []
    assert "private address" in delivery.last_error


@override_settings(WEBHOOKS_ALLOW_PRIVATE=False)
def test_dns_rebinding__the_post_goes_to_the_address_checked(
    account, webhook, receiver, monkeypatch
):
    """A name that answers a public address to the check and then the product's own
    (127.0.0.1, where the receiver listens) must not reach the receiver: the POST goes to
    the address that was checked, not to a second answer."""
    port = urlsplit(receiver.url).port
    webhook.url = f"http://rebind.example:{port}/hook"
    webhook.save()
    resolve, answers = socket.getaddrinfo, []

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return resolve(host, *args, **kwargs)
        answers.append(host)
        ip = "93.184.215.14" if len(answers) == 1 else "127.0.0.1"
        return resolve(ip, *args, **kwargs)

    connect, tried = socket.create_connection, []

    def nowhere_but_here(address, *args, **kwargs):
        tried.append(address[0])
        if address[0] == "93.184.215.14":
            raise OSError("no route from the tests")  # a public address: not dialled here
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", nowhere_but_here)
    delivery = notify(account=account, event=WebhookEvent.TEST, data={}, only=webhook)[0]
    sweep()
    delivery.refresh_from_db()
    assert receiver.received == []
    assert tried == ["93.184.215.14"]
    assert answers == ["rebind.example"]  # resolved once, by the check
    assert delivery.status == DeliveryStatus.PENDING
    assert "no route" in delivery.last_error


@pytest.fixture
def tls_receiver(monkeypatch):
    """A receiver over TLS whose certificate a test CA (trustme) issued for hooks.example,
    the one name it answers; the worker trusts that CA, and hooks.example resolves to
    127.0.0.1 (private addresses are allowed in the tests)."""
    ca = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example").configure_cert(served)
    state, server = receiver_start(tls=served)
    trusting = ssl.create_default_context

    def trusted(*args, **kwargs):
        context = trusting(*args, **kwargs)
        ca.configure_trust(context)
        return context

    resolve = socket.getaddrinfo

    def hosts(host, *args, **kwargs):
        return resolve("127.0.0.1" if host.endswith(".example") else host, *args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", trusted)
    monkeypatch.setattr(socket, "getaddrinfo", hosts)
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("host", "delivered"), [("hooks.example", True), ("other.example", False)])
def test_https__the_certificate_checked_for_the_urls_name(account, tls_receiver, host, delivered):
    hook = Webhook.objects.create(
        account=account, name="TLS", url=f"https://{host}:{urlsplit(tls_receiver.url).port}/hook"
    )
    tls_receiver.secret = hook.secret
    delivery = notify(account=account, event=WebhookEvent.TEST, data={}, only=hook)[0]
    sweep()
    delivery.refresh_from_db()
    if delivered:
        assert delivery.status == DeliveryStatus.DELIVERED
        assert [r.signed for r in tls_receiver.received] == [True]
    else:  # a certificate for another name: refused by the worker before anything is sent
        assert delivery.status == DeliveryStatus.PENDING
        assert "certificate" in delivery.last_error.lower(), delivery.last_error
        assert tls_receiver.received == []


def test_redirect__not_followed__retried(account, webhook, receiver):
    receiver.status = 302
    delivery = notify(account=account, event=WebhookEvent.TEST, data={}, only=webhook)[0]
    sweep()
    delivery.refresh_from_db()
    assert len(receiver.received) == 1
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.PENDING, 302)
    assert delivery.last_error.startswith("HTTP 302")


def _aggregates(agent, goal, counts):
    day = timezone.now().date()
    for variation in agent.variations.all():
        visitors, conversions = counts[variation.code]
        VisitorDay.objects.update_or_create(
            account_id=agent.account_id, agent=agent, variation=variation, day=day,
            channel=Channel.CLIENT,
            defaults={"visitors": visitors},
        )  # fmt: skip
        GoalDay.objects.update_or_create(
            account_id=agent.account_id, agent=agent, variation=variation, goal=goal, day=day,
            channel=Channel.SERVER,
            defaults={"conversions": conversions, "credits": conversions,
                      "value_sum": conversions, "value_sumsq": conversions},
        )  # fmt: skip


def test_verdict__reached_once_then_changed(account, agent, purchase_goal, webhook):
    _aggregates(agent, purchase_goal, {"A": (20, 2), "B": (20, 3)})
    results_watch(account=account, now=timezone.now())
    assert not Delivery.objects.exists()  # keep running: nothing reached
    _aggregates(agent, purchase_goal, {"A": (10000, 1000), "B": (10000, 1400)})
    results_watch(account=account, now=timezone.now())
    results_watch(account=account, now=timezone.now())  # the same verdict: once
    (reached,) = Delivery.objects.filter(event=WebhookEvent.VERDICT)
    assert '"state":"winner","variation":"B"' in reached.body
    assert '"previous":"keep_running:"' in reached.body
    assert '"phase":"current"' in reached.body  # what the verdict is of (SPEC §4e)


def test_srm__flagged_once(account, agent, purchase_goal, webhook):
    _aggregates(agent, purchase_goal, {"A": (1000, 10), "B": (600, 6)})
    results_watch(account=account, now=timezone.now())
    results_watch(account=account, now=timezone.now())
    assert Delivery.objects.filter(event=WebhookEvent.SRM).count() == 1


def _outcomes(account, counts):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    for outcome, count in counts.items():
        GoalOutcomeCount.objects.update_or_create(
            account=account, goal_code="g-purchase", hour=hour, outcome=outcome,
            defaults={"count": count},
        )  # fmt: skip


def test_rest_goals__above_the_share_once_until_it_falls(account, webhook):
    _outcomes(account, {CREDITED: 95, REST_SEND_NOT_ENABLED: 4})
    rest_goals_watch(account=account, now=timezone.now())
    assert not Delivery.objects.exists()  # 4% is under the default 5%
    _outcomes(account, {CREDITED: 90, REST_SEND_NOT_ENABLED: 10})
    rest_goals_watch(account=account, now=timezone.now())
    rest_goals_watch(account=account, now=timezone.now())
    (alert,) = Delivery.objects.filter(event=WebhookEvent.REST_GOALS)
    assert '"by_reason":{"rest_send_not_enabled":10}' in alert.body
    _outcomes(account, {CREDITED: 1000, REST_SEND_NOT_ENABLED: 10})
    rest_goals_watch(account=account, now=timezone.now())  # under: re-armed
    _outcomes(account, {CREDITED: 10, REST_SEND_NOT_ENABLED: 100})
    rest_goals_watch(account=account, now=timezone.now())
    assert Delivery.objects.filter(event=WebhookEvent.REST_GOALS).count() == 2


def test_rest_goals__too_few_goals_say_nothing(account, webhook):
    _outcomes(account, {REST_SEND_NOT_ENABLED: 19})
    rest_goals_watch(account=account, now=timezone.now())
    assert not Delivery.objects.exists()


def test_disabled_webhook__nothing_queued(account, agent, webhook):
    webhook.enabled = False
    webhook.save()
    agent_update(agent=agent, status=AgentStatus.PAUSED)
    assert not Delivery.objects.exists()
