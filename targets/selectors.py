"""Reads on deploy targets."""

from targets.models import DeployTarget


def runtime_key_exists(*, key: str) -> bool:
    """Tell whether `key` is the runtime key of any deploy target (of any account)."""
    return DeployTarget.objects.filter(api_key=key).exists()
