"""The agent-api endpoints: `POST /{account}/v3/agent-api[/{target-code}]`, and the Express
target's bundle `GET /{account}/v3/agent-api/js/{target-code}` (`runtime.bundle`).

A thin DRF view: DRF authenticates the runtime key (`RuntimeKeyAuthentication`), checks
the origin (`OriginAllowed`) and throttles (`TargetThrottle`); the view parses the request
(`request_parse`), makes one domain call (`visitors.execution.visitor_commands_execute`)
and renders the Conductrics envelope. A pre-flight (OPTIONS) is answered by
`runtime.cors` alone.
"""

import time

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from goals.diagnostics import VID_NOT_ALLOWED, goal_outcomes_count
from runtime.authentication import RuntimeAuth, RuntimeKeyAuthentication, runtime_key_from
from runtime.bundle import BUNDLE_NOTE, bundle_rendered, etag_matches
from runtime.cors import OriginAllowed, cors_headers, preflight_headers, request_origin
from runtime.errors import AgentApiError
from runtime.metrics import REASONS, agent_api_observe
from runtime.parsing import MAX_BODY_BYTES, VidRefused, request_parse
from runtime.recent import recent_request_note
from runtime.rendering import envelope_render
from runtime.schema import agent_api_schema, bundle_schema
from runtime.throttling import TargetThrottle
from targeting.useragent import trait_log
from visitors.config import account_conf
from visitors.execution import visitor_commands_execute
from visitors.metrics import goal_outcomes_observe


class AgentApiBase(APIView):
    """Selections and goals of one visitor, in the Conductrics v3 wire format."""

    conductrics_envelope = True
    authentication_classes = [RuntimeKeyAuthentication]
    permission_classes = [OriginAllowed]
    throttle_classes = [TargetThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    runtime: RuntimeAuth | None = None  # set once the key is authenticated
    note_reasons: list[str] | None = None  # what the install page notes, when not the answer's

    def _is_preflight(self) -> bool:
        return getattr(self.request, "method", None) == "OPTIONS"

    def get_authenticators(self) -> list:
        return [] if self._is_preflight() else super().get_authenticators()

    def get_permissions(self) -> list:
        return [] if self._is_preflight() else super().get_permissions()

    def get_throttles(self) -> list:
        return [] if self._is_preflight() else super().get_throttles()

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            # 405 before the key is read: a method no key could make work (SPEC §10)
            raise exceptions.MethodNotAllowed(request.method)
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise AgentApiError(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        if not self._is_preflight():
            self.runtime = request.auth

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        self.commands = 0
        response = super().dispatch(request, *args, **kwargs)
        agent_api_observe(
            kind=self.runtime.target.kind if self.runtime else None,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        if self.runtime is not None:  # a request that reached a target: its install page
            recent_request_note(
                target_id=self.runtime.target.id,
                at=timezone.now(),
                status=response.status_code,
                reasons=self.note_reasons or _reason_codes(response),
                commands=self.commands,
            )
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        target = self.runtime.target if self.runtime else None
        for name, value in cors_headers(target=target, origin=request_origin(request)).items():
            response[name] = value
        return response

    @extend_schema(exclude=True)
    def options(self, request: Request, account: str, target: str | None = None) -> Response:
        headers = preflight_headers(
            account=account_conf(code=account),
            target_code=target,
            key=runtime_key_from(request._request),
            origin=request_origin(request) or "",
        )
        return Response(status=204, headers=headers)

    def _run(self, request: Request) -> Response:
        account, target = self.runtime.account, self.runtime.target
        django_request = request._request
        try:
            parsed = request_parse(
                params=django_request.GET,
                body=django_request.body,
                target=target,
                user_agent=django_request.META.get("HTTP_USER_AGENT"),
            )
        except VidRefused as exc:
            refused = [code for code in exc.goals if code in account.goals]
            goal_outcomes_count(
                account_id=account.id,
                outcomes=[(code, VID_NOT_ALLOWED) for code in refused],
                now=timezone.now(),
            )
            goal_outcomes_observe([VID_NOT_ALLOWED] * len(refused))
            raise
        self.commands = len(parsed.commands)
        result = visitor_commands_execute(
            account=account,
            target=target,
            visitor=parsed.visitor,
            commands=parsed.commands,
            explain=parsed.debug,
        )
        return Response(
            envelope_render(
                result=result,
                traits=parsed.visitor.traits,
                warnings=parsed.warnings,
                debug_log=trait_log(parsed.derived_traits) + result.log if parsed.debug else None,
            )
        )


def _reason_codes(response: Response) -> list[str]:
    """The reason codes of an answer: its warnings' and refused goals' on a 200, the
    status's reason otherwise (codes of a fixed vocabulary: nothing a client sent)."""
    data = getattr(response, "data", None) or {}
    if response.status_code != 200:
        return [REASONS.get(response.status_code, "other")]
    body = data.get("data", {}) if isinstance(data, dict) else {}
    return [w.get("reason", "") for w in body.get("warnings", [])]


class AgentApiView(AgentApiBase):
    """`POST /{account}/v3/agent-api`: the target is the one the key belongs to."""

    @agent_api_schema("agent_api")
    def post(self, request: Request, account: str) -> Response:
        return self._run(request)


class AgentApiTargetView(AgentApiBase):
    """`POST /{account}/v3/agent-api/{target-code}`: the key must be that target's."""

    @agent_api_schema("agent_api_target")
    def post(self, request: Request, account: str, target: str) -> Response:
        return self._run(request)


class AgentApiBundleView(AgentApiBase):
    """`GET /{account}/v3/agent-api/js/{target-code}`: the Express target's bundle (SPEC §5),
    for decisions in the browser. The key must be that target's."""

    @bundle_schema
    def get(self, request: Request, account: str, target: str) -> HttpResponse:
        account_conf_, target_conf = self.runtime.account, self.runtime.target
        if not target_conf.is_express:
            raise AgentApiError(
                400,
                f"Deploy target {target_conf.code} is a REST target: bundles are for Express "
                "targets, whose pages decide in the browser.",
            )
        bundle = bundle_rendered(account=account_conf_, target=target_conf)
        if etag_matches(request._request.META.get("HTTP_IF_NONE_MATCH"), bundle.etag):
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(bundle.body, content_type="application/json")
        self.note_reasons = [BUNDLE_NOTE]
        response["ETag"] = bundle.etag
        response["Cache-Control"] = f"public, max-age={settings.LOCAL_BUNDLE_MAX_AGE_SECONDS}"
        patch_vary_headers(response, ["Origin"])  # a shared cache keeps one copy per origin
        return response
