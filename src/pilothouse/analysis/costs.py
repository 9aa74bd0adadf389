"""The cost ledger's arithmetic: daily spend, movers, anomalies, budgets (the forecast
is :mod:`pilothouse.analysis.cost_forecast`).

Money stays Decimal and inside its currency: every function works on lines of
one currency (`split_by_currency` first); nothing here sums across currencies.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from pilothouse.analysis.cost_forecast import weekday_factors
from pilothouse.model import CostLine

ZERO = Decimal(0)
CENT = Decimal("0.01")
# ISO 4217 currencies whose minor unit is not the cent (the rest, and XXX, show 2 decimals).
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip


def format_money(value: Decimal | float, currency: str) -> str:
    """*value* rounded to the currency's minor unit: ``1234`` yen, ``12.35`` dollars.

    >>> format_money(Decimal("1234.4"), "JPY"), format_money(12.346, "usd")
    ('1234', '12.35')
    """
    places = _MINOR_UNITS.get(currency.upper(), 2)
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-places)))


def split_by_currency(lines: Iterable[CostLine]) -> dict[str, list[CostLine]]:
    found: dict[str, list[CostLine]] = defaultdict(list)
    for line in lines:
        found[line.currency.upper()].append(line)
    return dict(found)


def group_key(line: CostLine, by: str) -> str:
    """The group a line belongs to: service, workflow, model, or tag:KEY."""
    if by.startswith("tag:"):
        wanted = by[4:]
        return next((value for key, value in line.tags if key == wanted), "(untagged)")
    value = {"service": line.service, "workflow": line.workflow, "model": line.model}.get(by)
    return value or f"(no {by})"


def daily_totals(lines: Iterable[CostLine], days: Sequence[date]) -> dict[date, Decimal]:
    totals = dict.fromkeys(days, ZERO)
    for line in lines:
        if line.day in totals:
            totals[line.day] += line.amount
    return totals


def daily_by_group(
    lines: Iterable[CostLine], days: Sequence[date], by: str
) -> dict[str, dict[date, Decimal]]:
    grid: dict[str, dict[date, Decimal]] = {}
    wanted = set(days)
    for line in lines:
        if line.day in wanted:
            row = grid.setdefault(group_key(line, by), dict.fromkeys(days, ZERO))
            row[line.day] += line.amount
    return grid


@dataclass(frozen=True, slots=True)
class Mover:
    group: str
    before: Decimal
    after: Decimal

    @property
    def change(self) -> Decimal:
        return self.after - self.before


def top_movers(
    grid: Mapping[str, Mapping[date, Decimal]], end: date, *, span: int = 7, top: int = 5
) -> list[Mover]:
    """Groups whose spend changed most between the last *span* days and the span before."""
    recent = [end - timedelta(days=i) for i in range(span)]
    earlier = [end - timedelta(days=span + i) for i in range(span)]
    movers = [
        Mover(
            group,
            sum((row.get(d, ZERO) for d in earlier), ZERO),
            sum((row.get(d, ZERO) for d in recent), ZERO),
        )  # fmt: skip
        for group, row in grid.items()
    ]
    movers = [m for m in movers if abs(m.change) >= CENT]
    return sorted(movers, key=lambda m: (-abs(m.change), m.group))[:top]


# -- anomalies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anomaly:
    day: date
    amount: Decimal
    expected: Decimal
    score: float
    contributor: str
    contributor_increase: Decimal


def find_anomalies(
    totals: Mapping[date, Decimal],
    grid: Mapping[str, Mapping[date, Decimal]],
    *,
    trailing: int = 14,
    threshold: float = 3.5,
) -> list[Anomaly]:
    """Days far outside the recent distribution: a robust z-score (median and MAD of
    the trailing days) on spend with its weekday pattern taken out, so quiet
    weekends are not anomalies. Each comes with its main contributor: the group
    whose spend rose (or fell) most against its own trailing median.
    """
    days = sorted(totals)
    factors = weekday_factors({d: float(v) for d, v in totals.items()})
    adjusted = {d: float(totals[d]) / factors[d.weekday()] for d in days}
    found: list[Anomaly] = []
    for index, day in enumerate(days):
        past = [adjusted[d] for d in days[max(0, index - trailing) : index]]
        if len(past) < 7:
            continue
        median = statistics.median(past)
        mad = statistics.median(abs(x - median) for x in past) * 1.4826
        factor = factors[day.weekday()]
        expected = median * factor
        # Back in money: the floors (a tenth of the expected spend, one unit of the
        # currency) keep a quiet, near-zero history from calling every cent an anomaly.
        scale = max(mad * factor, 0.1 * expected, 1.0)
        score = (float(totals[day]) - expected) / scale
        if abs(score) < threshold:
            continue
        contributor, increase = _contributor(grid, days[max(0, index - trailing) : index], day)
        found.append(
            Anomaly(
                day,
                totals[day],
                Decimal(str(round(expected, 2))),
                round(score, 1),
                contributor,
                increase,
            )  # fmt: skip
        )
    return found


def _contributor(
    grid: Mapping[str, Mapping[date, Decimal]], past: Sequence[date], day: date
) -> tuple[str, Decimal]:
    best, best_increase = "", ZERO
    for group, row in sorted(grid.items()):
        baseline = Decimal(str(statistics.median([float(row.get(d, ZERO)) for d in past] or [0])))
        increase = row.get(day, ZERO) - baseline
        if abs(increase) > abs(best_increase):
            best, best_increase = group, increase
    return best, best_increase.quantize(CENT)


# -- budgets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    period: str  # daily | monthly
    amount: Decimal
    thresholds: tuple[float, ...] = (0.8, 1.0)


@dataclass(frozen=True, slots=True)
class Alert:
    """One crossed threshold; (budget, threshold, period, kind) identifies it for dedupe."""

    budget: str
    threshold: float
    period: str  # the day or month it is about, ISO
    kind: str  # actual | forecast | limit
    spent: Decimal
    limit: Decimal
    currency: str

    @property
    def key(self) -> str:
        """Budget, threshold, period and kind, plus the amount: raising a budget
        mid-period re-arms its alerts."""
        return (
            f"{self.budget}|{self.threshold:g}|{self.period}|{self.kind}|"
            f"{self.limit:.2f}{self.currency}"
        )

    def _money(self, value: Decimal) -> str:
        return format_money(value, self.currency)

    def text(self) -> str:
        share = float(self.spent / self.limit) if self.limit else 0.0
        what = {"actual": "spent", "forecast": "forecast to spend", "limit": "spent"}[self.kind]
        return (
            f"pilothouse: budget {self.budget} ({self.period}): {what} {self._money(self.spent)} "
            f"{self.currency} = {share:.0%} of {self._money(self.limit)} {self.currency}"
            f" (threshold {self.threshold:.0%})"
            if self.kind != "limit"
            else f"pilothouse: daily spend {self._money(self.spent)} {self.currency} on "
            f"{self.period} is above the alert limit of {self._money(self.limit)} {self.currency}"
        )


def evaluate_budgets(
    budgets: Sequence[Budget],
    totals: Mapping[date, Decimal],
    today: date,
    forecast_total: Decimal | None,
    currency: str,
    *,
    daily_limit: Decimal | None = None,
) -> list[Alert]:
    """Every threshold crossed by actual spend (and, for monthly budgets, by the
    forecast month-end total; None on the month's last day, when the forecast is the
    actual spend and its alerts would only repeat the actual ones)."""
    alerts: list[Alert] = []
    for budget in budgets:
        if budget.period == "daily":
            spent, period = totals.get(today, ZERO), today.isoformat()
            checks = [("actual", spent)]
        else:
            month = [a for d, a in totals.items() if d.replace(day=1) == today.replace(day=1)]
            spent, period = sum(month, ZERO), today.strftime("%Y-%m")
            checks = [("actual", spent)]
            if forecast_total is not None:
                checks.append(("forecast", forecast_total))
        for kind, value in checks:
            for threshold in budget.thresholds:
                if value >= budget.amount * Decimal(str(threshold)):
                    alerts.append(
                        Alert(budget.name, threshold, period, kind, value, budget.amount, currency)
                    )
    if daily_limit is not None and totals.get(today, ZERO) > daily_limit:
        alerts.append(
            Alert(
                "daily-limit", 1.0, today.isoformat(), "limit", totals[today], daily_limit, currency
            )  # fmt: skip
        )
    return alerts
