"""Admin of goals, with the Trigger section and the server-side goal checklist."""

from collections.abc import Sequence

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin_scoping import AccountScopedAdmin, CodeGeneratingForm
from goals.checklist import ChecklistItem, server_side_checklist
from goals.diagnostics import CREDITED, FIXES, NO_SELECTION, goal_outcomes_last_24h
from goals.models import Goal, GoalEvent
from goals.services import goal_code_generate
from targets.models import DeployTarget


def _fix_url(fix: Model | type[Model] | None) -> str | None:
    if fix is None:
        return None
    if isinstance(fix, Model):
        url = reverse(f"admin:{fix._meta.app_label}_{fix._meta.model_name}_change", args=[fix.pk])
        return url + ("#data-passing" if fix._meta.model_name == "deploytarget" else "")
    return reverse(f"admin:{fix._meta.app_label}_{fix._meta.model_name}_add")


def render_checklist(
    blocks: Sequence[tuple[str, list[ChecklistItem]]], *, empty_text: str = ""
) -> SafeString:
    """Render checklist blocks (title, items) as HTML, each item linking to where it is fixed."""
    context_blocks = [
        {
            "title": title,
            "items": [
                {
                    "key": item.key,
                    "label": item.label,
                    "ok": item.ok,
                    "detail": item.detail,
                    "url": _fix_url(item.fix),
                }
                for item in items
            ],
        }
        for title, items in blocks
    ]
    return SafeString(
        render_to_string(
            "admin/checklist.html", {"blocks": context_blocks, "empty_text": empty_text}
        )
    )


class GoalForm(CodeGeneratingForm):
    generate_code = staticmethod(goal_code_generate)

    class Meta:
        model = Goal
        fields = "__all__"


@admin.register(Goal)
class GoalAdmin(AccountScopedAdmin):
    form = GoalForm
    list_display = [
        "code",
        "name",
        "account",
        "trigger",
        "rest_send",
        "counting",
        "checklist_score",
    ]
    list_filter = ["trigger", "rest_send", "counting", "account"]
    search_fields = ["code", "name", "account__code"]
    radio_fields = {"trigger": admin.VERTICAL, "counting": admin.HORIZONTAL}
    fieldsets = [
        (None, {"fields": ["account", "code", "name"]}),
        ("Trigger", {"fields": ["trigger", "rest_send"]}),
        ("Counting", {"fields": ["counting", "max_value", "attribution_window_hours"]}),
        (
            "Server-side goal checklist",
            {
                "description": "What sending this goal through the REST API, for an Express "
                "agent, needs. Each item links to where it is fixed.",
                "fields": ["server_side_checklist"],
            },
        ),
        (
            "Diagnostics (last 24 hours)",
            {
                "description": "What became of this goal's events: credited, or why not.",
                "fields": ["diagnostics"],
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Goal | None = None) -> list[str]:
        fixed = ["account", "code"] if obj else []
        return [*fixed, "server_side_checklist", "diagnostics"]

    def get_fieldsets(self, request: HttpRequest, obj: Goal | None = None):  # noqa: ANN201
        return self.fieldsets if obj else self.fieldsets[:-2]

    @admin.display(description="outcomes")
    def diagnostics(self, obj: Goal) -> SafeString:
        return render_diagnostics(obj)

    @admin.display(description="checklist")
    def server_side_checklist(self, obj: Goal) -> SafeString:
        return render_checklist([("", server_side_checklist(goal=obj))])

    @admin.display(description="server-side checklist")
    def checklist_score(self, obj: Goal) -> str:
        items = server_side_checklist(goal=obj)
        return f"{sum(i.ok for i in items)}/{len(items)}"


def _fix_link(account_id: int, goal: Goal | None, where: str | None) -> str | None:
    """The admin URL where a diagnostics outcome is fixed."""
    if where == "goal" and goal is not None:
        return reverse("admin:goals_goal_change", args=[goal.pk])
    if where in ("express_target", "rest_target"):
        kind = "express" if where == "express_target" else "rest"
        target = DeployTarget.objects.filter(account_id=account_id, kind=kind).first()
        if target is not None:
            return reverse("admin:targets_deploytarget_change", args=[target.pk]) + "#data-passing"
        return reverse("admin:targets_deploytarget_add")
    if where == "agent" and goal is not None:
        agent = goal.agents.exclude(status="running").first() or goal.agents.first()
        if agent is not None:
            return reverse("admin:agents_agent_change", args=[agent.pk])
    return None


def render_diagnostics(goal: Goal) -> SafeString:
    counts = goal_outcomes_last_24h(
        account_id=goal.account_id, goal_code=goal.code, now=timezone.now()
    )
    events_url = reverse("admin:goals_goalevent_changelist") + f"?goal__id__exact={goal.pk}"
    rows = []
    for outcome, count in counts.items():
        if not count:
            continue
        advice, where = FIXES.get(outcome, ("", None))
        rows.append(
            {
                "outcome": outcome,
                "count": count,
                "advice": advice,
                "url": _fix_link(goal.account_id, goal, where),
            }
        )
    return SafeString(
        render_to_string("admin/goals/diagnostics.html", {"rows": rows, "events_url": events_url})
    )


def verdict_of(event: GoalEvent) -> list[tuple[str, str]]:
    """(outcome, text) pairs of a recorded goal event, from its stored answer."""
    response = event.response or {}
    out = [(CREDITED, f"credited to {c['a']}/{c['c']}") for c in response.get("rs", [])]
    out += [
        (skip["reason"], f"{skip['a']}/{skip['c']}: {skip['reason']}")
        for skip in response.get("skipped", [])
    ]
    return out or [(NO_SELECTION, "no selection found for this visitor")]


class VerdictFilter(admin.SimpleListFilter):
    title = "verdict"
    parameter_name = "verdict"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):  # noqa: ANN201
        return [("credited", "credited"), ("none", "nothing credited")]

    def queryset(self, request: HttpRequest, queryset):  # noqa: ANN001, ANN201
        if self.value() == "credited":
            return queryset.filter(credits__isnull=False).distinct()
        if self.value() == "none":
            return queryset.filter(credits__isnull=True)
        return queryset


@admin.register(GoalEvent)
class GoalEventAdmin(AccountScopedAdmin):
    """Recent goal events with their verdicts: read-only."""

    list_display = ["received_at", "goal", "channel", "value", "event_id", "verdict"]
    list_filter = [VerdictFilter, "channel", "goal", "account"]
    search_fields = ["event_id", "session", "vid", "goal__code"]
    date_hierarchy = "received_at"
    list_select_related = ["goal"]
    readonly_fields = [
        "account", "goal", "event_id", "session", "vid", "target", "channel", "value",
        "received_at", "response", "verdict",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: GoalEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: GoalEvent | None = None) -> bool:
        return False

    @admin.display(description="verdict")
    def verdict(self, obj: GoalEvent) -> SafeString:
        parts = []
        for outcome, text in verdict_of(obj):
            advice, where = FIXES.get(outcome, ("", None))
            url = _fix_link(obj.account_id, obj.goal, where) if outcome != CREDITED else None
            if url:
                parts.append(format_html('{} (<a href="{}" title="{}">fix</a>)', text, url, advice))
            else:
                parts.append(format_html("{}", text))
        return SafeString("<br>".join(parts))
