"""API keys: runtime keys (`api-…`, one per deploy target) and admin keys (`admin-…`, per account).

Keys carry 32 random url-safe characters (192 bits), so a plain SHA-256 is the right
hash for storing admin keys: it is not guessable, and lookups by hash are exact.
"""

import hashlib
import re
import secrets

RUNTIME_KEY_PREFIX = "api-"
ADMIN_KEY_PREFIX = "admin-"
_RANDOM_BYTES = 24  # 24 bytes -> 32 url-safe base64 characters
_RUNTIME_KEY = re.compile(r"api-[A-Za-z0-9_-]{32}\Z")


def runtime_key_generate() -> str:
    """Return a new runtime key: `api-` + 32 random url-safe characters."""
    return RUNTIME_KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def runtime_key_well_formed(key: str) -> bool:
    """Whether `key` has a runtime key's shape (every key ever made has it)."""
    return _RUNTIME_KEY.match(key) is not None


def admin_key_generate() -> str:
    """Return a new admin key: `admin-` + 32 random url-safe characters."""
    return ADMIN_KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def key_hash(raw: str) -> str:
    """Return the hex SHA-256 of a key, as stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def key_display_prefix(raw: str) -> str:
    """Return the part of a key that may be shown again to recognise it (prefix + 6 chars)."""
    head, _, rest = raw.partition("-")
    return f"{head}-{rest[:6]}"
