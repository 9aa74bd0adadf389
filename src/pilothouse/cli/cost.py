"""`pilothouse cost`: spend, budgets and alerts, forecast, anomalies, what-if savings."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from pilothouse.analysis import cost_forecast
from pilothouse.analysis import costs as ledger
from pilothouse.analysis import whatif as scenarios
from pilothouse.analysis.actions_cost import actions_cost_lines, without_covered_days
from pilothouse.cli.output import print_json, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.errors import ConfigError, InputError, PilothouseError
from pilothouse.model import CostLine
from pilothouse.sources.costs import price_book_from_config, token_pricer
from pilothouse.sources.utilisation import read_utilisation
from pilothouse.store import Store
from pilothouse.store.costs import CostSum, StoredRange

app = typer.Typer(
    help="Where the money goes: daily spend, budgets, forecast, anomalies, what-if.",
    invoke_without_command=True,
)
DaysOption = Annotated[int, typer.Option(min=1, max=366, help="Days of history.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
UntilOption = Annotated[
    str | None, typer.Option(help="Last day of the window, YYYY-MM-DD (default: today).")
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="First day of the window, YYYY-MM-DD (instead of --days)."),
]


def _day_option(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected YYYY-MM-DD", param_hint=flag) from None


def _end(state: State, until: str | None) -> date:
    return state.now().date() if until is None else _day_option(until, "--until")


def _days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def _window(state: State, since: str | None, until: str | None, days: int) -> list[date]:
    """The days a command reads: --since (or --days back) to --until (or today)."""
    end = _end(state, until)
    if since is None:
        return _days(end, days)
    start = _day_option(since, "--since")
    if start > end:
        raise typer.BadParameter(f"{since} is after the window's end {end}", param_hint="--since")
    return _days(end, (end - start).days + 1)


def empty_window_note(span: list[date], stored: StoredRange) -> str:
    """What to say when the window holds no spend: the store's range, and how to see it."""
    if not stored.lines or stored.first is None or stored.last is None:
        return "No cost data: pilothouse ingest cost PATH --format ..."
    return (
        f"No cost data from {span[0]} to {span[-1]}; the store holds {stored.lines} cost lines "
        f"from {stored.first} to {stored.last}: pilothouse cost --since {stored.first} "
        f"--until {stored.last}"
    )


def load_ledger(
    store: Store,
    state: State,
    since: date,
    today: date,
    by: Sequence[str] = (),
    *,
    signed: bool = False,
) -> list[CostSum]:
    """Stored spend summed by the database per currency, day, source and *by*, plus
    Actions minutes priced from stored jobs (days the usage report does not cover)."""
    stored = store.cost_sums(since, today, by, signed=signed)
    start = datetime.combine(since, time(), tzinfo=UTC)
    computed = actions_cost_lines(
        store.finished_jobs(start),
        state.config["cost.actions_rates"],
        state.config["cost.currency"],
    )
    covered = store.usage_report_days(since, today)
    return stored + [
        CostSum(line, 1) for line in without_covered_days(computed, covered) if line.day <= today
    ]  # fmt: skip


def _lines_of(sums: Sequence[CostSum]) -> list[CostLine]:
    return [summed.line for summed in sums]


def _grouping(by: str) -> tuple[str, ...]:
    """The columns the database groups by for `--by`."""
    return ("tags",) if by.startswith("tag:") else (by,)


# Days of history the forecast reads: its basis plus a few months of backtests.
HISTORY_DAYS = 120


def spend_history(store: Store, state: State, today: date) -> cost_forecast.DailySpend:
    """Daily spend per currency and source over HISTORY_DAYS (summed in the database),
    with the Actions minutes priced from stored jobs for days the usage report lacks."""
    since = today - timedelta(days=HISTORY_DAYS - 1)
    history = store.daily_spend(since, today)
    computed = actions_cost_lines(
        store.finished_jobs(datetime.combine(since, time(), tzinfo=UTC)),
        state.config["cost.actions_rates"],
        state.config["cost.currency"],
    )
    for line in without_covered_days(computed, store.usage_report_days(since, today)):
        if line.day <= today:
            series = history.setdefault(line.currency.upper(), {}).setdefault(line.source, {})
            series[line.day] = series.get(line.day, 0.0) + float(line.amount)
    return history


