"""The bundle of an Express target (SPEC §5 "Local decisions"): what a browser needs to
decide selections itself, with no round trip, exactly as the server would.

`GET /{account}/v3/agent-api/js/{target-code}` answers it. It holds the running and paused
agents on the target (variations, weights, metadata, paused variation, eligibility and
rules), their mutually exclusive groups, and whether the target takes an External Visitor
ID: configuration only, never visitor data. An agent whose decision needs what only the
server has (the visitor's goals or other assignments, the UA's derived traits, QA
overrides naming visitors, the time against a schedule) is listed as `server_only` with
the reason; a draft is listed only when it has QA overrides, and so as server only.

The JavaScript twin of the decision is in `static/conductrics/conductrics.js`; both pass
`tests/vectors/local_decisions.json`. A bundle is rendered once per configuration
snapshot and target, and served from memory after that.
"""

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from agents.choices import AgentStatus
from targeting.conditions import (
    BROWSER_SOURCES,
    SOURCE_TRAIT,
    UA_TRAIT_PREFIX,
    names_used,
    sources_used,
)
from visitors.config import AccountConf, AgentConf, TargetConf

BUNDLE_FORMAT = 1  # raised when the bundle's shape changes in a way old clients misread
BUNDLE_NOTE = (
    "bundle"  # a bundle served (200 or 304), as the install page's recent requests note it
)

SERVER_ONLY_STATE = "its conditions read the visitor's goals or assignments (server state)"
SERVER_ONLY_UA = "its conditions read traits derived from the user agent (ua/...)"
SERVER_ONLY_QA = "it has QA overrides, which name visitors"
SERVER_ONLY_BROKEN = "its targeting does not check"
SERVER_ONLY_SCHEDULE = "it runs on a schedule (starts_at, ends_at), judged at each request"


@dataclass(frozen=True)
class RenderedBundle:
    body: bytes  # compact JSON
    etag: str  # quoted, as the header carries it


def agent_server_only(agent: AgentConf) -> str | None:
    """Why a browser cannot decide `agent` from a bundle, or None when it can."""
    if agent.broken:
        return SERVER_ONLY_BROKEN
    if agent.status == AgentStatus.RUNNING and (agent.starts_at or agent.ends_at):
        return SERVER_ONLY_SCHEDULE
    if agent.qa:
        return SERVER_ONLY_QA
    conditions = [agent.eligibility, *(r.when for r in agent.rules)]
    if any(not sources_used(c) <= set(BROWSER_SOURCES) for c in conditions):
        return SERVER_ONLY_STATE
    if any(
        name.startswith(UA_TRAIT_PREFIX) for c in conditions for name in names_used(c, SOURCE_TRAIT)
    ):
        return SERVER_ONLY_UA
    return None


def _agent_entry(agent: AgentConf) -> dict[str, Any]:
    why = agent_server_only(agent)
    if why is not None:
        return {"status": agent.status, "server_only": why}
    return {
        "status": agent.status,
        "variations": [
            {"code": v.code, "weight": v.weight, "md": dict(v.md)} for v in agent.variations
        ],
        "paused": agent.paused_variation.code,
        "eligibility": agent.eligibility,
        "rules": [
            {"name": r.name, "when": r.when, "variation": r.variation.code} for r in agent.rules
        ],
        "group": agent.group.code if agent.group else None,
    }


def _listed(agent: AgentConf) -> bool:
    """Whether the bundle lists `agent`: not a stopped one (nobody gets it), nor a draft
    but for its QA overrides (listed as server only: they name visitors)."""
    if agent.status == AgentStatus.STOPPED:
        return False
    return agent.status != AgentStatus.DRAFT or bool(agent.qa)


def bundle_build(*, account: AccountConf, target: TargetConf) -> dict[str, Any]:
    """The bundle of `target` as a JSON-ready dict (agents in code order)."""
    agents = sorted(
        (a for a in account.agents.values() if target.id in a.target_ids and _listed(a)),
        key=lambda a: a.code,
    )
    groups = {
        a.group.code: [{"agent": m.agent_code, "weight": m.weight} for m in a.group.members]
        for a in agents
        if a.group is not None and agent_server_only(a) is None
    }
    return {
        "format": BUNDLE_FORMAT,
        "account": account.code,
        "target": target.code,
        "version": account.version,
        "vid": target.allow_external_vid,
        "max_age": settings.LOCAL_BUNDLE_MAX_AGE_SECONDS,
        "agents": {a.code: _agent_entry(a) for a in agents},
        "groups": dict(sorted(groups.items())),
    }


_lock = threading.Lock()
# (account id, version, target id) -> (the snapshot it was built from, the bundle)
_rendered: dict[tuple[int, int, int], tuple[AccountConf, RenderedBundle]] = {}
RENDERED_KEPT = 1000


def bundle_rendered(*, account: AccountConf, target: TargetConf) -> RenderedBundle:
    """The bundle of `target` as bytes with its ETag, built once per configuration snapshot."""
    key = (account.id, account.version, target.id)
    hit = _rendered.get(key)
    if hit is not None and hit[0] is account:
        return hit[1]
    body = json.dumps(
        bundle_build(account=account, target=target), separators=(",", ":"), ensure_ascii=False
    ).encode()
    rendered = RenderedBundle(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    with _lock:
        if len(_rendered) >= RENDERED_KEPT:
            _rendered.pop(next(iter(_rendered)))
        _rendered[key] = (account, rendered)
    return rendered


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak or strong, or `*`)."""
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags
