"""Management API: a visitor's raw data under `/api/{account}/visitors/`."""

from typing import Any

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_auth import AccountAPIView
from accounts.roles import Role
from visitors.purge import visitor_erase


class VisitorErased(serializers.Serializer[Any]):
    assignments = serializers.IntegerField()
    goal_events = serializers.IntegerField()
    credits = serializers.IntegerField()
    links = serializers.IntegerField(
        help_text="Its person's linked ids, all erased with their data."
    )


class VisitorView(AccountAPIView):
    write_role = Role.OWNER  # erasing raw data: owners (SPEC §6b)

    @extend_schema(
        tags=["visitors"],
        summary="Erase a visitor's raw data (as purge_visitor); reports are unchanged.",
        responses={200: VisitorErased},
    )
    def delete(self, request: Request, account: str, vid: str) -> Response:
        counts = visitor_erase(account=self.account, vid=vid)
        return Response(
            {
                "assignments": counts.assignments,
                "goal_events": counts.goal_events,
                "credits": counts.credits,
                "links": counts.links,
            }
        )


urlpatterns = [
    # a vid may hold "/" (WSGI decodes %2F too); one trailing "/" is the URL's own
    re_path(r"^visitors/(?P<vid>[\s\S]+?)/?$", VisitorView.as_view(), name="api-visitor"),
]
