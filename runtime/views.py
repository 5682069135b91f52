"""The agent-api endpoints: `POST /{account}/v3/agent-api[/{target-code}]`, and the Express
target's bundle `GET /{account}/v3/agent-api/js/{target-code}` (`runtime.bundle`).

A thin DRF view: DRF authenticates the runtime key (`RuntimeKeyAuthentication`), checks
the origin (`OriginAllowed`) and throttles (`TargetThrottle`); the view parses the request
(`request_parse`), makes one domain call (`visitors.execution.visitor_commands_execute`)
and renders the Conductrics envelope. A pre-flight (OPTIONS) is its own small view,
`runtime.cors.preflight`. Every answer is counted (`runtime.metrics`) and, once the key
opened a target, noted for its install page (`runtime.recent`), with its reason.
"""

import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from runtime import reasons
from runtime.authentication import (
    KEY_HEADER_NAME,
    RuntimeAuth,
    RuntimeKeyAuthentication,
    runtime_auth_of,
)
from runtime.bundle import BUNDLE_NOTE, bundle_rendered, etag_matches
from runtime.cors import OriginAllowed, cors_headers, preflight, request_origin
from runtime.errors import AgentApiError
from runtime.metrics import agent_api_observe
from runtime.parsing import (
    MAX_BATCH_BYTES,
    MAX_BODY_BYTES,
    VidRefused,
    body_size_check,
    events_parse,
    request_parse,
)
from runtime.reasons import Refusal
from runtime.recent import recent_request_note
from runtime.rendering import bad_event_item, batch_item, batch_render, envelope_render
from runtime.schema import agent_api_schema, bundle_schema, goal_events_schema
from runtime.throttling import TargetThrottle
from targeting.useragent import trait_log
from visitors.batch import BadEvent, BatchEvent, goal_events_record
from visitors.execution import invalid_events_count, vid_refused_count, visitor_commands_execute