def _money(value: Decimal | float, currency: str) -> str:
    return ledger.format_money(value, currency)


def _forecast_json(forecast: cost_forecast.MonthForecast, currency: str) -> dict[str, Any]:
    return {
        "month_to_date": _money(forecast.month_to_date, currency),
        "estimated_unbilled": _money(forecast.estimated, currency),
        "month_end": _money(forecast.total, currency),
        "interval": [_money(forecast.low, currency), _money(forecast.high, currency)],
        "days_left": forecast.days_left,
        "trend_per_day": round(forecast.slope_per_day, 2),
        "interval_from": forecast.interval_from,
    }


def _currency_report(
    lines: list[CostLine],
    days: list[date],
    by: str,
    currency: str,
    state: State,
    history: cost_forecast.DailySpend,
) -> dict[str, Any]:
    today = days[-1]
    totals = ledger.daily_totals(lines, days)
    grid = ledger.daily_by_group(lines, days, by)
    by_source = history.get(currency, {})
    lagging = cost_forecast.lagging_sources(by_source, today)
    # Movers and anomalies stop at the last day every daily-billed source has billed:
    # a day or two of billing lag is missing spend, not a drop; and never past the last
    # day anything was billed: the days after an export ends are no data, not zero spend.
    billed = max((day for day, amount in totals.items() if amount), default=today)
    complete = min(cost_forecast.complete_through(lagging, today), billed)
    report: dict[str, Any] = {
        "total": _money(sum(totals.values(), ledger.ZERO), currency),
        "daily": [
            {
                "day": day.isoformat(),
                "total": _money(totals[day], currency),
                "groups": {
                    g: _money(row[day], currency) for g, row in sorted(grid.items()) if row[day]
                },
            }
            for day in days
        ],
        "by_group": {
            g: _money(sum(row.values(), ledger.ZERO), currency)
            for g, row in sorted(grid.items(), key=lambda kv: -sum(kv[1].values(), ledger.ZERO))
        },
        "today": _money(totals[today], currency),
        "billed_through": complete.isoformat(),
        "lagging_sources": {source: day.isoformat() for source, day in sorted(lagging.items())},
        "movers": [
            {
                "group": m.group,
                "before": _money(m.before, currency),
                "after": _money(m.after, currency),
                "change": _money(m.change, currency),
            }  # fmt: skip
            for m in ledger.top_movers(grid, complete)
        ],
        "anomalies": [
            {
                "day": a.day.isoformat(),
                "amount": _money(a.amount, currency),
                "expected": _money(a.expected, currency),
                "score": a.score,
                "main_contributor": a.contributor,
                "contributor_increase": _money(a.contributor_increase, currency),
            }  # fmt: skip
            # Today is not over: its partial spend would look like a drop.
            for a in ledger.find_anomalies(
                {d: v for d, v in totals.items() if d < today and d <= complete}, grid
            )
        ],
    }
    if currency == state.config["cost.currency"].upper():
        forecast = cost_forecast.forecast_month(by_source, today)
        report.update(
            target=_money(Decimal(str(state.config["cost.daily_target"])), currency),
            alert_limit=_money(Decimal(str(state.config["budget.daily_limit"])), currency),
            forecast=_forecast_json(forecast, currency),
        )
    return report


