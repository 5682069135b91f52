"""What every management API resource shares: strict input, and domain errors as 400s."""

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, with JSON nested too deeply for Python answered 400, not 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, fields that cannot be written, and text longer than
    its field's `max_length` as sent (DRF would measure it after trimming whitespace, and
    accept what the schema's `maxLength` calls too long)."""

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
                limit = self.fields[name].max_length
                errors[name] = [f"Ensure this field has no more than {limit} characters."]
        if errors:
            raise ValidationError(errors)
        return super().to_internal_value(data)


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


def codes_resolve(*, model: type, account: object, codes: Iterable[str], field: str) -> list:
    """The objects of `account` with these codes, in order; 400 naming any unknown code."""
    codes = list(codes)
    found = {obj.code: obj for obj in model.objects.filter(account=account, code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        label = model._meta.verbose_name
        raise ValidationError({field: [f"Unknown {label} {', '.join(unknown)} in this account."]})
    return [found[code] for code in codes]


def force_param(request: object) -> bool:
    return str(request.query_params.get("force", "")).lower() in ("1", "true", "yes")


T = TypeVar("T")


def domain_call(call: Callable[[], T]) -> T:
    """Run a domain service in a transaction; its refusals become DRF's 400 with fields.

    An IntegrityError here is a code taken by a concurrent create after the service's
    own check: the same answer as a duplicate code.
    """
    try:
        with transaction.atomic():
            return call()
    except DjangoValidationError as exc:
        raise as_api_error(exc) from exc
    except IntegrityError as exc:
        raise ValidationError({"code": ["This code is already used."]}) from exc
