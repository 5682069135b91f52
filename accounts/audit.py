"""The audit log of configuration changes (SPEC §6), kept by django-auditlog.

Every change of a deploy target (Data Passing, enabled, origins, key rotated), goal
(trigger, REST sending, window, condition), agent (status, rules, QA, eligibility), its
variations (weights) and its group is kept with who, when, and the values before and
after, tagged with its account (and agent) so that it shows on the object and per
account. Runtime keys are never stored: a rotation shows as a masked key changing.

Each configuration app registers its models here from its AppConfig.ready().
"""

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand
from django.db.models import Model, Q, QuerySet
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst

AUDIT_SHOWN = 20  # entries on an object's page
AUDIT_PAGE_SIZE = 100  # entries on a page of the account's audit log
NO_ACTOR = "—"

# Who acts where no user is logged in: an admin API key ("admin key <name> (<prefix>…)")
# or a management command. A request or a command opens the slot (`audit_actor`); the
# management API's authentication names the key in it once it knows it.
_ACTOR: ContextVar[list[str] | None] = ContextVar("audit_actor", default=None)


@contextlib.contextmanager
def audit_actor(label: str | None = None) -> Iterator[None]:
    """Changes made inside are recorded as made by `label` (or by what `audit_actor_is`
    names later), unless a logged-in user made them."""
    token = _ACTOR.set([label] if label else [])
    try:
        yield
    finally:
        _ACTOR.reset(token)


def audit_actor_is(label: str) -> None:
    slot = _ACTOR.get()
    if slot is not None:
        slot[:] = [label]


def admin_key_actor(name: str, prefix: str) -> str:
    return f"admin key {name or 'unnamed'} ({prefix}…)"


class AuditedCommand(BaseCommand):
    """A management command whose changes are recorded as made by "command <name>"."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        with audit_actor(f"command {self.__module__.rsplit('.', 1)[-1]}"):
            return super().execute(*args, **options)


def _actor_noted(sender: type[Model], instance: Model, **kwargs: object) -> None:
    """pre_save of an audit entry: a change with no user gets the slot's actor."""
    slot = _ACTOR.get()
    if slot and getattr(instance, "actor_id", None) is None:
        data = instance.additional_data if isinstance(instance.additional_data, dict) else {}  # type: ignore[attr-defined]
        instance.additional_data = {**data, "actor": slot[0]}  # type: ignore[attr-defined]


def audit_actor_connect() -> None:
    from auditlog.models import LogEntry
    from django.db.models.signals import pre_save

    pre_save.connect(_actor_noted, sender=LogEntry, dispatch_uid="accounts.audit.actor")


def key_masked(value: str) -> str:
    """A runtime or admin key as the audit log keeps it: its prefix and last 4 characters."""
    prefix, _, rest = value.partition("-")
    return f"{prefix}-…{rest[-4:]}" if rest else "…"


def audit_register(
    model: type[Model],
    *,
    fields: list[str],
    masked: tuple[str, ...] = (),
    related: Iterable[str] = (),
) -> None:
    """Record changes of `fields` (and additions and removals in the many-to-many
    `related`) of `model`, whose `get_additional_data` names its account."""
    from auditlog.registry import auditlog

    auditlog.register(
        model,
        include_fields=fields,
        mask_fields=list(masked),
        mask_callable="accounts.audit.key_masked",
        m2m_fields=set(related),
    )


def audit_entries_of(model: type[Model], pk: object, *, agent_id: int | None = None) -> QuerySet:
    """The entries of one object, newest first (with `agent_id`, its variations' and
    group membership's too)."""
    from auditlog.models import LogEntry

    mine = Q(
        content_type__app_label=model._meta.app_label,
        content_type__model=model._meta.model_name,
        object_pk=str(pk),
    )
    if agent_id is not None:
        mine |= Q(additional_data__agent_id=agent_id)
    return (
        LogEntry.objects.filter(mine).select_related("actor", "content_type").order_by("-timestamp")
    )


def audit_entries_of_account(account_id: int) -> QuerySet:
    from auditlog.models import LogEntry

    return (
        LogEntry.objects.filter(additional_data__account_id=account_id)
        .select_related("actor", "content_type")
        .order_by("-timestamp")
    )


