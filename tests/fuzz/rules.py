"""What Schemathesis is told beyond the schema, as any client would be: the formats the
schema names (docs/management-api.md, "Where a rule needs Python's own tables"), which
credentials open which operation, and the account every request is aimed at."""

import re
import string

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from hypothesis import strategies as st
from schemathesis.specs.openapi import format as register_format
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.codes import FORMAT_ORIGIN, FORMAT_PRINTABLE, FORMAT_VISITOR_ID, text_ok
from accounts.models import Account, Membership
from agents.models import METADATA_KEY_MAX, Agent, AgentGroup
from conductrics_admin.api_base import MOMENT_YEARS
from goals.models import Goal, GoalTrigger
from targeting.conditions import DEPTH_MAX, INPUT_NAME_RE, LEAVES_MAX
from targeting.useragent import ua_problem
from targets.models import DeployTarget, TargetKind
from tests.helpers import condition_leaves, condition_levels
from visitors.request import printable_id, vid_problem

ACCOUNT = "ac-acme"
INPUT_KEY = re.compile(INPUT_NAME_RE)

# str.isprintable(): no control, format, private-use, unassigned or separator characters,
# but for the ASCII space
_printable = st.text(
    st.characters(
        exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"), include_characters=" "
    ),
    min_size=1,
    max_size=128,
)
_host_label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_origins = st.builds(
    lambda scheme, labels, port: f"{scheme}://{'.'.join(labels)}{port}",
    st.sampled_from(["http", "https"]),
    st.lists(_host_label, min_size=1, max_size=3),
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda port: f":{port}")),
)


def register(schema) -> None:
    """Teach Schemathesis the formats the schema names (valid values of each), and that a
    413 is a refusal: data past a schema's limits (maxItems of commands, say) can be past
    the body's size limit too, which the schema declares as a 413 for the operation."""
    rejection = schema.config.checks.get_by_name(name="negative_data_rejection")
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    register_format(FORMAT_PRINTABLE, _printable)
    register_format(FORMAT_VISITOR_ID, _printable.filter(lambda vid: vid_problem(vid) is None))
    register_format(FORMAT_ORIGIN, _origins)


def aim(case) -> bool:
    """Aim `case` at the fixtures' account (another account's path is a 403 by design,
    which the access tests cover), and keep a positive case to the rules the schema states
    in words (below). False when it cannot be kept to them (a condition past the limits,
    a group with no agent free to join): it is sent, and judged by every check but the
    one that valid data is taken."""
    if case.path_parameters is not None and "account" in case.path_parameters:
        case.path_parameters["account"] = ACCOUNT
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    return _kept_to_the_words(case)


def credentials(case, keys: dict[str, str]) -> dict[str, str]:
    """The key that opens `case`'s operation, as explicit headers (which Schemathesis'
    authentication checks take away or spoil in their probes)."""
    if case.path.startswith("/api/"):
        return {"Authorization": f"Bearer {keys['admin']}"}
    if "agent-api" in case.path:
        return {"x-conductrics-apikey": keys["runtime"]}
    return {}


# --- what the schema says only in words --------------------------------------------------
# docs/management-api.md lists the rules a schema cannot state: codes that must name
# objects of the account, rules across fields or items (and across a request and what is
# stored), object keys, limits across a whole condition. A client is told them in words;
# Schemathesis is told them here: the data it calls valid (its positive cases) is kept to
# them just before it is sent (not as a generation hook: the coverage phase draws its cases
# before the test has a database). Each fix names its rule, and nothing else is changed;
# data Schemathesis calls invalid is sent as drawn.


def excluded_checks(valid: bool) -> list:
    """The checks a case is not judged by: positive_data_acceptance where the data breaks
    a rule in words (`aim` answered False), none otherwise."""
    return [] if valid else [positive_data_acceptance]


def _stored(model, code: str | None):
    """What `code` names in the account, or None (the request then answers 404)."""
    return model.objects.filter(account__code=ACCOUNT, code=code).first() if code else None


