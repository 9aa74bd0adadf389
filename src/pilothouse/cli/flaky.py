"""`pilothouse flaky`: flaky, broken and platform-only tests, outages, quarantine."""

from __future__ import annotations

import enum
import sys
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.text import Text

from pilothouse import flaky_reader
from pilothouse.analysis import flaky as analysis
from pilothouse.cli.output import (
    Col,
    fitted_table,
    markdown_cell,
    nextest_filterset,
    percent,
    print_json,
    stdout_console,
    when,
)
from pilothouse.cli.settings import validated_by
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import (
    SinceOption,
    Window,
    resolve_window,
    results_note,
)
from pilothouse.store import Store

app = typer.Typer(
    help="Flaky tests from CI history: detect, score, explain, quarantine.",
    invoke_without_command=True,
)

MAX_EVIDENCE = 20


class ReportFormat(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class QuarantineFormat(enum.StrEnum):
    pytest = "pytest"
    nextest = "nextest"
    json = "json"


def thresholds_of(state: State, **overrides: Any) -> analysis.Thresholds:
    config = state.config
    base = analysis.Thresholds(
        min_runs=config["flaky.min_runs"],
        score=config["flaky.score_threshold"],
        outage_fraction=config["flaky.outage_fraction"],
        outage_min_tests=config["flaky.outage_min_tests"],
        quarantine_clean_runs=config["flaky.quarantine_clean_runs"],
    )
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _window(state: State, days: int | None, since: str | None) -> Window:
    default = int(state.config["flaky.window_days"])
    return resolve_window(state.now(), days=days, since=since, default_days=default)


def _read(
    state: State, window: Window, *thresholds: analysis.Thresholds
) -> tuple[list[flaky_reader.Read], str | None]:
    """One detection per set of thresholds over *window*, and what to say when the window
    holds no results."""
    with state.open_store() as store:
        reads = [flaky_reader.detect(store, window.since, t) for t in thresholds]
        return reads, None if reads[0].totals.days else results_note(store, window)


def _held_note(report: analysis.Report, held: list[analysis.Flaky], clean_runs: int) -> str:
    """Why `flaky quarantine` may list fewer tests than `flaky`."""
    released = len(report.flaky) - len(held)
    text = f"{len(held)} of {len(report.flaky)} flaky tests quarantined"
    if released:
        text += f"; {released} left quarantine after {clean_runs} clean passes in a row"
    return text


def _evidence_dict(item: analysis.Evidence) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "run": item.run,
        "attempt": item.attempt,
        "job": item.job,
        "commit": item.commit,
        "at": item.at,
        "message": analysis.message_key(item.message),
    }


def _flaky_dict(item: analysis.Flaky) -> dict[str, Any]:
    classname, _, name = item.test.rpartition("::")
    return {
        "test": item.test,
        "classname": classname,
        "name": name,
        "score": item.score,
        "failures": item.failures,
        "runs": item.runs,
        "flip_rate": round(item.flip_rate, 6),
        "flip_rate_interval": [round(item.flip_rate_low, 6), round(item.flip_rate_high, 6)],
        "first_seen": item.first_seen,
        "last_seen": item.last_seen,
        "clean_runs_since": item.clean_runs_since,
        "messages": [{"message": m, "count": c} for m, c in item.messages],
        "evidence": [_evidence_dict(e) for e in item.evidence[-MAX_EVIDENCE:]],
    }


def _report_dict(report: analysis.Report, rates: dict[str, object]) -> dict[str, Any]:
    return {
        "flaky": [_flaky_dict(f) for f in report.flaky],
        # Evidence below the score threshold or too few runs: what --preview may add.
        "candidates": [_flaky_dict(f) for f in report.candidates],
        "broken": [
            {
                "test": b.test,
                "first_commit": b.first_commit,
                "first_seen": b.first_seen,
                "last_seen": b.last_seen,
                "failures": b.failures,
                "status": "fixed" if b.fixed else "failing",
                "message": b.message,
            }
            for b in report.broken
        ],
        "platform": [
            {"test": p.test, "job": p.job, "failures": p.failures, "message": p.message}
            for p in report.platform
        ],
        "outages": [
            {
                "run": o.run,
                "attempt": o.attempt,
                "at": o.at,
                "failed": o.failed,
                "tests": o.tests,
                "message": o.message,
            }
            for o in report.outages
        ],
        "pass_rate": rates,
    }