def audit_who(entry: Model) -> str:
    """The user, else the admin key or command noted, of an entry."""
    if entry.actor_id is not None:  # type: ignore[attr-defined]
        return entry.actor.get_username()  # type: ignore[attr-defined]
    data = entry.additional_data if isinstance(entry.additional_data, dict) else {}  # type: ignore[attr-defined]
    return str(data.get("actor") or NO_ACTOR)


def _field_of(model: type[Model] | None, name: str) -> Any:
    """The model's field of that name, or None (a model or a field since removed)."""
    try:
        return model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        return None


def field_label(model: type[Model] | None, name: str) -> str:
    """A field as the admin labels it ("Allow Passing of External Visitor ID")."""
    return capfirst(str(getattr(_field_of(model, name), "verbose_name", name)))


def _shown(model: type[Model] | None, name: str, value: object) -> str:
    """A recorded value as the admin shows it: a choice by its label, a related object
    (recorded by its id) by its name."""
    field = _field_of(model, name)
    if field is not None and field.many_to_one and value not in (None, "None"):
        related = field.related_model._default_manager.filter(pk=str(value)).first()
        return _short(related if related is not None else f"deleted ({value})")
    choices = dict(getattr(field, "flatchoices", None) or ())
    return _short(choices.get(value, value))


def audit_changes(entry: Model) -> list[tuple[str, str, str]]:
    """(label, before, after) per field of an entry; a many-to-many field's additions
    and removals as "added: …" or "removed: …"."""
    changes = entry.changes_dict if isinstance(entry.changes_dict, dict) else {}  # type: ignore[attr-defined]
    model = entry.content_type.model_class()  # type: ignore[attr-defined]
    rows = []
    for name, change in changes.items():
        label = field_label(model, name)
        if isinstance(change, dict) and change.get("type") == "m2m":
            objects = ", ".join(str(o) for o in change.get("objects") or [])
            added = change.get("operation") == "add"
            rows.append((label, "" if added else objects, objects if added else ""))
        elif isinstance(change, list | tuple) and len(change) == 2:
            before, after = _shown(model, name, change[0]), _shown(model, name, change[1])
            if before != after:
                rows.append((label, before, after))
    return rows


def audit_html(
    entries: QuerySet | list, *, limit: int = AUDIT_SHOWN, with_object: bool = False
) -> SafeString:
    """Entries as a table: when, who, what, and each field before → after."""
    rows = []
    for entry in entries[:limit]:
        changed = format_html_join(
            "",
            "<div><strong>{}</strong>: {} → {}</div>",
            ((label, before or "—", after or "—") for label, before, after in audit_changes(entry)),
        )
        who = audit_who(entry)
        what = entry.get_action_display()
        if with_object:
            model = entry.content_type.model_class()
            kind = model._meta.verbose_name if model else entry.content_type.model
            what = f"{what} {kind} {entry.object_repr}"
        rows.append(
            format_html(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f"{entry.timestamp:%Y-%m-%d %H:%M:%S} UTC",
                who,
                what,
                changed,
            )
        )
    if not rows:
        return format_html("<p>{}</p>", "No change recorded yet.")
    return format_html(
        '<table class="audit-log"><thead><tr><th scope="col">When</th><th scope="col">Who</th>'
        '<th scope="col">What</th><th scope="col">Before → after</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        SafeString("".join(rows)),
    )


def _short(value: object) -> str:
    text = "—" if value in (None, "None") else str(value)
    return text if len(text) <= 200 else text[:200] + "…"


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose object's last changes show at the foot of its page (first among
    the bases of an admin, before AccountScopedAdmin)."""

    change_form_template = "admin/audited_change_form.html"
    audit_includes_agent = False  # an agent's page shows its variations' and group's too

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # read when the page renders (the object is the admin's to find and to scope: a page
        # it refuses never shows this)
        agent_id = int(object_id) if self.audit_includes_agent and object_id.isdigit() else None

        def history() -> SafeString:
            entries = audit_entries_of(self.model, object_id, agent_id=agent_id)
            return audit_html(entries, with_object=agent_id is not None)

        extra_context = {**(extra_context or {}), "change_history": history}
        return super().change_view(request, object_id, form_url, extra_context)
