"""Schemathesis over every operation of the app's own OpenAPI schema (/api/schema/).

Every check Schemathesis has (the positive ones included: data the schema calls valid
must be taken), in the phases examples, coverage and fuzzing per operation, and the
stateful phase, which follows the schema's links from each create to the operations on
what it made. In-process against the WSGI app, authenticated as the account the fixtures
create (the admin key for the management API, the target's runtime key for the
agent-api), so requests reach past authentication; Schemathesis' own probes take the key
away or spoil it to see that it is required. FUZZ_EXAMPLES sets the number of examples per
operation and of stateful scenarios (default 25, at least 25 scenarios; `make test` runs 8
per operation, `.ci/run` 200 as well).
FUZZ_COVERAGE=off leaves out the coverage phase, Schemathesis' walk over every boundary of
the schema, the same whatever the examples (it is most of the run's time): `make test`
leaves it out, `make fuzz-long` (which `.ci/run` runs after it) runs it on both databases.

What the schema states only in words (docs/management-api.md lists them: codes that must
name objects of the account, rules across fields and items) is given to
Schemathesis as it would be to any client: `tests/fuzz/rules.py` keeps the data it calls
valid to those rules, and nothing else.
"""

import os

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from conductrics_admin.wsgi import application
from tests.fuzz import rules

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
COVERAGE = os.environ.get("FUZZ_COVERAGE", "on") != "off"
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
schema.config.phases.coverage.enabled = COVERAGE
rules.register(schema)


def test_schemathesis__every_check_and_phase_is_on():
    """The runs below take Schemathesis' defaults, which are every check it registers (all
    but max_response_time, a time limit: speed lives in bench/) and every phase (the
    coverage phase unless FUZZ_COVERAGE=off); a config that turned one off would fail here."""
    load_all_checks()
    names = CHECKS.get_all_names()
    assert {"positive_data_acceptance", "negative_data_rejection", "ignored_auth"} <= set(names)
    assert [name for name in names if not schema.config.checks.get_by_name(name=name).enabled] == []
    phases = schema.config.phases
    on = {name for name in ("examples", "coverage", "fuzzing", "stateful")
          if getattr(phases, name).enabled}  # fmt: skip
    assert on == {"examples", "fuzzing", "stateful"} | ({"coverage"} if COVERAGE else set())


@pytest.mark.django_db
@schema.parametrize()
@SETTINGS
def test_every_operation__every_check_holds(case, fuzz_keys):
    valid = rules.aim(case)
    case.call_and_validate(
        headers=rules.credentials(case, fuzz_keys), excluded_checks=rules.excluded_checks(valid)
    )


@pytest.mark.django_db
def test_stateful__links_from_each_create_hold_every_check(fuzz_keys):
    followed = set()  # operations on an object that a create made, answered 2xx

    class Workflow(schema.as_state_machine()):
        # each scenario starts from the fixtures' data: Hypothesis replays a scenario to
        # shrink it, and a replay must meet the database the scenario met
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            self.valid = rules.aim(case)

        def get_call_kwargs(self, case):
            return {"headers": rules.credentials(case, fuzz_keys)}

        def after_call(self, response, case):
            if "{code}" in case.path and 200 <= response.status_code < 300:
                followed.add(case.operation.label)

        def validate_response(self, response, case, **kwargs):
            case.validate_response(
                response,
                excluded_checks=rules.excluded_checks(self.valid),
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
            )

    # at least 25 scenarios whatever FUZZ_EXAMPLES: fewer may follow too few links
    Workflow.run(settings=settings(SETTINGS, max_examples=max(EXAMPLES, 25), stateful_step_count=6))
    # the links were followed: objects made in a scenario were read, changed and deleted
    assert len(followed) >= 6, followed
