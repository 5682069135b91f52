"""Property tests: any body and query string gives a proper answer (never a 5xx), and a
refused request records nothing; bucketing is stable and respects the weights."""

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.bucketing import variation_pick
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)
commands = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.sampled_from(["a-hero", "a-none", "", 5]) | st.text(max_size=10),
            "g": st.sampled_from(["g-purchase", "g-none", ""]) | st.text(max_size=10),
            "v": st.floats(allow_nan=True, allow_infinity=True)
            | st.integers()
            | st.text(max_size=3),
            "id": st.text(max_size=140) | st.integers(),
            "c": st.lists(st.sampled_from(["A", "B", "Z"])) | st.text(max_size=3),
            "x": st.lists(st.sampled_from(["A", "B"])) | st.none(),
            "s": st.sampled_from(["p", "ok", "no", None]),
        },
    ),
    max_size=6,
)
bodies = st.one_of(
    commands.map(json.dumps),
    st.fixed_dictionaries({"commands": commands, "inputs": json_values}).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
    st.text(max_size=200),
)
queries = st.fixed_dictionaries(
    {},
    optional={
        "session": st.text(max_size=140),
        "vid": st.text(max_size=140) | st.sampled_from(["lana-123", "undefined", ""]),
        "traits": st.text(max_size=40) | st.sampled_from(["tier:gold", "a:b,c:d"]),
        "debug": st.sampled_from(["true", "false", "x"]),
    },
)


def _raw():
    return (Assignment.objects.count(), GoalEvent.objects.count(), Credit.objects.count())


@FUZZ
@given(body=bodies, query=queries, rest=st.booleans())
def test_any_request__is_answered_properly_and_refusals_record_nothing(
    client, agent, express_target, rest_target, body, query, rest
):
    target = rest_target if rest else express_target
    before = _raw()
    url = f"/ac-acme/v3/agent-api?{urlencode({**query, 'apikey': target.api_key})}"
    response = client.post(url, data=body, content_type="text/plain")
    assert response.status_code < 500, response.content
    answer = response.json()
    assert answer["status"] == response.status_code
    if response.status_code != 200:
        assert isinstance(answer["err"], str)
        assert _raw() == before
    else:
        for item in answer["data"]["items"]:
            assert {"a", "c", "p", "s", "md"} <= set(item) or {"g", "s", "rs"} <= set(item)


@settings(max_examples=300, deadline=None)
@given(
    identity=st.text(min_size=1, max_size=60),
    weights=st.lists(st.floats(min_value=0, max_value=100), min_size=2, max_size=6),
)
def test_bucketing__same_identity_same_variation_never_a_zero_weight(identity, weights):
    class V:
        def __init__(self, code, weight):
            self.code, self.weight = code, weight

    variations = [V(str(i), w) for i, w in enumerate(weights)]
    first = variation_pick(agent_code="a-x", identity=identity, variations=variations)
    again = variation_pick(agent_code="a-x", identity=identity, variations=variations)
    assert first is again
    if sum(w for w in weights if w > 0) > 0:
        assert first is not None
        assert first.weight > 0
    else:
        assert first is None
