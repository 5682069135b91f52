"""Management API: webhooks under `/api/{account}/webhooks/` (owners write them; the
secret is answered to owners and write keys only), their delivery log and a test."""

import re
from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView, caller_role
from accounts.roles import Role, role_allows
from conductrics_admin.api_base import StrictSerializer, domain_call, moment_json
from notifications.choices import SUBSCRIBABLE, WebhookEvent
from notifications.models import WEBHOOK_URL_RE, WEBHOOK_URL_RULE, Delivery, Webhook
from notifications.services import notify, webhook_save

DELIVERIES_LISTED = 100
ID_MAX = 10**18 - 1
ID_PARAM = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    OpenApiParameter.PATH,
    description="The webhook's id.",
)
EVENTS_HELP = "What is sent: " + ", ".join(f"{e.value} ({e.label})" for e in SUBSCRIBABLE) + "."
URL_HELP = f"An http or https URL: {WEBHOOK_URL_RULE}."
URL_ERRORS: dict[str, Any] = {"invalid": f"A webhook's URL is {WEBHOOK_URL_RULE}."}
SHARE_HELP = Webhook._meta.get_field("rest_share").help_text


@extend_schema_field(
    {
        "type": "array",
        "uniqueItems": True,
        "items": {"type": "string", "enum": [e.value for e in SUBSCRIBABLE]},
    }
)
class EventsField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=serializers.ChoiceField(choices=[e.value for e in SUBSCRIBABLE]), **kwargs
        )

    def to_internal_value(self, data: Any) -> list[str]:
        events = super().to_internal_value(data)
        if len(set(events)) != len(events):
            raise serializers.ValidationError("Each event once.")
        return list(events)


class WebhookOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    rest_share = serializers.FloatField()
    enabled = serializers.BooleanField()
    secret = serializers.CharField(
        allow_null=True, help_text="To owners and write keys only (else null)."
    )


class WebhookIn(StrictSerializer):
    name = serializers.CharField(max_length=200)
    url = serializers.RegexField(
        WEBHOOK_URL_RE, max_length=2000, help_text=URL_HELP, error_messages=URL_ERRORS
    )
    events = EventsField(required=False, default=lambda: [e.value for e in SUBSCRIBABLE],
                         help_text=EVENTS_HELP)  # fmt: skip
    rest_share = serializers.FloatField(
        required=False, default=0.05, min_value=0, max_value=1, help_text=SHARE_HELP
    )
    enabled = serializers.BooleanField(required=False, default=True)


class WebhookPatch(WebhookIn):
    name = serializers.CharField(max_length=200, required=False)
    url = serializers.RegexField(
        WEBHOOK_URL_RE, max_length=2000, required=False, help_text=URL_HELP,
        error_messages=URL_ERRORS,
    )  # fmt: skip
    events = EventsField(required=False, help_text=EVENTS_HELP)
    rest_share = serializers.FloatField(
        required=False, min_value=0, max_value=1, help_text=SHARE_HELP
    )
    enabled = serializers.BooleanField(required=False)


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    delivered_at = serializers.DateTimeField(allow_null=True)


def _sees_secret(request: Request) -> bool:
    return role_allows(caller_role(request), Role.OWNER)


def webhook_json(webhook: Webhook, *, secret: bool) -> dict[str, Any]:
    return {
        "id": webhook.pk,
        "name": webhook.name,
        "url": webhook.url,
        "events": list(webhook.events or []),
        "rest_share": webhook.rest_share,
        "enabled": webhook.enabled,
        "secret": webhook.secret if secret else None,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": moment_json(delivery.created_at),
        "last_attempt_at": moment_json(delivery.last_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": moment_json(delivery.delivered_at),
    }


def webhook_of(account: Any, pk: str) -> Webhook:
    """The webhook `pk` of `account`; a 404 (JSON, as every answer of the API) for any
    other id, a malformed one included."""
    if not re.fullmatch(r"[0-9]{1,18}", pk) or not 1 <= int(pk) <= ID_MAX:
        raise Http404("No such webhook.")
    return get_object_or_404(Webhook, account=account, pk=int(pk))


class WebhookListView(AccountAPIView):
    write_role = Role.OWNER  # webhooks: owners (SPEC §6b)

    @extend_schema(tags=["webhooks"], responses={200: WebhookOut(many=True)})
    def get(self, request: Request, account: str) -> Response:
        secret = _sees_secret(request)
        hooks = self.account.webhooks.order_by("id")
        return Response([webhook_json(w, secret=secret) for w in hooks])

    @extend_schema(tags=["webhooks"], request=WebhookIn, responses={201: WebhookOut})
    def post(self, request: Request, account: str) -> Response:
        data = WebhookIn(data=request.data)
        data.is_valid(raise_exception=True)
        hook = domain_call(
            lambda: webhook_save(Webhook(account=self.account), **data.validated_data)
        )
        return Response(webhook_json(hook, secret=True), status=status.HTTP_201_CREATED)


class WebhookDetailView(AccountAPIView):
    write_role = Role.OWNER

    def _hook(self, pk: str) -> Webhook:
        return webhook_of(self.account, pk)

    @extend_schema(tags=["webhooks"], parameters=[ID_PARAM], responses={200: WebhookOut})
    def get(self, request: Request, account: str, pk: str) -> Response:
        return Response(webhook_json(self._hook(pk), secret=_sees_secret(request)))

    @extend_schema(
        tags=["webhooks"], parameters=[ID_PARAM], request=WebhookPatch, responses={200: WebhookOut}
    )
    def patch(self, request: Request, account: str, pk: str) -> Response:
        hook = self._hook(pk)
        data = WebhookPatch(data=request.data)
        data.is_valid(raise_exception=True)
        hook = domain_call(lambda: webhook_save(hook, **data.validated_data))
        return Response(webhook_json(hook, secret=True))

    @extend_schema(tags=["webhooks"], parameters=[ID_PARAM], responses={204: None})
    def delete(self, request: Request, account: str, pk: str) -> Response:
        self._hook(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(AccountAPIView):
    @extend_schema(
        tags=["webhooks"],
        parameters=[ID_PARAM],
        summary=f"The webhook's last {DELIVERIES_LISTED} deliveries, newest first",
        responses={200: DeliveryOut(many=True)},
    )
    def get(self, request: Request, account: str, pk: str) -> Response:
        hook = webhook_of(self.account, pk)
        rows = hook.deliveries.order_by("-id")[:DELIVERIES_LISTED]
        return Response([delivery_json(d) for d in rows])


class WebhookTestView(AccountAPIView):
    write_role = Role.OWNER

    @extend_schema(
        tags=["webhooks"],
        parameters=[ID_PARAM],
        summary="Queue a test delivery (the worker sends it; see deliveries)",
        request=None,
        responses={202: DeliveryOut},
    )
    def post(self, request: Request, account: str, pk: str) -> Response:
        hook = webhook_of(self.account, pk)
        (delivery,) = notify(
            account=self.account,
            event=WebhookEvent.TEST,
            data={"message": "A test sent through the management API."},
            only=hook,
        )
        return Response(delivery_json(delivery), status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    re_path(r"^webhooks/?$", WebhookListView.as_view(), name="api-webhooks"),
    re_path(r"^webhooks/(?P<pk>[^/]+)/?$", WebhookDetailView.as_view(), name="api-webhook"),
    re_path(
        r"^webhooks/(?P<pk>[^/]+)/deliveries/?$",
        WebhookDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
    re_path(r"^webhooks/(?P<pk>[^/]+)/test/?$", WebhookTestView.as_view(), name="api-webhook-test"),
]
