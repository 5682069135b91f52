"""One person, several ids (SPEC §4d): linking a visitor id to another of the same person.

A request that passes `vid=X` may send `{"alias": "Y"}`; from then X and Y are one person:
a goal sent with either finds the assignments made under both, a selection under either
answers the variation the person already holds. Links are rows of `VisitorLink` sharing a
`person` label. An id joins a person once: linking two ids that each belong to another
person already is refused (`alias_taken`: two people's histories are never merged), and
a person has at most `ALIAS_LIMIT` ids.

Linking never moves an assignment: where both sides held one in an agent, the earliest is
the person's (kept and credited) and each later one is counted once as a conflict of its
variation (`reports.models.LinkConflict`), here, when the link is made.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Subquery

from conductrics_admin.upserts import adding_insert
from goals.reasons import STATUS_ERR, STATUS_NONE, STATUS_OK
from reports.models import LinkConflict
from targets.models import ALLOW_EXTERNAL_VID_LABEL, ALLOW_LINKING_LABEL
from visitors.config import TargetConf
from visitors.models import Assignment, VisitorLink
from visitors.request import AliasResult, vid_problem

ALIAS_LIMIT = 10  # ids of one person
ALIAS_INVALID = "alias_invalid"
ALIAS_LIMIT_REACHED = "alias_limit"
ALIAS_TAKEN = "alias_taken"
ALIAS_ERRS = (ALIAS_INVALID, ALIAS_LIMIT_REACHED, ALIAS_TAKEN)


def alias_refusal(*, target: TargetConf, vid: str | None, alias: object) -> AliasResult | None:
    """The answer to an alias that cannot be linked whatever is stored (`alias_invalid`,
    naming why), or None when it can be tried."""
    shown = alias if isinstance(alias, str) else ""
    if not isinstance(alias, str):
        why = "alias must be a string"
    elif target.is_express and not target.allow_linking:
        why = f"{target.code} does not allow linking: turn on “{ALLOW_LINKING_LABEL}” on it"
    elif vid is None:
        why = (
            "an alias is linked to the request's vid: pass one (on a target with "
            f"“{ALLOW_EXTERNAL_VID_LABEL}”)"
        )
    elif problem := vid_problem(alias):
        why = f"the alias is refused as a vid would be: {problem}"
    elif alias == vid:
        why = "the alias is the vid itself"
    else:
        return None
    return AliasResult(alias=shown, status=STATUS_ERR, err=ALIAS_INVALID, detail=why)


def aliases_link(
    *, account_id: int, target: TargetConf, asks: Sequence[tuple[str | None, str]], now: datetime
) -> list[AliasResult]:
    """Each (vid, alias) of `asks` (vid None: none passed, or not allowed) linked, or
    refused (`alias_refusal`): one result each, in order, those linked by one
    `links_make`."""
    results: list[AliasResult | None] = []
    linkable: list[tuple[int, tuple[str, str]]] = []
    for i, (vid, alias) in enumerate(asks):
        refused = alias_refusal(target=target, vid=vid, alias=alias)
        results.append(refused)
        if refused is None and vid is not None:
            linkable.append((i, (vid, alias)))
    if linkable:
        made = links_make(account_id=account_id, asks=[pair for _, pair in linkable], now=now)
        for (i, _), result in zip(linkable, made, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


def links_make(
    *, account_id: int, asks: Sequence[tuple[str, str]], now: datetime
) -> list[AliasResult]:
    """Link each (vid, alias) of `asks`, in order (each pair checked by `alias_refusal`);
    one result each. Runs inside the caller's transaction: the persons' rows are locked
    while it decides (two links to one person are made one after the other, so none passes
    the limit), and a concurrent request that linked one of the ids first makes the insert
    raise IntegrityError, and the caller decides again from what is stored. Four
    statements whatever the number of asks (the persons locked and read, the links
    written, the assignments of merged sides read), and one more when linking made
    conflicts."""
    ids = {v for pair in asks for v in pair}
    person_of: dict[str, uuid.UUID] = {}
    members: dict[uuid.UUID, set[str]] = defaultdict(set)
    for vid, person in _persons_of(account_id, ids):
        person_of[vid] = person
        members[person].add(vid)
    results: list[AliasResult] = []
    new: list[VisitorLink] = []
    merged: list[tuple[frozenset[str], frozenset[str]]] = []  # (the person's, joining)
    for vid, alias in asks:
        px, py = person_of.get(vid), person_of.get(alias)
        if px is not None and px == py:
            results.append(AliasResult(alias, STATUS_NONE, detail="linked already"))
            continue
        if px is not None and py is not None:
            results.append(
                AliasResult(
                    alias, STATUS_ERR, ALIAS_TAKEN,
                    f"{alias} is linked to another person already (ids of two people are "
                    "never merged)",
                )
            )  # fmt: skip
            continue
        person = px or py or uuid.uuid4()
        joining = [v for v in (vid, alias) if person_of.get(v) != person]
        if len(members[person]) + len(joining) > ALIAS_LIMIT:
            results.append(
                AliasResult(
                    alias, STATUS_ERR, ALIAS_LIMIT_REACHED,
                    f"a person has at most {ALIAS_LIMIT} ids: this one has "
                    f"{len(members[person])}",
                )
            )  # fmt: skip
            continue
        # the sides whose assignments may now meet: the person's ids (or the vid, for a new
        # person), and the id joining it
        had = frozenset(members[person]) or frozenset({vid})
        merged.append((had, frozenset(joining) - had))
        for v in joining:
            person_of[v] = person
            members[person].add(v)
            new.append(VisitorLink(account_id=account_id, vid=v, person=person, created_at=now))
        results.append(AliasResult(alias, STATUS_OK, detail=f"{vid} and {alias} are one person"))
    if new:
        VisitorLink.objects.bulk_create(new)
        _conflicts_count(account_id, merged)
    return results


def _persons_of(
    account_id: int, ids: Iterable[str], *, lock: bool = True
) -> list[tuple[str, uuid.UUID]]:
    """(id, person) of every id of the persons that `ids` belong to; with `lock`, their rows
    locked first (PostgreSQL) for the caller that may add to those persons, then read again:
    a statement's snapshot predates the rows a concurrent link inserted while it waited
    for the lock, and the person's size must count them."""
    links = VisitorLink.objects.filter(account_id=account_id)
    found = links.filter(person__in=Subquery(links.filter(vid__in=sorted(ids)).values("person")))
    if lock and connection.vendor == "postgresql":
        list(found.select_for_update().values_list("pk"))
    return list(found.values_list("vid", "person"))


