"""Management API: agents (tests) under `/api/{account}/agents/`, variations embedded."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.codes import (
    GROUP_CODE_RE,
    TEXT_PATTERN,
    validate_agent_code,
    validate_goal_code,
    validate_target_code,
    validate_variation_code,
)
from accounts.models import Account
from agents.models import (
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    VARIATIONS_MIN,
    WEIGHT_MAX,
    Agent,
    AgentGroup,
    AgentStatus,
    GroupMember,
)
from agents.selectors import agent_paused_variation
from agents.services import (
    MemberSpec,
    VariationSpec,
    agent_create,
    agent_delete,
    agent_update,
    group_create,
    group_delete,
    group_update,
)
from conductrics_admin.api_base import (
    StrictSerializer,
    code_field,
    codes_resolve,
    domain_call,
    force_param,
    list_of_at_least,
)
from goals.models import Goal
from targeting.schema import condition_field_schema, qa_field_schema, rules_field_schema
from targets.models import DeployTarget

FORCE = OpenApiParameter(
    "force", bool, description="Delete even with recorded data (which goes too)."
)


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": METADATA_MAX_KEYS,
        "additionalProperties": {
            "type": "string",
            "maxLength": METADATA_VALUE_MAX,
            "pattern": TEXT_PATTERN,
        },
    }
)
class MetadataField(serializers.JSONField):
    """A variation's metadata: an object of short strings (keys of 1 to 64 characters)."""


class VariationIO(StrictSerializer):
    code = code_field(validate_variation_code, help_text="1 to 32 letters, digits, _ or -.")
    name = serializers.CharField(required=False, allow_blank=True, default="")
    weight = serializers.FloatField(required=False, default=1.0, min_value=0, max_value=WEIGHT_MAX)
    metadata = MetadataField(
        required=False, default=dict, help_text="An object of short strings, returned as md."
    )

    class Meta:
        list_serializer_class = list_of_at_least(VARIATIONS_MIN)  # an agent's variations


ELIGIBILITY_HELP = (
    "“Agent Applies To”: a condition (docs/targeting.md) a visitor must meet to get a selection; "
    "null: everyone."
)
RULES_HELP = (
    "Targeted selections, in order: [{name, when, variation}]; the first whose condition "
    "holds forces its variation (p: f). At most 20 rules and 50 leaves. Not access control: "
    "a page can read every operand and every variation's metadata (docs/targeting.md)."
)
QA_HELP = (
    "Up to 100 overrides [{session or vid, variation}]: that visitor always gets that "
    "variation, whatever the status; nothing is recorded."
)


@extend_schema_field(condition_field_schema())
class ConditionField(serializers.JSONField):
    """A condition (SPEC §4b), checked with the agent's targeting."""


@extend_schema_field(rules_field_schema())
class RulesField(serializers.JSONField):
    """Targeted selections (SPEC §4b)."""


@extend_schema_field(qa_field_schema())
class QaField(serializers.JSONField):
    """QA overrides (SPEC §4b)."""


class AgentOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    variations = VariationIO(many=True)
    paused_variation = serializers.CharField(allow_null=True)
    goals = serializers.ListField(child=serializers.CharField())
    targets = serializers.ListField(child=serializers.CharField())
    eligibility = ConditionField(allow_null=True, help_text=ELIGIBILITY_HELP)
    rules = RulesField(help_text=RULES_HELP)
    qa = QaField(help_text=QA_HELP)
    group = serializers.CharField(
        allow_null=True, read_only=True, help_text="Its mutually exclusive group (read-only)."
    )


class AgentIn(StrictSerializer):
    code = code_field(
        validate_agent_code,
        required=False,
        help_text="“a-” and 1 to 40 letters, digits or dashes; omitted: made from the name.",
    )
    name = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=AgentStatus.choices, default=AgentStatus.PAUSED)
    variations = VariationIO(many=True, help_text="Two or more; the first is the baseline.")
    paused_variation = code_field(
        validate_variation_code,
        required=False,
        allow_null=True,
        default=None,
        help_text="Code of the variation served while paused (default: the first).",
    )
    goals = serializers.ListField(child=code_field(validate_goal_code), default=list)
    targets = serializers.ListField(child=code_field(validate_target_code), default=list)
    eligibility = ConditionField(
        required=False, allow_null=True, default=None, help_text=ELIGIBILITY_HELP
    )
    # (a JSON list: the stubs' JSONField takes a mapping only)
    rules = RulesField(required=False, allow_null=True, default=list, help_text=RULES_HELP)  # type: ignore[arg-type]
    qa = QaField(required=False, allow_null=True, default=list, help_text=QA_HELP)  # type: ignore[arg-type]


class AgentPatch(AgentIn):
    read_only_names = ("code",)
    code = None  # type: ignore[assignment]  # DRF: None takes the field away
    name = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=AgentStatus.choices, required=False)
    variations = VariationIO(many=True, required=False)
    paused_variation = code_field(validate_variation_code, required=False, allow_null=True)
    goals = serializers.ListField(child=code_field(validate_goal_code), required=False)
    targets = serializers.ListField(child=code_field(validate_target_code), required=False)
    eligibility = ConditionField(required=False, allow_null=True, help_text=ELIGIBILITY_HELP)
    rules = RulesField(required=False, allow_null=True, help_text=RULES_HELP)
    qa = QaField(required=False, allow_null=True, help_text=QA_HELP)


