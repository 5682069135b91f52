"""The adaptive allocation's simulation (SPEC §4e): does the bandit find the best variation,
what does it save, and do the report's intervals stay honest?

Each run is a 14-day test of three variations whose true conversion rates are 4%, 5% and
6%, with hourly allocation periods (the account's default), a 5% floor and a burn-in of
100 visitors (the defaults). Every hour, new visitors (Poisson) are split by the period's
shares; each converts with its variation's rate, and its goal arrives 0 to 48 hours later
(uniform). The shares come from the product's own code (`agents.adaptive.adaptive_shares`)
fed as `reports.adaptive` feeds it: the visitors and first-goal conversions of periods
whose attribution window (72 h, the default) has closed. The report's intervals are the
product's too (`reports.phases.phases_estimate`, then the Wilson interval), computed once
every goal of the test's visitors is in (48 hours after it ends).

Three figures, over the runs:
- the share of runs in which the best variation gets at least 60% of the last day's
  visitors (SPEC: at least 90%);
- the conversions adaptive allocation loses against always showing the best, as a share
  of what a fixed equal split loses (expected values; SPEC: at most 50%);
- the share of the variations' 95% intervals that hold their true rate (SPEC: at least 93%).

    .venv/bin/python bench/adaptive_simulation.py [--runs 500] [--seed 1] [--visitors-per-day 2000]

numpy draws the traffic (a test-only dependency); the product's code stays pure Python.
"""

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._django import django_setup

RATES = (0.04, 0.05, 0.06)
DAYS = 14
DELAY_HOURS = 48  # goals arrive 0 to 48 hours after the assignment
WINDOW_HOURS = 72  # the attribution window: periods older than this have all their goals
FLOOR = 0.05
BURN_IN = 100
BEST_SHARE = 0.60  # what the best variation should get of the last day's visitors


@dataclass(frozen=True)
class Figures:
    runs: int
    best_found: float  # share of runs where the best got BEST_SHARE of the last day
    regret_ratio: float  # adaptive's expected loss / a fixed equal split's
    coverage: float  # share of 95% intervals holding the true rate
    seconds: float


def simulate(*, runs: int, seed: int, visitors_per_day: int = 2000) -> Figures:
    """Run the simulation (see the module's docstring) and return its figures."""
    from agents.adaptive import adaptive_shares
    from reports.phases import PhaseCounts, phases_estimate
    from reports.statistics import wilson_ci95
    from targets.choices import Channel

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    rates = np.array(RATES)
    k, hours = len(RATES), DAYS * 24
    best = int(rates.argmax())
    variations = [SimpleNamespace(pk=i, code=f"v{i}") for i in range(k)]
    goal = SimpleNamespace(pk=0, code="g")
    found = held = intervals = 0
    regret_adaptive = regret_fixed = 0.0
    for _ in range(runs):
        visitors = np.zeros((hours, k), dtype=np.int64)
        conversions = np.zeros((hours, k), dtype=np.int64)
        for hour in range(hours):
            mature = hour - WINDOW_HOURS  # periods 0 .. mature-1 ended a window ago
            if mature > 0:
                counts = [
                    (int(conversions[:mature, v].sum()), int(visitors[:mature, v].sum()))
                    for v in range(k)
                ]
            else:
                counts = [(0, 0)] * k
            shares = adaptive_shares(counts, active=[True] * k, floor=FLOOR, burn_in=BURN_IN)
            n = rng.multinomial(rng.poisson(visitors_per_day / 24), shares)
            visitors[hour] = n
            conversions[hour] = rng.binomial(n, rates)
            # the goals arrive within DELAY_HOURS < WINDOW_HOURS: the learner (mature periods
            # only) and the final report (after the last arrivals) both see them all
        last_day = visitors[-24:].sum(axis=0)
        found += bool(last_day[best] >= BEST_SHARE * last_day.sum())
        total = visitors.sum(axis=0)
        regret_adaptive += float(((rates[best] - rates) * total).sum())
        regret_fixed += float((rates[best] - rates.mean()) * total.sum())
        per_phase = {
            hour: PhaseCounts(
                visitors={v: int(visitors[hour, v]) for v in range(k) if visitors[hour, v]},
                sums={
                    (goal.pk, v): {
                        Channel.CLIENT: 0,
                        Channel.SERVER: int(conversions[hour, v]),
                        "value_sum": float(conversions[hour, v]),
                        "value_sumsq": float(conversions[hour, v]),
                    }
                    for v in range(k)
                },
            )
            for hour in range(hours)
        }
        estimate = phases_estimate(per_phase, variations, [goal])
        for v in range(k):
            cell = estimate.sums.get((goal.pk, v))
            interval = (
                wilson_ci95(int(cell["conversions"]), int(cell["visitors"])) if cell else None
            )
            intervals += 1
            held += bool(interval and interval[0] <= rates[v] <= interval[1])
    return Figures(
        runs=runs,
        best_found=found / runs,
        regret_ratio=regret_adaptive / regret_fixed,
        coverage=held / intervals,
        seconds=time.perf_counter() - started,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--visitors-per-day", type=int, default=2000)
    args = parser.parse_args()
    django_setup()
    f = simulate(runs=args.runs, seed=args.seed, visitors_per_day=args.visitors_per_day)
    print(
        f"{f.runs} runs of {DAYS} days, rates {', '.join(f'{r:.0%}' for r in RATES)}, "
        f"{args.visitors_per_day} visitors a day, goals 0-{DELAY_HOURS} h late, seed {args.seed}\n"
        f"best variation has >= {BEST_SHARE:.0%} of the last day's visitors: "
        f"{f.best_found:.1%} of runs (target >= 90%)\n"
        f"conversions lost against always showing the best, adaptive / fixed equal split: "
        f"{f.regret_ratio:.1%} (target <= 50%)\n"
        f"95% intervals holding the true rate: {f.coverage:.1%} (target >= 93%)\n"
        f"run time: {f.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
