"""Every refusal of a whole agent-api request carries its named reason (runtime/reasons.py):
the answer's status is the reason's, the metrics count the reason, and the install page's
recent requests show it once the key opened a target."""

import pytest
from prometheus_client import REGISTRY

from runtime import reasons
from targets.models import RecentRequest

SHOP = "https://shop.example"
BIG = b'{"commands": []}' + b" " * (64 * 1024)


def _counted(kind: str, refusal: reasons.Refusal) -> float:
    labels = {"kind": kind, "status": str(refusal.status), "reason": refusal.code}
    return REGISTRY.get_sample_value("conductrics_agent_api_requests_total", labels) or 0.0


def _key_missing(api, express_target, rest_target, client):
    return api.call(express_target, [], key="")


def _key_unknown(api, express_target, rest_target, client):
    return api.call(express_target, [], key="api-" + "u" * 32)


def _wrong_account(api, express_target, rest_target, client):
    return api.call(express_target, [], account="ac-other")


def _wrong_target(api, express_target, rest_target, client):
    return api.call(express_target, [], path_target="dt-server")


def _target_disabled(api, express_target, rest_target, client):
    express_target.enabled = False
    express_target.save()
    return api.call(express_target, [])


def _origin_refused(api, express_target, rest_target, client):
    express_target.allowed_origins = [SHOP]
    express_target.save()
    return api.call(express_target, [], headers={"origin": "https://evil.example"})


def _vid_not_allowed(api, express_target, rest_target, client):
    rest_target.allow_external_vid = False
    rest_target.save()
    return api.call(rest_target, [{"g": "g-purchase"}], vid="v-1")


def _bad_request(api, express_target, rest_target, client):
    return api.call(express_target, None, raw="not json")


def _body_too_large(api, express_target, rest_target, client):
    return api.call(express_target, None, raw=BIG)


def _throttled(api, express_target, rest_target, client):
    for _ in range(2):
        response = api.call(rest_target, [])
    return response


def _method_not_allowed(api, express_target, rest_target, client):
    return client.put(f"/ac-acme/v3/agent-api?apikey={express_target.api_key}&session=s")


def _bundle_of_rest_target(api, express_target, rest_target, client):
    return client.get(f"/ac-acme/v3/agent-api/js/dt-server?apikey={rest_target.api_key}")


def _batch_of_express_target(api, express_target, rest_target, client):
    return client.post(
        f"/ac-acme/v3/goal-events?apikey={express_target.api_key}",
        b'{"events": []}', content_type="application/json",
    )  # fmt: skip


# (the refusal, the call that earns it, the target kind it is counted under, whether the
# key opened a target so that the install page notes it)
CASES = [
    (reasons.KEY_MISSING, _key_missing, "unauthenticated", False),
    (reasons.KEY_UNKNOWN, _key_unknown, "unauthenticated", False),
    (reasons.WRONG_ACCOUNT, _wrong_account, "unauthenticated", False),
    (reasons.WRONG_TARGET, _wrong_target, "unauthenticated", False),
    (reasons.TARGET_DISABLED, _target_disabled, "unauthenticated", False),
    (reasons.ORIGIN_REFUSED, _origin_refused, "express", True),
    (reasons.VID_NOT_ALLOWED, _vid_not_allowed, "rest", True),
    (reasons.BAD_REQUEST, _bad_request, "express", True),
    (reasons.BODY_TOO_LARGE, _body_too_large, "unauthenticated", False),
    (reasons.THROTTLED, _throttled, "rest", True),
    (reasons.METHOD_NOT_ALLOWED, _method_not_allowed, "unauthenticated", False),
    (reasons.BUNDLE_OF_REST_TARGET, _bundle_of_rest_target, "rest", True),
    (reasons.BATCH_OF_EXPRESS_TARGET, _batch_of_express_target, "express", True),
]


@pytest.mark.parametrize(
    ("refusal", "send", "kind", "noted"), CASES, ids=[case[0].code for case in CASES]
)
def test_refusal__status_metrics_and_install_page_name_its_reason(
    refusal, send, kind, noted, api, client, agent, express_target, rest_target, other_account,
    settings,
):  # fmt: skip
    settings.AGENT_API_REST_RATE = "1/min"
    before = _counted(kind, refusal)
    response = send(api, express_target, rest_target, client)
    assert response.status_code == refusal.status, response.content
    assert response.json() == {"status": refusal.status, "err": response.json()["err"]}
    assert _counted(kind, refusal) - before == 1
    notes = list(RecentRequest.objects.filter(status=refusal.status).values_list("reasons"))
    assert notes == ([(refusal.code,)] if noted else [])


def test_every_refusal__tested_above__codes_and_statuses_distinct():
    assert {case[0] for case in CASES} | {reasons.DATABASE_UNAVAILABLE} == (set(reasons.REFUSALS))
    assert len({r.code for r in reasons.REFUSALS}) == len(reasons.REFUSALS)


def test_preflight__counted_as_preflight_or_throttled(client, express_target, settings):
    settings.AGENT_API_EXPRESS_RATE = "1/min"
    labels = {"kind": "unauthenticated", "status": "204", "reason": reasons.PREFLIGHT}
    before = REGISTRY.get_sample_value("conductrics_agent_api_requests_total", labels) or 0.0
    throttled_before = _counted("unauthenticated", reasons.THROTTLED)
    for origin in (SHOP, "https://evil.example"):
        client.options("/ac-acme/v3/agent-api", headers={"origin": origin})
    after = REGISTRY.get_sample_value("conductrics_agent_api_requests_total", labels)
    assert after - before == 1
    assert _counted("unauthenticated", reasons.THROTTLED) - throttled_before == 1
