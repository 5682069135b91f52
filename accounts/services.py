"""Writes on accounts, memberships and admin keys."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.keys import admin_key_generate, key_display_prefix, key_hash
from accounts.models import (
    ATTRIBUTION_WINDOW_DEFAULT_HOURS,
    RETENTION_DEFAULT_DAYS,
    Account,
    AdminApiKey,
    Membership,
)
from accounts.roles import KeyScope


@transaction.atomic
def account_create(
    *,
    code: str,
    name: str,
    attribution_window_hours: int = ATTRIBUTION_WINDOW_DEFAULT_HOURS,
    retention_days: int = RETENTION_DEFAULT_DAYS,
) -> Account:
    """Create and return an account. Raises ValidationError on a bad or taken code or settings."""
    account = Account(
        code=code,
        name=name,
        attribution_window_hours=attribution_window_hours,
        retention_days=retention_days,
    )
    account.full_clean()
    account.save()
    return account


def admin_key_create(
    *,
    account: Account,
    name: str = "",
    scope: str = KeyScope.WRITE,
    expires_at: datetime | None = None,
) -> tuple[AdminApiKey, str]:
    """Create an admin key for `account` (`read`: a viewer, `write`: an owner; refused from
    `expires_at` on when given); return it with the raw key, which is never stored."""
    raw = admin_key_generate()
    key = AdminApiKey.objects.create(
        account=account, name=name, prefix=key_display_prefix(raw), key_hash=key_hash(raw),
        scope=scope, expires_at=expires_at,
    )  # fmt: skip
    return key, raw


def admin_key_revoke(*, key: AdminApiKey) -> AdminApiKey:
    """Revoke an admin key (idempotent); it stops authenticating at once."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def membership_add(
    *, account: Account, user: AbstractBaseUser, role: str | None = None
) -> Membership:
    """Make `user` a member of `account` (idempotent; `role` set when given, else a new
    member is an editor) and return the membership."""
    membership, _ = Membership.objects.get_or_create(account=account, user=user)
    if role is not None and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership
