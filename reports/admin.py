"""The results page of an agent in the admin: the report, a date filter and a daily chart.

Linked from the agent's admin; routed in the admin's namespace by the project's URLconf
(`admin_urls` below), so that the agents app needs nothing of reports.
"""

from datetime import date, timedelta
from typing import Any, cast

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin_scoping import admin_object_get
from agents.admin import AgentAdmin
from agents.models import Agent
from conductrics_admin.chart import Series, line_chart_svg
from reports.admin_decide import agent_decide_view
from reports.lifecycle import AgentFigures, agents_figures, days_running_text
from reports.phases import SHOWN_ALL, SHOWN_CURRENT, shown_default, shown_parse
from reports.selectors import (
    agent_daily,
    agent_report,
    days_between,
    report_date_parse,
    report_range,
)
from reports.statistics import wilson_ci95
from reports.verdict import KEEP_RUNNING, verdict_short

MAX_CHART_DAYS = 366


def _parse(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name) or ""
    if not raw:
        return None
    try:
        return report_date_parse(raw)
    except ValueError as exc:
        messages.warning(request, f"{exc} {name} ignored.")
        return None


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "signed_pct":
        return f"{value * 100:+.1f}%"
    if kind == "signed":
        return f"{value:+.4f}"
    if kind == "signed_pts":  # a difference of rates, in percentage points
        return f"{value * 100:+.2f} pts"
    if kind == "pts":
        return f"{value * 100:.3f} pts"
    return f"{value:.4f}" if kind == "num4" else f"{value:,.2f}"


def _interval(ci: list | None, kind: str) -> str:
    return f"[{_fmt(ci[0], kind)}, {_fmt(ci[1], kind)}]" if ci else "—"


def _rate_lift(row: dict) -> str:
    if row["rate_lift_abs"] is None:
        return "—"
    relative = f" ({_fmt(row['rate_lift_rel'], 'signed_pct')})" if row["rate_lift_rel"] else ""
    return _fmt(row["rate_lift_abs"], "signed_pts") + relative


def _display(row: dict, is_baseline: bool) -> dict:
    ci = row["value_per_visitor_ci95"]
    lift_ci = row["lift_ci95"]
    sequential = row["sequential"] or {}
    return {
        **row,
        "rate_ci": _interval(row["conversion_rate_ci95"], "pct") if row["visitors"] else "",
        "rate_lift_text": "baseline" if is_baseline else _rate_lift(row),
        "rate_lift_ci": _interval(row["rate_lift_ci95"], "signed_pts"),
        "rate_lift_seq": _interval(sequential.get("rate_lift_ci95"), "signed_pts"),
        "lift_seq": _interval(sequential.get("lift_ci95"), "signed"),
        "chance_text": "" if is_baseline else _fmt(row["chance_to_win"], "pct"),
        "loss_text": "" if is_baseline else _fmt(row["expected_loss"], "pts"),
        "rate": _fmt(row["conversion_rate"], "pct"),
        "value": _fmt(row["value_sum"], "money"),
        "vpv": _fmt(row["value_per_visitor"], "num4"),
        "vpv_ci": f"[{_fmt(ci[0], 'num4')}, {_fmt(ci[1], 'num4')}]" if ci else "—",
        "lift_abs_text": "baseline" if is_baseline else _fmt(row["lift_abs"], "signed"),
        "lift_rel_text": "" if is_baseline else _fmt(row["lift_rel"], "signed_pct"),
        "lift_ci": f"[{_fmt(lift_ci[0], 'signed')}, {_fmt(lift_ci[1], 'signed')}]"
        if lift_ci
        else "—",
        "confidence_text": "" if is_baseline else _fmt(row["confidence"], "pct"),
    }


def _share(weights: dict[str, float], code: str) -> float:
    """A variation's share of new visitors under a phase's weights."""
    total = sum(weights.values())
    return weights.get(code, 0.0) / total if total else 0.0


def _shares_steps(phases: list[dict[str, Any]], code: str) -> list[tuple[date, float | None]]:
    """A variation's share of new visitors over time, as steps: each phase's share from its
    start until the next phase's (drawn as a rise or fall there), then until now."""
    points: list[tuple[date, float | None]] = []
    share = None
    for phase in phases:
        started = parse_datetime(phase["started_at"])
        if started is None:
            continue
        if share is not None:
            # the step: the old share up to the new phase (an instant before: the chart sorts)
            points.append((started - timedelta(microseconds=1), share))
        share = _share(phase["weights"], code)
        points.append((started, share))
    if share is not None:
        points.append((timezone.now(), share))
    return points