def _daily_table(currency: str, data: dict[str, Any], by: str, width: int) -> Table:
    """The last 14 days: net total, and the largest group's gross spend (credits can
    make a day's net smaller than its largest group). Group names fold, never cut;
    under 70 columns the amount of the largest group goes first."""
    table = Table(title=f"{currency}: daily spend, {data['since']} to {data['until']}",
                  title_justify="left")  # fmt: skip
    table.add_column("day", no_wrap=True)
    table.add_column("net", justify="right", no_wrap=True)
    table.add_column(f"largest {by}", overflow="fold", ratio=1)
    table.add_column("gross", justify="right", no_wrap=True)
    if width >= 70:
        table.add_column("credits", justify="right", no_wrap=True)
    for row in data["daily"][-14:]:
        amounts = {g: Decimal(v) for g, v in row["groups"].items()}
        top = max(amounts.items(), key=lambda kv: kv[1], default=("", ledger.ZERO))
        credits = sum((v for v in amounts.values() if v < 0), ledger.ZERO)
        cells = [row["day"], row["total"], Text(top[0]), row["groups"].get(top[0], "")]
        if width >= 70:
            cells.append(_money(credits, currency) if credits else "")
        table.add_row(*cells)
    return table


def _group_table(currency: str, data: dict[str, Any], by: str, limit: int) -> Table:
    """Totals per group over the window, largest first, as --json's by_group."""
    table = Table(title=f"{currency} by {by}, {data['since']} to {data['until']}",
                  title_justify="left")  # fmt: skip
    table.add_column(by, overflow="fold", ratio=1)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    total = Decimal(data["total"])
    groups = list(data["by_group"].items())
    for group, amount in groups[:limit]:
        share = f"{Decimal(amount) / total:.0%}" if total > 0 else ""
        table.add_row(Text(group), amount, share)
    if len(groups) > limit:
        rest = sum((Decimal(v) for _g, v in groups[limit:]), ledger.ZERO)
        table.add_row(Text(f"({len(groups) - limit} more)"), _money(rest, currency), "")
    return table


def _summary(currency: str, data: dict[str, Any]) -> list[str]:
    days = f"{data['since']} to {data['until']}"
    lines = [f"{currency} {data['total']} from {days}; today {data['today']}"]
    if "target" in data:
        forecast = data["forecast"]
        lines[0] += f" (target {data['target']}, alert above {data['alert_limit']})"
        lines.append(
            f"month-end forecast {forecast['month_end']} [{forecast['interval'][0]} .. "
            f"{forecast['interval'][1]}], {forecast['month_to_date']} to date"
        )
    if data["lagging_sources"]:
        late = ", ".join(data["lagging_sources"])
        estimate = data.get("forecast", {}).get("estimated_unbilled")
        lines.append(
            f"billed through {data['billed_through']} ({late} late"
            + (f", {estimate} estimated since" if estimate else "")
            + "): movers and anomalies stop there"
        )
    lines += [f"  mover: {m['group']} {m['before']} -> {m['after']}" for m in data["movers"]]
    lines += [
        f"  anomaly: {a['day']} {a['amount']} (expected {a['expected']}), "
        f"mostly {a['main_contributor']}"
        for a in data["anomalies"]
    ]
    return lines


def _render(report: dict[str, Any], by: str, state: State) -> None:
    console = stdout_console(state.env)
    for currency, data in report["currencies"].items():
        data = {**data, "since": report["since"], "until": report["until"]}
        console.print(_daily_table(currency, data, by, console.width))
        console.print(_group_table(currency, data, by, int(state.config["report.limit"])))
        for line in _summary(currency, data):
            console.print(Text(line))


def cost_window(today: date, days: int = 30) -> list[date]:
    """The *days* days up to *today*: the window `cost --days` reads."""
    return _days(today, days)


def cost_data(store: Store, state: State, span: list[date], by: str = "service") -> dict[str, Any]:
    """`cost --json`: spend per day and per *by* group over the days *span* (see
    cost_window), per currency, with movers, anomalies and, in the main currency, the
    target, the alert limit and the month-end forecast."""
    lines = _lines_of(load_ledger(store, state, span[0], span[-1], _grouping(by)))
    stored = store.cost_range()
    history = spend_history(store, state, span[-1])
    return {
        "days": len(span),
        "since": span[0].isoformat(),
        "until": span[-1].isoformat(),
        "by": by,
        "stored": {
            "lines": stored.lines,
            "first_day": stored.first and stored.first.isoformat(),
            "last_day": stored.last and stored.last.isoformat(),
        },
        "currencies": {
            currency: _currency_report(items, span, by, currency, state, history)
            for currency, items in sorted(ledger.split_by_currency(lines).items())
        },
    }


