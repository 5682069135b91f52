"""Bench-only URLconfs: the framework's floor, and the floor of a durable goal (never in
production).

`FloorView` parses the same JSON body as the agent-api and answers a constant, through the
same middleware, settings and server: what any DRF endpoint costs here before doing any
work. `DurableFloorView` does the least any REST goal must do besides: read the visitor's
rows by an index (one round trip) and record one row, committed (another), both prepared
statements on the server (no planning per request), so the ratio of its throughput to the
floor's is the most a goal endpoint can reach on this machine whatever its own code costs.
"""

import json

from django.db import connection
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

CONSTANT = {"status": 200, "data": {"items": [], "sels": {}, "traits": []}}
DURABLE_TABLE = "bench_durable_floor"  # created by bench/agent_api.py


class FloorView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    throttle_classes: list = []

    def post(self, request: Request, account: str) -> Response:
        json.loads(request.body or b"[]")
        return Response(CONSTANT)


class DurableFloorView(FloorView):
    def post(self, request: Request, account: str) -> Response:
        json.loads(request.body or b"[]")
        vid = request.GET.get("vid", "")
        connection.ensure_connection()
        db = connection.connection  # psycopg's, in autocommit: the insert commits itself
        db.execute(
            "SELECT variation_id, created_at FROM agents_assignment WHERE vid = %s",
            [vid],
            prepare=True,
        ).fetchall()
        db.execute(f"INSERT INTO {DURABLE_TABLE} (vid) VALUES (%s)", [vid], prepare=True)
        return Response(CONSTANT)


urlpatterns = [path("<str:account>/v3/agent-api", FloorView.as_view())]
durable_urlpatterns = [path("<str:account>/v3/agent-api", DurableFloorView.as_view())]
