"""Month-end forecast of spend: billing lag, weekday seasonality, trend, a backtested interval.

Works on daily spend per source as floats (a forecast is an estimate; the ledger's
exact Decimal sums stay in :mod:`pilothouse.analysis.costs`).

- **Billing lag.** Exports arrive a day or two late, so the last days of a
  daily-billed source are missing, not zero. A source billed on most days of
  the last four weeks whose last billed day is 1 to ``max_lag`` days before
  today is *lagging*: its missing days are estimated from its own history, and
  the ledger is *complete through* the earliest such last day (anomalies and
  movers stop there).
- **Point forecast.** Over the last ``basis`` days: median weekday factors,
  then a Theil-Sen line through the deseasonalised spend (robust to spikes and
  credits). The slope is kept only when it stands out of the noise (above three
  standard errors); otherwise the level is the median.
- **Interval.** Empirical: the same forecaster is run from every earlier
  cutoff the history allows, for the same number of days ahead, and the 6th
  and 94th percentiles of its relative errors bound the rest of the month: an
  80 % interval, as ``benchmarks/cost_forecast.py`` measures it (the errors seen
  inside the history understate the next month's a little, so the tails are
  wider than 10/90). With too little history for that, a wider parametric
  interval. The median of those errors corrects the point forecast for the
  forecaster's bias on this ledger. The benchmark also compares the error with
  a naive run rate.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

Series = Mapping[date, float]
DailySpend = dict[str, dict[str, dict[date, float]]]  # currency -> source -> day -> spend
BASIS = 28
MAX_LAG = 3
MIN_BACKTESTS = 12
_Z80 = 1.2816
_TAIL = 0.06  # calibrated: 76-81 % coverage over 3 x 300 benchmark cutoffs
_TREND_SE = 3.0  # standard errors a slope needs to count as a trend


# -- billing lag ------------------------------------------------------------------------


def lagging_sources(
    by_source: Mapping[str, Series], today: date, *, max_lag: int = MAX_LAG, basis: int = BASIS
) -> dict[str, date]:
    """Daily-billed sources whose last billed day is 1..*max_lag* days before *today*:
    source -> last billed day. A source billed on fewer than 80 % of the *basis*
    days up to its last day (Bedrock on weekdays only, a one-off purchase) is not
    expected every day and never lags."""
    found: dict[str, date] = {}
    for source, series in by_source.items():
        billed = [day for day, amount in series.items() if amount and day <= today]
        if not billed:
            continue
        last = max(billed)
        recent = sum(1 for day in billed if last - timedelta(days=basis) < day <= last)
        if 0 < (today - last).days <= max_lag and recent >= 0.8 * basis:
            found[source] = last
    return found


def complete_through(lagging: Mapping[str, date], today: date) -> date:
    """The last day every daily-billed source has billed."""
    return min(lagging.values(), default=today)


def fill_lag(by_source: Mapping[str, Series], today: date) -> tuple[dict[date, float], float]:
    """Daily totals through *today* with each lagging source's missing days estimated
    from its own history; (totals, the estimated part)."""
    lagging = lagging_sources(by_source, today)
    totals: dict[date, float] = defaultdict(float)
    estimated = 0.0
    for source, series in by_source.items():
        for day, amount in series.items():
            if day <= today:
                totals[day] += amount
        last = lagging.get(source)
        if last is None:
            continue
        predict = fit(series, last)
        for offset in range(1, (today - last).days + 1):
            guess = predict(last + timedelta(days=offset))
            totals[last + timedelta(days=offset)] += guess
            estimated += guess
    return dict(totals), estimated


# -- point forecast ---------------------------------------------------------------------


def weekday_factors(window: Mapping[date, float]) -> dict[int, float]:
    """Median spend per weekday over the overall median, floored at 0.05 so that a
    weekday without spend cannot divide by zero."""
    overall = statistics.median(window.values()) if window else 0.0
    by_weekday: dict[int, list[float]] = defaultdict(list)
    for day, amount in window.items():
        by_weekday[day.weekday()].append(amount)
    if overall <= 0:
        return dict.fromkeys(range(7), 1.0)
    return {
        weekday: max(statistics.median(by_weekday[weekday]) / overall, 0.05)
        if by_weekday[weekday]
        else 1.0
        for weekday in range(7)
    }


@dataclass(frozen=True, slots=True)
class Line:
    """A deseasonalised level and slope at the fit's last day, and its noise."""

    level: float
    slope: float
    sigma: float


def _theil_sen(points: list[tuple[int, float]]) -> float:
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    return statistics.median(slopes) if slopes else 0.0


def _line(deseasonalised: list[tuple[int, float]]) -> Line:
    """Theil-Sen through the points; the slope only where it beats _TREND_SE standard errors."""
    n = len(deseasonalised)
    slope = _theil_sen(deseasonalised) if n >= 14 else 0.0
    end = deseasonalised[-1][0]
    residuals = [y - slope * (x - end) for x, y in deseasonalised]
    level = statistics.median(residuals)
    centre = [r - level for r in residuals]
    sigma = 1.4826 * statistics.median(abs(r) for r in centre)
    spread = math.sqrt(sum((x - end + (n - 1) / 2) ** 2 for x, _ in deseasonalised)) or 1.0
    if abs(slope) <= _TREND_SE * sigma / spread:
        level = statistics.median(y for _x, y in deseasonalised)
        slope = 0.0
    return Line(level, slope, sigma)


