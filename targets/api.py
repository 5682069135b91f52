"""Management API: deploy targets under `/api/{account}/targets/`."""

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.codes import validate_target_code
from accounts.roles import Role
from conductrics_admin.api_base import OriginField, StrictSerializer, code_field, domain_call
from targets.models import ALLOW_EXTERNAL_VID_LABEL, ALLOW_LINKING_LABEL, DeployTarget, TargetKind
from targets.services import (
    KeyRotatedMeanwhile,
    target_create,
    target_delete,
    target_rotate_key,
    target_update,
)


class RotationConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "rotated_meanwhile"


class TargetOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=TargetKind.choices)
    enabled = serializers.BooleanField()
    allow_external_vid = serializers.BooleanField(
        help_text=f"“{ALLOW_EXTERNAL_VID_LABEL}” (Data Passing)."
    )
    allow_linking = serializers.BooleanField(
        help_text=f"“{ALLOW_LINKING_LABEL}” (Data Passing): Express targets may send the "
        "alias command (REST targets always may)."
    )
    allowed_origins = serializers.ListField(child=OriginField())
    api_key = serializers.CharField(help_text="The runtime key (read-only; rotate it).")


class TargetIn(StrictSerializer):
    read_only_names: tuple[str, ...] = ("api_key",)
    code = code_field(
        validate_target_code,
        required=False,
        help_text="“dt-” and 1 to 40 letters, digits or dashes; omitted: made from the name.",
    )
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=TargetKind.choices, default=TargetKind.EXPRESS)
    enabled = serializers.BooleanField(default=True)
    allow_external_vid = serializers.BooleanField(default=False)
    allow_linking = serializers.BooleanField(default=False)
    allowed_origins = serializers.ListField(child=OriginField(), default=list)


class TargetPatch(TargetIn):
    read_only_names = ("api_key", "code")
    code = None  # type: ignore[assignment]  # DRF: None takes the field away
    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=TargetKind.choices, required=False)
    enabled = serializers.BooleanField(required=False)
    allow_external_vid = serializers.BooleanField(required=False)
    allow_linking = serializers.BooleanField(required=False)
    allowed_origins = serializers.ListField(child=OriginField(), required=False)


def target_json(target: DeployTarget) -> dict:
    return {
        "code": target.code,
        "name": target.name,
        "kind": target.kind,
        "enabled": target.enabled,
        "allow_external_vid": target.allow_external_vid,
        "allow_linking": target.allow_linking,
        "allowed_origins": list(target.allowed_origins or []),
        "api_key": target.api_key,
    }


class TargetListView(AccountAPIView):
    write_role = Role.OWNER  # deploy targets and their keys: owners (SPEC §6b)

    @extend_schema(tags=["targets"], responses={200: TargetOut(many=True)})
    def get(self, request: Request, account: str) -> Response:
        return Response([target_json(t) for t in self.account.targets.order_by("code")])

    @extend_schema(tags=["targets"], request=TargetIn, responses={201: TargetOut})
    def post(self, request: Request, account: str) -> Response:
        data = TargetIn(data=request.data)
        data.is_valid(raise_exception=True)
        target = domain_call(lambda: target_create(account=self.account, **data.validated_data))
        return Response(target_json(target), status=status.HTTP_201_CREATED)


class TargetDetailView(AccountAPIView):
    write_role = Role.OWNER  # deploy targets and their keys: owners (SPEC §6b)

    def _target(self, code: str) -> DeployTarget:
        return get_object_or_404(DeployTarget, account=self.account, code=code)

    @extend_schema(tags=["targets"], responses={200: TargetOut})
    def get(self, request: Request, account: str, code: str) -> Response:
        return Response(target_json(self._target(code)))

    @extend_schema(tags=["targets"], request=TargetPatch, responses={200: TargetOut})
    def patch(self, request: Request, account: str, code: str) -> Response:
        target = self._target(code)
        data = TargetPatch(data=request.data)
        data.is_valid(raise_exception=True)
        target = domain_call(lambda: target_update(target=target, **data.validated_data))
        return Response(target_json(target))

    @extend_schema(tags=["targets"], responses={204: None})
    def delete(self, request: Request, account: str, code: str) -> Response:
        target_delete(target=self._target(code))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TargetRotateKeyView(AccountAPIView):
    write_role = Role.OWNER  # deploy targets and their keys: owners (SPEC §6b)

    @extend_schema(
        tags=["targets"],
        request=None,
        responses={
            200: inline_serializer("RotatedKey", {"api_key": serializers.CharField()}),
            409: OpenApiResponse(description="Another rotation of this key won the race."),
        },
        summary="Give the target a new runtime key; the old one stops working at once.",
    )
    def post(self, request: Request, account: str, code: str) -> Response:
        target = get_object_or_404(DeployTarget, account=self.account, code=code)
        try:
            return Response({"api_key": target_rotate_key(target=target)})
        except KeyRotatedMeanwhile as exc:
            raise RotationConflict(
                f"{exc} Its live key is the one that rotation answered; rotate again if needed."
            ) from exc


urlpatterns = [
    re_path(r"^targets/?$", TargetListView.as_view(), name="api-targets"),
    re_path(r"^targets/(?P<code>[^/]+)/rotate-key/?$", TargetRotateKeyView.as_view()),
    re_path(r"^targets/(?P<code>[^/]+)/?$", TargetDetailView.as_view(), name="api-target"),
]
