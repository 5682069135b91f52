"""What every management API resource shares: strict input, and domain errors as 400s
(DRF plumbing, beside the apps: the pure rules never import it)."""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

from accounts.codes import DUPLICATE_CODE, FORMAT_ORIGIN, FORMAT_PRINTABLE, FORMAT_VISITOR_ID
from accounts.models import Account, CodedModel


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, with JSON nested too deeply for Python answered 400, not 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


# Refuses fields it does not know, fields that cannot be written, values of another JSON
# type than the schema's (`json_type_problem`), and text longer than its field's
# `max_length` as sent (DRF would measure it after trimming whitespace, and accept what
# the schema's `maxLength` calls too long). A comment, not a docstring: the schema would
# give it as the description of every input serializer that has none of its own.
class StrictSerializer(serializers.Serializer):
    read_only_names: tuple[str, ...] = ()

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        errors = {}
        for name in data:
            if name in self.read_only_names:
                errors[name] = ["This field is read-only."]
            elif name not in self.fields:
                errors[name] = ["Unknown field."]
            elif _too_long(self.fields[name], data[name]):
                limit = getattr(self.fields[name], "max_length", None)
                errors[name] = [f"Ensure this field has no more than {limit} characters."]
            elif (wrong := json_type_problem(self.fields[name], data[name])) is not None:
                errors[name] = [wrong]
        if errors:
            raise ValidationError(errors)
        return super().to_internal_value(data)


class FormattedCharField(serializers.CharField):
    """A text whose rule the schema names by a `format` (one of the `FORMAT_*`); its own
    validation stays with the view. (A class attribute: DRF copies fields by their
    arguments, so a mark set on an instance would be lost.)"""

    schema_format = ""


class PrintableField(FormattedCharField):
    """Printable text taken as sent, as the agent-api takes it (whitespace is kept)."""

    schema_format = FORMAT_PRINTABLE

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class VisitorIdField(PrintableField):
    schema_format = FORMAT_VISITOR_ID


class OriginField(FormattedCharField):
    schema_format = FORMAT_ORIGIN


def code_field(validator: RegexValidator, **kwargs: Any) -> serializers.RegexField:
    """A code as the schema states it: the code's pattern (SPEC §2), refused with the
    domain's own message."""
    return serializers.RegexField(
        validator.regex, error_messages={"invalid": validator.message}, **kwargs
    )


MOMENT_YEARS = (2000, 2999)  # a moment of the API is in these years (UTC)


class MomentField(serializers.DateTimeField):
    """A moment: RFC 3339 (2026-12-01T09:00:00Z; without an offset, UTC), in the years
    MOMENT_YEARS, answered in UTC."""

    def __init__(self, **kwargs: Any) -> None:
        first, last = MOMENT_YEARS
        kwargs.setdefault("help_text", "")
        kwargs["help_text"] = (
            f"{kwargs['help_text']} An RFC 3339 time from {first} to {last} (UTC)."
        ).strip()
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> Any:
        moment = super().to_internal_value(value)
        first, last = MOMENT_YEARS
        if not first <= moment.year <= last:
            raise ValidationError(f"A time from {first} to {last} (UTC).", code="out_of_range")
        return moment


def moment_json(value: Any) -> str | None:
    """A stored time as the API answers it (RFC 3339 in UTC, as DRF writes it), or None."""
    return serializers.DateTimeField().to_representation(value) if value else None


class PositiveNumberField(serializers.FloatField):
    """A number above its `min_value`, which the schema states (`exclusiveMinimum`); the
    domain refuses the minimum itself with its own message. (A class attribute: DRF copies
    fields by their arguments, so a mark set on an instance would be lost.)"""

    exclusive_minimum = True


def list_of_at_least(count: int) -> type[serializers.ListSerializer]:
    """A `list_serializer_class` whose schema states its fewest items (`minItems`); the
    domain checks them with its own message."""
    return type(f"ListOfAtLeast{count}", (serializers.ListSerializer,), {"schema_min_items": count})


def json_type_problem(field: serializers.Field, value: object) -> str | None:
    """Why `value` is not of the JSON type the schema gives `field`, or None. DRF would read
    `"true"` as a boolean, `5` as a string and `"1.5"` as a number; the schema says they
    are not, so they are refused (the message names the type)."""
    if value is None:
        return None  # allow_null is DRF's own check
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "Must be a whole number."
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Must be a list."
        child = field.child
        for i, item in enumerate(value):
            problem = json_type_problem(child, item)
            if problem is not None:
                return f"Item {i}: {problem}"
    return None


def _too_long(field: serializers.Field, value: object) -> bool:
    limit = getattr(field, "max_length", None)
    return (
        isinstance(field, serializers.CharField)
        and limit is not None
        and (isinstance(value, str) and len(value) > limit)
    )


def as_api_error(exc: DjangoValidationError) -> ValidationError:
    """A domain ValidationError as DRF's 400, keeping its fields."""
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    else:
        detail = {"non_field_errors": exc.messages}
    return ValidationError(detail)


def codes_resolve(
    *, model: type[CodedModel], account: Account, codes: Iterable[str], field: str
) -> list[Any]:
    """The objects of `account` with these codes, in order; 400 naming any unknown code."""
    codes = list(codes)
    objects: Any = model._default_manager  # each coded model's own fields: account, code
    found = {obj.code: obj for obj in objects.filter(account=account, code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        label = model._meta.verbose_name
        raise ValidationError({field: [f"Unknown {label} {', '.join(unknown)} in this account."]})
    return [found[code] for code in codes]


def force_param(request: Request) -> bool:
    """The `force` query parameter: absent, `true` or `false` (the schema's boolean); 400
    for anything else, so that a typo never deletes or keeps what the caller did not mean."""
    values = request.query_params.getlist("force")
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("true", "false"):
        raise ValidationError({"force": ["Must be true or false, given once."]})
    return values[0] == "true"


T = TypeVar("T")


def domain_call(call: Callable[[], T]) -> T:
    """Run a domain service in a transaction; its refusals become DRF's 400 with fields.

    A code already used answers 409 (`CodeTaken`), as does an IntegrityError here: a code
    taken by a concurrent create after the service's own check.
    """
    try:
        with transaction.atomic():
            return call()
    except DjangoValidationError as exc:
        if _only_duplicate_code(exc):
            raise CodeTaken(as_api_error(exc).detail) from exc
        raise as_api_error(exc) from exc
    except IntegrityError as exc:
        raise CodeTaken({"code": ["This code is already used."]}) from exc


class CodeTaken(APIException):
    """409: the code of the object to create is already used in the account (a conflict
    with what exists, not a malformed request)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = DUPLICATE_CODE


def _only_duplicate_code(exc: DjangoValidationError) -> bool:
    errors = getattr(exc, "error_dict", None) or {}
    return bool(errors) and all(e.code == DUPLICATE_CODE for es in errors.values() for e in es)
