"""Admin of accounts, their staff and their admin API keys."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin_members import add_member_view
from accounts.admin_scoping import (
    AccountScopedAdmin,
    admin_object_get,
    keys_shown_once,
    request_roles,
)
from accounts.audit import (
    AUDIT_PAGE_SIZE,
    AuditedAdmin,
    audit_entries_of_account,
    audit_html,
)
from accounts.models import Account, AdminApiKey, Membership
from accounts.roles import KeyScope, Role, role_allows
from accounts.services import admin_key_create, admin_key_revoke

admin.site.site_header = "Conductrics self-hosted"
admin.site.site_title = "Conductrics self-hosted"
admin.site.index_title = "Experiments"


def _owner_of(request: HttpRequest, account: Account | None) -> bool:
    """Whether this user may change the account's members and keys: an owner of it."""
    if request.user.is_superuser:
        return True
    if account is None:
        return False
    return role_allows(request_roles(request).get(account.pk), Role.OWNER)


class _KeepsAnOwner(forms.BaseInlineFormSet):
    """An owner cannot leave the account without one (demoting or removing the last,
    themselves included): only a superuser could give it one again."""

    superuser = False

    def clean(self) -> None:
        super().clean()
        if self.superuser or any(form.errors for form in self.forms):
            return
        kept = [
            form.cleaned_data.get("role")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if Role.OWNER not in kept:
            raise forms.ValidationError(
                f"{self.instance.code} needs an owner: make another member an owner first."
            )


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = _KeepsAnOwner
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name_plural = (
        "staff members and their roles (viewer: reads; editor: agents, goals, groups, imports, "
        "replays; owner: also targets, keys, members, settings)"
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None):
        # an owner changes roles and removes members here, and adds one by user name on
        # the account's "Add a member" page (picking among every staff user of the site
        # is the superuser's)
        return ["created_at"] if request.user.is_superuser else ["user", "created_at"]

    def get_formset(self, request: HttpRequest, obj: Account | None = None, **kwargs: Any):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"superuser": request.user.is_superuser})

    def has_add_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return _owner_of(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _owner_of(request, obj if isinstance(obj, Account) else None)

    def has_view_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return True


class AdminApiKeyInline(admin.TabularInline):
    model = AdminApiKey
    extra = 0
    fields = readonly_fields = (
        "prefix", "name", "scope", "expires_at", "created_at", "last_used_at", "revoked_at",
    )  # fmt: skip
    can_delete = False
    verbose_name_plural = "admin API keys (create one with the actions on the account list)"

    def has_add_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(AuditedAdmin, AccountScopedAdmin):
    edit_role = Role.OWNER  # SPEC §6b: deploy targets, keys, members, settings, raw data
    account_path = ""
    list_display = ["code", "name", "attribution_window_hours", "retention_days", "created_at"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline, AdminApiKeyInline]
    actions = ["create_admin_key", "create_read_admin_key"]
    change_form_template = "admin/accounts/account/change_form.html"
    fieldsets = [
        (None, {"fields": ["code", "name"]}),
        ("Attribution and retention", {"fields": ["attribution_window_hours", "retention_days"]}),
        ("Statistics", {"fields": ["mde_rel", "sequential_tuning"]}),
        (
            "Adaptive allocation",
            {
                "description": "For agents whose allocation is adaptive: traffic moves toward "
                "the variation most likely to convert best on the agent's first goal "
                "(docs/statistics.md).",
                "fields": ["adaptive_period_minutes", "adaptive_floor", "adaptive_burn_in"],
            },
        ),
        ("Goals from servers", {"fields": ["match_rate_min"]}),
        ("Security", {"fields": ["require_two_factor"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> list[str]:
        # Codes appear in every runtime URL: changing one would break the sites using it.
        return ["code"] if obj else []

    def get_urls(self):
        audit = path(
            "<path:object_id>/audit-log/",
            self.admin_site.admin_view(self.audit_log_view),
            name="accounts_account_audit_log",
        )
        add_member = path(
            "<path:object_id>/add-member/",
            self.admin_site.admin_view(add_member_view),
            name="accounts_account_add_member",
        )
        return [audit, add_member, *super().get_urls()]

    def audit_log_view(self, request: HttpRequest, object_id: str) -> TemplateResponse:
        """The account's audit log: its last configuration changes, who made them, when,
        and each value before and after."""
        _, account = admin_object_get(request=request, model=Account, object_id=object_id)
        pages = Paginator(audit_entries_of_account(account.pk), AUDIT_PAGE_SIZE)
        page = pages.get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": account,
            "title": f"Audit log of {account.code}",
            "entries": audit_html(list(page.object_list), limit=AUDIT_PAGE_SIZE, with_object=True),
            "page": page,
        }
        return TemplateResponse(request, "admin/accounts/account/audit_log.html", context)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    @admin.action(description="Create an admin API key of scope write (shown once)")
    def create_admin_key(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> TemplateResponse:
        return self._keys_created(request, queryset, KeyScope.WRITE)

    @admin.action(description="Create a read-only admin API key (shown once)")
    def create_read_admin_key(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> TemplateResponse:
        return self._keys_created(request, queryset, KeyScope.READ)

    def _keys_created(
        self, request: HttpRequest, queryset: QuerySet[Account], scope: KeyScope
    ) -> TemplateResponse:
        name = f"created by {request.user}"
        keys = [
            (
                f"{account.code} ({scope})",
                admin_key_create(account=account, name=name, scope=scope)[1],
            )
            for account in queryset
        ]
        return keys_shown_once(
            request=request,
            model_admin=self,
            title="New admin API keys",
            keys=keys,
            note="Only their hash is stored: a lost key cannot be shown again, only revoked. "
            "An expiry can be set on the key's page.",
        )


@admin.register(AdminApiKey)
class AdminApiKeyAdmin(AccountScopedAdmin):
    edit_role = Role.OWNER  # SPEC §6b: deploy targets, keys, members, settings, raw data
    list_display = [
        "prefix", "account", "name", "scope", "expires_at", "created_at", "last_used_at",
        "revoked_at",
    ]  # fmt: skip
    list_filter = ["account", "scope"]
    search_fields = ["prefix", "name", "account__code"]
    fields = [
        "account", "prefix", "name", "scope", "expires_at", "created_at", "last_used_at",
        "revoked_at",
    ]  # fmt: skip
    readonly_fields = ["account", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # keys are created by the account action, which shows the key once

    @admin.action(description="Revoke the selected admin API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AdminApiKey]) -> None:
        for key in queryset:
            admin_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
