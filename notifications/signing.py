"""Webhook signatures (SPEC §6b): HMAC-SHA256 of the body under the webhook's secret, in
the header `X-Conductrics-Signature: sha256=<hex>`. Pure; receivers do the same."""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Conductrics-Signature"
EVENT_HEADER = "X-Conductrics-Event"
DELIVERY_HEADER = "X-Conductrics-Delivery"


def signature(secret: str, body: bytes) -> str:
    """The header's value for `body` signed with `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (compared in constant
    time)."""
    return bool(header) and hmac.compare_digest(signature(secret, body), header or "")