def report_data(read: flaky_reader.Read) -> dict[str, Any]:
    """The `flaky --json` dict of one detection."""
    return _report_dict(read.detection.report, _rates(read))


def _rates(read: flaky_reader.Read) -> dict[str, object]:
    gate = analysis.gate_of(read.totals, read.detection)
    return analysis.rates_of(read.totals, read.detection.held, gate)


def flaky_data(
    store: Store, state: State, window: Window, thresholds: analysis.Thresholds | None = None
) -> dict[str, Any]:
    """`flaky --json`: flaky, broken and platform-only tests, outages and pass rates over
    *window*, judged by *thresholds* (default: the configured ones)."""
    read = flaky_reader.detect(store, window.since, thresholds or thresholds_of(state))
    return report_data(read)


def _markdown(report: analysis.Report, rates: dict[str, Any]) -> str:
    overall = rates["overall"]
    lines = [
        f"### Flaky tests: {len(report.flaky)} flaky, {len(report.broken)} broken, "
        f"{len(report.outages)} outages",
        "",
        f"Pass rate {percent(overall['with_quarantined'])}, "
        f"{percent(overall['without_quarantined'])} without quarantined tests.",
        "",
    ]
    if report.flaky:
        lines += [
            "| test | score | failures / runs | last seen | message |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{markdown_cell(f.test)}` | {f.score:.2f} | {f.failures} / {f.runs} | "
            f"{when(f.last_seen)} | {markdown_cell(f.messages[0][0] if f.messages else '')} |"
            for f in report.flaky
        ]
    if report.broken:
        lines += ["", "| broken test | since | status |", "|---|---|---|"]
        lines += [
            f"| `{markdown_cell(b.test)}` | {when(b.first_seen)} | "
            f"{'fixed' if b.fixed else 'failing'} |"
            for b in report.broken
        ]
    if report.outages:
        lines += ["", "| outage run | attempt | failed | message |", "|---|---|---|---|"]
        lines += [
            f"| {o.run} | {o.attempt} | {o.failed} / {o.tests} | {markdown_cell(o.message)} |"
            for o in report.outages
        ]
    return "\n".join(lines) + "\n"


FLAKY_COLUMNS = (
    Col("test", fold=True, min_width=30),
    Col("score", "right"),
    Col("failures", "right", drop=4),
    Col("runs", "right", drop=2),
    Col("flip rate", "right", drop=1),
    Col("last seen", drop=3),
    Col("evidence", fold=True, min_width=11, drop=5),
)


def _table(state: State, report: analysis.Report, thresholds: analysis.Thresholds) -> None:
    console = stdout_console(state.env)
    rows = [
        (
            item.test,
            f"{item.score:.2f}",
            str(item.failures),
            str(item.runs),
            percent(item.flip_rate),
            when(item.last_seen),
            ", ".join(sorted({e.kind for e in item.evidence})),
        )  # fmt: skip
        for item in report.flaky
    ]
    title = f"{len(report.flaky)} flaky tests"
    console.print(fitted_table(title, FLAKY_COLUMNS, rows, console.width))
    held = analysis.quarantined(report, thresholds)
    console.print(
        Text(
            f"{_held_note(report, held, thresholds.quarantine_clean_runs)} "
            "(`pilothouse flaky quarantine`); "
            f"{len(report.broken)} broken (regressions), {len(report.platform)} platform-only, "
            f"{len(report.outages)} outages set aside; `--json` for the evidence"
        )
    )


