"""The agent-api endpoint: `POST /{account}/v3/agent-api[/{target-code}]`.

The view parses and authenticates, makes one domain call
(`visitors.execution.visitor_commands_execute`), and renders the Conductrics envelope.
"""

import json

from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from goals.diagnostics import VID_NOT_ALLOWED, goal_outcomes_count
from runtime import reasons
from runtime.authentication import runtime_key_from, target_authenticate
from runtime.cors import cors_headers, origin_allowed, preflight_headers
from runtime.errors import AgentApiError
from runtime.parsing import (
    MAX_BODY_BYTES,
    MAX_COMMANDS,
    body_parse,
    session_parse,
    traits_parse,
    vid_problem,
)
from runtime.rendering import envelope_render
from runtime.schema import agent_api_schema
from runtime.throttling import TargetThrottle
from visitors.config import TargetConf, account_conf
from visitors.execution import visitor_commands_execute
from visitors.request import Visitor

VID_OPTION = "Allow Passing of External Visitor ID"


class AgentApiBase(APIView):
    """Selections and goals of one visitor, in the Conductrics v3 wire format."""

    conductrics_envelope = True
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    throttle_classes: list = []

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        self.target: TargetConf | None = None

    def finalize_response(self, request, response, *args, **kwargs):  # noqa: ANN001, ANN201
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.META.get("HTTP_ORIGIN")
        for name, value in cors_headers(
            target=getattr(self, "target", None), origin=origin
        ).items():
            response[name] = value
        return response

    def _preflight(self, request: Request, account: str, target: str | None = None) -> Response:
        """CORS pre-flight: allowed when an Express target of the account accepts the origin."""
        origin = request.META.get("HTTP_ORIGIN", "")
        conf = account_conf(code=account)
        key = runtime_key_from(request)
        candidates = [
            t
            for t in (conf.targets if conf else ())
            if t.is_express
            and t.enabled
            and (target is None or t.code == target)
            and (key is None or t.api_key == key)
        ]
        if origin and any(
            origin_allowed(origin=origin, allowed=t.allowed_origins) for t in candidates
        ):
            response = Response(status=204)
            for name, value in preflight_headers(origin=origin).items():
                response[name] = value
            return response
        raise AgentApiError(403, "This origin may not call this agent-api.")

    def _run(self, request: Request, account: str, target: str | None) -> Response:
        django_request: HttpRequest = request._request
        length = django_request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise AgentApiError(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
        account_conf_, target_conf = target_authenticate(
            account_code=account, target_code=target, key=runtime_key_from(django_request)
        )
        self.target = target_conf
        origin = django_request.META.get("HTTP_ORIGIN")
        if (
            origin
            and target_conf.is_express
            and not origin_allowed(origin=origin, allowed=target_conf.allowed_origins)
        ):
            self.target = None  # no CORS headers for a refused origin
            raise AgentApiError(
                403, f"Origin {origin} may not call deploy target {target_conf.code}."
            )
        throttle = TargetThrottle(express=target_conf.is_express, key=target_conf.api_key)
        if not throttle.allow_request(django_request, self):
            self.throttled(request, throttle.wait())

        params = django_request.GET
        warnings: list[dict[str, str]] = []
        session = session_parse(params.get("session"))
        try:
            vid = self._vid(params, target_conf, warnings)
        except AgentApiError as exc:
            if exc.status_code == 403:
                _count_refused_goals(account_conf_.id, django_request.body)
            raise
        traits = self._traits(params, target_conf, warnings)
        debug = _debug(params.get("debug"))
        body = body_parse(django_request.body)
        result = visitor_commands_execute(
            account=account_conf_,
            target=target_conf,
            visitor=Visitor(session=session, vid=vid, traits=traits),
            commands=body.commands,
        )
        return Response(
            envelope_render(
                result=result,
                traits=traits,
                warnings=warnings,
                debug_log=result.log if debug else None,
            )
        )

    @extend_schema(exclude=True)
    def options(self, request: Request, *args: object, **kwargs: object) -> Response:
        return self._preflight(request, *args, **kwargs)

    @staticmethod
    def _vid(params, target: TargetConf, warnings: list) -> str | None:  # noqa: ANN001
        if "vid" not in params:
            return None
        raw = params.get("vid", "")
        problem = vid_problem(raw)
        if problem:
            if not target.is_express:
                raise AgentApiError(400, f"The query parameter vid is refused: {problem}.")
            warnings.append(
                {
                    "reason": reasons.VID_INVALID,
                    "detail": f"vid ignored: {problem}; served by session.",
                }
            )
            return None
        if not target.allow_external_vid:
            message = (
                f"Deploy target {target.code} does not allow passing an External Visitor ID: "
                f"enable “{VID_OPTION}” (Data Passing) on {target.code}."
            )
            if not target.is_express:
                raise AgentApiError(403, message)
            warnings.append(
                {"reason": reasons.VID_IGNORED, "detail": message + " Served by session."}
            )
            return None
        return raw

    @staticmethod
    def _traits(params, target: TargetConf, warnings: list) -> tuple[str, ...]:  # noqa: ANN001
        raw = params.get("traits")
        if raw is None:
            return ()
        traits = traits_parse(raw)
        if traits is None:
            message = (
                "traits must be group:value pairs separated by commas, each part 1 to 64 "
                "letters, digits, _ or -."
            )
            if not target.is_express:
                raise AgentApiError(400, f"The query parameter {message}")
            warnings.append(
                {"reason": reasons.TRAITS_INVALID, "detail": f"traits ignored: {message}"}
            )
            return ()
        return traits


class AgentApiView(AgentApiBase):
    """`POST /{account}/v3/agent-api`: the target is the one the key belongs to."""

    @agent_api_schema("agent_api")
    def post(self, request: Request, account: str) -> Response:
        return self._run(request, account, None)


class AgentApiTargetView(AgentApiBase):
    """`POST /{account}/v3/agent-api/{target-code}`: the key must be that target's."""

    @agent_api_schema("agent_api_target")
    def post(self, request: Request, account: str, target: str) -> Response:
        return self._run(request, account, target)


def _count_refused_goals(account_id: int, raw: bytes) -> None:
    """Count the goals of a request refused for its vid, for the goal diagnostics."""
    try:
        data = json.loads(raw) if len(raw) <= MAX_BODY_BYTES else []
    except (ValueError, RecursionError):
        return
    commands = data.get("commands") if isinstance(data, dict) else data
    codes = [
        c["g"]
        for c in (commands if isinstance(commands, list) else [])[:MAX_COMMANDS]
        if isinstance(c, dict) and isinstance(c.get("g"), str) and len(c["g"]) <= 64
    ]
    goal_outcomes_count(
        account_id=account_id,
        outcomes=[(code, VID_NOT_ALLOWED) for code in codes],
        now=timezone.now(),
    )


def _debug(raw: str | None) -> bool:
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise AgentApiError(400, "The query parameter debug must be true or false.")
