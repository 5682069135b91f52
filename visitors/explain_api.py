"""`POST /api/{account}/agents/{code}/explain`: a selection decided and explained, and
`POST /api/{account}/goals/{code}/explain`: a goal judged and explained, nothing recorded
(SPEC §4b, §4c). Here, not in `agents` or `goals`, because they read the visitor's state."""

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.codes import TEXT_PATTERN
from agents.models import Agent
from conductrics_admin.api_base import PrintableField, StrictSerializer, VisitorIdField
from goals.event_time import T_RULE, event_time_parse
from goals.models import Goal
from targeting.inputs import INPUT_VALUE_MAX, INPUTS_MAX_KEYS, inputs_problem
from targeting.traits import TRAITS_RE, TRAITS_RULE, traits_parse
from targeting.useragent import UA_LENGTH_MAX, ua_problem
from visitors.config import AccountConf, TargetConf, account_conf
from visitors.execution import goal_explain, selection_explain
from visitors.request import MAX_ID_LENGTH, goal_item, printable_id, vid_problem


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "maxProperties": INPUTS_MAX_KEYS,
        "additionalProperties": {
            "type": "string",
            "maxLength": INPUT_VALUE_MAX,
            "pattern": TEXT_PATTERN,
        },
        "description": "What conditions of source input read: keys of 1 to 64 of "
        "A-Z a-z 0-9 _ . -; null or omitted: none.",
    }
)
class InputsField(serializers.JSONField):
    """The request's inputs (SPEC §4b)."""


class VisitorIn(StrictSerializer):
    """Who an explanation is for, and where: what every explain endpoint takes."""

    target = serializers.CharField(help_text="The deploy target's code the request comes to.")
    session = PrintableField(max_length=MAX_ID_LENGTH, help_text="1 to 128 printable characters.")
    vid = VisitorIdField(
        required=False,
        allow_null=True,
        default=None,
        max_length=MAX_ID_LENGTH,
        help_text="External visitor id (used where the target allows passing it).",
    )
    inputs = InputsField(required=False, allow_null=True, default=dict)
    traits = serializers.RegexField(
        TRAITS_RE,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        error_messages={"invalid": TRAITS_RULE},
        help_text="group:value,group:value",
    )

    def validate_session(self, value: str) -> str:
        if not printable_id(value):
            raise serializers.ValidationError("1 to 128 printable characters.")
        return value

    def validate_vid(self, value: str | None) -> str | None:
        problem = vid_problem(value) if value is not None else None
        if problem:
            raise serializers.ValidationError(f"Refused: {problem}.")
        return value

    def validate_inputs(self, value: object) -> dict[str, Any]:
        if value is None:
            return {}  # null: no inputs
        problem = inputs_problem(value)
        if problem or not isinstance(value, dict):  # inputs_problem refuses a non-object
            raise serializers.ValidationError(problem)
        return value

    def validate_traits(self, value: str) -> tuple[str, ...]:
        traits = traits_parse(value)
        if traits is None:
            raise serializers.ValidationError(TRAITS_RULE)
        return traits


class ExplainIn(VisitorIn):
    ua = PrintableField(
        required=False,
        allow_null=True,
        default=None,
        max_length=UA_LENGTH_MAX,
        help_text=f"A User-Agent: 1 to {UA_LENGTH_MAX} printable characters.",
    )

    def validate_ua(self, value: str | None) -> str | None:
        problem = ua_problem(value) if value is not None else None
        if problem:
            raise serializers.ValidationError(f"Refused: {problem}.")
        return value


class ExplainOut(serializers.Serializer[Any]):
    agent = serializers.CharField()
    selection = serializers.JSONField(
        allow_null=True, help_text="The item the agent-api would answer: a, c, p, s, md."
    )
    reason = serializers.CharField(allow_null=True, help_text="Why no selection, if none.")
    detail = serializers.CharField()
    log = serializers.ListField(child=serializers.CharField())
    traits = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())


def _explain_input(
    view: AccountAPIView, data: VisitorIn
) -> tuple[dict[str, Any], AccountConf, TargetConf]:
    """The checked input of an explain request, its account's configuration and the
    target it names (a 400 naming `target` when the account has no such target)."""
    data.is_valid(raise_exception=True)
    args = data.validated_data
    conf = account_conf(code=view.account.code)
    if conf is None:  # the request's own account: always there
        raise Http404("No such account.")
    target = next((t for t in conf.targets if t.code == args["target"]), None)
    if target is None:
        raise serializers.ValidationError({"target": f"No deploy target {args['target']}."})
    return args, conf, target


class AgentExplainView(AccountAPIView):
    reads_only = True  # a POST that records nothing: any member or key

    @extend_schema(
        tags=["agents"],
        summary="Decide a selection for a visitor and say why; nothing is recorded.",
        request=ExplainIn,
        responses={200: ExplainOut},
    )
    def post(self, request: Request, account: str, code: str) -> Response:
        get_object_or_404(Agent, account=self.account, code=code)
        args, conf, target = _explain_input(self, ExplainIn(data=request.data))
        explanation = selection_explain(
            account=conf,
            target=target,
            agent_code=code,
            session=args["session"],
            vid=args["vid"],
            inputs=args["inputs"],
            traits=args["traits"],
            ua=args["ua"],
        )
        return Response(explanation.as_json())


urlpatterns = [
    re_path(
        r"^agents/(?P<code>[^/]+)/explain/?$", AgentExplainView.as_view(), name="api-agent-explain"
    ),
]


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True})
class TimeField(serializers.JSONField):
    """A goal's `t`: a string or a number (SPEC §4c)."""


class GoalExplainIn(VisitorIn):
    t = TimeField(
        required=False, allow_null=True, default=None,
        help_text=f"When the goal happened (REST targets): {T_RULE}; one that names no "
        "acceptable time is answered as the item's invalid_time.",
    )  # fmt: skip
    v = serializers.FloatField(required=False, allow_null=True, default=None)

    def validate_t(self, value: object) -> object:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, str | int | float)
        ):
            raise serializers.ValidationError(T_RULE)
        return value  # a string or number that names no time: the item's invalid_time


class GoalExplainOut(serializers.Serializer[Any]):
    item = serializers.JSONField(help_text="The goal item the agent-api would answer.")
    log = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())


class GoalExplainView(AccountAPIView):
    reads_only = True  # a POST that records nothing: any member or key

    @extend_schema(
        tags=["goals"],
        summary="Judge a goal for a visitor as if sent now and say why; nothing is recorded.",
        request=GoalExplainIn,
        responses={200: GoalExplainOut},
    )
    def post(self, request: Request, account: str, code: str) -> Response:
        get_object_or_404(Goal, account=self.account, code=code)
        args, conf, target = _explain_input(self, GoalExplainIn(data=request.data))
        raw_t = args["t"]
        at = event_time_parse(raw_t) if raw_t is not None else None
        result, log, notes = goal_explain(
            account=conf, target=target, goal_code=code, session=args["session"],
            vid=args["vid"], value=args["v"], time=at, inputs=args["inputs"],
            traits=args["traits"],
            time_error=f"t must be {T_RULE}" if raw_t is not None and at is None else "",
        )  # fmt: skip
        item = goal_item(result, why_refused=True)
        return Response({"item": item, "log": log, "notes": notes})


urlpatterns.append(
    re_path(
        r"^goals/(?P<code>[^/]+)/explain/?$", GoalExplainView.as_view(), name="api-goal-explain"
    )
)
