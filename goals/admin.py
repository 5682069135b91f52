"""Admin of goals, with the Trigger section and the server-side goal checklist."""

from collections.abc import Sequence
from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.admin_scoping import AccountScopedAdmin, BlankNullJSONField, CodeGeneratingForm
from accounts.audit import AuditedAdmin
from conductrics_admin.chart import Series, line_chart_svg
from goals.checklist import ChecklistItem, server_side_checklist
from goals.diagnostics import FIXES, goal_outcomes_last_24h
from goals.match_rate import MATCH_SHOWN_DAYS, match_days, time_to_convert
from goals.models import Goal
from goals.services import goal_code_generate
from targeting.conditions import GOAL_SOURCES, condition_describe
from targeting.vocabulary import vocabulary_html
from targets.models import DeployTarget, TargetKind


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
                    "recommended": item.recommended,
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


def account_vocabulary(obj: Model, sources: Sequence[str]) -> SafeString:
    """What a condition of `obj` (an agent or a goal) can read, with its account's codes."""
    account = obj.account if obj.account_id else None  # type: ignore[attr-defined]
    return vocabulary_html(
        sources,
        goal_codes=account.goals.values_list("code", flat=True) if account else [],
        agent_codes=account.agents.values_list("code", flat=True) if account else [],
    )


class GoalForm(CodeGeneratingForm):
    generate_code = staticmethod(goal_code_generate)

    class Meta:
        model = Goal
        fields = "__all__"
        widgets = {"when": forms.Textarea(attrs={"rows": 4, "cols": 80})}
        field_classes = {"when": BlankNullJSONField}


@admin.register(Goal)
class GoalAdmin(AuditedAdmin, AccountScopedAdmin):
    form = GoalForm
    change_form_template = "admin/goals/goal/change_form.html"  # explain, re-check
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
    radio_fields = {
        "trigger": admin.VERTICAL,
        "accepted_from": admin.VERTICAL,
        "counting": admin.HORIZONTAL,
    }
    fieldsets = [
        (None, {"fields": ["account", "code", "name"]}),
        ("Trigger", {"fields": ["trigger", "rest_send", "accepted_from"]}),
        ("Counting", {"fields": ["counting", "max_value", "attribution_window_hours"]}),
        (
            "Condition",
            {
                "description": "Credit this goal only when a condition holds, such as what "
                "the visitor saw client-side (docs/targeting.md). Blank: always.",
                "fields": ["when", "condition_in_words", "condition_vocabulary"],
            },
        ),
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
        (
            f"Match rate and time to convert (last {MATCH_SHOWN_DAYS} days)",
            {
                "description": "How many REST goals find the visitor's assignment (the rest "
                "were sent under an id the page never passed), and how long after the "
                "assignment goals come: measured, to set the attribution window.",
                "fields": ["match_rate"],
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Goal | None = None) -> list[str]:
        fixed = ["account", "code"] if obj else []
        return [
            *fixed, "server_side_checklist", "diagnostics", "condition_in_words",
            "condition_vocabulary", "match_rate",
        ]  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: Goal | None = None):
        return self.fieldsets if obj else self.fieldsets[:-3]

    @admin.display(description="in words")
    def condition_in_words(self, obj: Goal) -> str:
        try:
            obj.clean()
        except ValidationError as exc:
            return f"Does not check: {'; '.join(exc.messages)}"
        return "always" if obj.when is None else condition_describe(obj.when)

    @admin.display(description="what a condition can read")
    def condition_vocabulary(self, obj: Goal) -> SafeString:
        return account_vocabulary(obj, GOAL_SOURCES)

    @admin.display(description="outcomes")
    def diagnostics(self, obj: Goal) -> SafeString:
        return render_diagnostics(obj)

    @admin.display(description="measured")
    def match_rate(self, obj: Goal) -> SafeString:
        return render_match_rate(obj)

    @admin.display(description="checklist")
    def server_side_checklist(self, obj: Goal) -> SafeString:
        return render_checklist([("", server_side_checklist(goal=obj))])

    @admin.display(description="server-side checklist")
    def checklist_score(self, obj: Goal) -> str:
        required = [i for i in server_side_checklist(goal=obj) if not i.recommended]
        return f"{sum(i.ok for i in required)}/{len(required)}"


def fix_link(account_id: int, goal: Goal | None, where: str | None) -> str | None:
    """The admin URL where a diagnostics outcome is fixed."""
    if where == "goal" and goal is not None:
        return reverse("admin:goals_goal_change", args=[goal.pk])
    if where in ("express_target", "rest_target"):
        kind = TargetKind.EXPRESS if where == "express_target" else TargetKind.REST
        target = DeployTarget.objects.filter(account_id=account_id, kind=kind).first()
        if target is not None:
            return reverse("admin:targets_deploytarget_change", args=[target.pk]) + "#data-passing"
        return reverse("admin:targets_deploytarget_add")
    if where == "agent" and goal is not None:
        agents = goal.agents  # goals import nothing of agents: the status comes with them
        agent = agents.exclude(status=agents.model.Status.RUNNING).first() or agents.first()
        if agent is not None:
            return reverse("admin:agents_agent_change", args=[agent.pk])
    return None


def render_match_rate(goal: Goal) -> SafeString:
    """The goal's match rate per day and REST target (chart and table) and its time to
    convert, over the last MATCH_SHOWN_DAYS days, from the daily counts."""
    today = timezone.now().date()
    since = today - timedelta(days=MATCH_SHOWN_DAYS - 1)
    rows = match_days(account_id=goal.account_id, goal_code=goal.code, since=since)
    targets = sorted({r.target_code for r in rows})
    chart = line_chart_svg(
        series=[
            Series(code, [(r.day, r.rate) for r in rows if r.target_code == code])
            for code in targets
        ],
        title=f"Share of {goal.code}'s REST goals that found the visitor's assignment, by day",
    )
    delays = time_to_convert(account_id=goal.account_id, goal_code=goal.code, since=since)
    total = delays.credited + delays.outside
    top = max((c + o for _, c, o in delays.buckets), default=0) or 1
    window = goal.attribution_window_hours or goal.account.attribution_window_hours
    context = {
        "goal": goal,
        "days": MATCH_SHOWN_DAYS,
        "match_rows": [
            {**vars(r), "rate_text": f"{r.rate:.1%}" if r.rate is not None else "—"}
            for r in reversed(rows)
        ],
        "match_chart": chart,
        "delays": delays,
        "delays_total": total,
        "window": window,
        "outside_text": f"{delays.outside_share:.1%}" if delays.outside_share is not None else "—",
        "delay_rows": [
            (label, c, o, (round(120 * (c + o) / top), f"{(c + o) / total:.1%}" if total else "—"))
            for label, c, o in delays.buckets
        ],
    }
    return SafeString(render_to_string("admin/goals/match_rate.html", context))


def render_diagnostics(goal: Goal) -> SafeString:
    counts = goal_outcomes_last_24h(
        account_id=goal.account_id, goal_code=goal.code, now=timezone.now()
    )
    events_url = reverse("admin:visitors_goalevent_changelist") + f"?goal__id__exact={goal.pk}"
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
                "url": fix_link(goal.account_id, goal, where),
            }
        )
    return SafeString(
        render_to_string("admin/goals/diagnostics.html", {"rows": rows, "events_url": events_url})
    )