def _deseasonalised(
    series: Series, end: date, basis: int
) -> tuple[dict[int, float], list[tuple[int, float]]]:
    """Weekday factors of the *basis* days up to *end* (a missing day is zero spend),
    and those days as (days before *end*, spend / factor)."""
    window = {end - timedelta(days=i): series.get(end - timedelta(days=i), 0.0)
              for i in range(basis)}  # fmt: skip
    factors = weekday_factors(window)
    points = sorted(((day - end).days, window[day] / factors[day.weekday()]) for day in window)
    return factors, points


def fit(series: Series, end: date, *, basis: int = BASIS) -> Callable[[date], float]:
    """A daily forecaster from the *basis* days of *series* up to *end*:
    day -> expected spend, never below zero."""
    factors, points = _deseasonalised(series, end, basis)
    line = _line(points)

    def predict(day: date) -> float:
        ahead = (day - end).days
        return max((line.level + line.slope * ahead) * factors[day.weekday()], 0.0)

    return predict


def _sum_ahead(predict: Callable[[date], float], end: date, days: int) -> float:
    return sum(predict(end + timedelta(days=i)) for i in range(1, days + 1))


# -- interval -------------------------------------------------------------------------


def _quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    at = share * (len(ordered) - 1)
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def backtest_errors(totals: Series, end: date, horizon: int, *, basis: int = BASIS) -> list[float]:
    """Relative errors (actual / forecast - 1) of the forecaster run from each earlier
    cutoff of *totals* for *horizon* days, the last cutoff *horizon* days before *end*."""
    if not totals or horizon <= 0:
        return []
    first = min(totals)
    errors = []
    cutoff = end - timedelta(days=horizon)
    while (cutoff - first).days + 1 >= basis:
        predicted = _sum_ahead(fit(totals, cutoff, basis=basis), cutoff, horizon)
        actual = sum(totals.get(cutoff + timedelta(days=i), 0.0) for i in range(1, horizon + 1))
        if predicted > 0:
            errors.append(actual / predicted - 1)
        cutoff -= timedelta(days=1)
    return errors


# -- the month ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthForecast:
    month_to_date: float  # billed plus estimated unbilled days, through today
    estimated: float  # the unbilled part of month_to_date (billing lag)
    remaining: float
    total: float
    low: float
    high: float
    days_left: int
    complete_through: date
    slope_per_day: float  # deseasonalised trend, 0 when none stands out
    interval_from: str  # "backtest of N cutoffs" or "spread (short history)"


def forecast_month(by_source: Mapping[str, Series], today: date) -> MonthForecast:
    """Month-end spend from daily spend per source through *today*."""
    lagging = lagging_sources(by_source, today)
    totals, _estimated = fill_lag(by_source, today)
    start = today.replace(day=1)
    next_month = (start + timedelta(days=32)).replace(day=1)
    days_left = (next_month - today).days - 1
    to_date = sum(amount for day, amount in totals.items() if start <= day <= today)
    estimated = _estimated_this_month(by_source, totals, start, today)
    predict = fit(totals, today)
    remaining, low, high, how = _calibrated(totals, today, days_left,
                                            _sum_ahead(predict, today, days_left))  # fmt: skip
    line = _line(_deseasonalised(totals, today, BASIS)[1])
    return MonthForecast(
        month_to_date=to_date,
        estimated=estimated,
        remaining=remaining,
        total=to_date + remaining,
        low=to_date + low,
        high=to_date + high,
        days_left=days_left,
        complete_through=complete_through(lagging, today),
        slope_per_day=line.slope,
        interval_from=how,
    )


def _estimated_this_month(
    by_source: Mapping[str, Series], totals: Series, start: date, today: date
) -> float:
    billed = sum(
        amount
        for series in by_source.values()
        for day, amount in series.items()
        if start <= day <= today
    )
    return sum(a for d, a in totals.items() if start <= d <= today) - billed


def _calibrated(
    totals: Series, today: date, horizon: int, remaining: float
) -> tuple[float, float, float, str]:
    """The remaining spend corrected by the forecaster's median backtest error (its
    bias on this ledger), and its bounds from the error quantiles; with too little
    history, uncorrected within a wide parametric spread."""
    if horizon <= 0:
        return 0.0, 0.0, 0.0, "none (month complete)"
    errors = backtest_errors(totals, today, horizon)
    if len(errors) >= MIN_BACKTESTS:
        low = max(remaining * (1 + _quantile(errors, _TAIL)), 0.0)
        high = max(remaining * (1 + _quantile(errors, 1 - _TAIL)), low)
        point = min(max(remaining * (1 + statistics.median(errors)), low), high)
        return point, low, high, f"backtest of {len(errors)} cutoffs"
    sigma = _line(_deseasonalised(totals, today, BASIS)[1]).sigma
    # Day-to-day noise adds up as sqrt(h); an error in the level as h.
    spread = _Z80 * sigma * math.sqrt(horizon + horizon**2 / 7)
    return remaining, max(remaining - spread, 0.0), remaining + spread, "spread (short history)"