def _named(objects, codes: list) -> list[str]:
    """Codes that name `objects` of the account (a model or a queryset), each once: an
    unknown one is replaced by one that exists."""
    objects = getattr(objects, "objects", objects)
    existing = sorted(objects.filter(account__code=ACCOUNT).values_list("code", flat=True))
    if not existing:
        return []
    return list(dict.fromkeys(c if c in existing else existing[len(c) % len(existing)]
                              for c in codes))  # fmt: skip


def _within_limits(conditions: list) -> bool:
    """x-max-depth levels each, x-max-leaves leaves in all (SPEC §4b)."""
    conditions = [c for c in conditions if c is not None]
    return all(condition_levels(c) <= DEPTH_MAX for c in conditions) and (
        sum(condition_leaves(c) for c in conditions) <= LEAVES_MAX
    )


def _agent(body: dict, stored) -> bool:
    variations = body.get("variations")
    if isinstance(variations, list):
        seen: set[str] = set()
        for index, variation in enumerate(variations):  # one code per variation
            while variation["code"] in seen:
                variation["code"] = f"v{index}-{len(seen)}"
            seen.add(variation["code"])
            if isinstance(variation.get("metadata"), dict):  # keys of 1 to 64 characters
                variation["metadata"] = {
                    k: v for k, v in variation["metadata"].items()
                    if 1 <= len(k) <= METADATA_KEY_MAX and text_ok(k)
                }  # fmt: skip
        if not any(v.get("weight", 1) for v in variations):  # weights not all 0
            variations[0]["weight"] = 1
        codes = [v["code"] for v in variations]
    else:
        codes = list(stored.variations.values_list("code", flat=True)) if stored else []
    if not codes:
        return True  # no such agent: a 404
    # a paused variation, a rule or a QA override names a variation of the agent, as the
    # agent would be (rules and overrides stored are sent again where they name a
    # variation the request takes away)
    if body.get("paused_variation") is not None and body["paused_variation"] not in codes:
        body["paused_variation"] = codes[0]
    for field in ("rules", "qa"):
        items = body[field] if field in body else getattr(stored, field, None)
        if any(item["variation"] not in codes for item in items or []):
            body[field] = [{**item, "variation": item["variation"] if item["variation"] in codes
                            else codes[0]} for item in items]  # fmt: skip
    if body.get("qa"):  # one visitor overridden once
        who = [next((k, o[k]) for k in ("session", "vid") if k in o) for o in body["qa"]]
        body["qa"] = [o for i, o in enumerate(body["qa"]) if who[i] not in who[:i]]
    for field, model in (("goals", Goal), ("targets", DeployTarget)):
        if isinstance(body.get(field), list):
            body[field] = _named(model, body[field])
    _schedule(body, stored)
    if (
        body.get("owner") is not None
        and not Membership.objects.filter(
            account__code=ACCOUNT, user__username=body["owner"]
        ).exists()
    ):  # the owner is a member of the account
        body["owner"] = None
    eligibility = body.get("eligibility", getattr(stored, "eligibility", None))
    rules = body.get("rules", getattr(stored, "rules", None)) or []
    return _within_limits([eligibility, *(rule.get("when") for rule in rules)])


def _schedule(body: dict, stored) -> None:
    """Times in MOMENT_YEARS (UTC); an agent starts before it ends."""
    first, last = MOMENT_YEARS
    moments = {}
    for name in ("starts_at", "ends_at"):
        if name not in body:
            moments[name] = getattr(stored, name, None)
            continue
        moment = parse_datetime(body[name]) if isinstance(body[name], str) else None
        if moment is not None and not first < moment.year < last:  # a day off UTC's year
            body[name] = f"{first + 26}-0{1 + (name == 'ends_at')}-01T00:00:00Z"
            moment = parse_datetime(body[name])
        moments[name] = moment
    starts, ends = moments["starts_at"], moments["ends_at"]
    if starts is not None and ends is not None and starts >= ends:
        body["ends_at" if "ends_at" in body else "starts_at"] = None


def _decide(body: dict, stored) -> bool:
    codes = list(stored.variations.values_list("code", flat=True)) if stored else []
    if codes and body.get("variation") not in codes:  # a variation of the agent
        body["variation"] = codes[0]
    return True


