"""Authentication of the management API (`/api/{account}/...`), shared by every resource.

An account's admin key (`admin-…`) in `x-conductrics-apikey` or `Authorization: Bearer`,
or a logged-in staff member of that account (Django session, with CSRF on writes).
Runtime keys (`api-…`) are refused here: they open the agent-api only.
"""

from datetime import timedelta
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.audit import admin_key_actor, audit_actor_is
from accounts.keys import RUNTIME_KEY_PREFIX
from accounts.models import Account, AdminApiKey
from accounts.roles import KEY_ROLES, Role, role_allows, role_refusal
from accounts.selectors import admin_key_lookup, user_role
from accounts.two_factor import session_verified, two_factor_required
from conductrics_admin.api_base import JSONBodyParser

LAST_USED_RESOLUTION = timedelta(minutes=5)


class AdminKeyPrincipal:
    """The caller of a request authenticated by an admin key."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: AdminApiKey) -> None:
        self.key = key
        self.account_id = key.account_id

    def __str__(self) -> str:
        return f"admin key {self.key.prefix}…"


def _raw_key(request: Request) -> str | None:
    header = request.META.get("HTTP_X_CONDUCTRICS_APIKEY")
    if header:
        return header.strip()
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class AdminKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AdminKeyPrincipal, AdminApiKey] | None:
        raw = _raw_key(request)
        if raw is None:
            return None
        if raw.startswith(RUNTIME_KEY_PREFIX):
            raise exceptions.AuthenticationFailed(
                "This is a runtime key (api-…), for the agent-api only; "
                "the management API needs an admin key (admin-…)."
            )
        key = admin_key_lookup(raw=raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked admin key.")
        now = timezone.now()
        if key.expired:
            raise exceptions.AuthenticationFailed(
                f"This admin key expired at {key.expires_at:%Y-%m-%d %H:%M} UTC."
            )
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            AdminApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        audit_actor_is(admin_key_actor(key.name, key.prefix))
        return AdminKeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class AccountAccess(BasePermission):
    """The caller may act on the account named in the URL, with the role the request needs:
    a read (GET, or a POST that records nothing: `view.reads_only`) any member or key; a
    write the view's `write_role` (default editor), refused with a 403 naming it."""

    message = "This key or user has no access to this account."

    def has_permission(self, request: Request, view: APIView) -> bool:
        code = view.kwargs.get("account")
        user = request.user
        reads = request.method in SAFE_METHODS or getattr(view, "reads_only", False)
        needed = Role.VIEWER if reads else getattr(view, "write_role", Role.EDITOR)
        if isinstance(request.auth, AdminApiKey):
            if request.auth.account.code != code:
                return False
            request.caller_role = KEY_ROLES[request.auth.scope]  # type: ignore[attr-defined]
            if not role_allows(request.caller_role, needed):  # type: ignore[attr-defined]
                self.message = role_refusal(None, needed, account_code=code, key=True)
                return False
            return True
        if not user or not user.is_authenticated or not user.is_staff:
            return False
        role = user_role(user=user, account_code=code)
        if role is None:
            return False
        request.caller_role = role  # type: ignore[attr-defined]
        if two_factor_required(user, account_code=code) and not session_verified(user):
            self.message = (
                f"{code} requires two-factor sign-in: enter your authenticator's code in the "
                "admin first (an admin API key needs none)."
            )
            return False
        if not role_allows(role, needed):
            self.message = role_refusal(role, needed, account_code=code)
            return False
        return True


def caller_role(request: Request) -> str | None:
    """The role in the URL's account that AccountAccess found for this request's key or
    user (a key acts as its scope's role)."""
    return getattr(request, "caller_role", None)


# Base of management API views: authenticated for the account `{account}` of the URL. A
# comment, not a docstring: the schema would give it as the description of every operation.
class AccountAPIView(APIView):
    authentication_classes = [AdminKeyAuthentication, SessionAuthentication]
    # JSON resources only (SPEC §7): a form body would read a blank field as "use the default"
    parser_classes = [JSONBodyParser]
    permission_classes = [AccountAccess]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        account = Account.objects.filter(code=self.kwargs["account"]).first()
        if account is None:  # only reachable by a superuser: keys and members name real ones
            raise Http404("No such account.")
        self.account = account


class AdminKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes admin-key authentication."""

    target_class = "accounts.api_auth.AdminKeyAuthentication"
    name = "adminKey"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An admin key (admin-…), as `Authorization: Bearer admin-…` "
            "or in the header `x-conductrics-apikey`.",
        }
