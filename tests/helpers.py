"""Helpers shared by tests: requests sent at once from threads, the test Redis, and the
size of a condition."""

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest


def in_parallel(count: int, call: Callable[[], Any]) -> list[Any]:
    """Run `call` in `count` threads released together; their results (any exception is
    raised here). Each thread closes its own database connections."""
    from django.db import connections

    barrier, results, errors = threading.Barrier(count), [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == count
    return results


def redis_url_or_skip() -> str:
    """The test Redis (TEST_REDIS_URL, default db 15 on 127.0.0.1): required in CI."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {url} (CI requires it)")
    return url


def redis_caches(url: str) -> dict:
    """CACHES for Django's Redis cache at `url`."""
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def condition_levels(node: object) -> int:
    """Levels of a condition as `condition_check` counts them (a leaf is one)."""
    if isinstance(node, dict) and isinstance(node.get("not"), dict):
        return 1 + condition_levels(node["not"])
    for key in ("all", "any"):
        if isinstance(node, dict) and isinstance(node.get(key), list) and node[key]:
            return 1 + max(condition_levels(child) for child in node[key])
    return 1


def condition_leaves(node: object) -> int:
    """Leaves of a condition (0 for none), as the limit of leaves counts them."""
    if node is None:
        return 0
    if isinstance(node, dict) and isinstance(node.get("not"), dict):
        return condition_leaves(node["not"])
    for key in ("all", "any"):
        if isinstance(node, dict) and isinstance(node.get(key), list):
            return sum(condition_leaves(child) for child in node[key])
    return 1


def member_make(account, role: str, username: str | None = None, password: str | None = None):
    """A staff user who is a member of `account` with `role` (named u-<role> unless told)."""
    from django.contrib.auth import get_user_model

    from accounts.services import membership_add

    user = get_user_model().objects.create_user(
        username=username or f"u-{role}", password=password, is_staff=True
    )
    membership_add(account=account, user=user, role=role)
    return user
