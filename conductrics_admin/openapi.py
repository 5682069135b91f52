"""OpenAPI: the errors every management API operation can answer (a post-processing hook),
and the input rules drf-spectacular does not state by itself (`TruthfulAutoSchema`)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers

from accounts.codes import NON_BLANK_PATTERN, TEXT_PATTERN
from conductrics_admin.api_base import StrictSerializer
from runtime.schema import COMPONENTS as AGENT_API_COMPONENTS
from targeting.schema import components as CONDITION_COMPONENTS

_ERROR = {
    "type": "object",
    "description": 'DRF\'s error: {"detail": ...}, or field names with their messages.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
_ERRORS = {
    "400": "Invalid input: field-level messages.",
    "401": "Missing, unknown or revoked admin key (or a runtime key).",
    "403": "The key or user has no access to this account.",
    "404": "No such object in this account.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "415": "Unsupported media type.",
    "503": "Database unavailable (see Retry-After).",
}


# What an object created by `api_{resource}_create` can be followed by, for clients and
# for Schemathesis' stateful phase (OpenAPI links: the new object's code from the answer).
_FOLLOW_UPS = {
    "agents": (
        "retrieve",
        "partial_update",
        "destroy",
        "explain_create",
        "report_retrieve",
        "report.csv_retrieve",
    ),
    "goals": ("retrieve", "partial_update", "destroy"),
    "groups": ("retrieve", "partial_update", "destroy"),
    "targets": ("retrieve", "partial_update", "destroy", "rotate_key_create"),
    "webhooks": ("retrieve", "partial_update", "destroy", "deliveries_list", "test_create"),
}
_KEYS = {"webhooks": "id"}  # the field naming the new object (else its code)


def add_links(result: dict, generator: object, request: object, public: bool) -> dict:
    """Link each management API create (201) to the operations on the object it made."""
    known = {
        operation.get("operationId")
        for operations in result.get("paths", {}).values()
        for operation in operations.values()
        if isinstance(operation, dict)
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            resource = next(
                (r for r in _FOLLOW_UPS if operation.get("operationId") == f"api_{r}_create"), None
            )
            created = operation.get("responses", {}).get("201") if resource else None
            if resource is None or created is None:
                continue
            created["links"] = {
                follow_up: {
                    "operationId": f"api_{resource}_{follow_up}",
                    "parameters": {
                        "account": "$request.path.account",
                        _KEYS.get(
                            resource, "code"
                        ): f"$response.body#/{_KEYS.get(resource, 'code')}",
                    },
                }
                for follow_up in _FOLLOW_UPS[resource]
                if f"api_{resource}_{follow_up}" in known
            }
    return result


def add_components(result: dict, generator: object, request: object, public: bool) -> dict:
    """The components written by hand that fields refer to: the agent-api's commands and
    the condition language (targeting/schema.py)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(AGENT_API_COMPONENTS)
    schemas.update(CONDITION_COMPONENTS())
    return result


def add_error_responses(result: dict, generator: object, request: object, public: bool) -> dict:
    """Document the error answers of every operation under /api/{account}/."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/{account}/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(_ERRORS)
            if operation.get("operationId") in {
                f"api_{r}_create" for r in _FOLLOW_UPS if r not in _KEYS
            }:
                errors["409"] = "The code is already used in this account."
            for code, text in errors.items():
                operation["responses"].setdefault(
                    code,
                    {"description": text, "content": {"application/json": {"schema": _ERROR}}},
                )
    return result


def refuse_nul_in_urls(result: dict, generator: object, request: object, public: bool) -> dict:
    """Every text parameter of a path or a query string refuses a NUL, as the server does
    for the whole URL (request_shape.py): stated on those no pattern or format rules."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if (
                    parameter.get("in") in ("path", "query")
                    and schema.get("type") == "string"
                    and not {"pattern", "format", "enum"} & set(schema)
                ):
                    schema["pattern"] = TEXT_PATTERN
    return result


class TruthfulAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the rules our input serializers enforce that it does
    not state by itself (issue #21): a request body of a `StrictSerializer` refuses unknown
    fields (`additionalProperties: false`), and a text that may not be blank may not be
    only whitespace or hold a NUL either (DRF trims it, then refuses it blank)."""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if getattr(field, "schema_min_items", None) is not None:
            schema["minItems"] = field.schema_min_items
        if getattr(field, "schema_format", ""):
            schema["format"] = field.schema_format
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)  # minimum, maximum, lengths
        if getattr(field, "exclusive_minimum", False) and "minimum" in schema:
            schema["exclusiveMinimum"] = True  # OpenAPI 3.0: the minimum itself is excluded
        if _plain_text(field) and field.allow_blank and "oneOf" not in schema:
            # here, not as the field's meta: drf-spectacular would make a pattern on a text
            # that may be blank a oneOf with "", which "" then matches twice
            schema.setdefault("pattern", TEXT_PATTERN)

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "request" and _plain_text(field) and not field.allow_blank:
            meta["pattern"] = NON_BLANK_PATTERN if field.trim_whitespace else TEXT_PATTERN
        return meta


def _plain_text(field: serializers.Field) -> bool:
    """A text whose rule no pattern or format of its own states: DRF refuses a NUL in it
    (and, unless blank is allowed, a text only of whitespace, which it trims to blank)."""
    return (
        isinstance(field, serializers.CharField)
        and not isinstance(field, serializers.RegexField)
        and not getattr(field, "schema_format", "")
    )