def agent_results_view(request: HttpRequest, object_id: str) -> TemplateResponse:
    """The results page of one agent, for staff who may view it."""
    model_admin, agent = admin_object_get(request=request, model=Agent, object_id=object_id)
    date_from, date_to = _parse(request, "from"), _parse(request, "to")
    if date_from and date_to and date_from > date_to:
        messages.warning(request, "“from” is after “to”: the dates were swapped.")
        date_from, date_to = date_to, date_from
    try:
        shown = shown_parse(request.GET.get("phase") or None, agent=agent)
    except ValueError as exc:
        shown = shown_default(agent)
        messages.warning(request, f"{exc} Shown: {shown}.")
    report = agent_report(agent=agent, date_from=date_from, date_to=date_to, shown=shown)
    start, end = report_range(agent=agent, date_from=date_from, date_to=date_to)
    goals = list(agent.goals.order_by("code"))
    chart_goal = next((g for g in goals if g.code == request.GET.get("goal")), None) or (
        goals[0] if goals else None
    )
    chart_start = max(start, end - timedelta(days=MAX_CHART_DAYS - 1))
    daily = agent_daily(
        agent=agent,
        goal_id=chart_goal.pk if chart_goal else None,
        date_from=chart_start,
        date_to=end,
        phase=None if shown == SHOWN_ALL else agent.phase if shown == SHOWN_CURRENT else int(shown),
    )
    cumulative = request.GET.get("view") != "daily"
    series = []
    days = days_between(chart_start, end)
    for variation in agent.variations.order_by("position", "id"):
        by_day = {p.day: p for p in daily if p.variation == variation.code}
        visitors = conversions = 0
        points, band = [], []
        for day in days:
            point = by_day.get(day)
            if not cumulative:
                visitors = conversions = 0
            if point:
                visitors += point.visitors
                conversions += point.conversions
            points.append((day, conversions / visitors if visitors else None))
            interval = wilson_ci95(conversions, visitors)
            if interval:
                band.append((day, *interval))
        series.append(Series(variation.code, points, band))
    kind = "Cumulative" if cumulative else "Daily"
    of_phase = ""
    if agent.phase > 1:  # which visitors the days count
        of_phase = (
            " (every phase's visitors, pooled)"
            if shown == SHOWN_ALL
            else f" (phase {agent.phase if shown == SHOWN_CURRENT else shown})"
        )
    chart = line_chart_svg(
        series=series,
        title=f"{kind} conversion rate of {chart_goal.code}, with its 95% interval{of_phase}"
        if chart_goal
        else "No goal",
    )
    chart_rows = [(day, [_fmt(dict(s.points).get(day), "pct") for s in series]) for day in days]
    phases = report["phase"]["phases"]
    shares_chart = (
        line_chart_svg(
            series=[
                Series(v.code, _shares_steps(phases, v.code))
                for v in agent.variations.order_by("position", "id")
            ],
            title="Share of new visitors given to each variation, by phase",
        )
        if len(phases) > 1
        else None
    )
    goal_tables = [
        {
            "code": g["code"],
            "rows": [_display(row, i == 0) for i, row in enumerate(g["variations"])],
            "server_total": sum(r["conversions_server"] for r in g["variations"]),
            "client_total": sum(r["conversions_client"] for r in g["variations"]),
            "fixed_rows": [r for r in g["variations"] if r["fixed"]["visitors"]],
            "conflict_rows": [r for r in g["variations"] if r["conflicts"]],
            "verdict": g["verdict"],
            # how many more visitors a test needs, while it needs more (not under a verdict)
            "visitors_needed": g["visitors_needed"]
            if g["verdict"]["state"] == KEEP_RUNNING
            else None,
        }
        for g in report["goals"]
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": agent,
        "title": f"Results: {agent.name} ({agent.code})",
        "report": report,
        "goal_tables": goal_tables,
        "chart": chart,
        "chart_rows": chart_rows,
        "chart_codes": [s.label for s in series],
        "cumulative": cumulative,
        "goals": goals,
        "chart_goal": chart_goal,
        "date_from": report["from"],
        "date_to": report["to"],
        "srm_p": _fmt(report["srm"]["p_value"], "num4"),
        "shown": shown,
        "shares_chart": shares_chart,
        "phases": [
            {**p, "srm_text": _fmt(p["srm"]["p_value"], "num4")} for p in report["phase"]["phases"]
        ],
        "mde_pct": f"{agent.account.mde_rel * 100:g}",
        "decision": agent.decisions.first(),
        "csv_url": reverse(
            "agent-report-csv", kwargs={"account": agent.account.code, "code": agent.code}
        )
        + f"?from={report['from']}&to={report['to']}&phase={shown}",
    }
    return TemplateResponse(request, "admin/agents/agent/results.html", context)


FIGURES = "list_figures"  # where the agents list keeps a row's figures on its object


def _figures(agent: Agent) -> AgentFigures:
    return cast(AgentFigures, getattr(agent, FIGURES))


class AgentWithResultsAdmin(AgentAdmin):
    """The agents' admin (agents.admin.AgentAdmin) with what the results say in its list, a
    list a team can scan (SPEC §6b): days running, visitors and the first goal's verdict,
    for the page's agents in three queries."""

    # what a team scans first, then who and where
    list_display = [
        "code",
        "name",
        "status_line",
        "days_running",
        "visitors",
        "verdict",
        "owner",
        "tag_words",
        "account",
        "results_link",
    ]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        agents = list(changelist.result_list)
        figures = agents_figures(agents)
        for agent in agents:  # the rows' own objects: the columns below read them
            setattr(agent, FIGURES, figures[agent.pk])
        return changelist

    @admin.display(description="days running")
    def days_running(self, obj: Agent) -> str:
        return days_running_text(_figures(obj).days_running)

    @admin.display(description="visitors")
    def visitors(self, obj: Agent) -> int:
        return _figures(obj).visitors

    @admin.display(description="verdict")
    def verdict(self, obj: Agent) -> SafeString | str:
        """In a few words, of the first goal; the verdict's sentence on hover."""
        figures = _figures(obj)
        if figures.verdict is None:
            return "—"
        return format_html(
            '<span title="{}">{} ({})</span>',
            figures.verdict["text"],
            verdict_short(figures.verdict),
            figures.goal_code,
        )


admin.site.unregister(Agent)
admin.site.register(Agent, AgentWithResultsAdmin)


admin_urls = [
    path(
        "agents/agent/<path:object_id>/decide/",
        admin.site.admin_view(agent_decide_view),
        name="agents_agent_decide",
    ),
    path(
        "agents/agent/<path:object_id>/results/",
        admin.site.admin_view(agent_results_view),
        name="agents_agent_results",
    ),
]
