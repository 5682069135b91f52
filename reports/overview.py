"""The admin's overview: per account, its running and paused agents with their
recent figures and verdicts, and the health warnings that each link to their fix.

From aggregates only, in a bounded number of queries whatever the number of agents:
agents, their variations, goals and targets (prefetched), the accounts' targets, two
aggregate queries for the verdicts (each agent from its creation), two for the recent
figures, and one of goal outcomes.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from agents.models import Agent, AgentStatus
from goals import reasons
from goals.checklist import server_side_checklist
from goals.diagnostics import CREDITED, VID_NOT_ALLOWED
from goals.match_rate import MATCH_WARN_MIN_GOALS
from goals.models import Goal, GoalMatchDay, GoalOutcomeCount, GoalTrigger
from reports.lifecycle import agents_reports
from reports.models import GoalDay, VisitorDay
from targets.models import DeployTarget

OVERVIEW_ACCOUNTS_MAX = 20
# goal outcomes that, for a goal sent via REST, mean it was refused or not counted: a
# setting or the sender's fault (not the visitor's: no selection, already credited, ...)
REST_PROBLEMS = (
    reasons.REST_SEND_NOT_ENABLED,
    reasons.NOT_AN_API_GOAL,
    reasons.SERVER_ONLY_GOAL,
    VID_NOT_ALLOWED,
    reasons.OUTSIDE_WINDOW,
    reasons.INVALID_VALUE,
    reasons.INVALID_TIME,
    reasons.INVALID_EVENT,
    reasons.EVENT_ID_TAKEN,
)


@dataclass
class Warning_:
    text: str
    fix: str  # where it is fixed: "agent", "goal", "target" (the view makes the link)
    obj_id: int
    url: str = ""  # set by the view


@dataclass
class AgentLine:
    agent: Agent
    visitors_recent: int  # today and yesterday (UTC days)
    visitors_week: int
    conversions_recent: int
    conversions_week: int
    goal_code: str | None  # the goal of the figures and the verdict: the agent's first
    verdict: dict | None
    warnings: list[Warning_] = field(default_factory=list)
    url: str = ""  # the agent's page and its results page, set by the view
    results_url: str = ""


@dataclass
class AccountOverview:
    account: Account
    agents: list[AgentLine]
    warnings: list[Warning_]


def accounts_overview(*, accounts: list[Account]) -> list[AccountOverview]:
    """The overview of each account (at most OVERVIEW_ACCOUNTS_MAX)."""
    accounts = accounts[:OVERVIEW_ACCOUNTS_MAX]
    agents = list(
        Agent.objects.filter(
            account__in=accounts,
            status__in=[AgentStatus.RUNNING, AgentStatus.PAUSED],
            archived_at__isnull=True,
        )
        .select_related("account")
        .prefetch_related("variations", "goals", "targets")
        .order_by("account__code", "code")
    )
    targets_of: dict[int, list[DeployTarget]] = {}
    for target in DeployTarget.objects.filter(account__in=accounts):
        targets_of.setdefault(target.account_id, []).append(target)
    today = timezone.now().date()
    recent_from, week_from = today - timedelta(days=1), today - timedelta(days=6)
    ids = [a.pk for a in agents]
    reports = agents_reports(agents)
    recent = _recent(ids, week_from, recent_from)
    problems = _rest_problems(accounts)
    lines: dict[int, list[AgentLine]] = {}
    for agent in agents:
        goals = sorted(agent.goals.all(), key=lambda g: g.code)
        report = reports[agent.pk][1]
        first = report["goals"][0] if report["goals"] else None
        figures = recent.get(agent.pk, {})
        first_goal_id = goals[0].pk if goals else None
        line = AgentLine(
            agent=agent,
            visitors_recent=figures.get("visitors_recent", 0),
            visitors_week=figures.get("visitors_week", 0),
            conversions_recent=figures.get(("conversions_recent", first_goal_id), 0),
            conversions_week=figures.get(("conversions_week", first_goal_id), 0),
            goal_code=first["code"] if first else None,
            verdict=first["verdict"] if first else None,
        )
        line.warnings = _agent_warnings(
            agent, goals, report, line, targets_of.get(agent.account_id, []), problems
        )
        lines.setdefault(agent.account_id, []).append(line)
    matching = _match_warnings(accounts, week_from)
    return [
        AccountOverview(
            account=account,
            agents=lines.get(account.pk, []),
            warnings=_once(
                [w for line in lines.get(account.pk, []) for w in line.warnings]
                + matching.get(account.pk, [])
            ),
        )
        for account in accounts
    ]


def _match_warnings(accounts: list[Account], since) -> dict[int, list[Warning_]]:
    """Per account: each goal and REST target whose match rate over the last 7 days fell
    below the account's threshold, with at least MATCH_WARN_MIN_GOALS goals (two queries)."""
    found: dict[int, list[Warning_]] = {}
    rows = (
        GoalMatchDay.objects.filter(account__in=accounts, day__gte=since)
        .values_list("account_id", "goal_code", "target_code")
        .annotate(found_sum=Sum("found"), not_found_sum=Sum("not_found"))
        .order_by("account_id", "goal_code", "target_code")
    )
    threshold = {a.pk: a.match_rate_min for a in accounts}
    low = [
        (account_id, goal, target, hit / (hit + miss))
        for account_id, goal, target, hit, miss in rows
        if hit + miss >= MATCH_WARN_MIN_GOALS and hit / (hit + miss) < threshold[account_id]
    ]
    if not low:
        return found
    goal_ids = {
        (account_id, code): pk
        for account_id, code, pk in Goal.objects.filter(account__in=accounts).values_list(
            "account_id", "code", "pk"
        )
    }
    for account_id, goal, target, rate in low:
        if (account_id, goal) not in goal_ids:
            continue  # a goal deleted since
        found.setdefault(account_id, []).append(
            Warning_(
                f"{goal} through {target}: only {rate:.0%} of its REST goals found the "
                f"visitor's assignment in the last 7 days (below {threshold[account_id]:.0%}): "
                "the page and the server must pass the same visitor id.",
                "goal",
                goal_ids[(account_id, goal)],
            )
        )
    return found


