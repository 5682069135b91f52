import signal

import pytest
from huey.contrib.djhuey import HUEY

from notifications.models import Webhook
from tests.notifications.receiver import receiver_start


@pytest.fixture
def receiver():
    state, server = receiver_start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook(account, receiver) -> Webhook:
    hook = Webhook.objects.create(account=account, name="Team", url=receiver.url)
    receiver.secret = hook.secret
    return hook


@pytest.fixture
def consumer():
    """Huey's own consumer with a worker thread and its scheduler, as `run_huey` starts it
    (its signal handlers put back afterwards)."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    HUEY.flush()
    running = HUEY.create_consumer(
        workers=1, worker_type="thread", periodic=False, check_worker_health=False,
        scheduler_interval=1,
    )  # fmt: skip
    running.start()
    yield running
    running.stop(graceful=True)
    for number, handler in handlers.items():
        signal.signal(number, handler)
    HUEY.flush()
