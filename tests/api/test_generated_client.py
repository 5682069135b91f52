"""A client generated from `/api/schema/` works (issue #21): openapi-python-client (a
maintained generator, test-only) writes a Python package from the served schema; the test
imports it and, with it alone, sets up the seed's scenario (two targets, the goal, the
agent), rotates a key, sends the browser's selection and the server's goal through the
agent-api, and reads the report."""

import importlib
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from accounts.services import account_create, admin_key_create

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
# The one warning the generator may give: it sends JSON, and skips the text/plain body
# the agent-api also takes (for browsers, which send text/plain to avoid a pre-flight).
ACCEPTED_WARNING = "Unsupported content type text/plain"


# not `conductrics_client`: the server-side client of clients/python is installed by that name
GENERATED = "generated_management_client"


@pytest.fixture
def generated(live_server, tmp_path):
    if not GENERATOR.exists() and shutil.which("openapi-python-client") is None:
        pytest.fail("openapi-python-client is a test dependency: pip install -e '.[dev]'")
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json") as response:  # noqa: S310
        (tmp_path / "schema.json").write_bytes(response.read())
    (tmp_path / "config.yml").write_text("post_hooks: []\n")
    result = subprocess.run(  # noqa: S603 - the test environment's own generator
        [str(GENERATOR), "generate", "--path", str(tmp_path / "schema.json"),
         "--output-path", str(tmp_path / GENERATED), "--meta", "none",
         "--config", str(tmp_path / "config.yml")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    problems = [
        line
        for line in output.splitlines()
        if line.startswith(("WARNING", "ERROR", "Unsupported", "Cannot", "Invalid"))
        and ACCEPTED_WARNING not in line
        and "WARNING parsing POST /{account}/v3/" not in line  # the runtime APIs: text/plain
    ]
    assert not problems, output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(GENERATED)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.split(".")[0] == GENERATED]:
            del sys.modules[name]


def _module(package, name):
    return importlib.import_module(f"{package.__name__}.{name}")


def _signed_in(generated, live_server, account_code):
    """A new account, and the generated package's operations (by module name), models and
    a client holding the account's admin key."""
    _, admin_key = admin_key_create(account=account_create(code=account_code, name="Generated"))
    api = lambda name: _module(generated, f"api.{name}")  # noqa: E731
    client = generated.AuthenticatedClient(base_url=live_server.url, token=admin_key)
    return api, _module(generated, "models"), client


def test_generated_client__sets_up_the_seed_rotates_a_key_and_reads_the_report(
    generated, live_server
):
    api, models, client = _signed_in(generated, live_server, "ac-gen")

    web = api("targets.api_targets_create").sync(
        "ac-gen", client=client,
        body=models.TargetInRequest(code="dt-web", name="Web", kind=models.KindEnum.EXPRESS,
                                    allow_external_vid=True),
    )  # fmt: skip
    server = api("targets.api_targets_create").sync(
        "ac-gen", client=client,
        body=models.TargetInRequest(code="dt-server", name="Server", kind=models.KindEnum.REST,
                                    allow_external_vid=True),
    )  # fmt: skip
    assert isinstance(web, models.TargetOut)
    assert server.kind == models.KindEnum.REST
    goal = api("goals.api_goals_create").sync(
        "ac-gen", client=client,
        body=models.GoalInRequest(code="g-purchase", name="Purchase",
                                  trigger=models.TriggerEnum.API, rest_send=True),
    )  # fmt: skip
    assert isinstance(goal, models.GoalOut)
    assert goal.rest_send is True
    agent = api("agents.api_agents_create").sync(
        "ac-gen", client=client,
        body=models.AgentInRequest(
            code="a-hero", name="Hero", status=models.StatusEnum.RUNNING,
            variations=[models.VariationIORequest(code="A"), models.VariationIORequest(code="B")],
            goals=["g-purchase"], targets=["dt-web", "dt-server"],
        ),
    )  # fmt: skip
    assert isinstance(agent, models.AgentOut)
    assert [v.code for v in agent.variations] == ["A", "B"]

    rotated = api("targets.api_targets_rotate_key_create").sync("ac-gen", "dt-web", client=client)
    assert rotated.api_key != web.api_key

    runtime = generated.Client(base_url=live_server.url)
    select = api("agent_api.agent_api")
    old = select.sync_detailed(
        "ac-gen", client=runtime, session="s-1", apikey=web.api_key,
        body=models.AgentApiJsonBodyType0(commands=[models.AgentApiSelection(a="a-hero")]),
    )  # fmt: skip
    assert old.status_code == 401  # the old key is refused at once
    shown = select.sync(
        "ac-gen", client=runtime, session="s-1", vid="lana-123", apikey=rotated.api_key,
        body=models.AgentApiJsonBodyType0(commands=[models.AgentApiSelection(a="a-hero")]),
    )  # fmt: skip
    assert isinstance(shown, models.EnvelopeSchema)
    variation = shown.data.items[0].c
    assert variation in {"A", "B"}
    credited = select.sync(
        "ac-gen", client=runtime, session="lana-123", vid="lana-123", apikey=server.api_key,
        body=[models.AgentApiGoal(g="g-purchase", v=19.99)],
    )  # fmt: skip
    assert [(c.a, c.c, c.v) for c in credited.data.items[0].rs] == [("a-hero", variation, 19.99)]

    report = api("reports.api_agents_report_retrieve").sync("ac-gen", "a-hero", client=client)
    assert isinstance(report, models.ReportSchema), report
    rows = {v.code: v for v in report.goals[0].variations}
    assert rows[variation].visitors == 1
    assert rows[variation].conversions == 1
    assert json.loads(json.dumps(report.to_dict()))["agent"] == "a-hero"


def test_generated_client__sends_and_reads_conditions(generated, live_server):
    """The condition language's models (a class per kind of leaf, all / any / not around
    them) build an agent's audience, rule and QA override and a goal's condition the
    server takes, and read them back; the agent-api then forces the rule's variation, and
    the override's."""
    api, m, client = _signed_in(generated, live_server, "ac-gen2")
    web = api("targets.api_targets_create").sync(
        "ac-gen2", client=client, body=m.TargetInRequest(name="Web", code="dt-web")
    )
    gold = m.ConditionLeafTraitList(
        source=m.ConditionLeafTraitListSource.TRAIT, name="cust/tier",
        op=m.ConditionLeafTraitListOp.IN, values=["gold", "platinum"],
    )  # fmt: skip
    pro = m.ConditionLeafInputText(
        source=m.ConditionLeafInputTextSource.INPUT, name="plan",
        op=m.ConditionLeafInputTextOp.EQ, value="pro",
    )  # fmt: skip
    not_bot = m.ConditionNot(
        not_=m.ConditionLeafTraitPresence(
            source=m.ConditionLeafTraitPresenceSource.TRAIT, name="cust/bot",
            op=m.ConditionLeafTraitPresenceOp.SET,
        )
    )  # fmt: skip
    created = api("agents.api_agents_create").sync(
        "ac-gen2", client=client,
        body=m.AgentInRequest(
            code="a-vip", name="VIP", status=m.StatusEnum.RUNNING, targets=["dt-web"],
            variations=[m.VariationIORequest(code="A"), m.VariationIORequest(code="B")],
            eligibility=m.ConditionAll(all_=[gold, not_bot]),
            rules=[m.TargetedRule(name="pro gets B", when=pro, variation="B")],
            qa=[m.QaOverrideSession(session="qa-1", variation="A")],
        ),
    )  # fmt: skip
    assert isinstance(created, m.AgentOut), created
    read = api("agents.api_agents_retrieve").sync("ac-gen2", "a-vip", client=client)
    assert isinstance(read.eligibility, m.ConditionAll)
    assert isinstance(read.eligibility.all_[0], m.ConditionLeafTraitList)
    assert read.eligibility.all_[0].values == ["gold", "platinum"]
    assert isinstance(read.eligibility.all_[1], m.ConditionNot)
    assert isinstance(read.rules[0].when, m.ConditionLeafInputText)

    goal = api("goals.api_goals_create").sync(
        "ac-gen2", client=client,
        body=m.GoalInRequest(
            code="g-buy", name="Buy",
            when=m.GoalConditionLeafVariationText(
                source=m.GoalConditionLeafVariationTextSource.VARIATION, name="a-vip",
                op=m.GoalConditionLeafVariationTextOp.EQ, value="B",
            ),
        ),
    )  # fmt: skip
    assert isinstance(goal.when, m.GoalConditionLeafVariationText)

    select = api("agent_api.agent_api")
    body = m.AgentApiJsonBodyType0(commands=[m.AgentApiSelection(a="a-vip")])
    body.additional_properties["inputs"] = {"plan": "pro"}
    forced = select.sync(
        "ac-gen2", client=generated.Client(base_url=live_server.url), session="s-1",
        traits="tier:gold", apikey=web.api_key, body=body,
    )  # fmt: skip
    assert [(i.c, i.p) for i in forced.data.items] == [("B", "f")]
    checked = select.sync(
        "ac-gen2", client=generated.Client(base_url=live_server.url), session="qa-1",
        apikey=web.api_key, body=[m.AgentApiSelection(a="a-vip")],
    )  # fmt: skip
    assert [(i.c, i.p) for i in checked.data.items] == [("A", "f")]  # the QA override