class AlwaysJson(BaseContentNegotiation):
    """The agent-api answers JSON whatever `Accept` or `?format=` asks (SPEC §10): a goal
    is never dropped for a header, and `format` is no parameter of the wire format."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class AgentApiBase(APIView):
    """Selections and goals of one visitor, in the Conductrics v3 wire format."""

    conductrics_envelope = True
    authentication_classes = [RuntimeKeyAuthentication]
    permission_classes = [OriginAllowed]
    throttle_classes = [TargetThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJson
    parser_classes: list[type[BaseParser]] = []
    runtime: RuntimeAuth | None = None  # set once the key is authenticated
    refusal: Refusal | None = None  # set by the exception handler when the request is refused
    commands = 0
    note_reasons: list[str] | None = None  # what the install page notes, when not the answer's
    max_body_bytes = MAX_BODY_BYTES

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        started = time.perf_counter()
        response: HttpResponseBase
        if request.method == "OPTIONS":
            response = preflight(request, **kwargs)
            ok = response.status_code == 204
            reason = reasons.PREFLIGHT if ok else reasons.THROTTLED.code
        else:
            response = super().dispatch(request, *args, **kwargs)
            reason = self.refusal.code if self.refusal else reasons.ANSWERED
        agent_api_observe(
            kind=self.runtime.target.kind if self.runtime else None,
            status=response.status_code,
            reason=reason,
            seconds=time.perf_counter() - started,
        )
        if self.runtime is not None:  # a request that reached a target: its install page
            recent_request_note(
                account_id=self.runtime.account.id,
                target_id=self.runtime.target.id,
                at=timezone.now(),
                status=response.status_code,
                reasons=[reason]
                if self.refusal
                else (self.note_reasons or _warning_codes(response)),
                commands=self.commands,
            )
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            # 405 before the key is read: a method no key could make work (SPEC §10)
            raise exceptions.MethodNotAllowed(request.method or "")
        body_size_check(request.META.get("CONTENT_LENGTH"), self.max_body_bytes)
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        self.runtime = runtime_auth_of(request)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        target = self.runtime.target if self.runtime else None
        for name, value in cors_headers(target=target, origin=request_origin(request)).items():
            response[name] = value
        return response

    def _run(self, request: Request) -> Response:
        runtime = runtime_auth_of(request)
        account, target = runtime.account, runtime.target
        http = request._request
        try:
            parsed = request_parse(
                params=http.GET,
                body=http.body,
                target=target,
                user_agent=http.META.get("HTTP_USER_AGENT"),
            )
        except VidRefused as exc:
            vid_refused_count(account=account, goal_codes=exc.goals)
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


def _warning_codes(response: HttpResponseBase) -> list[str]:
    """The reason codes of an answer's warnings and refused goals (codes of a fixed
    vocabulary: nothing a client sent)."""
    data = getattr(response, "data", None) or {}
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
        runtime = runtime_auth_of(request)
        account_conf_, target_conf = runtime.account, runtime.target
        if not target_conf.is_express:
            raise AgentApiError(
                reasons.BUNDLE_OF_REST_TARGET,
                f"Deploy target {target_conf.code} is a REST target: bundles are for Express "
                "targets, whose pages decide in the browser.",
            )
        bundle = bundle_rendered(account=account_conf_, target=target_conf)
        if etag_matches(request.META.get("HTTP_IF_NONE_MATCH"), bundle.etag):
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(bundle.body, content_type="application/json")
        self.note_reasons = [BUNDLE_NOTE]
        response["ETag"] = bundle.etag
        response["Cache-Control"] = f"public, max-age={settings.LOCAL_BUNDLE_MAX_AGE_SECONDS}"
        # a shared cache keeps one copy per origin, and per key when the key came in a
        # header (in the URL, the URL itself tells keys apart)
        patch_vary_headers(response, ["Origin", KEY_HEADER_NAME])
        return response


class GoalEventsView(AgentApiBase):
    """`POST /{account}/v3/goal-events[/{target-code}]`: up to 1,000 goal events of many
    visitors from a REST target's back office (SPEC §4c), each judged as the same goal
    sent alone would be, recorded together or not at all, with a verdict per event."""

    max_body_bytes = MAX_BATCH_BYTES
    _events: list[BatchEvent | BadEvent] | None = None

    def _parsed(self, request: Request) -> list[BatchEvent | BadEvent]:
        if self._events is None:
            self._events = events_parse(request._request.body)
        return self._events

    def throttle_weight(self, request: Request) -> int:
        """Each event counts one against the REST rate (an Express key: refused after)."""
        if runtime_auth_of(request).target.is_express:
            return 1
        return max(1, len(self._parsed(request)))

    def _record(self, request: Request) -> Response:
        runtime = runtime_auth_of(request)
        if runtime.target.is_express:
            raise AgentApiError(
                reasons.BATCH_OF_EXPRESS_TARGET,
                f"Deploy target {runtime.target.code} is an Express target, whose key is "
                "public: goal events are sent in batches with a REST target's key.",
            )
        parsed = self._parsed(request)
        self.commands = len(parsed)
        good = [event for event in parsed if isinstance(event, BatchEvent)]
        results = iter(
            goal_events_record(account=runtime.account, target=runtime.target, events=good)
        )
        items = []
        bad_goals = []
        for i, event in enumerate(parsed):
            if isinstance(event, BadEvent):
                items.append(bad_event_item(event, i))
                bad_goals.append(event.goal)
            else:
                items.append(batch_item(next(results), i))
        invalid_events_count(account=runtime.account, goal_codes=bad_goals)
        return Response(batch_render(items))

    @goal_events_schema("goal_events")
    def post(self, request: Request, account: str) -> Response:
        return self._record(request)


class GoalEventsTargetView(GoalEventsView):
    """`POST /{account}/v3/goal-events/{target-code}`: the key must be that target's."""

    @goal_events_schema("goal_events_target")
    def post(self, request: Request, account: str, target: str) -> Response:
        return self._record(request)
