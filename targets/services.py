"""Writes on deploy targets."""

from typing import Any

from django.db import transaction

from accounts.codes import code_generate, code_validate_free
from accounts.keys import runtime_key_generate
from accounts.models import Account
from targets.models import DeployTarget, TargetKind


def target_code_generate(*, account: Account, name: str) -> str:
    """Return a free deploy-target code for `account`, made from `name`."""
    return code_generate(
        prefix="dt-",
        name=name,
        is_taken=lambda c: DeployTarget.objects.filter(account=account, code=c).exists(),
    )


@transaction.atomic
def target_create(
    *,
    account: Account,
    name: str,
    kind: str = TargetKind.EXPRESS,
    code: str | None = None,
    enabled: bool = True,
    allow_external_vid: bool = False,
    allow_linking: bool = False,
    allowed_origins: list[str] | None = None,
) -> DeployTarget:
    """Create a deploy target with a new runtime key. Raises ValidationError on bad input."""
    if code:
        code_validate_free(
            taken=DeployTarget.objects.filter(account=account, code=code).exists(),
            code=code,
            label="deploy target",
        )
    target = DeployTarget(
        account=account,
        code=code or target_code_generate(account=account, name=name),
        name=name,
        kind=kind,
        enabled=enabled,
        allow_external_vid=allow_external_vid,
        allow_linking=allow_linking,
        allowed_origins=allowed_origins or [],
    )
    target.full_clean()
    target.save()
    return target


class KeyRotatedMeanwhile(Exception):
    """The key read before a rotation is no longer the live one: another rotation won."""


@transaction.atomic
def target_rotate_key(*, target: DeployTarget) -> str:
    """Replace the key of `target` (the one it was read with) by a new one; return it. The
    old key stops working at once.

    Atomic: of rotations racing from the same key, one wins and the others raise
    KeyRotatedMeanwhile, so no answered key is already dead.
    """
    current = DeployTarget.objects.select_for_update().get(pk=target.pk)
    if current.api_key != target.api_key:
        raise KeyRotatedMeanwhile(f"The key of {target.code} was rotated meanwhile.")
    current.api_key = runtime_key_generate()
    current.save(update_fields=["api_key", "updated_at"])
    target.api_key = current.api_key
    return current.api_key


TARGET_EDITABLE = (
    "name", "kind", "enabled", "allow_external_vid", "allow_linking", "allowed_origins",
)  # fmt: skip


@transaction.atomic
def target_update(*, target: DeployTarget, **changes: Any) -> DeployTarget:
    """Change the editable fields of `target` (its code and key are fixed); return it.

    Raises ValidationError on bad values; nothing is saved then.
    """
    for name, value in changes.items():
        if name not in TARGET_EDITABLE:
            raise ValueError(f"{name} is not an editable field of a deploy target")
        setattr(target, name, value)
    target.full_clean()
    # only what changed: the key (rotated meanwhile, maybe) is never written back
    target.save(update_fields=[*changes, "updated_at"])
    return target


def target_delete(*, target: DeployTarget) -> None:
    """Delete a deploy target. Its key stops working; recorded data stays (it keeps no link)."""
    target.delete()
