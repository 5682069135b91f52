"""OpenAPI description of the agent-api (documentation only: the view parses by hand)."""

from collections.abc import Callable

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers


class CommandSchema(serializers.Serializer):
    a = serializers.CharField(required=False, help_text="Selection: the agent code, e.g. a-hero.")
    c = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Selection: allowed variations."
    )
    x = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Selection: excluded variations."
    )
    s = serializers.ChoiceField(
        choices=["p", "ok"], required=False,
        help_text="Selection: p asks for a provisional selection, ok confirms one.",
    )  # fmt: skip
    g = serializers.CharField(required=False, help_text="Goal: the goal code, e.g. g-purchase.")
    v = serializers.FloatField(required=False, help_text="Goal: value, a finite number ≥ 0.")
    id = serializers.CharField(
        required=False, max_length=128, help_text="Goal: the caller's event id."
    )


class RequestSchema(serializers.Serializer):
    commands = CommandSchema(many=True, max_length=100, help_text="At most 100 commands.")
    inputs = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


BODY = PolymorphicProxySerializer(
    component_name="AgentApiBody",
    serializers=[RequestSchema, CommandSchema(many=True, max_length=100)],
    resource_type_field_name=None,
)


class CreditSchema(serializers.Serializer):
    a = serializers.CharField()
    c = serializers.CharField()
    v = serializers.FloatField()


class SkipSchema(serializers.Serializer):
    a = serializers.CharField()
    c = serializers.CharField()
    reason = serializers.CharField()


class ItemSchema(serializers.Serializer):
    a = serializers.CharField(required=False)
    c = serializers.CharField(required=False)
    p = serializers.ChoiceField(choices=["r", "s", "p"], required=False)
    s = serializers.ChoiceField(choices=["ok", "p", "none", "err"])
    md = serializers.DictField(child=serializers.CharField(), required=False)
    g = serializers.CharField(required=False)
    rs = CreditSchema(many=True, required=False)
    skipped = SkipSchema(many=True, required=False)
    err = serializers.CharField(required=False)
    replay = serializers.BooleanField(required=False)


class WarningSchema(serializers.Serializer):
    reason = serializers.CharField()
    a = serializers.CharField(required=False)
    g = serializers.CharField(required=False)
    detail = serializers.CharField()


class DataSchema(serializers.Serializer):
    items = ItemSchema(many=True)
    sels = serializers.DictField(child=serializers.CharField())
    traits = serializers.ListField(child=serializers.CharField())
    warnings = WarningSchema(many=True, required=False)
    log = serializers.ListField(child=serializers.CharField(), required=False)


class EnvelopeSchema(serializers.Serializer):
    status = serializers.IntegerField()
    data = DataSchema()


class ErrorSchema(serializers.Serializer):
    status = serializers.IntegerField()
    err = serializers.CharField()


def _error(text: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSchema, description=text)


def agent_api_schema(operation_id: str) -> Callable:
    """The agent-api's OpenAPI description, for one of its two paths."""
    return extend_schema(
        operation_id=operation_id,
        tags=["agent-api"],
        summary="Selections and goals of one visitor (Conductrics v3 runtime API)",
        description=(
            "The body is JSON whatever its Content-Type (browsers send text/plain): "
            '`{"commands": [...], "inputs": {...}}` or a bare array of commands. '
            "A request is all-or-nothing."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "session", str, required=True, description="Session id, 1 to 128 chars."
            ),
            OpenApiParameter(
                "vid", str, description="External visitor id (needs the target's option)."
            ),
            OpenApiParameter(
                "apikey", str, description="Runtime key (or the x-conductrics-apikey header)."
            ),
            OpenApiParameter("traits", str, description="group:value,group:value"),
            OpenApiParameter(
                "debug", str, enum=["true", "false"], description="true adds data.log"
            ),
            OpenApiParameter("x-conductrics-apikey", str, OpenApiParameter.HEADER),
        ],
        request=BODY,
        responses={
            200: EnvelopeSchema,
            400: _error("Malformed body or parameters; nothing recorded."),
            401: _error("Missing or unknown key, or unknown account."),
            403: _error(
                "Key of another account or target, disabled target, origin or vid refused."
            ),
            405: _error("Method not allowed."),
            413: _error("Body larger than 64 KiB."),
            429: _error("Throttled (see Retry-After)."),
            503: _error("Database unavailable (see Retry-After)."),
        },
        examples=[
            OpenApiExample(
                "Server-side goal matched by external visitor id",
                value={"commands": [{"g": "g-purchase", "v": 19.99}]},
                request_only=True,
            )
        ],
    )
