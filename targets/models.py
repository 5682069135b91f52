"""Deploy targets: where agents run (Express/JS in the browser, or REST server-side)."""

import re
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from accounts.codes import validate_target_code
from accounts.distribution import account_in_key
from accounts.keys import runtime_key_generate
from accounts.models import Account, CodedModel, code_unique_in_account
from targets.choices import TargetKind

ALLOW_EXTERNAL_VID_LABEL = "Allow Passing of External Visitor ID"
ALLOW_LINKING_LABEL = "Allow linking visitor ids"


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def _host_ok(host: str) -> bool:
    """A DNS name of letters, digits and dashes (no wildcard), or an IP address."""
    if ":" in host:  # IPv6 in brackets, already checked by urlsplit
        return True
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in host.split("."))


def _port_ok(parts: SplitResult) -> bool:
    try:
        port = parts.port  # ValueError when not a number or out of 0..65535
    except ValueError:
        return False
    return port is None or 1 <= port <= 65535


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalized(origin: str) -> str:
    """An origin as a browser sends it in `Origin`: scheme and host in lower case, no
    default port, no trailing `/` (`HTTPS://A.Example.COM:443/` → `https://a.example.com`).
    Anything that is no origin is returned as it is, for the validator to refuse."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return origin
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.query or parts.fragment:
        return origin
    if ":" in host:  # IPv6, bracketed in an origin
        host = f"[{host}]"
    shown_port = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown_port}"


def validate_allowed_origins(value: object) -> None:
    """Refuse anything but a list of `scheme://host[:port]` origins."""
    if not isinstance(value, list):
        raise ValidationError("Allowed origins must be a list of origins.", code="invalid_origin")
    for origin in value:
        if not isinstance(origin, str):
            raise ValidationError(f"{origin!r} is not an origin.", code="invalid_origin")
        try:
            parts = urlsplit(origin)
        except ValueError:  # such as a bracketed host that is no IPv6 address
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
            or not _host_ok(parts.hostname or "")
            or not _port_ok(parts)
        ):
            raise ValidationError(
                f"“{origin}” is not an origin: write it as scheme://host[:port], "
                "for example https://www.example.com.",
                code="invalid_origin",
            )


class DeployTarget(CodedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="targets")
    code = models.CharField(
        max_length=43,
        validators=[validate_target_code],
        help_text=(
            "“dt-” and 1 to 40 letters, digits or dashes. Left blank, it is made from the name."
        ),
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=TargetKind.choices, default=TargetKind.EXPRESS)
    api_key = models.CharField(
        "runtime API key",
        max_length=64,
        unique=True,
        editable=False,
        default=runtime_key_generate,
    )
    enabled = models.BooleanField(default=True)
    allow_external_vid = models.BooleanField(
        ALLOW_EXTERNAL_VID_LABEL,
        default=False,
        help_text=(
            "Lets this target pass an External Visitor ID (the vid parameter, or vid in the "
            "preboot's visitor_callback), so goals sent through the REST API can be matched "
            "back to the variation a visitor saw."
        ),
    )
    allow_linking = models.BooleanField(
        ALLOW_LINKING_LABEL,
        default=False,
        help_text=(
            "Express targets: lets a page link the visitor id it passes to another id of the "
            "same person (the alias command, such as a login id learnt mid-visit). REST "
            "targets always may. Off, a page cannot tie itself to another person's id."
        ),
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_allowed_origins],
        help_text="Express targets: origins allowed to call the agent-api (CORS). Empty: any.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(CodedModel.Meta):
        verbose_name = "deploy target"
        constraints = [
            code_unique_in_account(name="target_code_unique_in_account", label="A deploy target"),
        ]

    @property
    def is_express(self) -> bool:
        return self.kind == TargetKind.EXPRESS

    def clean(self) -> None:
        origins = self.allowed_origins
        if isinstance(origins, list) and all(isinstance(o, str) for o in origins):
            # stored as browsers send them, once each
            self.allowed_origins = list(dict.fromkeys(origin_normalized(o) for o in origins))
        if self.kind == TargetKind.REST and self.allowed_origins:
            raise ValidationError(
                {
                    "allowed_origins": (
                        "Allowed origins apply to Express targets only (browsers); "
                        "a REST target is called server-side. Leave it empty."
                    )
                },
                code="origins_on_rest_target",
            )


RECENT_REQUESTS_KEPT = 200  # per target (SPEC §6, the install page)


class RecentRequest(models.Model):
    """One agent-api request a target answered, for its install page: when, the status,
    the reason codes, how many commands. Never a key, a vid, a session or a code sent by a
    client (an operational log, not visitor data). The last RECENT_REQUESTS_KEPT are kept."""

    account = account_in_key()  # the target's, in the primary key (accounts.distribution)
    target = models.ForeignKey(DeployTarget, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    status = models.PositiveSmallIntegerField()
    reasons = models.CharField(max_length=300, blank=True)  # codes, comma-separated
    commands = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["target", "-id"], name="recent_request_by_target")]

    def __str__(self) -> str:
        return f"{self.target_id} {self.at:%H:%M:%S} {self.status}"
