"""The month-end forecast: billing lag, weekday seasonality, trend, backtested interval."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from pilothouse.analysis import cost_forecast as cf

TODAY = date(2026, 11, 20)  # a Friday; ten days left in November


def _series(days: int, amount: object, *, end: date = TODAY) -> dict[date, float]:
    """*days* days up to *end*; *amount* is a number or a function of the day."""
    spend = amount if callable(amount) else (lambda _day: amount)
    return {end - timedelta(days=i): float(spend(end - timedelta(days=i))) for i in range(days)}


def _month(series: dict[date, float], day: date = TODAY) -> float:
    return sum(a for d, a in series.items() if d.month == day.month and d.year == day.year)


def test_a_billing_lag_is_missing_spend_not_zero() -> None:
    full = _series(120, 100.0, end=date(2026, 11, 30))
    lagged = {d: a for d, a in full.items() if d <= TODAY - timedelta(days=2)}
    by_source = {"cur": lagged, "actions-minutes": _series(120, 5.0)}
    assert cf.lagging_sources(by_source, TODAY) == {"cur": TODAY - timedelta(days=2)}
    assert cf.complete_through(cf.lagging_sources(by_source, TODAY), TODAY) == date(2026, 11, 18)
    forecast = cf.forecast_month(by_source, TODAY)
    assert round(forecast.estimated, 2) == 200.0  # two unbilled days at 100
    assert round(forecast.total, 2) == 30 * 105.0
    assert forecast.low <= 30 * 105.0 <= forecast.high


def test_sources_not_billed_daily_never_lag() -> None:
    weekdays = _series(60, lambda d: 40.0 if d.weekday() < 5 else 0.0)
    one_off = {TODAY - timedelta(days=2): 900.0}
    assert cf.lagging_sources({"bedrock-log": weekdays, "focus": one_off}, TODAY) == {}


def test_weekday_seasonality() -> None:
    weekly = _series(120, lambda d: 20.0 if d.weekday() >= 5 else 100.0)
    sunday = date(2026, 11, 29)
    weekly = _series(120, lambda d: 20.0 if d.weekday() >= 5 else 100.0, end=sunday)
    forecast = cf.forecast_month({"cur": weekly}, sunday)
    assert forecast.days_left == 1
    assert round(forecast.remaining, 2) == 100.0  # Monday the 30th
    assert forecast.low <= forecast.total <= forecast.high


def test_a_trend_that_stands_out_is_followed() -> None:
    rng = random.Random(4)
    start = TODAY - timedelta(days=119)
    rising = {d: (100 + 2 * (d - start).days) * rng.uniform(0.97, 1.03)
              for d in _series(151, 0.0, end=date(2026, 11, 30))}  # fmt: skip
    seen = {d: a for d, a in rising.items() if d <= TODAY}
    forecast = cf.forecast_month({"cur": seen}, TODAY)
    assert 1.5 < forecast.slope_per_day < 2.5
    assert abs(forecast.total - _month(rising)) / _month(rising) < 0.01
    assert forecast.low <= _month(rising) <= forecast.high


def test_noise_is_no_trend() -> None:
    rng = random.Random(5)
    flat = _series(120, lambda _d: 100 * rng.uniform(0.8, 1.2))
    assert cf.forecast_month({"cur": flat}, TODAY).slope_per_day == 0.0


def test_spikes_and_credits_do_not_move_the_forecast() -> None:
    steady = _series(120, 100.0)
    steady[TODAY - timedelta(days=3)] = -2690.0  # a one-off credit
    steady[TODAY - timedelta(days=9)] = 900.0  # a load test
    forecast = cf.forecast_month({"cur": steady}, TODAY)
    assert round(forecast.remaining, 2) == 1000.0  # ten more days at 100


def test_the_interval_comes_from_backtests_when_history_allows() -> None:
    rng = random.Random(6)
    noisy = _series(120, lambda _d: 100 * rng.lognormvariate(0, 0.1))
    long = cf.forecast_month({"cur": noisy}, TODAY)
    assert long.interval_from.startswith("backtest of ") and long.low < long.total < long.high
    recent = {d: a for d, a in noisy.items() if d > TODAY - timedelta(days=30)}
    short = cf.forecast_month({"cur": recent}, TODAY)
    assert short.interval_from == "spread (short history)" and short.low < short.total < short.high


def test_backtest_errors_are_relative_errors_of_earlier_cutoffs() -> None:
    steady = _series(40, 100.0)
    errors = cf.backtest_errors(steady, TODAY, 5)
    assert len(errors) == 40 - 5 - 28 + 1 and all(abs(e) < 1e-9 for e in errors)


def test_without_history_the_forecast_is_the_actuals() -> None:
    forecast = cf.forecast_month({"cur": {TODAY: 5.0}}, TODAY)
    assert forecast.total >= forecast.month_to_date == 5.0
    month_end = cf.forecast_month({"cur": {date(2026, 11, 30): 5.0}}, date(2026, 11, 30))
    assert (month_end.total, month_end.low, month_end.high, month_end.days_left) == (5, 5, 5, 0)


def test_spend_on_one_weekday_only() -> None:
    mondays = {date(2026, 11, 2) + timedelta(days=7 * i): 50.0 for i in range(4)}
    forecast = cf.forecast_month({"cur": mondays}, date(2026, 11, 28))
    assert forecast.total >= forecast.month_to_date == 200.0


@pytest.mark.parametrize("seed", range(20))
def test_the_point_forecast_lies_inside_its_interval(seed: int) -> None:
    """The backtest's median error corrects the point; it never leaves the interval."""
    rng = random.Random(seed)
    growth = rng.uniform(-0.003, 0.004)

    def spend(day: date) -> float:
        spike = 3 if rng.random() < 0.05 else 1
        return 100 * (1 + growth * (day - TODAY).days) * spike * rng.lognormvariate(0, 0.15)

    forecast = cf.forecast_month({"cur": _series(120, spend)}, TODAY)
    assert forecast.low <= forecast.total <= forecast.high