def _goal(body: dict, stored) -> bool:
    trigger = body.get("trigger", stored.trigger if stored else GoalTrigger.PAGE_EVENT)
    rest_send = body.get("rest_send", stored.rest_send if stored else False)
    if rest_send and trigger != GoalTrigger.API:  # REST-send only on API goals
        body["rest_send"] = False
    window = body.get("attribution_window_hours")
    retention = Account.objects.get(code=ACCOUNT).retention_days * 24
    if window and window > retention:  # a window the account's retention covers
        body["attribution_window_hours"] = retention
    return _within_limits([body.get("when")])


def _target(body: dict, stored) -> bool:
    kind = body.get("kind", stored.kind if stored else TargetKind.EXPRESS)
    origins = body.get("allowed_origins", stored.allowed_origins if stored else [])
    if kind == TargetKind.REST and origins:  # origins only on an Express target
        body["allowed_origins"] = []
    return True


def _group(body: dict, stored) -> bool:
    members = body.get("agents")
    if not isinstance(members, list):
        return True
    # agents of the account, each once, in no other group, weights not all 0
    free = Agent.objects.filter(
        Q(group_membership__isnull=True)
        | Q(group_membership__group__code=getattr(stored, "code", None))
    )
    codes = _named(free, [m["code"] for m in members])
    weights = {m["code"]: m for m in members}
    body["agents"] = [{**weights.get(code, members[0]), "code": code} for code in codes]
    if body["agents"] and not any(m.get("weight", 1) for m in body["agents"]):
        body["agents"][0]["weight"] = 1
    return bool(body["agents"])


def _explain(body: dict) -> bool:
    if isinstance(body.get("target"), str):  # a target of the account
        body["target"] = (_named(DeployTarget, [body["target"]]) or [body["target"]])[0]
    # printable ids and User-Agents (generators that skip formats: the coverage phase's)
    if isinstance(body.get("vid"), str) and vid_problem(body["vid"]):  # no placeholder vid
        body["vid"] = "visitor-1"
    if isinstance(body.get("session"), str) and not printable_id(body["session"]):
        body["session"] = "session-1"
    if isinstance(body.get("ua"), str) and ua_problem(body["ua"]):
        body["ua"] = None
    if isinstance(body.get("inputs"), dict):  # input keys of 1 to 64 of A-Z a-z 0-9 _ . -
        body["inputs"] = {k: v for k, v in body["inputs"].items() if INPUT_KEY.match(k)}
    return True


_RESOURCES = {"agents": (Agent, _agent), "goals": (Goal, _goal), "targets": (DeployTarget,
              _target), "groups": (AgentGroup, _group)}  # fmt: skip


def _kept_to_the_words(case) -> bool:
    """Fix `case` (a positive one) to the rules in words; False where it cannot be."""
    parts = case.path.removeprefix("/api/{account}/").strip("/").split("/")
    query = case.query or {}
    dates = [str(query.get(key) or "") for key in ("from", "to")]
    if parts[-1] in ("report", "report.csv") and "" not in dates and dates[0] > dates[1]:
        query["from"], query["to"] = dates[1], dates[0]  # from not after to
    phase = str(query.get("phase") or "")
    if parts[-1] in ("report", "report.csv") and phase.isdigit():  # a phase the agent has
        stored = _stored(Agent, (case.path_parameters or {}).get("code"))
        if stored is not None and int(phase) > stored.phase:
            query["phase"] = str(stored.phase)
    if not isinstance(case.body, dict) or parts[0] not in _RESOURCES:
        return True
    model, fix = _RESOURCES[parts[0]]
    if parts[-1] == "explain":
        return _explain(case.body)
    if parts[-1] == "decide":
        return _decide(case.body, _stored(model, (case.path_parameters or {}).get("code")))
    if case.method.upper() not in ("POST", "PATCH") or len(parts) > 2:
        return True
    return fix(case.body, _stored(model, (case.path_parameters or {}).get("code")))