def person_ids(*, account_id: int, vids: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each of `vids` that belongs to a person -> the person's other ids (one query)."""
    vids = set(vids)
    if not vids:
        return {}
    members: dict[uuid.UUID, set[str]] = defaultdict(set)
    rows = _persons_of(account_id, vids, lock=False)
    for vid, person in rows:
        members[person].add(vid)
    return {vid: frozenset(members[person] - {vid}) for vid, person in rows if vid in vids}


def _conflicts_count(
    account_id: int, merged: Sequence[tuple[frozenset[str], frozenset[str]]]
) -> None:
    """Count, in each agent where both sides of a link held an assignment, the later
    side's earliest one as a conflict of its variation (the earlier side's is the person's;
    the later side's other assignments there were conflicts already)."""
    ids = {v for had, joining in merged for v in had | joining}
    held = Assignment.objects.filter(account_id=account_id, vid__in=sorted(ids)).values_list(
        "agent_id", "variation_id", "phase", "created_at", "vid"
    )
    by_vid: dict[str, list[tuple[int, int, int, datetime]]] = defaultdict(list)
    for agent_id, variation_id, phase, created_at, vid in held:
        by_vid[vid or ""].append((agent_id, variation_id, phase, created_at))
    counts: dict[tuple[int, int, int, int], int] = defaultdict(int)
    for had, joining in merged:
        firsts = [_firsts(by_vid, side) for side in (had, joining)]
        for agent_id in firsts[0].keys() & firsts[1].keys():
            later = max(firsts[0][agent_id], firsts[1][agent_id], key=lambda f: f[3])
            counts[(account_id, agent_id, later[1], later[2])] += 1
    if counts:
        sql = adding_insert(
            LinkConflict._meta.db_table,
            ("account_id", "agent_id", "variation_id", "phase"),
            ("conflicts",),
            len(counts),
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(sql, [x for key, n in counts.items() for x in (*key, n)])


def _firsts(
    by_vid: dict[str, list[tuple[int, int, int, datetime]]], side: frozenset[str]
) -> dict[int, tuple[int, int, int, datetime]]:
    """Agent id -> the side's earliest assignment there."""
    first: dict[int, tuple[int, int, int, datetime]] = {}
    for vid in side:
        for row in by_vid.get(vid, ()):
            if row[0] not in first or row[3] < first[row[0]][3]:
                first[row[0]] = row
    return first
