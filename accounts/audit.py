"""The audit log of configuration changes (SPEC §6), kept by django-auditlog.

Every change of a deploy target (Data Passing, enabled, origins, key rotated), goal
(trigger, REST sending, window, condition), agent (status, rules, QA, eligibility), its
variations (weights) and its group is kept with who, when, and the values before and
after, tagged with its account (and agent) so that it shows on the object and per
account. Runtime keys are never stored: a rotation shows as a masked key changing.

Each configuration app registers its models here from its AppConfig.ready().
"""

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

AUDIT_SHOWN = 20  # entries on an object's page
AUDIT_SHOWN_PER_ACCOUNT = 200


def key_masked(value: str) -> str:
    """A runtime or admin key as the audit log keeps it: its prefix and last 4 characters."""
    prefix, _, rest = value.partition("-")
    return f"{prefix}-…{rest[-4:]}" if rest else "…"


def audit_register(model: type[Model], *, fields: list[str], masked: tuple[str, ...] = ()) -> None:
    from auditlog.registry import auditlog

    auditlog.register(
        model,
        include_fields=fields,
        mask_fields=list(masked),
        mask_callable="accounts.audit.key_masked",
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


def audit_html(
    entries: QuerySet, *, limit: int = AUDIT_SHOWN, with_object: bool = False
) -> SafeString:
    """Entries as a table: when, who, what, and each field before → after."""
    rows = []
    for entry in entries[:limit]:
        changes = entry.changes_dict or {}
        if not isinstance(changes, dict):
            changes = {}
        changed = format_html_join(
            "",
            "<div><code>{}</code>: {} → {}</div>",
            (
                (field, _short(pair[0]), _short(pair[1]))
                for field, pair in changes.items()
                if isinstance(pair, list | tuple) and len(pair) == 2
            ),
        )
        who = entry.actor.get_username() if entry.actor else "an admin API key or a command"
        what = entry.get_action_display()
        if with_object:
            what = f"{what} {entry.content_type.model} {entry.object_repr}"
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
