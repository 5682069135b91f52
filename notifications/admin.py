"""Webhooks in the admin (owners set them, SPEC §6b): the events, the share that triggers
`rest_goals`, the secret, a delivery log and a "Send a test" button (the test is queued
for the worker like any delivery, never sent by the request)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.admin_scoping import AccountScopedAdmin, admin_object_get
from accounts.audit import AuditedAdmin
from accounts.roles import Role
from notifications.choices import SUBSCRIBABLE, DeliveryStatus, WebhookEvent
from notifications.models import Delivery, Webhook, secret_new
from notifications.services import notify

DELIVERIES_SHOWN = 50


class WebhookForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 70}),
        help_text=Webhook._meta.get_field("url").help_text,
    )
    events = forms.MultipleChoiceField(
        choices=[(e.value, e.label) for e in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[e.value for e in SUBSCRIBABLE],  # a new webhook is sent every event
        help_text="What is sent to this URL.",
    )

    class Meta:
        model = Webhook
        fields = ["account", "name", "url", "events", "rest_share", "enabled"]


def _next_try(delivery: Delivery) -> str:
    pending = delivery.status == DeliveryStatus.PENDING
    return f"next try {delivery.next_attempt_at:%H:%M:%S} UTC" if pending else ""


@admin.register(Webhook)
class WebhookAdmin(AuditedAdmin, AccountScopedAdmin):
    edit_role = Role.OWNER  # SPEC §6b: owners set webhooks
    form = WebhookForm
    change_form_template = "admin/notifications/webhook/change_form.html"
    list_display = ["name", "account", "url", "enabled", "last_delivery"]
    list_filter = ["account", "enabled"]
    search_fields = ["name", "url", "account__code"]
    actions = ["rotate_secret"]

    def get_fields(self, request: HttpRequest, obj: Webhook | None = None) -> Any:
        fields = ["account", "name", "url", "events", "rest_share", "enabled"]
        if obj is None:
            return fields
        owner = self.has_change_permission(request, obj)
        return [*fields, *(["secret"] if owner else []), "delivery_log"]

    def get_readonly_fields(self, request: HttpRequest, obj: Webhook | None = None) -> list[str]:
        return ["account", "secret", "delivery_log"] if obj else []

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("account")

    @admin.display(description="last delivery")
    def last_delivery(self, obj: Webhook) -> str:
        last = obj.deliveries.order_by("-id").first()
        if last is None:
            return "—"
        return f"{last.event}: {last.get_status_display()} ({last.attempts} attempt(s))"

    @admin.display(description="deliveries (newest first)")
    def delivery_log(self, obj: Webhook) -> SafeString:
        rows = list(obj.deliveries.order_by("-id")[:DELIVERIES_SHOWN])
        if not rows:
            return format_html("<p>{}</p>", "Nothing sent yet: try “Send a test”.")
        body = format_html_join(
            "",
            '<tr data-status="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    d.status,
                    d.pk,
                    f"{d.created_at:%Y-%m-%d %H:%M:%S}",
                    d.event,
                    d.get_status_display(),
                    d.attempts,
                    d.last_status_code or "—",
                    d.last_error or _next_try(d),
                )
                for d in rows
            ),
        )
        return format_html(
            '<table class="delivery-log"><thead><tr><th>#</th><th>Created (UTC)</th>'
            "<th>Event</th><th>Status</th><th>Attempts</th><th>Last HTTP status</th>"
            "<th>Last error</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    def get_urls(self) -> list:
        test = path(
            "<path:object_id>/test/",
            self.admin_site.admin_view(self.send_test_view),
            name="notifications_webhook_test",
        )
        return [test, *super().get_urls()]

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: queue a test delivery to this webhook (owners)."""
        _, webhook = admin_object_get(
            request=request, model=Webhook, object_id=object_id, change=True
        )
        change = reverse("admin:notifications_webhook_change", args=[webhook.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change)
        notify(
            account=webhook.account,
            event=WebhookEvent.TEST,
            data={"message": f"A test sent by {request.user.get_username()} from the admin."},
            only=webhook,
        )
        messages.success(
            request,
            "Test queued: the worker sends it within seconds; its outcome shows below (reload).",
        )
        return HttpResponseRedirect(change)

    @admin.action(description="Give the selected webhooks a new secret")
    def rotate_secret(self, request: HttpRequest, queryset: Any) -> None:
        for webhook in queryset:
            webhook.secret = secret_new()
            webhook.save(update_fields=["secret"])
        self.message_user(
            request, f"{queryset.count()} webhook(s) have a new secret.", messages.SUCCESS
        )
