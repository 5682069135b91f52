"""Admin of raw visitor-level data: assignments and goal events, read-only, with verdicts."""

from typing import Any

from django.contrib import admin
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin_scoping import AccountScopedAdmin
from accounts.roles import Role
from goals.admin import fix_link
from goals.diagnostics import CREDITED, FIXES, NO_SELECTION
from goals.reasons import WORDS
from visitors.admin_explain import agent_explain_view, goal_explain_view
from visitors.admin_forget import forget_visitor_view
from visitors.admin_import import (
    target_import_detail_view,
    target_import_report_view,
    target_import_view,
)
from visitors.admin_replay import goal_recheck_view
from visitors.models import Assignment, Credit, GoalEvent


class RawDataAdmin(AccountScopedAdmin):
    edit_role = Role.OWNER  # SPEC §6b: deploy targets, keys, members, settings, raw data
    """Raw visitor-level data is recorded by the agent-api only: shown, never edited here
    (erasure goes through "Forget visitor" and the purges)."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Assignment)
class AssignmentAdmin(RawDataAdmin):
    """Who saw what: raw visitor-level data, read-only (kept for the account's retention)."""

    list_display = ["created_at", "agent", "variation", "identity", "target_kind", "confirmed_at"]
    list_filter = ["target_kind", "agent", "account"]
    search_fields = ["session", "vid", "agent__code"]
    date_hierarchy = "created_at"
    list_select_related = ["agent", "variation"]
    fields = readonly_fields = (
        "account",
        "agent",
        "variation",
        "identity",
        "session",
        "vid",
        "target",
        "target_kind",
        "traits",
        "created_at",
        "confirmed_at",
    )


def verdict_of(event: GoalEvent) -> list[tuple[str, str]]:
    """(outcome, text) pairs of a recorded goal event, from its stored answer."""
    response = event.response or {}
    out = [(CREDITED, f"credited to {c['a']}/{c['c']}") for c in response.get("rs", [])]
    out += [
        (
            skip["reason"],
            f"{skip['a']}/{skip['c']}: {WORDS.get(skip['reason'], skip['reason'])} "
            f"({skip['reason']})",
        )
        for skip in response.get("skipped", [])
    ]
    return out or [(NO_SELECTION, f"{WORDS[NO_SELECTION]} ({NO_SELECTION})")]


class VerdictFilter(admin.SimpleListFilter):
    title = "verdict"
    parameter_name = "verdict"

    def lookups(
        self, request: HttpRequest, model_admin: "admin.ModelAdmin[GoalEvent]"
    ) -> list[tuple[str, str]]:
        return [("credited", "credited"), ("none", "nothing credited")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[GoalEvent]) -> QuerySet[GoalEvent]:
        # the credits are matched by account too: on Citus, a join of two distributed
        # tables must name the distribution column (accounts.distribution)
        credited = Exists(
            Credit.objects.filter(account_id=OuterRef("account_id"), event_id=OuterRef("pk"))
        )
        if self.value() == "credited":
            return queryset.filter(credited)
        if self.value() == "none":
            return queryset.filter(~credited)
        return queryset


@admin.register(GoalEvent)
class GoalEventAdmin(RawDataAdmin):
    """Recent goal events with their verdicts: read-only."""

    list_display = [
        "received_at",
        "occurred_at",
        "goal",
        "vid",
        "channel",
        "value",
        "event_id",
        "verdict",
    ]
    list_filter = [VerdictFilter, "channel", "goal", "account"]
    search_fields = ["event_id", "session", "vid", "goal__code"]
    date_hierarchy = "received_at"
    list_select_related = ["goal"]
    fields = readonly_fields = (
        "account",
        "goal",
        "event_id",
        "session",
        "vid",
        "target",
        "channel",
        "value",
        "received_at",
        "occurred_at",
        "response",
        "verdict",
    )

    @admin.display(description="verdict")
    def verdict(self, obj: GoalEvent) -> SafeString:
        parts = []
        for outcome, text in verdict_of(obj):
            advice, where = FIXES.get(outcome, ("", None))
            url = fix_link(obj.account_id, obj.goal, where) if outcome != CREDITED else None
            if url:
                parts.append(format_html('{} (<a href="{}" title="{}">fix</a>)', text, url, advice))
            else:
                parts.append(format_html("{}", text))
        return SafeString("<br>".join(parts))


admin_urls = [
    path(
        "agents/agent/<path:object_id>/explain/",
        admin.site.admin_view(agent_explain_view),
        name="agents_agent_explain",
    ),
    path(
        "goals/goal/<path:object_id>/explain/",
        admin.site.admin_view(goal_explain_view),
        name="goals_goal_explain",
    ),
    path(
        "goals/goal/<path:object_id>/recheck/",
        admin.site.admin_view(goal_recheck_view),
        name="goals_goal_recheck",
    ),
    path(
        "targets/deploytarget/<path:object_id>/import/",
        admin.site.admin_view(target_import_view),
        name="targets_deploytarget_import",
    ),
    path(
        "targets/deploytarget/<path:object_id>/import/<int:import_id>/",
        admin.site.admin_view(target_import_detail_view),
        name="targets_deploytarget_import_detail",
    ),
    path(
        "targets/deploytarget/<path:object_id>/import/<int:import_id>/verdicts.csv",
        admin.site.admin_view(target_import_report_view),
        name="targets_deploytarget_import_report",
    ),
    path(
        "accounts/account/<path:object_id>/forget-visitor/",
        admin.site.admin_view(forget_visitor_view),
        name="accounts_account_forget_visitor",
    ),
]
