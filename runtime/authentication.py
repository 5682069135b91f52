"""Runtime key authentication: key → deploy target → account, from the configuration snapshot.

An unknown key and an unknown account both answer 401, so accounts cannot be probed;
a key of another account or another target answers 403.
"""

import hmac
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.keys import runtime_key_well_formed
from runtime import reasons
from runtime.errors import AgentApiError
from runtime.throttling import client_over
from targets.selectors import runtime_key_exists
from visitors.config import AccountConf, TargetConf, account_conf

KEY_HEADER_NAME = "x-conductrics-apikey"
KEY_HEADER = "HTTP_" + KEY_HEADER_NAME.upper().replace("-", "_")  # as WSGI names it
UNKNOWN_KEY = "Unknown runtime API key or account."


@dataclass(frozen=True)
class RuntimeAuth:
    """What a runtime key opens: its deploy target, and the account that holds it."""

    account: AccountConf
    target: TargetConf


def runtime_auth_of(request: Request) -> RuntimeAuth:
    """What the key of a request past `RuntimeKeyAuthentication` opened."""
    return cast(RuntimeAuth, request.auth)


def runtime_key_from(request: HttpRequest) -> str | None:
    """The runtime key of a request: the `apikey` parameter, else the header."""
    return request.GET.get("apikey") or request.META.get(KEY_HEADER) or None


def target_of_key(*, account: AccountConf | None, key: str) -> TargetConf | None:
    """The target of `account` whose runtime key `key` is, or None. Compared against
    every target in constant time, so the time taken says nothing about the key."""
    target = None
    for candidate in account.targets if account is not None else ():
        if hmac.compare_digest(candidate.api_key.encode(), key.encode()):
            target = candidate
    return target


def target_authenticate(
    *, account_code: str, target_code: str | None, key: str | None
) -> RuntimeAuth:
    """Return the account and target a runtime key opens, or raise AgentApiError.

    A key of another account answers 403 whether the account in the URL exists or not,
    so accounts cannot be probed; a string that is no key is unknown (401) without a query.
    """
    if not key:
        raise AgentApiError(
            reasons.KEY_MISSING,
            "Missing runtime API key: pass apikey=... or the header x-conductrics-apikey.",
        )
    if not runtime_key_well_formed(key):
        raise AgentApiError(reasons.KEY_UNKNOWN, UNKNOWN_KEY)
    account = account_conf(code=account_code)
    target = target_of_key(account=account, key=key)
    if account is None or target is None:
        if runtime_key_exists(key=key):
            raise AgentApiError(
                reasons.WRONG_ACCOUNT, "This runtime API key belongs to another account."
            )
        raise AgentApiError(reasons.KEY_UNKNOWN, UNKNOWN_KEY)
    if target_code is not None and target_code != target.code:
        raise AgentApiError(
            reasons.WRONG_TARGET,
            f"This runtime API key is the key of deploy target {target.code}, not {target_code}.",
        )
    if not target.enabled:
        raise AgentApiError(reasons.TARGET_DISABLED, f"Deploy target {target.code} is disabled.")
    return RuntimeAuth(account=account, target=target)


class RuntimeKeyAuthentication(BaseAuthentication):
    """DRF authentication of the agent-api: `request.auth` is a `RuntimeAuth`.

    The account and target come from the URL (`{account}`, optional `{target}`); every
    refusal raises AgentApiError (401/403), rendered in the Conductrics envelope.
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, RuntimeAuth]:
        kwargs = request.parser_context["kwargs"]
        try:
            auth = target_authenticate(
                account_code=kwargs["account"],
                target_code=kwargs.get("target"),
                key=runtime_key_from(request._request),
            )
        except AgentApiError:
            # no key vouches for the client: counted per IP, so made-up account codes and
            # keys are throttled too
            wait = client_over(request, scope="refused")
            if wait is not None:
                raise exceptions.Throttled(wait) from None
            raise
        return AnonymousUser(), auth