@app.callback()
def cost(
    ctx: typer.Context,
    days: DaysOption = 30,
    by: Annotated[str, typer.Option(help="service, workflow, model or tag:KEY.")] = "service",
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Daily spend with totals, today against the target and the alert limit, the top
    movers, the month-end forecast and anomalous days. Currencies are never summed."""
    if ctx.invoked_subcommand is not None:
        return
    if by not in ("service", "workflow", "model") and not (by.startswith("tag:") and by[4:]):
        raise typer.BadParameter(f"{by!r}: use service, workflow, model or tag:KEY",
                                 param_hint="--by")  # fmt: skip
    state = state_of(ctx)
    span = _window(state, since, until, days)
    with state.open_store() as store:
        report = cost_data(store, state, span, by)
        stored = store.cost_range()
    if as_json:
        print_json(report)
    elif not report["currencies"]:
        stdout_console(state.env).print(Text(empty_window_note(span, stored)))
    else:
        _render(report, by, state)


# -- alerts ---------------------------------------------------------------------------------


def budgets_of(state: State) -> list[ledger.Budget]:
    """The daily and monthly budgets of [budget], with their alert thresholds."""
    thresholds = tuple(float(t) for t in state.config["budget.thresholds"])
    return [
        ledger.Budget("daily", "daily", Decimal(str(state.config["budget.daily"])), thresholds),
        ledger.Budget(
            "monthly", "monthly", Decimal(str(state.config["budget.monthly"])), thresholds
        ),  # fmt: skip
    ]


def current_alerts(store: Store, state: State) -> list[ledger.Alert]:
    today = state.now().date()
    since = min(today.replace(day=1), today - timedelta(days=28))
    currency = state.config["cost.currency"].upper()
    split = ledger.split_by_currency(_lines_of(load_ledger(store, state, since, today)))
    lines = split.get(currency, [])
    totals = ledger.daily_totals(lines, _days(today, (today - since).days + 1))
    forecast = cost_forecast.forecast_month(spend_history(store, state, today).get(currency, {}),
                                            today)  # fmt: skip
    # On the month's last day the forecast is the actual spend: no second alert for it.
    total = Decimal(_money(forecast.total, currency)) if forecast.days_left else None
    limit = Decimal(str(state.config["budget.daily_limit"]))
    return ledger.evaluate_budgets(budgets_of(state), totals, today, total, currency,
                                   daily_limit=limit)  # fmt: skip


@app.command("alerts")
def alerts(
    ctx: typer.Context,
    notify: Annotated[
        bool, typer.Option("--notify", help="Send new alerts to budget.webhooks, once each.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate the budgets (thresholds on actual and forecast spend, the daily limit)."""
    state = state_of(ctx)
    webhooks: list[str] = state.config["budget.webhooks"]
    if notify and not webhooks:
        raise ConfigError("--notify: no budget.webhooks in pilothouse.toml to send alerts to")
    failures: list[str] = []
    with state.open_store() as store:
        found = current_alerts(store, state)
        keys, done, sent = _deliveries(store, found, webhooks)
        delivered: list[str] = []
        if notify:
            import httpx

            from pilothouse.notify import post_webhook

            with httpx.Client() as client:
                for alert in (a for a in found if a.key not in sent):
                    ok = True
                    for url, key in zip(webhooks, keys[alert.key], strict=True):
                        if key in done:
                            continue  # this webhook has it already
                        problem = post_webhook(client, url, alert.text())
                        if problem:
                            failures.append(problem)
                            ok = False
                        else:
                            store.mark_alert_sent(key, state.now())
                    if ok:
                        delivered.append(alert.key)
    rows = _alert_rows(found, sent, delivered)
    if as_json:
        print_json({"alerts": rows, "failures": failures})
    else:
        for row in rows:
            status = "sent now" if row["sent_now"] else ("new" if row["new"] else "sent before")
            sys.stdout.write(f"[{status}] {row['text']}\n")
        if not rows:
            sys.stdout.write("no budget threshold crossed\n")
    if failures:
        raise PilothouseError(f"{len(failures)} alert deliveries failed: {'; '.join(failures)}")


def _deliveries(
    store: Store, found: list[ledger.Alert], webhooks: list[str]
) -> tuple[dict[str, list[str]], set[str], set[str]]:
    """Each alert's delivery keys (one per webhook), the deliveries done, and the
    alerts every webhook has had."""
    targets = webhooks or [""]  # without webhooks an alert is "new" until sent somewhere
    keys = {a.key: [_delivery_key(a.key, url) for url in targets] for a in found}
    done = store.sent_alerts(k for ks in keys.values() for k in ks)
    sent = {key for key, ks in keys.items() if all(k in done for k in ks)}
    return keys, done, sent


def _alert_rows(
    found: list[ledger.Alert], sent: set[str], delivered: list[str]
) -> list[dict[str, Any]]:
    return [
        {
            "key": a.key,
            "budget": a.budget,
            "threshold": a.threshold,
            "period": a.period,
            "kind": a.kind,
            "spent": _money(a.spent, a.currency),
            "limit": _money(a.limit, a.currency),
            "currency": a.currency,
            "new": a.key not in sent,
            "sent_now": a.key in delivered,
            "text": a.text(),
        }  # fmt: skip
        for a in found
    ]


def alerts_data(store: Store, state: State) -> dict[str, Any]:
    """`cost alerts --json` (without --notify): the budgets' alerts now, each new or
    sent before."""
    found = current_alerts(store, state)
    _keys, _done, sent = _deliveries(store, found, state.config["budget.webhooks"])
    return {"alerts": _alert_rows(found, sent, []), "failures": []}


def _delivery_key(alert_key: str, url: str) -> str:
    """One delivery: an alert to one webhook (the URL is a secret: only its digest)."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16] if url else "-"
    return f"{alert_key}|{digest}"


# -- what-if --------------------------------------------------------------------------------


def _parse_shift(text: str) -> tuple[str, str, float, tuple[str, str] | None]:
    """FROM=TO:SHARE[@KEY=VALUE]"""
    head, _, tag = text.partition("@")
    models, _, share = head.rpartition(":")
    source, _, target = models.partition("=")
    key, _, value = tag.partition("=")
    try:
        fraction = float(share)
    except ValueError:
        fraction = -1.0
    if not source or not target or not 0 < fraction <= 1 or (tag and not (key and value)):
        raise typer.BadParameter(f"{text!r}: expected FROM=TO:SHARE[@KEY=VALUE], share in (0, 1]",
                                 param_hint="--model-shift")  # fmt: skip
    return source, target, fraction, (key, value) if tag else None


def _scenarios_from(state: State, flags: dict[str, Any]) -> list[scenarios.Scenario]:
    pricer = token_pricer(price_book_from_config(state.config["cost.model_prices"]))
    prices = state.config["cost.instance_prices"]
    found: list[scenarios.Scenario] = []
    for text in flags["model_shift"]:
        source, target, share, tag = _parse_shift(text)
        found.append(scenarios.model_shift(source, target, share, pricer, tag=tag))
    if flags["batch"] is not None:
        found.append(scenarios.batch(flags["batch"], state.config["cost.batch_discount"]))
    if flags["weekdays_only"]:
        found.append(scenarios.weekdays_only(flags["weekdays_only"]))
    for text in flags["rightsize"]:
        pattern, _, change = text.partition("=")
        old, _, new = change.partition(":")
        if not (pattern and old and new):
            raise typer.BadParameter(
                f"{text!r}: expected RESOURCE=OLD:NEW", param_hint="--rightsize"
            )
        found.append(_rightsize(pattern, old, new, prices))
    if flags["rightsize_from"] is not None:
        usages = read_utilisation(flags["rightsize_from"])
        scenario, _found = scenarios.rightsize_from_utilisation(
            usages, prices, target_cpu=flags["target_cpu"]
        )
        found.append(scenario)
    for saved in state.config["whatif.scenarios"]:
        found.append(_saved(saved, state, pricer, prices))
    return found


def _infra_scenarios(
    store: Store, state: State, span: list[date], target_cpu: float
) -> list[scenarios.Scenario]:
    """The scenarios of the stored utilisation over the days of *span* (cli/infra.py)."""
    from pilothouse.cli.infra import infra_statuses
    from pilothouse.infra.report import whatif_scenarios

    since = datetime.combine(span[0], time(), tzinfo=UTC)
    until = datetime.combine(span[-1] + timedelta(days=1), time(), tzinfo=UTC)
    statuses = infra_statuses(store, state, since, until)
    found = whatif_scenarios(statuses, state.config["cost.instance_prices"], target_cpu)
    if not found:
        raise InputError(
            f"--from-infra: no instance has a day of stored CPU utilisation from {span[0]} to "
            f"{span[-1]}: `pilothouse ingest cloudwatch` reads it"
        )
    return found


def _rightsize(pattern: str, old: str, new: str, prices: dict[str, float]) -> scenarios.Scenario:
    try:
        return scenarios.rightsize(pattern, old, new, prices)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _saved(
    table: dict[str, Any], state: State, pricer: Any, prices: dict[str, float]
) -> scenarios.Scenario:
    kind = table.get("kind")
    try:
        if kind == "model-shift":
            tag = tuple(str(table["tag"]).split("=", 1)) if table.get("tag") else None
            return scenarios.model_shift(str(table["from"]), str(table["to"]),
                                         float(table["share"]), pricer, tag=tag)  # type: ignore[arg-type]  # fmt: skip
        if kind == "batch":
            return scenarios.batch(float(table["share"]), state.config["cost.batch_discount"])
        if kind == "weekdays-only":
            return scenarios.weekdays_only([str(r) for r in table["resources"]])
        if kind == "rightsize":
            return _rightsize(str(table["resource"]), str(table["from"]), str(table["to"]), prices)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"whatif.scenarios: {kind} scenario lacks or mistypes {exc}") from None
    raise ConfigError(
        f"whatif.scenarios: unknown kind {kind!r} (model-shift, batch, weekdays-only, rightsize)"
    )


# What-if re-prices spend by resource, service, model, task tag and tokens (a model
# shift prices one request's tokens, then counts the requests alike): lines that
# share them are summed by the database.
WHATIF_GROUPS = ("service", "resource", "model", "tags", "input_tokens", "output_tokens",
                 "cache_read_tokens", "cache_write_tokens")  # fmt: skip


@app.command("whatif")
def whatif(
    ctx: typer.Context,
    days: DaysOption = 30,
    model_shift: Annotated[
        list[str] | None,
        typer.Option(help="FROM=TO:SHARE[@KEY=VALUE]: move a share of a model's tokens."),
    ] = None,
    batch: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of LLM requests batched.")
    ] = None,
    weekdays_only: Annotated[
        list[str] | None, typer.Option(help="Resources (substring) run Monday to Friday only.")
    ] = None,
    rightsize: Annotated[
        list[str] | None,
        typer.Option(help="RESOURCE=OLD:NEW instance types (cost.instance_prices)."),
    ] = None,
    rightsize_from: Annotated[
        Path | None,
        typer.Option(help="CSV of resource, instance_type, peak_cpu: size down what idles."),
    ] = None,
    target_cpu: Annotated[
        float, typer.Option(min=1, max=100, help="Peak CPU a smaller size may reach.")
    ] = 60.0,
    from_infra: Annotated[
        bool,
        typer.Option(
            "--from-infra",
            help="Right-size by the stored CloudWatch p95 CPU and run weekend-idle instances "
            "on weekdays only (`pilothouse ingest cloudwatch`), over the same days.",
        ),
    ] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Projected daily cost under savings scenarios, alone and combined, against the target."""
    state = state_of(ctx)
    flags = {"model_shift": model_shift or [], "batch": batch,
             "weekdays_only": weekdays_only or [], "rightsize": rightsize or [],
             "rightsize_from": rightsize_from, "target_cpu": target_cpu}  # fmt: skip
    chosen = _scenarios_from(state, flags)
    if not chosen and not from_infra:
        raise typer.BadParameter(
            "give a scenario (--model-shift, --batch, --weekdays-only, --rightsize, "
            "--from-infra) or define whatif.scenarios"
        )
    span = _window(state, since, until, days)
    with state.open_store() as store:
        if from_infra:
            chosen += _infra_scenarios(store, state, span, target_cpu)
        result = whatif_data(store, state, span, chosen, empty=as_json)
        stored = store.cost_range()
    if result is None:
        stdout_console(state.env).print(Text(empty_window_note(span, stored)))
        return
    if as_json:
        print_json(result)
        return
    console = stdout_console(state.env)
    console.print(_whatif_table(result, wide=console.width >= 90))


def saved_scenarios(state: State) -> list[scenarios.Scenario]:
    """The what-if scenarios saved in pilothouse.toml (whatif.scenarios)."""
    flags: dict[str, Any] = {"model_shift": [], "batch": None, "weekdays_only": [], "rightsize": [],
             "rightsize_from": None, "target_cpu": 60.0}  # fmt: skip
    return _scenarios_from(state, flags)


def whatif_data(
    store: Store,
    state: State,
    span: list[date],
    chosen: Sequence[scenarios.Scenario],
    *,
    empty: bool = False,
) -> dict[str, Any] | None:
    """`cost whatif --json`: the daily cost over *span* (up to the last day billed)
    under each of *chosen*, alone and combined; None when the span holds no spend
    (unless *empty*: then the document of no spend)."""
    currency = state.config["cost.currency"].upper()
    # Days not billed yet are missing spend: the daily means end where billing does.
    by_source = spend_history(store, state, span[-1]).get(currency, {})
    billed = cost_forecast.complete_through(
        cost_forecast.lagging_sources(by_source, span[-1]), span[-1]
    )
    span = [day for day in span if day <= billed] or [billed]
    sums = [
        summed
        for summed in load_ledger(store, state, span[0], span[-1], WHATIF_GROUPS, signed=True)
        if summed.line.currency.upper() == currency
    ]
    if not sums and not empty:
        return None
    baseline, projections = scenarios.project(
        _lines_of(sums), span, list(chosen), counts=[summed.lines for summed in sums]
    )
    return _whatif_result(state, span, baseline, projections)


def _whatif_result(
    state: State, span: list[date], baseline: Decimal, projections: Sequence[Any]
) -> dict[str, Any]:
    currency = state.config["cost.currency"].upper()
    target = Decimal(str(state.config["cost.daily_target"]))
    return {
        "currency": currency,
        "days": len(span),
        "billed_through": span[-1].isoformat(),
        "baseline_daily": _money(baseline, currency),
        "target_daily": _money(target, currency),
        "scenarios": [
            {
                "name": p.name,
                "assumption": p.description,
                "daily": _money(p.daily, currency),
                "saving_per_day": _money(p.saving_per_day, currency),
                "lines_changed": p.lines_changed,
                "meets_target": p.daily <= target,
            }  # fmt: skip
            for p in projections
        ],
    }


def _whatif_table(result: dict[str, Any], *, wide: bool) -> Table:
    """Scenarios with their numbers; names and assumptions fold, never cut; the
    "meets target" column goes first when the terminal is narrow."""
    table = Table(title=f"{result['currency']} per day: now {result['baseline_daily']}, target "
                        f"{result['target_daily']}", title_justify="left")  # fmt: skip
    table.add_column("scenario", overflow="fold", ratio=2)
    table.add_column("daily", justify="right", no_wrap=True)
    table.add_column("saving", justify="right", no_wrap=True)
    if wide:
        table.add_column("meets target", no_wrap=True)
    table.add_column("assumption", overflow="fold", ratio=3)
    for row in result["scenarios"]:
        cells = [Text(row["name"]), row["daily"], row["saving_per_day"]]
        if wide:
            cells.append("yes" if row["meets_target"] else "no")
        table.add_row(*cells, Text(row["assumption"]))
    return table
