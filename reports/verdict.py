"""A goal's verdict (SPEC §7b): winner, loser, no difference or keep running, in one
sentence, decided on the always-valid (sequential) intervals of the conversion-rate lift
only, so that looking every day does not make false winners."""

from dataclasses import dataclass

WINNER = "winner"
LOSER = "loser"
NO_DIFFERENCE = "no_difference"
KEEP_RUNNING = "keep_running"


def verdict_short(verdict: dict[str, object]) -> str:
    """A verdict in a few words, for a list: "B wins", "Keep the baseline", ..."""
    state = verdict["state"]
    if state == WINNER:
        return f"{verdict['variation']} wins"
    if state == LOSER:
        return "Keep the baseline"
    return "No difference" if state == NO_DIFFERENCE else "Keep running"


@dataclass(frozen=True)
class Arm:
    """A variation as the verdict sees it."""

    code: str
    visitors: int
    rate: float | None
    rate_lift_sequential: tuple[float, float] | None  # None for the first variation


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def goal_verdict(
    *, arms: list[Arm], mde_rel: float, visitors_needed: int | None
) -> dict[str, object]:
    """{"state", "variation", "text"} for a goal whose first arm is the baseline."""
    base_rate = arms[0].rate if arms else None
    if len(arms) < 2 or not arms[0].visitors or not base_rate:
        return _keep_running(arms, visitors_needed, "not enough data on the first variation")
    base, others = arms[0], arms[1:]
    # an arm with an interval has a rate
    lifts = [(a, a.rate or 0.0, a.rate_lift_sequential) for a in others]
    better = [(a, rate, i) for a, rate, i in lifts if i and i[0] > 0]
    if better:
        best = max(better, key=lambda found: found[1])
        return _decided(WINNER, best, base, base_rate, "better", f"{best[0].code} wins")
    worse = [(a, rate, i) for a, rate, i in lifts if i and i[1] < 0]
    if worse and len(worse) == len(others):
        worst = min(worse, key=lambda found: found[1])
        return _decided(LOSER, worst, base, base_rate, "worse", f"keep {base.code}")
    margin = mde_rel * base_rate
    if all(i and -margin < i[0] and i[1] < margin for _, _, i in lifts):
        return {
            "state": NO_DIFFERENCE,
            "variation": None,
            "text": f"No variation converts {mde_rel * 100:g}% or more apart from {base.code} "
            f"(every always-valid interval is within ±{mde_rel * 100:g}%): no difference worth "
            "keeping.",
        }
    return _keep_running(arms, visitors_needed, "no always-valid interval excludes 0 yet")


def _decided(
    state: str,
    found: tuple[Arm, float, tuple[float, float]],
    base: Arm,
    base_rate: float,
    how: str,
    advice: str,
) -> dict[str, object]:
    arm, rate, interval = found
    low, high = (bound / base_rate for bound in interval)
    lift = (rate - base_rate) / base_rate
    return {
        "state": state,
        "variation": arm.code,
        "text": f"{arm.code} converts {how} than {base.code}: {_pct(lift)} (always-valid 95% "
        f"interval {_pct(low)} to {_pct(high)}); {advice}.",
    }


def _keep_running(arms: list[Arm], visitors_needed: int | None, why: str) -> dict[str, object]:
    least = min((a.visitors for a in arms), default=0)
    if visitors_needed:
        plan = (
            f"about {visitors_needed:,} visitors per variation detect the minimum effect; "
            f"the smallest has {least:,}"
        )
    else:
        plan = "visitors needed are unknown until the first variation converts"
    return {
        "state": KEEP_RUNNING,
        "variation": None,
        "text": f"Not enough evidence yet ({why}): keep running ({plan}).",
    }
