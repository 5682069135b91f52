"""Management API: agents (tests) under `/api/{account}/agents/`, variations embedded."""

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.api_base import StrictSerializer, codes_resolve, domain_call, force_param
from agents.models import WEIGHT_MAX, Agent, AgentStatus
from agents.selectors import agent_paused_variation
from agents.services import VariationSpec, agent_create, agent_delete, agent_update
from goals.models import Goal
from targets.models import DeployTarget

FORCE = OpenApiParameter(
    "force", bool, description="Delete even with recorded data (which goes too)."
)


class VariationIO(StrictSerializer):
    code = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True, default="")
    weight = serializers.FloatField(required=False, default=1.0, min_value=0, max_value=WEIGHT_MAX)
    metadata = serializers.JSONField(
        required=False, default=dict, help_text="An object of short strings, returned as md."
    )


ELIGIBILITY_HELP = (
    "“Agent Applies To”: a condition (SPEC §4b) a visitor must meet to get a selection; "
    "null: everyone."
)
RULES_HELP = (
    "Targeted selections, in order: [{name, when, variation}]; the first whose condition "
    "holds forces its variation (p: f). At most 20 rules and 50 leaves."
)
QA_HELP = (
    "Up to 100 overrides [{session or vid, variation}]: that visitor always gets that "
    "variation, whatever the status; nothing is recorded."
)


class AgentOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    variations = VariationIO(many=True)
    paused_variation = serializers.CharField(allow_null=True)
    goals = serializers.ListField(child=serializers.CharField())
    targets = serializers.ListField(child=serializers.CharField())
    eligibility = serializers.JSONField(allow_null=True, help_text=ELIGIBILITY_HELP)
    rules = serializers.ListField(child=serializers.JSONField(), help_text=RULES_HELP)
    qa = serializers.ListField(child=serializers.JSONField(), help_text=QA_HELP)


class AgentIn(StrictSerializer):
    code = serializers.CharField(required=False, help_text="Blank: made from the name.")
    name = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=AgentStatus.choices, default=AgentStatus.PAUSED)
    variations = VariationIO(many=True, help_text="Two or more; the first is the baseline.")
    paused_variation = serializers.CharField(
        required=False, allow_null=True, default=None,
        help_text="Code of the variation served while paused (default: the first).",
    )  # fmt: skip
    goals = serializers.ListField(child=serializers.CharField(), default=list)
    targets = serializers.ListField(child=serializers.CharField(), default=list)
    eligibility = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text=ELIGIBILITY_HELP
    )
    rules = serializers.JSONField(
        required=False, allow_null=True, default=list, help_text=RULES_HELP
    )
    qa = serializers.JSONField(required=False, allow_null=True, default=list, help_text=QA_HELP)


class AgentPatch(AgentIn):
    read_only_names = ("code",)
    code = None
    name = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=AgentStatus.choices, required=False)
    variations = VariationIO(many=True, required=False)
    paused_variation = serializers.CharField(required=False, allow_null=True)
    goals = serializers.ListField(child=serializers.CharField(), required=False)
    targets = serializers.ListField(child=serializers.CharField(), required=False)
    eligibility = serializers.JSONField(required=False, allow_null=True, help_text=ELIGIBILITY_HELP)
    rules = serializers.JSONField(required=False, allow_null=True, help_text=RULES_HELP)
    qa = serializers.JSONField(required=False, allow_null=True, help_text=QA_HELP)


def agent_json(agent: Agent) -> dict:
    paused = agent_paused_variation(agent=agent)
    return {
        "code": agent.code,
        "name": agent.name,
        "status": agent.status,
        "variations": [
            {"code": v.code, "name": v.name, "weight": v.weight, "metadata": v.metadata}
            for v in agent.variations.order_by("position", "id")
        ],
        "paused_variation": paused.code if paused else None,
        "goals": sorted(agent.goals.values_list("code", flat=True)),
        "targets": sorted(agent.targets.values_list("code", flat=True)),
        "eligibility": agent.eligibility,
        "rules": agent.rules,
        "qa": agent.qa,
    }


def _domain_args(account: object, data: dict) -> dict:
    args = dict(data)
    if "variations" in args:
        args["variations"] = [VariationSpec(**v) for v in args["variations"]]
    if "goals" in args:
        args["goals"] = codes_resolve(
            model=Goal, account=account, codes=args["goals"], field="goals"
        )
    if "targets" in args:
        args["targets"] = codes_resolve(
            model=DeployTarget, account=account, codes=args["targets"], field="targets"
        )
    return args


class AgentListView(AccountAPIView):
    @extend_schema(tags=["agents"], responses={200: AgentOut(many=True)})
    def get(self, request: Request, account: str) -> Response:
        return Response([agent_json(a) for a in self.account.agents.order_by("code")])

    @extend_schema(tags=["agents"], request=AgentIn, responses={201: AgentOut})
    def post(self, request: Request, account: str) -> Response:
        data = AgentIn(data=request.data)
        data.is_valid(raise_exception=True)
        args = _domain_args(self.account, data.validated_data)
        agent = domain_call(lambda: agent_create(account=self.account, **args))
        return Response(agent_json(agent), status=status.HTTP_201_CREATED)


class AgentDetailView(AccountAPIView):
    def _agent(self, code: str) -> Agent:
        return get_object_or_404(
            Agent.objects.select_related("account"), account=self.account, code=code
        )

    @extend_schema(tags=["agents"], responses={200: AgentOut})
    def get(self, request: Request, account: str, code: str) -> Response:
        return Response(agent_json(self._agent(code)))

    @extend_schema(tags=["agents"], request=AgentPatch, responses={200: AgentOut})
    def patch(self, request: Request, account: str, code: str) -> Response:
        agent = self._agent(code)
        data = AgentPatch(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        args = _domain_args(self.account, data.validated_data)
        agent = domain_call(lambda: agent_update(agent=agent, **args))
        return Response(agent_json(agent))

    @extend_schema(tags=["agents"], parameters=[FORCE], responses={204: None})
    def delete(self, request: Request, account: str, code: str) -> Response:
        victim = self._agent(code)
        domain_call(lambda: agent_delete(agent=victim, force=force_param(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    re_path(r"^agents/?$", AgentListView.as_view(), name="api-agents"),
    re_path(r"^agents/(?P<code>[^/]+)/?$", AgentDetailView.as_view(), name="api-agent"),
]
