"""Report API: `GET /api/{account}/agents/{code}/report?from=YYYY-MM-DD&to=YYYY-MM-DD`."""

import csv
from datetime import date
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.audit import admin_key_actor
from accounts.codes import validate_variation_code
from accounts.models import Account, AdminApiKey
from agents.api import AgentOut, agent_json
from agents.models import DECISION_NOTE_MAX, Agent, AgentPhase
from conductrics_admin.api_base import StrictSerializer, code_field, domain_call
from reports.lifecycle import agent_decide_now
from reports.phases import SHOWN_ALL, SHOWN_CURRENT, SHOWN_RULE, shown_parse
from reports.selectors import (
    REPORT_DATE_MAX,
    REPORT_DATE_MIN,
    REPORT_DATE_PATTERN,
    agent_report,
    report_date_parse,
)
from reports.verdict import KEEP_RUNNING, LOSER, NO_DIFFERENCE, WINNER


class _Fixed(serializers.Serializer):
    """Assignments forced by rules (targeted selections): outside every statistic."""

    visitors = serializers.IntegerField()
    conversions = serializers.IntegerField()
    value_sum = serializers.FloatField()


def _interval(help_text: str = "") -> serializers.ListField:
    """[low, high], or null where undefined."""
    return serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        min_length=2,
        max_length=2,
        help_text=help_text,
    )


class _Sequential(serializers.Serializer):
    """Always-valid 95% intervals (an asymptotic confidence sequence): safe to look at
    every day."""

    lift_ci95 = _interval("Of the value-per-visitor lift.")
    rate_lift_ci95 = _interval("Of the conversion-rate lift.")


class _Verdict(serializers.Serializer):
    state = serializers.ChoiceField(choices=[WINNER, LOSER, NO_DIFFERENCE, KEEP_RUNNING])
    variation = serializers.CharField(allow_null=True)
    text = serializers.CharField()


class _VariationReport(serializers.Serializer):
    code = serializers.CharField()
    visitors = serializers.IntegerField()
    conversions = serializers.IntegerField()
    conversions_client = serializers.IntegerField()
    conversions_server = serializers.IntegerField()
    conversion_rate = serializers.FloatField(allow_null=True)
    value_sum = serializers.FloatField()
    value_per_visitor = serializers.FloatField(allow_null=True)
    value_per_visitor_ci95 = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    lift_abs = serializers.FloatField(allow_null=True)
    lift_rel = serializers.FloatField(allow_null=True)
    lift_ci95 = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    conversion_rate_ci95 = _interval("Wilson score interval.")
    rate_lift_abs = serializers.FloatField(allow_null=True)
    rate_lift_rel = serializers.FloatField(allow_null=True)
    rate_lift_ci95 = _interval("Newcombe's hybrid score interval of the difference.")
    sequential = _Sequential(allow_null=True)
    chance_to_win = serializers.FloatField(
        allow_null=True, help_text="P(this rate > the first's), Beta(1, 1) priors."
    )
    expected_loss = serializers.FloatField(
        allow_null=True, help_text="Conversion rate given up, on average, by choosing this one."
    )
    conflicts = serializers.IntegerField(
        help_text="Assignments made under an id that was then linked to a person who held an "
        "earlier one in this agent: kept and counted as visitors, not credited. "
        "Of the phases shown, whatever the dates."
    )
    fixed = _Fixed()


class _GoalReport(serializers.Serializer):
    code = serializers.CharField()
    variations = _VariationReport(many=True)
    verdict = _Verdict()
    visitors_needed = serializers.IntegerField(
        allow_null=True,
        help_text="Per variation, for 80% power at 5% two-sided to detect the account's "
        "minimum detectable effect at the first variation's rate.",
    )


class _Srm(serializers.Serializer):
    p_value = serializers.FloatField(allow_null=True)
    flagged = serializers.BooleanField()