@app.callback()
def flaky(
    ctx: typer.Context,
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Days of history to read, up to now.",
            callback=validated_by("flaky.window_days"),
        ),
    ] = None,
    since: SinceOption = None,
    min_runs: Annotated[
        int | None,
        typer.Option(help="Fewest results to judge.", callback=validated_by("flaky.min_runs")),
    ] = None,
    score_threshold: Annotated[
        float | None,
        typer.Option(
            help="Score from which a test is flaky.",
            callback=validated_by("flaky.score_threshold"),
        ),
    ] = None,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="Show what these thresholds add or drop vs the config."),
    ] = False,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.table
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Flaky tests, broken tests (regressions) and outages, with the evidence."""
    state = state_of(ctx)
    overrides = {"min_runs": min_runs, "score": score_threshold}
    span = _window(state, window, since)
    ctx.meta["flaky"] = (span, overrides, ReportFormat.json if as_json else fmt)
    if ctx.invoked_subcommand is not None:
        return
    thresholds = thresholds_of(state, **overrides)
    configured = [thresholds_of(state)] if preview else []
    reads, note = _read(state, span, thresholds, *configured)
    machine = as_json or fmt is not ReportFormat.table
    if note and not machine:
        stdout_console(state.env).print(Text(note))
        return
    if note:
        sys.stderr.write(f"pilothouse: {note}\n")
    if preview:
        after, before = ({f.test for f in r.detection.report.flaky} for r in reads)
        added, dropped = sorted(after - before), sorted(before - after)
        if as_json or fmt is ReportFormat.json:
            print_json({"added": added, "dropped": dropped})
        else:
            for test in added:
                sys.stdout.write(f"+ {test}\n")
            for test in dropped:
                sys.stdout.write(f"- {test}\n")
            sys.stdout.write(f"{len(added)} added, {len(dropped)} dropped\n")
        return
    report = reads[0].detection.report
    if as_json or fmt is ReportFormat.json:
        print_json(report_data(reads[0]))
    elif fmt is ReportFormat.markdown:
        sys.stdout.write(_markdown(report, _rates(reads[0])))
    else:
        _table(state, report, thresholds)


@app.command("quarantine")
def quarantine(
    ctx: typer.Context,
    fmt: Annotated[QuarantineFormat, typer.Option("--format", help="Output format.")] = (
        QuarantineFormat.pytest
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """What CI needs to deselect the quarantined tests (pytest, nextest or JSON).

    pytest: `--deselect` arguments, one per line (`pytest @quarantine.txt`); nextest: a
    filterset of the quarantined tests (`cargo nextest run -E 'not (...)'`). A test leaves
    quarantine after flaky.quarantine_clean_runs clean passes in a row.
    """
    state = state_of(ctx)
    # `flaky --json quarantine` (or --format json) means `flaky quarantine --json`.
    span, overrides, parent_fmt = ctx.meta["flaky"]
    if parent_fmt is ReportFormat.markdown:
        raise typer.BadParameter(
            "markdown is a format of the flaky report; quarantine prints pytest, nextest or json",
            param_hint="--format",
        )
    if as_json or parent_fmt is ReportFormat.json:
        fmt = QuarantineFormat.json
    thresholds = thresholds_of(state, **overrides)
    reads, note = _read(state, span, thresholds)
    report = reads[0].detection.report
    held = analysis.quarantined(report, thresholds)
    released = [f for f in report.flaky if f not in held]
    if fmt is QuarantineFormat.json:
        print_json(
            {
                "quarantined": [_held_dict(f) for f in held],
                # Flaky, but clean for release_after_clean_runs passes in a row: out.
                "released": [_held_dict(f) for f in released],
                "release_after_clean_runs": thresholds.quarantine_clean_runs,
            }
        )
    elif fmt is QuarantineFormat.nextest:
        sys.stdout.write(nextest_filterset(tuple(f.test for f in held)) + "\n")
    else:
        sys.stdout.writelines(f"--deselect={f.test}\n" for f in held)
    if note or (released and fmt is not QuarantineFormat.json):  # the why goes to stderr
        why = note or _held_note(report, held, thresholds.quarantine_clean_runs)
        sys.stderr.write(f"pilothouse: {why}\n")


def _held_dict(item: analysis.Flaky) -> dict[str, Any]:
    return {"test": item.test, "score": item.score, "clean_runs_since": item.clean_runs_since}
