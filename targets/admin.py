"""Admin of deploy targets, with their Data Passing section and key rotation."""

import re
from collections import Counter

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path
from django.utils.html import format_html

from accounts.admin_scoping import (
    AccountScopedAdmin,
    CodeGeneratingForm,
    admin_object_get,
    keys_shown_once,
)
from accounts.audit import AuditedAdmin
from accounts.roles import Role
from targets.models import RECENT_REQUESTS_KEPT, DeployTarget, RecentRequest, TargetKind
from targets.services import KeyRotatedMeanwhile, target_code_generate, target_rotate_key


class OriginsField(forms.CharField):
    """One origin per line in the form; a list of origins in the model."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: object) -> list[str]:  # type: ignore[override]  # a list field
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class DeployTargetForm(CodeGeneratingForm):
    generate_code = staticmethod(target_code_generate)
    allowed_origins = OriginsField(
        required=False,
        help_text="Express targets: one origin per line, such as https://www.example.com. "
        "Empty: any origin may call the agent-api.",
    )

    class Meta:
        model = DeployTarget
        fields = "__all__"


@admin.register(DeployTarget)
class DeployTargetAdmin(AuditedAdmin, AccountScopedAdmin):
    edit_role = Role.OWNER  # SPEC §6b: deploy targets, keys, members, settings, raw data
    form = DeployTargetForm
    change_form_template = "admin/targets/deploytarget/change_form.html"  # install page
    list_display = ["code", "name", "account", "kind", "enabled", "allow_external_vid", "key_hint"]
    list_filter = ["kind", "enabled", "allow_external_vid", "account"]
    search_fields = ["code", "name", "account__code"]
    actions = ["rotate_key"]
    fieldsets = [
        (None, {"fields": ["account", "code", "name", "kind", "enabled"]}),
        (
            "Data Passing",
            {
                "description": '<span id="data-passing"></span>'
                "Pass an External Visitor ID (vid) so that goals sent server-side through the "
                "REST API match the variations a visitor saw in the browser.",
                "fields": ["allow_external_vid", "allow_linking"],
            },
        ),
        ("Browser access (Express)", {"fields": ["allowed_origins"]}),
        ("Runtime API key", {"fields": ["api_key"]}),
    ]
    radio_fields = {"kind": admin.HORIZONTAL}

    def get_readonly_fields(self, request: HttpRequest, obj: DeployTarget | None = None):
        # A code is part of runtime URLs and client configuration: fixed once created.
        return ["account", "code", "api_key"] if obj else []

    def get_fieldsets(self, request: HttpRequest, obj: DeployTarget | None = None):
        # The key is made when the target is saved: an add form has none to show yet.
        return self.fieldsets if obj else self.fieldsets[:-1]

    @admin.display(description="runtime key")
    def key_hint(self, obj: DeployTarget) -> str:
        return format_html("<code>{}…</code>", obj.api_key[:10])

    @admin.action(description="Rotate the runtime API key (the old key stops working at once)")
    def rotate_key(
        self, request: HttpRequest, queryset: QuerySet[DeployTarget]
    ) -> TemplateResponse:
        keys, failures = [], []
        for target in queryset:
            try:
                keys.append((target.code, target_rotate_key(target=target)))
            except KeyRotatedMeanwhile as exc:
                failures.append(str(exc))
        return keys_shown_once(
            request=request,
            model_admin=self,
            title="New runtime API keys",
            keys=keys,
            note=(
                "The old key stopped working: put the new one in the pages and servers that "
                "call the agent-api."
                if len(keys) == 1
                else "The old keys stopped working: put these in the pages and servers that "
                "call the agent-api."
            ),
            failures=failures,
        )


def _install_view(request: HttpRequest, object_id: str) -> TemplateResponse:
    """The install page of a deploy target: the snippet to paste, with endpoint, account and
    key filled in (Express), or a curl line for a goal (REST); a button that sends a test
    request; and the target's recent requests (refused ones included; no key, no vid)."""
    model_admin, target = admin_object_get(request=request, model=DeployTarget, object_id=object_id)
    endpoint = request.build_absolute_uri("/").rstrip("/")
    recent = list(
        RecentRequest.objects.filter(account_id=target.account_id, target=target).order_by("-id")[
            :RECENT_REQUESTS_KEPT
        ]
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": DeployTarget._meta,
        "original": target,
        "title": f"Install {target.code}",
        "endpoint": endpoint,
        "account": target.account.code,
        "agent_api": f"{endpoint}/{target.account.code}/v3/agent-api/{target.code}",
        "is_express": target.kind == TargetKind.EXPRESS,
        "script_url": request.build_absolute_uri(static("conductrics/conductrics.js")),
        "agents": _agents_with_fallback(target),
        "goals": list(target.account.goals.order_by("code").values_list("code", flat=True)),
        "recent": recent,
        "kept": RECENT_REQUESTS_KEPT,
        "reason_counts": _reason_counts(recent),
    }
    return TemplateResponse(request, "admin/targets/deploytarget/install.html", context)


def _agents_with_fallback(target: DeployTarget) -> list[dict[str, str]]:
    """The target's agents, each with the variation its snippet falls back to (its first:
    the control, by convention) and a JavaScript variable name for it."""
    agents = target.agents.order_by("code").prefetch_related("variations")
    found = []
    for agent in agents:
        first = next(iter(agent.variations.all()), None)  # ordered by position
        words = [w for w in re.split(r"[^A-Za-z0-9]+", agent.code.removeprefix("a-")) if w]
        name = words[0].lower() + "".join(w.capitalize() for w in words[1:]) if words else "agent"
        found.append({
            "code": agent.code,
            "fallback": first.code if first else "A",
            "variable": (name if name[0].isalpha() else "a" + name) + "Variation",
        })  # fmt: skip
    return found


def _reason_counts(recent: list[RecentRequest]) -> list[tuple[str, int]]:
    """How often each reason code appears in the recent requests, most frequent first."""
    counts = Counter(code for r in recent for code in r.reasons.split(",") if code)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


admin_urls = [
    path(
        "targets/deploytarget/<path:object_id>/install/",
        admin.site.admin_view(_install_view),
        name="targets_deploytarget_install",
    ),
]
