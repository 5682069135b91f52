"""Reads on accounts and admin keys."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from accounts.keys import ADMIN_KEY_PREFIX, key_hash
from accounts.models import Account, AdminApiKey, Membership
from accounts.roles import Role


def accounts_for_user(*, user: User | AnonymousUser) -> QuerySet[Account]:
    """Return the accounts a user may see: all for a superuser, their memberships otherwise."""
    if not user.is_authenticated or not user.is_active:
        return Account.objects.none()
    if user.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(memberships__user=user)


def user_roles(*, user: User | AnonymousUser) -> dict[int, str]:
    """account id -> the user's role there (a superuser: owner of every account)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return dict.fromkeys(Account.objects.values_list("pk", flat=True), Role.OWNER)
    return dict(Membership.objects.filter(user=user).values_list("account_id", "role"))


def user_role(*, user: User | AnonymousUser, account_code: str) -> str | None:
    """The user's role in the account `account_code` (a superuser: owner of each), or None
    when not a member (or no such account)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER if Account.objects.filter(code=account_code).exists() else None
    return (
        Membership.objects.filter(user=user, account__code=account_code)
        .values_list("role", flat=True)
        .first()
    )


def admin_key_lookup(*, raw: str) -> AdminApiKey | None:
    """Return the active admin key matching `raw`, or None. Looks up by hash, never by value."""
    if not raw.startswith(ADMIN_KEY_PREFIX):
        return None
    return (
        AdminApiKey.objects.select_related("account")
        .filter(key_hash=key_hash(raw), revoked_at__isnull=True)
        .first()
    )