def _once(warnings: list[Warning_]) -> list[Warning_]:
    """Each warning once, in order (a goal's warning comes from every agent tracking it)."""
    seen: set[tuple[str, str, int]] = set()
    kept = []
    for w in warnings:
        if (w.text, w.fix, w.obj_id) not in seen:
            seen.add((w.text, w.fix, w.obj_id))
            kept.append(w)
    return kept


def _recent(agent_ids: list[int], week_from, recent_from) -> dict[int, dict]:
    """Visitors and conversions of the last 7 days and of today and yesterday (2 queries)."""
    found: dict[int, dict] = {}
    for row in (
        VisitorDay.objects.filter(agent_id__in=agent_ids, day__gte=week_from, forced=False)
        .values("agent_id", "day")
        .annotate(n=Sum("visitors"))
    ):
        cell = found.setdefault(row["agent_id"], {})
        cell["visitors_week"] = cell.get("visitors_week", 0) + row["n"]
        if row["day"] >= recent_from:
            cell["visitors_recent"] = cell.get("visitors_recent", 0) + row["n"]
    for row in (
        GoalDay.objects.filter(agent_id__in=agent_ids, day__gte=week_from, forced=False)
        .values("agent_id", "goal_id", "day")
        .annotate(n=Sum("conversions"))
    ):
        cell = found.setdefault(row["agent_id"], {})
        week = ("conversions_week", row["goal_id"])
        cell[week] = cell.get(week, 0) + row["n"]
        if row["day"] >= recent_from:
            now = ("conversions_recent", row["goal_id"])
            cell[now] = cell.get(now, 0) + row["n"]
    return found


def _rest_problems(accounts: list[Account]) -> dict[tuple[int, str], int]:
    """(account id, goal code) -> goal commands refused or not credited in the last 24 h."""
    since = timezone.now() - timedelta(hours=24)
    found: dict[tuple[int, str], int] = {}
    for row in (
        GoalOutcomeCount.objects.filter(account__in=accounts, hour__gte=since)
        .exclude(outcome=CREDITED)
        .filter(outcome__in=REST_PROBLEMS)
        .values("account_id", "goal_code")
        .annotate(n=Sum("count"))
    ):
        found[(row["account_id"], row["goal_code"])] = row["n"]
    return found


def _agent_warnings(agent, goals, report, line, account_targets, problems) -> list[Warning_]:
    code = agent.code
    warnings: list[Warning_] = []

    def warn(text: str, fix: str = "agent", obj_id: int = agent.pk) -> None:
        warnings.append(Warning_(text, fix, obj_id))

    if agent.status == AgentStatus.PAUSED:
        warn(f"{code} is paused: its visitors see its paused variation and nothing is counted.")
    elif line.visitors_recent == 0:
        warn(
            f"{code} is running but had no visitors today or yesterday: is its snippet on the page?"
        )
    if report["srm"]["flagged"]:
        warn(
            f"{code}: sample ratio mismatch (visitors are not split as the weights say): "
            "check the set-up."
        )
    express = [t for t in agent.targets.all() if t.kind == "express"]
    for goal in goals:
        if goal.trigger == GoalTrigger.API:  # a goal meant to be sent server-side
            items = server_side_checklist(
                goal=goal, express_targets=express, account_targets=account_targets
            )
            missing = [i for i in items if not i.ok and not i.recommended]
            if missing:
                warn(
                    f"{code} / {goal.code}: server-side checklist incomplete ({missing[0].label})."
                )
        refused = problems.get((agent.account_id, goal.code), 0)
        if refused:
            warn(
                f"{goal.code}: {refused} goal commands refused or not credited in the last "
                "24 hours.",
                "goal",
                goal.pk,
            )
    return warnings
