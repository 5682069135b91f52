"""Management API: goals under `/api/{account}/goals/`."""

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.codes import validate_goal_code
from accounts.models import ATTRIBUTION_WINDOW_MAX_HOURS
from conductrics_admin.api_base import (
    PositiveNumberField,
    StrictSerializer,
    code_field,
    domain_call,
    force_param,
)
from goals.choices import GoalAcceptedFrom, GoalCounting, GoalTrigger
from goals.models import GOAL_VALUE_MAX, REST_SEND_LABEL, Goal
from goals.services import goal_create, goal_delete, goal_update
from targeting.schema import condition_field_schema

FORCE = OpenApiParameter(
    "force", bool, description="Delete even with recorded data (which goes too)."
)


WHEN_HELP = (
    "A condition (docs/targeting.md) that a goal command must meet to be credited; null: always. "
    "Sources: input, trait, target, goal, variation (what the visitor saw client-side)."
)


@extend_schema_field(condition_field_schema(goal=True))
class GoalConditionField(serializers.JSONField):
    """A goal's condition (SPEC §4b), checked by the goal's model."""


ACCEPTED_FROM_HELP = (
    "`server`: the goal's events are refused from Express targets (`err: server_only_goal`), "
    "whose keys are public; `any` (the default): from any target."
)


class GoalOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    trigger = serializers.ChoiceField(choices=GoalTrigger.choices)
    rest_send = serializers.BooleanField(help_text=f"“{REST_SEND_LABEL}”.")
    counting = serializers.ChoiceField(choices=GoalCounting.choices)
    accepted_from = serializers.ChoiceField(
        choices=GoalAcceptedFrom.choices, help_text=ACCEPTED_FROM_HELP
    )
    max_value = serializers.FloatField(allow_null=True)
    attribution_window_hours = serializers.IntegerField(allow_null=True)
    when = GoalConditionField(allow_null=True, help_text=WHEN_HELP)


class GoalIn(StrictSerializer):
    code = code_field(
        validate_goal_code,
        required=False,
        help_text="“g-” and 1 to 40 letters, digits or dashes; omitted: made from the name.",
    )
    name = serializers.CharField(max_length=200)
    trigger = serializers.ChoiceField(choices=GoalTrigger.choices, default=GoalTrigger.PAGE_EVENT)
    rest_send = serializers.BooleanField(default=False)
    counting = serializers.ChoiceField(choices=GoalCounting.choices, default=GoalCounting.ONCE)
    accepted_from = serializers.ChoiceField(
        choices=GoalAcceptedFrom.choices, default=GoalAcceptedFrom.ANY, help_text=ACCEPTED_FROM_HELP
    )
    max_value = PositiveNumberField(
        allow_null=True, required=False, default=None, min_value=0, max_value=GOAL_VALUE_MAX
    )
    attribution_window_hours = serializers.IntegerField(
        allow_null=True,
        required=False,
        default=None,
        min_value=1,
        max_value=ATTRIBUTION_WINDOW_MAX_HOURS,
    )
    when = GoalConditionField(allow_null=True, required=False, default=None, help_text=WHEN_HELP)


class GoalPatch(GoalIn):
    read_only_names = ("code",)
    code = None  # type: ignore[assignment]  # DRF: None takes the field away
    name = serializers.CharField(max_length=200, required=False)
    trigger = serializers.ChoiceField(choices=GoalTrigger.choices, required=False)
    rest_send = serializers.BooleanField(required=False)
    counting = serializers.ChoiceField(choices=GoalCounting.choices, required=False)
    accepted_from = serializers.ChoiceField(
        choices=GoalAcceptedFrom.choices, required=False, help_text=ACCEPTED_FROM_HELP
    )
    max_value = PositiveNumberField(
        allow_null=True, required=False, min_value=0, max_value=GOAL_VALUE_MAX
    )
    attribution_window_hours = serializers.IntegerField(
        allow_null=True, required=False, min_value=1, max_value=ATTRIBUTION_WINDOW_MAX_HOURS
    )
    when = GoalConditionField(allow_null=True, required=False, help_text=WHEN_HELP)


def goal_json(goal: Goal) -> dict:
    return {
        "code": goal.code,
        "name": goal.name,
        "trigger": goal.trigger,
        "rest_send": goal.rest_send,
        "counting": goal.counting,
        "accepted_from": goal.accepted_from,
        "max_value": goal.max_value,
        "attribution_window_hours": goal.attribution_window_hours,
        "when": goal.when,
    }


class GoalListView(AccountAPIView):
    @extend_schema(tags=["goals"], responses={200: GoalOut(many=True)})
    def get(self, request: Request, account: str) -> Response:
        return Response([goal_json(g) for g in self.account.goals.order_by("code")])

    @extend_schema(tags=["goals"], request=GoalIn, responses={201: GoalOut})
    def post(self, request: Request, account: str) -> Response:
        data = GoalIn(data=request.data)
        data.is_valid(raise_exception=True)
        goal = domain_call(lambda: goal_create(account=self.account, **data.validated_data))
        return Response(goal_json(goal), status=status.HTTP_201_CREATED)


class GoalDetailView(AccountAPIView):
    def _goal(self, code: str) -> Goal:
        return get_object_or_404(
            Goal.objects.select_related("account"), account=self.account, code=code
        )

    @extend_schema(tags=["goals"], responses={200: GoalOut})
    def get(self, request: Request, account: str, code: str) -> Response:
        return Response(goal_json(self._goal(code)))

    @extend_schema(tags=["goals"], request=GoalPatch, responses={200: GoalOut})
    def patch(self, request: Request, account: str, code: str) -> Response:
        goal = self._goal(code)
        data = GoalPatch(data=request.data)
        data.is_valid(raise_exception=True)
        goal = domain_call(lambda: goal_update(goal=goal, **data.validated_data))
        return Response(goal_json(goal))

    @extend_schema(tags=["goals"], parameters=[FORCE], responses={204: None})
    def delete(self, request: Request, account: str, code: str) -> Response:
        victim = self._goal(code)
        domain_call(lambda: goal_delete(goal=victim, force=force_param(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    re_path(r"^goals/?$", GoalListView.as_view(), name="api-goals"),
    re_path(r"^goals/(?P<code>[^/]+)/?$", GoalDetailView.as_view(), name="api-goal"),
]
