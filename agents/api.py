"""Management API: agents (tests) under `/api/{account}/agents/`, variations embedded."""

from typing import Any

from django.db.models import QuerySet
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
from agents.choices import Allocation
from agents.models import (
    HYPOTHESIS_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    TAG_LENGTH_MAX,
    TAG_RE,
    TAG_RULE,
    TAGS_MAX,
    VARIATIONS_MIN,
    WEIGHT_MAX,
    Agent,
    AgentDecision,
    AgentGroup,
    AgentStatus,
    GroupMember,
)
from agents.selectors import agent_paused_variation, tag_filter
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
    MomentField,
    StrictSerializer,
    code_field,
    codes_resolve,
    domain_call,
    force_param,
    list_of_at_least,
    moment_json,
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


STARTS_HELP = "A running agent runs from then on (null: at once)."
ENDS_HELP = "A running agent runs until then (null: no end); after starts_at."
OWNER_HELP = "The username of a member of the account who answers for the test, or null."
ARCHIVED_HELP = "Hidden from the lists (which take ?archived=true to show them); data kept."
DECISION_HELP = (
    "The latest decision (POST agents/{code}/decide), or null: the agent is paused on the "
    "winner since."
)


class DecisionOut(serializers.Serializer):
    variation = serializers.CharField()
    by = serializers.CharField()
    at = serializers.DateTimeField()
    note = serializers.CharField(allow_blank=True)
    verdicts = serializers.ListField(
        child=serializers.DictField(), help_text="Each goal's verdict when it was decided."
    )


@extend_schema_field(
    {
        "type": "array",
        "maxItems": TAGS_MAX,
        "uniqueItems": True,
        "items": {"type": "string", "maxLength": TAG_LENGTH_MAX, "pattern": TAG_RE.pattern},
    }
)
class TagsField(serializers.ListField):
    """An agent's tags: at most TAGS_MAX distinct short words."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", f"At most {TAGS_MAX} distinct tags, each {TAG_RULE}.")
        super().__init__(
            child=serializers.CharField(max_length=TAG_LENGTH_MAX, trim_whitespace=False),
            max_length=TAGS_MAX,
            **kwargs,
        )


ALLOCATION_HELP = (
    "fixed: visitors are shared by the weights; adaptive: each allocation period, by each "
    "variation's chance of converting best on the first goal (weight 0: none)."
)


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
    starts_at = MomentField(allow_null=True, help_text=STARTS_HELP)
    ends_at = MomentField(allow_null=True, help_text=ENDS_HELP)
    owner = serializers.CharField(allow_null=True, help_text=OWNER_HELP)
    hypothesis = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    archived = serializers.BooleanField(help_text=ARCHIVED_HELP)
    allocation = serializers.ChoiceField(choices=Allocation.values, help_text=ALLOCATION_HELP)
    phase = serializers.IntegerField(
        read_only=True, help_text="Its current phase (a new one at each change of weights)."
    )
    decision = DecisionOut(allow_null=True, read_only=True, help_text=DECISION_HELP)


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
    starts_at = MomentField(required=False, allow_null=True, default=None, help_text=STARTS_HELP)
    ends_at = MomentField(required=False, allow_null=True, default=None, help_text=ENDS_HELP)
    owner = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=150, help_text=OWNER_HELP
    )
    hypothesis = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=HYPOTHESIS_MAX
    )
    tags = TagsField(required=False, default=list)
    archived = serializers.BooleanField(required=False, default=False, help_text=ARCHIVED_HELP)
    allocation = serializers.ChoiceField(
        choices=Allocation.values,
        required=False,
        default=Allocation.FIXED,
        help_text=ALLOCATION_HELP,
    )


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
    starts_at = MomentField(required=False, allow_null=True, help_text=STARTS_HELP)
    ends_at = MomentField(required=False, allow_null=True, help_text=ENDS_HELP)
    owner = serializers.CharField(
        required=False, allow_null=True, max_length=150, help_text=OWNER_HELP
    )
    hypothesis = serializers.CharField(required=False, allow_blank=True, max_length=HYPOTHESIS_MAX)
    tags = TagsField(required=False)
    archived = serializers.BooleanField(required=False, help_text=ARCHIVED_HELP)
    allocation = serializers.ChoiceField(
        choices=Allocation.values, required=False, help_text=ALLOCATION_HELP
    )


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
        "starts_at": moment_json(agent.starts_at),
        "ends_at": moment_json(agent.ends_at),
        "owner": agent.owner.get_username() if agent.owner else None,
        "hypothesis": agent.hypothesis,
        "tags": agent.tag_list,
        "archived": agent.archived_at is not None,
        "allocation": agent.allocation,
        "phase": agent.phase,
        "decision": decision_json(agent.decisions.first()),
    }


def decision_json(decision: AgentDecision | None) -> dict | None:
    if decision is None:
        return None
    return {
        "variation": decision.variation_code,
        "by": decision.decided_by_label,
        "at": moment_json(decision.decided_at),
        "note": decision.note,
        "verdicts": decision.verdicts,
    }


def _domain_args(account: Account, data: dict[str, Any]) -> dict[str, Any]:
    args = dict(data)
    if args.get("owner") is not None:
        args["owner"] = _member(account, args["owner"])
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


def _member(account: Account, username: str) -> Any:
    """The user named `username` who is a member of `account`; a 400 otherwise."""
    membership = account.memberships.select_related("user").filter(user__username=username).first()
    if membership is None:
        raise serializers.ValidationError(
            {"owner": [f"“{username}” is not a member of {account.code}."]}
        )
    return membership.user


ARCHIVED_PARAM = OpenApiParameter(
    "archived",
    {"type": "string", "enum": ["false", "true", "any"]},
    description="false (default): agents not archived; true: archived ones only; any: both.",
)
TAG_PARAM = OpenApiParameter(
    "tag",
    {"type": "string", "maxLength": TAG_LENGTH_MAX, "pattern": TAG_RE.pattern},
    description=f"Only agents with this tag ({TAG_RULE}).",
)


def agents_listed(agents: QuerySet[Agent], *, archived: str, tag: str | None) -> QuerySet[Agent]:
    """`agents` as a list shows them: by `archived` (false, true or any) and `tag`."""
    if archived == "false":
        agents = agents.filter(archived_at__isnull=True)
    elif archived == "true":
        agents = agents.filter(archived_at__isnull=False)
    if tag:
        agents = agents.filter(tag_filter(tag))
    return agents


class AgentListView(AccountAPIView):
    @extend_schema(
        tags=["agents"],
        parameters=[ARCHIVED_PARAM, TAG_PARAM],
        responses={200: AgentOut(many=True)},
    )
    def get(self, request: Request, account: str) -> Response:
        archived = request.query_params.get("archived", "false")
        if archived not in ("false", "true", "any"):
            raise serializers.ValidationError({"archived": ["false, true or any."]})
        tags = request.query_params.getlist("tag")
        if len(tags) > 1 or (
            tags and not (len(tags[0]) <= TAG_LENGTH_MAX and TAG_RE.match(tags[0]))
        ):
            raise serializers.ValidationError({"tag": [f"One tag: {TAG_RULE}."]})
        agents = agents_listed(
            self.account.agents.all(), archived=archived, tag=tags[0] if tags else None
        )
        return Response([agent_json(a) for a in agents.order_by("code")])

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
