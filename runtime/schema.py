"""OpenAPI description of the agent-api (documentation only: the view parses by hand)."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from accounts.codes import FORMAT_PRINTABLE, TEXT_PATTERN
from agents.reasons import POLICIES
from goals.event_time import T_RULE
from runtime.authentication import KEY_HEADER_NAME
from runtime.parsing import MAX_COMMANDS, MAX_EVENTS, SELECTION_STATUSES
from targets.models import ALLOW_LINKING_LABEL
from visitors.links import ALIAS_LIMIT
from visitors.request import MAX_ID_LENGTH

_REF = "#/components/schemas/"
_TEXT = {"type": "string", "minLength": 1, "pattern": TEXT_PATTERN}
_CODES = {"type": "array", "nullable": True, "items": {"type": "string", "pattern": TEXT_PATTERN}}

# The body as `body_parse` reads it: a command is a selection (with "a") or a goal (with
# "g"), never both; keys a command does not use are ignored; at most MAX_COMMANDS.
COMPONENTS = {
    "AgentApiSelection": {
        "type": "object",
        "description": "A selection: the agent's code; c (allowed) and x (excluded) "
        "variations; s p asks for a provisional selection, ok confirms one.",
        "properties": {
            "a": {**_TEXT, "description": "The agent's code, e.g. a-hero."},
            "c": _CODES,
            "x": _CODES,
            "s": {"type": "string", "nullable": True, "enum": [*SELECTION_STATUSES, None]},
        },
        "required": ["a"],
        "not": {"anyOf": [{"required": ["g"]}, {"required": ["alias"]}]},
    },
    "AgentApiGoal": {
        "type": "object",
        "description": "A goal: its code; v its value (a finite number from 0, else the "
        "item answers err); id the caller's event id (a replay is credited once); t when "
        "it happened, on a REST target (an Express target ignores it).",
        "properties": {
            "g": {**_TEXT, "description": "The goal's code, e.g. g-purchase."},
            "v": {"type": "number", "nullable": True},
            "id": {
                "type": "string",
                "nullable": True,
                "format": FORMAT_PRINTABLE,
                "minLength": 1,
                "maxLength": MAX_ID_LENGTH,
            },
            "t": {
                "oneOf": [{"type": "string"}, {"type": "number"}],
                "nullable": True,
                "description": f"When the goal happened: {T_RULE}. Absent: when it "
                "arrives. Ahead of the server's clock by more than 5 minutes, before 2000 "
                "or older than the account's retention: the item answers err invalid_time.",
            },
        },
        "required": ["g"],
        "not": {"anyOf": [{"required": ["a"]}, {"required": ["alias"]}]},
    },
    "AgentApiAlias": {
        "type": "object",
        "description": "Link another id of the same person to the request's vid (a REST "
        f"target, or an Express target with “{ALLOW_LINKING_LABEL}”): from then a goal or a "
        "selection under either finds the person's assignments. The item answers s ok "
        "(linked), none (linked already) or err: alias_invalid (refused as a vid would be, "
        "the vid itself, no vid, or linking not allowed), alias_limit (a person has at most "
        f"{ALIAS_LIMIT} ids), alias_taken (linked to another person).",
        "properties": {"alias": {"type": "string", "pattern": TEXT_PATTERN}},
        "required": ["alias"],
        "not": {"anyOf": [{"required": ["a"]}, {"required": ["g"]}]},
    },
    "AgentApiCommand": {
        "anyOf": [
            {"$ref": _REF + "AgentApiSelection"},
            {"$ref": _REF + "AgentApiGoal"},
            {"$ref": _REF + "AgentApiAlias"},
        ]
    },
}
_COMMANDS = {
    "type": "array",
    "maxItems": MAX_COMMANDS,
    "items": {"$ref": _REF + "AgentApiCommand"},
    "description": f"At most {MAX_COMMANDS} commands.",
}
BODY = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "commands": _COMMANDS,
                "inputs": {
                    "description": "What conditions of source input read: an object of "
                    "strings, keys of 1 to 64 of A-Z a-z 0-9 _ . -. On an Express target "
                    "other inputs are ignored with a warning; a REST target refuses them."
                },
            },
            "required": ["commands"],
        },
        _COMMANDS,
    ]
}


class CreditSchema(serializers.Serializer[Any]):
    a = serializers.CharField()
    c = serializers.CharField()
    v = serializers.FloatField()


class SkipSchema(serializers.Serializer[Any]):
    a = serializers.CharField()
    c = serializers.CharField()
    reason = serializers.CharField()


class ItemSchema(serializers.Serializer[Any]):
    a = serializers.CharField(required=False)
    c = serializers.CharField(required=False)
    p = serializers.ChoiceField(choices=POLICIES, required=False)
    s = serializers.ChoiceField(choices=["ok", "p", "none", "err"])
    md = serializers.DictField(child=serializers.CharField(), required=False)
    g = serializers.CharField(required=False)
    rs = CreditSchema(many=True, required=False)
    skipped = SkipSchema(many=True, required=False)
    err = serializers.CharField(required=False)
    replay = serializers.BooleanField(required=False)
    alias = serializers.CharField(required=False, help_text="An alias command's id.")
    t = serializers.CharField(
        required=False, help_text="The time the goal was judged at (REST targets): RFC 3339, UTC."
    )


class WarningSchema(serializers.Serializer[Any]):
    reason = serializers.CharField()
    a = serializers.CharField(required=False)
    g = serializers.CharField(required=False)
    detail = serializers.CharField()


class DataSchema(serializers.Serializer[Any]):
    items = ItemSchema(many=True)
    sels = serializers.DictField(child=serializers.CharField())
    traits = serializers.ListField(child=serializers.CharField())
    warnings = WarningSchema(many=True, required=False)
    log = serializers.ListField(child=serializers.CharField(), required=False)


class EnvelopeSchema(serializers.Serializer[Any]):
    status = serializers.IntegerField()
    data = DataSchema()  # type: ignore[assignment]  # the envelope's field, not Serializer.data


class ErrorSchema(serializers.Serializer[Any]):
    status = serializers.IntegerField()
    err = serializers.CharField()


def _error(text: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSchema, description=text)


def _key_parameters(whose: str) -> list[OpenApiParameter]:
    """The runtime key, in the query or in its header."""
    return [
        OpenApiParameter("apikey", str, description=f"{whose} (or the {KEY_HEADER_NAME} header)."),
        OpenApiParameter(KEY_HEADER_NAME, str, OpenApiParameter.HEADER),
    ]


def agent_api_schema(operation_id: str) -> Callable[[Any], Any]:
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
                "session",
                {
                    "type": "string",
                    "format": FORMAT_PRINTABLE,
                    "minLength": 1,
                    "maxLength": MAX_ID_LENGTH,
                },
                required=True,
                description=f"Session id, 1 to {MAX_ID_LENGTH} printable characters.",
            ),
            OpenApiParameter(
                "vid",
                str,
                description="External visitor id (needs the target's option): 1 "
                f"to {MAX_ID_LENGTH} printable characters, not a placeholder such as null. "
                "An Express target ignores another with a warning; a REST target refuses it.",
            ),
            OpenApiParameter(
                "traits",
                str,
                description="group:value,group:value (each part 1 to 64 of "
                "A-Z a-z 0-9 _ -). An Express target ignores others with a warning; a REST "
                "target refuses them.",
            ),
            OpenApiParameter(
                "debug",
                {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"},
                description="true adds data.log (true or false, in any case).",
            ),
            *_key_parameters("Runtime key"),
        ],
        request={"application/json": BODY, "text/plain": BODY},
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


class BundleVariationSchema(serializers.Serializer[Any]):
    code = serializers.CharField()
    weight = serializers.FloatField(min_value=0)
    md = serializers.DictField(child=serializers.CharField())


class BundleRuleSchema(serializers.Serializer[Any]):
    name = serializers.CharField()
    when = serializers.JSONField(
        allow_null=True, help_text="A condition (docs/targeting.md), or null."
    )
    variation = serializers.CharField()


class BundleAgentSchema(serializers.Serializer[Any]):
    status = serializers.RegexField(r"^(running|paused)$", help_text="running or paused.")
    server_only = serializers.CharField(
        required=False, help_text="Why the browser cannot decide it: ask the agent-api."
    )
    variations = BundleVariationSchema(many=True, required=False)
    paused = serializers.CharField(required=False, help_text="The variation served while paused.")
    eligibility = serializers.JSONField(required=False, allow_null=True)
    rules = BundleRuleSchema(many=True, required=False)
    group = serializers.CharField(required=False, allow_null=True)


class BundleMemberSchema(serializers.Serializer[Any]):
    agent = serializers.CharField()
    weight = serializers.FloatField(min_value=0)


class BundleSchema(serializers.Serializer[Any]):
    format = serializers.IntegerField()
    account = serializers.CharField()
    target = serializers.CharField()
    version = serializers.IntegerField(help_text="The account's configuration version.")
    vid = serializers.BooleanField(help_text="Whether the target takes an External Visitor ID.")
    max_age = serializers.IntegerField(help_text="Seconds a client may keep it.")
    agents = serializers.DictField(child=BundleAgentSchema())
    groups = serializers.DictField(child=BundleMemberSchema(many=True))


bundle_schema = extend_schema(
    operation_id="agent_api_bundle",
    tags=["agent-api"],
    summary="The Express target's bundle, for decisions in the browser (docs/local-decisions.md)",
    description=(
        "Configuration only, never visitor data: the running and paused agents on the "
        "target, their groups, whether it takes a vid. Answers 304 to a matching "
        "If-None-Match."
    ),
    auth=[],
    parameters=_key_parameters("Runtime key"),
    responses={
        200: BundleSchema,
        304: OpenApiResponse(description="Not modified (If-None-Match names its ETag)."),
        400: _error("A REST target: bundles are for Express targets."),
        401: _error("Missing or unknown key, or unknown account."),
        403: _error("Key of another account or target, disabled target, origin refused."),
        405: _error("Method not allowed."),
        429: _error("Throttled (see Retry-After)."),
        503: _error("Database unavailable (see Retry-After)."),
    },
)


# --- the batch endpoint (SPEC §4c) -----------------------------------------------------

BATCH_EVENT = {
    "type": "object",
    "description": "A goal event of one visitor: session or vid (at least one; with vid alone "
    "the match uses the vid alone), g, and optionally v, id, t, traits, inputs, each as in a "
    "goal command, and alias. An event of the wrong shape is its item's err invalid_event.",
    "properties": {
        "session": {"type": "string", "format": FORMAT_PRINTABLE, "minLength": 1,
                    "maxLength": MAX_ID_LENGTH},
        "vid": {"type": "string", "format": FORMAT_PRINTABLE, "minLength": 1,
                "maxLength": MAX_ID_LENGTH},
        "g": {**_TEXT, "description": "The goal's code."},
        "v": {"type": "number"},
        "id": {"type": "string", "format": FORMAT_PRINTABLE, "minLength": 1,
               "maxLength": MAX_ID_LENGTH},
        "t": {"oneOf": [{"type": "string"}, {"type": "number"}],
              "description": f"When the goal happened: {T_RULE}."},
        "traits": {"type": "string"},
        "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
        "alias": {"type": "string", "pattern": TEXT_PATTERN,
                  "description": "An id to link to the event's vid first (as the alias "
                  "command): its outcome is the item's link."},
    },
    "required": ["g"],
    "additionalProperties": False,
}  # fmt: skip
BATCH_BODY = {
    "type": "object",
    "properties": {"events": {"type": "array", "maxItems": MAX_EVENTS, "items": BATCH_EVENT}},
    "required": ["events"],
    "additionalProperties": False,
}


class LinkSchema(serializers.Serializer[Any]):
    alias = serializers.CharField()
    s = serializers.CharField(help_text="ok (linked), none (linked already) or err.")
    err = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


class BatchItemSchema(ItemSchema):
    i = serializers.IntegerField(help_text="The event's index in the batch.")
    detail = serializers.CharField(required=False, help_text="Why an event was refused.")
    link = LinkSchema(
        required=False, help_text="The event's alias, linked to its vid before it was judged."
    )


class BatchCountsSchema(serializers.Serializer[Any]):
    ok = serializers.IntegerField()
    none = serializers.IntegerField()
    err = serializers.IntegerField()
    replay = serializers.IntegerField()


class BatchDataSchema(serializers.Serializer[Any]):
    items = BatchItemSchema(many=True)
    counts = BatchCountsSchema()


class BatchEnvelopeSchema(serializers.Serializer[Any]):
    status = serializers.IntegerField()
    data = BatchDataSchema()  # type: ignore[assignment]  # a field named as the envelope's


def goal_events_schema(operation_id: str) -> Callable[[Any], Any]:
    """The batch endpoint's OpenAPI description, for one of its two paths."""
    return extend_schema(
        operation_id=operation_id,
        tags=["agent-api"],
        summary="Goal events of many visitors from a back office, in one request",
        description=(
            f"Up to {MAX_EVENTS} events and 1 MiB, with a REST target's key. Each event is "
            "judged as the same goal command sent alone would be, and answered by an item "
            "with its index i; an event of the wrong shape is its item's err "
            "invalid_event, the others are recorded. The batch is one transaction: on a "
            "database failure, 503 and nothing recorded, so it can be sent again (event "
            "ids make that safe)."
        ),
        auth=[],
        parameters=_key_parameters("Runtime key of a REST target"),
        request={"application/json": BATCH_BODY, "text/plain": BATCH_BODY},
        responses={
            200: BatchEnvelopeSchema,
            400: _error("Not an object with an events list, or over the limits; nothing recorded."),
            401: _error("Missing or unknown key, or unknown account."),
            403: _error("Key of another account or target, an Express key, disabled target."),
            405: _error("Method not allowed."),
            413: _error("Body larger than 1 MiB."),
            429: _error("Throttled: each event counts one (see Retry-After)."),
            503: _error("Database unavailable: nothing recorded (see Retry-After)."),
        },
        examples=[
            OpenApiExample(
                "A day's orders from a back office",
                value={"events": [{"vid": "lana-123", "g": "g-purchase", "v": 19.99,
                                   "id": "order-1001", "t": "2026-12-01T10:00:00Z"}]},
                request_only=True,
            )
        ],
    )  # fmt: skip