class _Phase(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    cause = serializers.ChoiceField(choices=AgentPhase.Cause.values)
    weights = serializers.DictField(
        child=serializers.FloatField(), help_text="The weights it assigned with, by variation."
    )
    visitors = serializers.IntegerField(help_text="Random assignments in it, in the dates.")
    srm = _Srm(help_text="Sample ratio mismatch against its own weights.")


class _Phases(serializers.Serializer):
    shown = serializers.JSONField(help_text=f"What the figures are of: {SHOWN_RULE}.")
    current = serializers.IntegerField()
    phases = _Phase(many=True)


class ReportSchema(serializers.Serializer):
    agent = serializers.CharField()
    # "from" is a Python keyword: declared below.
    to = serializers.DateField()
    srm = _Srm(
        help_text="Of the phase shown; over several, the smallest p-value times their number."
    )
    phase = _Phases(
        help_text="Figures of one phase compare as counted; of all phases, each phase's rates "
        "are weighted by its share of visitors (visitors and conversions stay the counts)."
    )
    goals = _GoalReport(many=True)


ReportSchema._declared_fields["from"] = serializers.DateField()


def _date(request: Request, name: str) -> date | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({name: f"Give “{name}” once."})
    raw = values[0]
    try:
        return report_date_parse(raw)
    except ValueError as exc:
        raise ValidationError({name: str(exc)}) from None


def _date_parameter(name: str, description: str) -> OpenApiParameter:
    schema = {"type": "string", "format": "date", "pattern": REPORT_DATE_PATTERN}
    return OpenApiParameter(name, schema, description=description)


REPORT_PARAMETERS = [
    OpenApiParameter(
        "phase",
        {"type": "string", "pattern": f"^({SHOWN_CURRENT}|{SHOWN_ALL}|[1-9][0-9]{{0,8}})$"},
        description=f"The phases shown: {SHOWN_RULE}. A number above the current phase is a 400.",
    ),
    _date_parameter(
        "from",
        f"First day (UTC), inclusive, {REPORT_DATE_MIN} to {REPORT_DATE_MAX}; default: the "
        "agent's first day. Not after “to” (else 400).",
    ),
    _date_parameter("to", "Last day (UTC), inclusive; default: today."),
]


def _report(request: Request, account: Account, code: str) -> tuple[Agent, dict[str, Any]]:
    """The agent `code` of `account` and its report for the request's dates (400 on bad
    dates, 404 on an unknown agent)."""
    start, end = _date(request, "from"), _date(request, "to")
    if start and end and start > end:
        raise ValidationError({"from": "“from” must not be after “to”."})
    agent = get_object_or_404(Agent, account=account, code=code)
    agent.account = account  # already read: its statistics settings
    raws = request.query_params.getlist("phase")
    if len(raws) > 1:
        raise ValidationError({"phase": "Give “phase” once."})
    try:
        shown = shown_parse(raws[0] if raws else None, agent=agent)
    except ValueError as exc:
        raise ValidationError({"phase": str(exc)}) from None
    return agent, agent_report(agent=agent, date_from=start, date_to=end, shown=shown)


class AgentReportView(AccountAPIView):
    @extend_schema(
        tags=["reports"],
        summary="Results of an agent (test) from the aggregates",
        parameters=REPORT_PARAMETERS,
        responses={200: ReportSchema},
    )
    def get(self, request: Request, account: str, code: str) -> Response:
        return Response(_report(request, self.account, code)[1])


CSV_COLUMNS = (
    "phase",
    "goal",
    "variation",
    "visitors",
    "conversions",
    "conversions_client",
    "conversions_server",
    "conversion_rate",
    "conversion_rate_ci95_low",
    "conversion_rate_ci95_high",
    "rate_lift_abs",
    "rate_lift_rel",
    "rate_lift_ci95_low",
    "rate_lift_ci95_high",
    "sequential_rate_lift_ci95_low",
    "sequential_rate_lift_ci95_high",
    "value_sum",
    "value_per_visitor",
    "value_per_visitor_ci95_low",
    "value_per_visitor_ci95_high",
    "lift_abs",
    "lift_rel",
    "lift_ci95_low",
    "lift_ci95_high",
    "sequential_lift_ci95_low",
    "sequential_lift_ci95_high",
    "p_value",
    "confidence",
    "chance_to_win",
    "expected_loss",
    "conflicts",
    "fixed_visitors",
    "fixed_conversions",
    "fixed_value_sum",
    "verdict",
    "verdict_text",
    "visitors_needed",
)


def report_csv_rows(report: dict) -> list[list]:
    """The report as CSV rows (one per goal and variation), headers first; empty for null."""
    rows: list[list] = [list(CSV_COLUMNS)]
    for goal in report["goals"]:
        for v in goal["variations"]:
            seq = v["sequential"] or {}
            cells = {
                **{k: v[k] for k in CSV_COLUMNS if k in v},
                "phase": report["phase"]["shown"],
                "goal": goal["code"],
                "variation": v["code"],
                "verdict": goal["verdict"]["state"],
                "verdict_text": goal["verdict"]["text"],
                "visitors_needed": goal["visitors_needed"],
                "fixed_visitors": v["fixed"]["visitors"],
                "fixed_conversions": v["fixed"]["conversions"],
                "fixed_value_sum": v["fixed"]["value_sum"],
            }
            for name, interval in (
                ("conversion_rate_ci95", v["conversion_rate_ci95"]),
                ("rate_lift_ci95", v["rate_lift_ci95"]),
                ("sequential_rate_lift_ci95", seq.get("rate_lift_ci95")),
                ("value_per_visitor_ci95", v["value_per_visitor_ci95"]),
                ("lift_ci95", v["lift_ci95"]),
                ("sequential_lift_ci95", seq.get("lift_ci95")),
            ):
                cells[f"{name}_low"], cells[f"{name}_high"] = interval or (None, None)
            rows.append(["" if cells.get(k) is None else cells[k] for k in CSV_COLUMNS])
    return rows


class AgentReportCsvView(AccountAPIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        """The report is CSV whatever the Accept header (no 406 for `text/csv`); errors
        (400, 401, 403, 404) are JSON, as everywhere in the API."""
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        tags=["reports"],
        summary="Results of an agent as CSV: one row per goal and variation",
        parameters=REPORT_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, account: str, code: str) -> HttpResponse:
        agent, report = _report(request, self.account, code)
        return csv_response(report, filename=f"{agent.code}-{report['from']}-{report['to']}.csv")


def csv_response(report: dict, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for row in report_csv_rows(report):
        writer.writerow([_csv_safe(cell) for cell in row])
    return response


def _csv_safe(cell: object) -> object:
    """Text a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@"):
        return "'" + cell
    return cell


class DecideIn(StrictSerializer):
    variation = code_field(validate_variation_code, help_text="The winning variation's code.")
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=DECISION_NOTE_MAX
    )


class AgentDecideView(AccountAPIView):
    @extend_schema(
        tags=["agents"],
        summary="Decide a test: record the winner and serve it to everyone",
        description="Records the decision (the winning variation, who, when, the note, and "
        "each goal's verdict at this moment) and pauses the agent on the winner, so every "
        "visitor gets it (p: p). Answers the agent, its decision included.",
        request=DecideIn,
        responses={200: AgentOut},
    )
    def post(self, request: Request, account: str, code: str) -> Response:
        agent = get_object_or_404(Agent, account=self.account, code=code)
        agent.account = self.account
        data = DecideIn(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.auth if isinstance(request.auth, AdminApiKey) else None
        user = None if key else request.user  # else a member, logged in (AccountAccess)
        label = admin_key_actor(key.name, key.prefix) if key else request.user.get_username()
        domain_call(
            lambda: agent_decide_now(
                agent=agent,
                variation_code=data.validated_data["variation"],
                note=data.validated_data["note"],
                user=user,
                label=label,
            )
        )
        return Response(agent_json(agent))


urlpatterns = [
    re_path(r"^agents/(?P<code>[^/]+)/decide/?$", AgentDecideView.as_view(), name="agent-decide"),
    re_path(
        r"^agents/(?P<code>[^/]+)/report\.csv$",
        AgentReportCsvView.as_view(),
        name="agent-report-csv",
    ),
    re_path(r"^agents/(?P<code>[^/]+)/report/?$", AgentReportView.as_view(), name="agent-report"),
]
