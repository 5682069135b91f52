"""How much recorded data (raw visitor-level rows, report aggregates) hangs on an object.

Configuration apps ask before deleting a goal, an agent or a variation, without importing
the apps that record the data: a model that holds recorded data says so with a class
attribute `recorded_as` (one of `RecordedData`'s fields), and its foreign key to the object
is found through Django's registry of relations.
"""

from collections.abc import Collection
from dataclasses import dataclass, fields

from django.core.exceptions import ValidationError
from django.db.models import ForeignObjectRel, Model


@dataclass(frozen=True)
class RecordedData:
    """Rows of recorded data, by kind."""

    assignments: int = 0
    goal_events: int = 0
    credits: int = 0
    report_rows: int = 0

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        """`3 assignments, 2 credits and 4 report rows`: the kinds it holds, in order."""
        parts = [
            f"{getattr(self, f.name)} {f.name.replace('_', ' ')}"
            for f in fields(self)
            if getattr(self, f.name)
        ]
        return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def recorded_data_count(*, obj: Model, kinds: Collection[str] | None = None) -> RecordedData:
    """Count the recorded data whose foreign key points at `obj` (only `kinds` of it, when
    given): one query per table."""
    counts = {f.name: 0 for f in fields(RecordedData)}
    for relation in obj._meta.get_fields(include_hidden=True):
        if not (
            isinstance(relation, ForeignObjectRel)
            and relation.one_to_many
            and relation.auto_created
            and isinstance(relation.related_model, type)
        ):
            continue
        kind = getattr(relation.related_model, "recorded_as", None)
        if kind is None or (kinds is not None and kind not in kinds):
            continue
        manager = relation.related_model._default_manager
        counts[kind] += manager.filter(**{relation.field.name: obj}).count()
    return RecordedData(**counts)


def recorded_data_refuse(*, obj: Model, label: str, force: bool) -> RecordedData:
    """Raise ValidationError (code `has_recorded_data`) when `obj` has recorded data and
    `force` is not set; else return what deleting it takes with it. `label` names it."""
    data = recorded_data_count(obj=obj)
    if not data.empty and not force:
        raise ValidationError(
            f"{label} has recorded data ({data.describe()}); deleting it deletes them too. "
            "Delete with force=true to go ahead.",
            code="has_recorded_data",
        )
    return data