def agent_json(agent: Agent) -> dict:
    paused = agent_paused_variation(agent=agent)
    membership = GroupMember.objects.filter(agent=agent).select_related("group").first()
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
        "group": membership.group.code if membership else None,
    }


def _domain_args(account: Account, data: dict[str, Any]) -> dict[str, Any]:
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
        data = AgentPatch(data=request.data)
        data.is_valid(raise_exception=True)
        args = _domain_args(self.account, data.validated_data)
        agent = domain_call(lambda: agent_update(agent=agent, **args))
        return Response(agent_json(agent))

    @extend_schema(tags=["agents"], parameters=[FORCE], responses={204: None})
    def delete(self, request: Request, account: str, code: str) -> Response:
        victim = self._agent(code)
        domain_call(lambda: agent_delete(agent=victim, force=force_param(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMemberIO(StrictSerializer):
    code = code_field(validate_agent_code, help_text="An agent's code.")
    weight = serializers.FloatField(required=False, default=1.0, min_value=0, max_value=WEIGHT_MAX)

    class Meta:
        list_serializer_class = list_of_at_least(1)  # a group lists one or more agents


class GroupMemberOut(serializers.Serializer):
    code = serializers.CharField()
    weight = serializers.FloatField()


class GroupOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    agents = GroupMemberOut(
        many=True, help_text="Its agents; none once the agents it listed are deleted."
    )


class GroupIn(StrictSerializer):
    code = serializers.RegexField(
        GROUP_CODE_RE, max_length=43, help_text="“mx-” and 1 to 40 letters, digits or dashes."
    )
    name = serializers.CharField(max_length=200)
    agents = GroupMemberIO(
        many=True, help_text="The agents, each in at most one group, with weights."
    )


class GroupPatch(GroupIn):
    read_only_names = ("code",)
    code = None  # type: ignore[assignment]  # DRF: None takes the field away
    name = serializers.CharField(max_length=200, required=False)
    agents = GroupMemberIO(many=True, required=False)


def group_json(group: AgentGroup) -> dict:
    return {
        "code": group.code,
        "name": group.name,
        "agents": [
            {"code": m.agent.code, "weight": m.weight}
            for m in group.members.select_related("agent").order_by("position", "id")
        ],
    }


def _members(account: Account, data: dict[str, Any]) -> dict[str, Any]:
    args = dict(data)
    if "agents" in args:
        agents = codes_resolve(
            model=Agent,
            account=account,
            codes=[m["code"] for m in args["agents"]],
            field="agents",
        )
        by_code = {a.code: a for a in agents}
        args["members"] = [
            MemberSpec(agent=by_code[m["code"]], weight=m.get("weight", 1.0))
            for m in args.pop("agents")
        ]
    return args


class GroupListView(AccountAPIView):
    @extend_schema(tags=["groups"], responses={200: GroupOut(many=True)})
    def get(self, request: Request, account: str) -> Response:
        return Response([group_json(g) for g in self.account.agent_groups.order_by("code")])

    @extend_schema(tags=["groups"], request=GroupIn, responses={201: GroupOut})
    def post(self, request: Request, account: str) -> Response:
        data = GroupIn(data=request.data)
        data.is_valid(raise_exception=True)
        args = _members(self.account, data.validated_data)
        group = domain_call(lambda: group_create(account=self.account, **args))
        return Response(group_json(group), status=status.HTTP_201_CREATED)


class GroupDetailView(AccountAPIView):
    def _group(self, code: str) -> AgentGroup:
        return get_object_or_404(
            AgentGroup.objects.select_related("account"), account=self.account, code=code
        )

    @extend_schema(tags=["groups"], responses={200: GroupOut})
    def get(self, request: Request, account: str, code: str) -> Response:
        return Response(group_json(self._group(code)))

    @extend_schema(tags=["groups"], request=GroupPatch, responses={200: GroupOut})
    def patch(self, request: Request, account: str, code: str) -> Response:
        group = self._group(code)
        data = GroupPatch(data=request.data)
        data.is_valid(raise_exception=True)
        args = _members(self.account, data.validated_data)
        group = domain_call(lambda: group_update(group=group, **args))
        return Response(group_json(group))

    @extend_schema(tags=["groups"], responses={204: None})
    def delete(self, request: Request, account: str, code: str) -> Response:
        victim = self._group(code)
        domain_call(lambda: group_delete(group=victim))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    re_path(r"^agents/?$", AgentListView.as_view(), name="api-agents"),
    re_path(r"^agents/(?P<code>[^/]+)/?$", AgentDetailView.as_view(), name="api-agent"),
    re_path(r"^groups/?$", GroupListView.as_view(), name="api-groups"),
    re_path(r"^groups/(?P<code>[^/]+)/?$", GroupDetailView.as_view(), name="api-group"),
]
