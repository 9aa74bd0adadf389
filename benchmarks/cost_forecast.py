"""Benchmark: month-end cost forecast accuracy and interval coverage, by backtest.

Generated daily spend (seeded), as a real ledger sees it:
- a cloud bill with weekday seasonality (weekends cheaper), a trend (flat, rising
  or falling, per series), day-to-day noise, occasional spikes and one-off
  credits, delivered with a billing lag of 0-2 days;
- LLM usage billed on weekdays only, with its own noise.

At each cutoff (a random day of a random series) both forecasters see the ledger
as it stood that day (lagged days missing) and forecast the month's total; the
truth is the month's full spend. Printed: MAPE of the month-end total and the
share of cutoffs whose true total fell inside the 80 % interval, for pilothouse
and for a naive run rate (month to date as billed + the last 7 days' mean x days
left, what a spreadsheet does). Nothing is asserted.

    .venv/bin/python benchmarks/cost_forecast.py [--cutoffs 300] [--seed 11]
"""

from __future__ import annotations

import argparse
import random
import statistics
from datetime import date, timedelta

from pilothouse.analysis.cost_forecast import forecast_month

START = date(2025, 1, 6)
DAYS = 300


def generate(rng: random.Random) -> dict[str, dict[date, float]]:
    """One ledger: daily spend per source over DAYS days."""
    base = rng.uniform(50, 500)
    slope = rng.choice([0.0, 0.0, rng.uniform(-0.002, 0.004)])  # share of base per day
    weekend = rng.uniform(0.3, 0.9)
    noise = rng.uniform(0.03, 0.15)
    llm_base = base * rng.uniform(0.05, 0.4)
    cloud: dict[date, float] = {}
    llm: dict[date, float] = {}
    for i in range(DAYS):
        day = START + timedelta(days=i)
        level = base * max(1 + slope * i, 0.2)
        amount = level * (weekend if day.weekday() >= 5 else 1.0) * rng.lognormvariate(0, noise)
        if rng.random() < 0.03:
            amount *= rng.uniform(2, 4)  # a spike: a load test, a runaway job
        if rng.random() < 0.01:
            amount -= level * rng.uniform(0.5, 2)  # a one-off credit
        cloud[day] = amount
        if day.weekday() < 5:
            llm[day] = llm_base * rng.lognormvariate(0, 0.3)
    return {"cloud": cloud, "llm": llm}


def as_seen(
    ledger: dict[str, dict[date, float]], today: date, lag: int
) -> dict[str, dict[date, float]]:
    """The ledger on *today*: nothing after today, the cloud bill *lag* days late."""
    seen = {}
    for source, series in ledger.items():
        last = today - timedelta(days=lag if source == "cloud" else 0)
        seen[source] = {d: a for d, a in series.items() if d <= last}
    return seen


def month_total(ledger: dict[str, dict[date, float]], today: date) -> float:
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return sum(a for series in ledger.values() for d, a in series.items() if start <= d < end)


def naive(seen: dict[str, dict[date, float]], today: date) -> float:
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    daily = [sum(s.get(today - timedelta(days=i), 0.0) for s in seen.values()) for i in range(7)]
    to_date = sum(a for s in seen.values() for d, a in s.items() if start <= d <= today)
    return to_date + statistics.fmean(daily) * (end - today).days - statistics.fmean(daily)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ledgers = [generate(rng) for _ in range(max(args.cutoffs // 30, 1))]
    ours, theirs, inside, widths = [], [], 0, []
    lag_errors: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for n in range(args.cutoffs):
        ledger = ledgers[n % len(ledgers)]
        today = START + timedelta(days=rng.randrange(150, DAYS - 31))
        lag = rng.choice([0, 1, 2])
        seen = as_seen(ledger, today, lag)
        truth = month_total(ledger, today)
        forecast = forecast_month(seen, today)
        ours.append(abs(forecast.total - truth) / truth)
        lag_errors[lag].append(abs(forecast.total - truth) / truth)
        theirs.append(abs(naive(seen, today) - truth) / truth)
        inside += forecast.low <= truth <= forecast.high
        widths.append((forecast.high - forecast.low) / truth)
    print(f"{args.cutoffs} cutoffs over {len(ledgers)} generated ledgers (seed {args.seed})")
    print(
        f"  pilothouse  MAPE {statistics.fmean(ours):6.2%}   80% interval coverage "
        f"{inside / args.cutoffs:6.1%}   median width {statistics.median(widths):.1%} of total"
    )
    print(f"  naive       MAPE {statistics.fmean(theirs):6.2%}   (run rate of the last 7 days)")
    for lag, errors in lag_errors.items():
        print(f"  pilothouse with a {lag}-day billing lag: MAPE {statistics.fmean(errors):6.2%}")


if __name__ == "__main__":
    main()
