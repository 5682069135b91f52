"""Writes on accounts, memberships and admin keys."""

from datetime import datetime

from django.contrib.auth import get_user_model
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


@transaction.atomic
def member_invite(
    *, account: Account, username: str, email: str = "", role: str
) -> tuple[Membership, bool]:
    """Make the user `username` a member of `account` with `role`; a user of that name is
    created (staff, no password: they set one with a link) when there is none. Returns the
    membership and whether the user was created."""
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = users.objects.create_user(username=username, email=email or "", is_staff=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif not user.is_staff:
        user.is_staff = True  # staff: the admin's door; the membership says what they see
        user.save(update_fields=["is_staff"])
    return membership_add(account=account, user=user, role=role), created


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
