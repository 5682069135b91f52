"""The worker as it runs (`manage.py run_huey`: Huey's consumer, threads): a request only
queues; the consumer sends, outside any request; a retry is scheduled in the queue."""

import threading
import time

import pytest

from notifications import services
from notifications.choices import DeliveryStatus
from notifications.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_worker__sends_what_a_request_queued(
    admin_api, agent, webhook, receiver, consumer, monkeypatch
):
    senders = []  # the threads that sent: the test client runs the request in this one
    post = services._post

    def noted(*args):
        senders.append(threading.current_thread())
        return post(*args)

    monkeypatch.setattr(services, "_post", noted)
    receiver.fail = 1  # the first attempt fails: then a retry
    response = admin_api("patch", "agents/a-hero", {"status": "paused"})
    assert response.status_code == 200
    assert _wait(lambda: len(receiver.received) >= 1)
    assert senders
    assert threading.current_thread() not in senders  # the worker's thread, not the request's
    # the receiver answers before the worker records the attempt: wait for the record
    assert _wait(lambda: Delivery.objects.get().attempts >= 1)
    delivery = Delivery.objects.get()
    # the retry waits its backoff (about 30 s): bring it forward, as the schedule's eta
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    from notifications.tasks import deliver_task

    deliver_task(delivery.webhook_id)
    assert _wait(lambda: Delivery.objects.get().status == DeliveryStatus.DELIVERED)
    assert [r.answered for r in receiver.received] == [500, 200]
    assert all(r.signed for r in receiver.received)
