"""Tenant scoping for the admin: staff see and edit only their own accounts' objects.

Membership of an account (accounts.Membership) is what grants a staff user access to
that account's configuration; superusers see everything.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse

from accounts.current import current_account_id
from accounts.models import Account
from accounts.roles import Role, role_allows
from accounts.selectors import accounts_for_user, user_roles


def request_roles(request: HttpRequest) -> dict[int, str]:
    """account id -> this request's user's role there, read once per request."""
    cached = getattr(request, "_conductrics_roles", None)
    if cached is None:
        cached = request._conductrics_roles = user_roles(user=request.user)  # type: ignore[attr-defined]
    return cached


class AccountScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose objects belong to an account through `account_path`."""

    account_path = "account"
    scoped_relations: tuple[str, ...] = ()  # FK / M2M fields whose choices are narrowed too
    edit_role: str = Role.EDITOR  # the role that may add, change and delete (SPEC §6b)

    def _account_ids(self, request: HttpRequest) -> set[int]:
        """The accounts shown: the one picked for this session, else all the user's."""
        cached = getattr(request, "_conductrics_account_ids", None)
        if cached is None:
            current = current_account_id(request)
            if current is not None:
                cached = {current}
            else:
                cached = set(accounts_for_user(user=request.user).values_list("pk", flat=True))
            request._conductrics_account_ids = cached  # type: ignore[attr-defined]  # once
        return cached

    def _scoped(self, request: HttpRequest) -> bool:
        """Whether lists and pickers are narrowed: always but for a superuser who has not
        picked an account."""
        return not request.user.is_superuser or current_account_id(request) is not None

    def _object_account_id(self, obj: Model) -> int | None:
        if not self.account_path:
            return obj.pk
        target: object = obj
        for part in self.account_path.split("__"):
            target = getattr(target, part, None)
            if target is None:
                return None
        return target.pk if isinstance(target, Model) else None

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if not self._scoped(request):
            return qs
        key = f"{self.account_path}__in" if self.account_path else "pk__in"
        return qs.filter(**{key: self._account_ids(request)})

    def editable_account_ids(self, request: HttpRequest) -> set[int]:
        """The shown accounts where this user's role may change this model's objects."""
        roles = request_roles(request)
        return {a for a in self._account_ids(request) if role_allows(roles.get(a), self.edit_role)}

    # Membership grants the permissions, by role; superusers keep Django's own checks.
    def _member_may(self, request: HttpRequest, obj: Model | None, *, edit: bool = False) -> bool:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return False
        if not request_roles(request):  # a member of no account (read once per request)
            return False
        shown = self.editable_account_ids(request) if edit else self._account_ids(request)
        if obj is None:
            return bool(shown)
        return self._object_account_id(obj) in shown

    def has_module_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return super().has_module_permission(request)
        return self._member_may(request, None)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return self._member_may(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if request.user.is_superuser:
            return super().has_add_permission(request, *args)
        return self._member_may(request, None, edit=True)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return self._member_may(request, obj, edit=True)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return self._member_may(request, obj, edit=True)

    def get_actions(self, request: HttpRequest) -> dict:
        """Actions change what they are given: none for a user whose role changes nothing
        here, and each run on the selected objects this user's role may change (the others
        are left as they were, and said)."""
        actions: dict[str, Any] = super().get_actions(request)
        if request.user.is_superuser:
            return actions
        if not self.has_change_permission(request):
            return {}
        return {
            name: (self._narrowed(func), name, description)
            for name, (func, _, description) in actions.items()
        }

    def _narrowed(self, func: Callable) -> Callable:
        def action(modeladmin: "AccountScopedAdmin", request: HttpRequest, queryset: QuerySet):
            allowed = self.editable(request, queryset)
            left = queryset.count() - allowed.count()
            if left:
                modeladmin.message_user(
                    request,
                    f"{left} of the selected objects belong to accounts where your role may not "
                    "change them: left as they were.",
                    level=messages.WARNING,
                )
            return func(modeladmin, request, allowed)

        return action

    def editable(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """The objects of an action's selection this user's role may change (an action
        runs on what was selected, possibly of several accounts)."""
        if request.user.is_superuser:
            return queryset
        key = f"{self.account_path}__in" if self.account_path else "pk__in"
        return queryset.filter(**{key: self.editable_account_ids(request)})

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        # A date drill-down year that date arithmetic cannot reach (0, 10000, 10^20) is a
        # bad lookup, answered as Django answers others: the list with ?e=1, not a 500.
        if self.date_hierarchy:
            year = request.GET.get(f"{self.date_hierarchy}__year")
            if year is not None and not (
                len(year) <= 4 and year.isdigit() and 1 <= int(year) <= 9998
            ):
                return HttpResponseRedirect(request.path + "?" + ERROR_FLAG + "=1")
        return super().changelist_view(request, extra_context)

    def get_list_filter(self, request: HttpRequest) -> list:
        """Filters on a relation (account, goal, agent...) list only the related objects of
        the rows this user may see, never every account's."""
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and self._is_relation(entry):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def _is_relation(self, path: str) -> bool:
        model = self.model
        for name in path.split("__"):
            field = model._meta.get_field(name)
            if not field.is_relation:
                return False
            model = field.related_model
        return True

    def save_model(self, request: HttpRequest, obj: Model, form: forms.ModelForm, change: bool):
        """A change writes only the fields the form changed (and the auto-updated dates), so
        that it cannot undo what was changed meanwhile elsewhere, such as a key rotated."""
        if not change:
            return super().save_model(request, obj, form, change)
        columns = {f.name for f in obj._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns]
        stamps = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
        obj.save(update_fields=[*changed, *stamps])
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Account and self._scoped(request):
            # the accounts where this user may create or move such an object
            mine = self._account_ids(request)
            if not request.user.is_superuser:
                mine = self.editable_account_ids(request)
            kwargs["queryset"] = Account.objects.filter(pk__in=mine)
        elif db_field.name in self.scoped_relations and self._scoped(request):
            kwargs["queryset"] = db_field.related_model.objects.filter(
                account__in=self._account_ids(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in self.scoped_relations and self._scoped(request):
            kwargs["queryset"] = db_field.related_model.objects.filter(
                account__in=self._account_ids(request)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class BlankNullJSONField(forms.JSONField):
    """A JSON form field that shows a null value as an empty box (Django shows `null`,
    which reads as a value someone typed); an empty box is null, as before."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class CodeGeneratingForm(forms.ModelForm):
    """Admin form whose `code` may be left blank on creation: it is then made from the name.

    Subclasses set `generate_code(account, name) -> str` (a domain service).
    """

    generate_code: Callable[..., str] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "code" in self.fields:
            self.fields["code"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "code" in self.fields and not cleaned.get("code"):
            account = cleaned.get("account")
            name = cleaned.get("name")
            if account is not None and name:
                generate = type(self).generate_code
                if generate is not None:
                    cleaned["code"] = generate(account=account, name=name)
        return cleaned


M = TypeVar("M", bound=Model)


def admin_object_get(
    *,
    request: HttpRequest,
    model: type[M],
    object_id: str,
    change: bool = False,
    role: str | None = None,
) -> tuple["admin.ModelAdmin[M]", M]:
    """The registered ModelAdmin of `model` and its object `object_id`, as the admin's own
    pages would find it for this user (scoping included). Raises Http404 when there is no
    such object for the user, PermissionDenied when the user may not view it (or change
    it, with `change`; or act with `role` in its account, for a page that is not a change
    of the object itself, such as an import through a target)."""
    model_admin = admin.site.get_model_admin(model)
    obj = model_admin.get_object(request, object_id)
    if obj is None:
        raise Http404(f"No such {model._meta.verbose_name}.")
    allowed = model_admin.has_change_permission if change else model_admin.has_view_permission
    if not allowed(request, obj):
        raise PermissionDenied
    if role is not None and not request.user.is_superuser:
        assert isinstance(model_admin, AccountScopedAdmin)  # noqa: S101 - every model of ours
        account_id = model_admin._object_account_id(obj)
        if not role_allows(request_roles(request).get(account_id or 0), role):
            raise PermissionDenied
    return model_admin, obj


def keys_shown_once(
    *,
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    title: str,
    keys: list[tuple[str, str]],
    note: str = "",
    failures: list[str] | None = None,
) -> TemplateResponse:
    """A page that shows new keys once: (label, key) rows. Keys never go into a message
    (messages travel in a cookie) nor into a redirect."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "keys": keys,
        "note": note,
        "failures": failures or [],
    }
    response = TemplateResponse(request, "admin/keys_shown_once.html", context)
    response["Cache-Control"] = "no-store"
    return response
