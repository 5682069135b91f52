"""Choices without the database: the base of every app's `choices.py`.

Django's `TextChoices` lives in `django.db`, which the pure rules (`targeting`,
`agents.selection`, `agents.bucketing`, `goals.matching`) must not import; a model's field
takes `X.choices` of this base just the same.
"""

import enum
from typing import Any


def _members(cls: enum.EnumType) -> list[Any]:
    return list(cls.__members__.values())


class _LabeledChoicesType(enum.EnumType):
    @property
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in _members(cls)]

    @property
    def values(cls) -> list[str]:
        return [member.value for member in _members(cls)]

    def __contains__(cls, value: Any) -> bool:
        if isinstance(value, enum.Enum):
            return isinstance(value, cls)
        return any(member.value == value for member in _members(cls))


class LabeledChoices(enum.StrEnum, metaclass=_LabeledChoicesType):
    """A text enumeration whose members carry a label, as Django's `TextChoices`: the
    class's `.choices` and `.values`, each member's `.label`, a member equal to its value
    (and its `str()`)."""

    label: str
    do_not_call_in_templates = enum.nonmember(True)

    def __new__(cls, value: str, label: str) -> "LabeledChoices":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
