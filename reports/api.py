"""Report API: `GET /api/{account}/agents/{code}/report?from=YYYY-MM-DD&to=YYYY-MM-DD`."""

from datetime import date

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from agents.models import Agent
from reports.selectors import agent_report, report_date_parse


class _Fixed(serializers.Serializer):
    """Assignments forced by rules (targeted selections): outside every statistic."""

    visitors = serializers.IntegerField()
    conversions = serializers.IntegerField()
    value_sum = serializers.FloatField()


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
    fixed = _Fixed()


class _GoalReport(serializers.Serializer):
    code = serializers.CharField()
    variations = _VariationReport(many=True)


class _Srm(serializers.Serializer):
    p_value = serializers.FloatField(allow_null=True)
    flagged = serializers.BooleanField()


class ReportSchema(serializers.Serializer):
    agent = serializers.CharField()
    # "from" is a Python keyword: declared below.
    to = serializers.DateField()
    srm = _Srm()
    goals = _GoalReport(many=True)


ReportSchema._declared_fields["from"] = serializers.DateField()


def _date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return report_date_parse(raw)
    except ValueError as exc:
        raise ValidationError({name: str(exc)}) from None


class AgentReportView(AccountAPIView):
    @extend_schema(
        tags=["reports"],
        summary="Results of an agent (test) from the aggregates",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC), inclusive."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC), inclusive."),
        ],
        responses={200: ReportSchema},
    )
    def get(self, request: Request, account: str, code: str) -> Response:
        start, end = _date(request, "from"), _date(request, "to")
        if start and end and start > end:
            raise ValidationError({"from": "“from” must not be after “to”."})
        agent = get_object_or_404(Agent, account=self.account, code=code)
        return Response(agent_report(agent=agent, date_from=start, date_to=end))


urlpatterns = [
    re_path(r"^agents/(?P<code>[^/]+)/report/?$", AgentReportView.as_view(), name="agent-report"),
]
