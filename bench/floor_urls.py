"""Bench-only URLconf: the framework's floor, a trivial DRF POST view (never in production).

It parses the same JSON body as the agent-api and answers a constant, through the same
middleware, settings and server: what any DRF endpoint costs here before doing any work.
"""

import json

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

CONSTANT = {"status": 200, "data": {"items": [], "sels": {}, "traits": []}}


class FloorView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    throttle_classes: list = []

    def post(self, request: Request, account: str) -> Response:
        json.loads(request.body or b"[]")
        return Response(CONSTANT)


urlpatterns = [path("<str:account>/v3/agent-api", FloorView.as_view())]
