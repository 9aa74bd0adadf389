"""Output people read: tables that fit the width, progress on a terminal only, windows
that say what the store holds."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from pilothouse.cli.output import Col, TrimmedLines, fit_columns, fold_name, output_width, trim_line
from pilothouse.store import Store

from .conftest import FIXED_NOW, JUNIT, Cli

NEXTEST = JUNIT / "nextest" / "fixture-project-junit.xml"
WIDTHS = (80, 100, 160)
# A pytest id longer than any terminal: parametrised, with brackets and spaces.
LONG_ID = (
    "test_the_rendering_of_a_parametrised_case_with_a_very_long_identifier"
    "[postgresql-hypha-core::handler::tests::streams_timeouts_55_under_load-x y]"
)


# -- the pure parts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("short", 10, ["short"]),
        ("hypha-core::handler::tests::streams_timeouts", 30,
         ["hypha-core::handler::tests::", "streams_timeouts"]),
        ("tests/unit/test_store.py::TestX::test_y", 20,
         ["tests/unit/", "test_store.py::", "TestX::test_y"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("retry, same-commit", 11, ["retry, ", "same-commit"]),
    ],
)  # fmt: skip
def test_fold_name_breaks_after_separators_and_keeps_every_character(
    text: str, width: int, lines: list[str]
) -> None:
    folded = fold_name(text, width)
    assert folded.split("\n") == lines
    assert folded.replace("\n", "") == text


@given(
    text=st.text(st.sampled_from("ab:/._- 漢é"), min_size=1, max_size=120),
    width=st.integers(1, 60),
)
def test_fold_name_never_loses_a_character_nor_exceeds_the_width(text: str, width: int) -> None:
    folded = fold_name(text, width)
    assert folded.replace("\n", "") == text
    # Only a lone two-cell character may exceed a one-cell width.
    assert all(cell_len(line) <= max(width, 2) for line in folded.split("\n"))
    assert all(len(line) == 1 for line in folded.split("\n") if cell_len(line) > width)


def test_secondary_columns_drop_in_their_declared_order() -> None:
    columns = [Col("name", fold=True, min_width=20), Col("a", drop=2), Col("b", drop=1), Col("c")]
    rows = [("x" * 40, "a" * 10, "b" * 10, "c" * 10)]
    wide, _ = fit_columns(columns, rows, 200)
    assert wide == [0, 1, 2, 3]
    one_less, widths = fit_columns(columns, rows, 60)  # b (drop=1) goes first
    assert one_less == [0, 1, 3] and sum(widths) + 3 * len(widths) + 1 <= 60
    two_less, _ = fit_columns(columns, rows, 40)
    assert two_less == [0, 3]


@pytest.mark.parametrize(
    ("env", "terminal", "width"),
    [({"COLUMNS": "100"}, False, 100), ({"COLUMNS": "100"}, True, 100), ({}, False, 160),
     ({}, True, None), ({"COLUMNS": "wide"}, False, 160)],
)  # fmt: skip
def test_columns_is_honoured_on_a_pipe_and_a_terminal(
    env: dict[str, str], terminal: bool, width: int | None
) -> None:
    assert output_width(env, is_terminal=terminal) == width


@pytest.mark.parametrize(
    ("line", "trimmed"),
    [
        ("Title    ", "Title"),
        ("  indented\t ", "  indented"),
        ("\x1b[3mTitle   \x1b[0m", "\x1b[3mTitle\x1b[0m"),  # FORCE_COLOR: codes kept
        ("│ a │ b │", "│ a │ b │"),
        ("   ", ""),
    ],
)
def test_trim_line(line: str, trimmed: str) -> None:
    assert trim_line(line) == trimmed


@given(st.lists(st.text(alphabet=" \tab\n│", max_size=12), max_size=8))
def test_trimmed_lines_trims_every_line_however_the_text_is_cut(chunks: list[str]) -> None:
    target = io.StringIO()
    trimmed = TrimmedLines(target)
    for chunk in chunks:
        trimmed.write(chunk)
        trimmed.flush()  # Rich flushes after each print: an unfinished line waits
    lines = "".join(chunks).split("\n")
    assert target.getvalue() == "\n".join(line.rstrip(" \t") for line in lines)


# -- rendering real data ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Two weeks of the sample history (hypha's long Rust test names) plus one pytest id
    longer than any terminal."""
    folder = tmp_path_factory.mktemp("sample")
    cli = Cli(cwd=folder, db=f"sqlite:///{folder / 'store.db'}")
    cli.json("sample", "--days", "14", "--end", FIXED_NOW.date().isoformat())
    report = folder / "long.xml"
    report.write_text(
        '<testsuite name="s"><testcase classname="tests.test_long" '
        f'name="{LONG_ID}" time="3600"><failure message="x"/></testcase></testsuite>'
    )
    cli.json("ingest", "junit", str(report), "--run-id", "long", "--workflow",
             "integration-tests-on-every-supported-platform", "--branch",
             "feature/a-branch-name-as-long-as-people-make-them")  # fmt: skip
    return cli


def _name_column(out: str, header: str, index: int = 0) -> list[str]:
    """The cells of column *index* of the first table whose first header is *header*, in
    order (a folded name gives several cells)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"┃ {header}\s", line))
    cells = []
    for line in lines[start + 2 :]:
        if line.startswith("└"):
            break
        cells.append(line.split("│")[index + 1].strip())
    return cells


def _check_fits(out: str, width: int) -> None:
    assert out, "nothing rendered"
    assert "…" not in out and "..." not in out
    assert max(len(line) for line in out.splitlines()) <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_tests_table_fits_and_never_cuts_a_name(sample_store: Cli, width: int) -> None:
    names = [
        f"{t['classname']}::{t['name']}" if t["classname"] else t["name"]
        for t in sample_store.json("tests", "--limit", "25")["tests"]
    ]
    assert any(len(n) > 55 for n in names) and f"tests.test_long::{LONG_ID}" in names
    sample_store.env = {"COLUMNS": str(width)}
    code, out, err = sample_store("tests", "--limit", "25")
    sample_store.env = {}
    assert (code, err) == (0, "")
    _check_fits(out, width)
    assert "".join(_name_column(out, "test")) == "".join(names)
    headers = next(line for line in out.splitlines() if line.startswith("┃"))
    assert ("median" in headers) and ("p90" in headers) and ("mean" not in headers)
    assert ("last" in headers) == (width >= 160)


@pytest.mark.parametrize("width", WIDTHS)
def test_report_fits_and_keeps_every_name(sample_store: Cli, width: int) -> None:
    data = sample_store.json("report", "--limit", "10")
    sample_store.env = {"COLUMNS": str(width)}
    code, out, _ = sample_store("report", "--limit", "10")
    sample_store.env = {}
    assert code == 0
    _check_fits(out, width)
    slowest = out[out.index("Slowest of") :]
    expected = "".join(f"{t['classname']}::{t['name']}" for t in data["slowest"])
    assert "".join(_name_column(slowest, "test")) == expected
    created = [cell for cell in _name_column(out, "created") if cell]  # "": a folded row
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cell) for cell in created)


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_table_fits_and_folds_long_workflows(sample_store: Cli, width: int) -> None:
    sample_store.env = {"COLUMNS": str(width)}
    code, out, _ = sample_store("runs", "--limit", "5")
    sample_store.env = {}
    assert code == 0
    _check_fits(out, width)
    workflows = "".join(_name_column(out, "created", 1))
    assert "integration-tests-on-every-supported-platform" in workflows
    headers = next(line for line in out.splitlines() if line.startswith("┃"))
    assert "failed" in headers and "conclusion" in headers and "created" in headers
    assert ("jobs" in headers) == (width >= 160)


@pytest.mark.parametrize("width", WIDTHS)
def test_flaky_table_fits_and_never_cuts_a_name(sample_store: Cli, width: int) -> None:
    names = [f["test"] for f in sample_store.json("flaky")["flaky"]]
    assert names and max(len(n) for n in names) > 50
    sample_store.env = {"COLUMNS": str(width)}
    code, out, _ = sample_store("flaky")
    sample_store.env = {}
    assert code == 0
    _check_fits(out, width)
    assert "".join(_name_column(out, "test")) == "".join(names)
    assert "quarantined" in out


@pytest.mark.parametrize(
    "command",
    [("runs", "--limit", "3"), ("tests", "--limit", "5"), ("report", "--limit", "3"),
     ("flaky",), ("score",), ("cache",), ("cost",), ("shard", "--shards", "2")],
)  # fmt: skip
@pytest.mark.parametrize("width", ["", "100"])
def test_a_pipe_gets_no_trailing_blanks(
    sample_store: Cli, command: tuple[str, ...], width: str
) -> None:
    """Rich pads titles and prose to the width; off a terminal every command's lines end
    at their last character."""
    sample_store.env = {"COLUMNS": width} if width else {}
    code, out, err = sample_store(*command)
    sample_store.env = {}
    assert code == 0, err
    assert len(out.splitlines()) > 3
    assert [line for line in out.splitlines() if line != line.rstrip()] == []


def test_a_pipe_without_columns_is_160_wide(sample_store: Cli) -> None:
    code, out, _ = sample_store("runs", "--limit", "3")
    assert code == 0 and max(len(line) for line in out.splitlines()) > 100
    _check_fits(out, 160)


def test_one_timeout_shows_as_the_median_beside_the_p90_not_as_the_mean(
    cli: Cli, tmp_path: Path
) -> None:
    for run in range(10):  # nine quick passes and one 30 s timeout
        duration, failure = ("30", '<failure message="timeout"/>') if run == 4 else ("0.1", "")
        report = tmp_path / f"r{run}.xml"
        report.write_text(
            '<testsuite name="s"><testcase classname="c" name="quick" '
            f'time="{duration}">{failure}</testcase></testsuite>'
        )
        cli.json("ingest", "junit", str(report), "--run-id", str(run))
    (test,) = cli.json("tests")["tests"]
    assert test["mean_seconds"] == pytest.approx(3.09) and test["median_seconds"] == 0.1
    assert test["p90_seconds"] == pytest.approx(3.09)
    code, out, _ = cli("tests")
    header, row = (line for line in out.splitlines() if line[0] in "┃│")
    cells = dict(zip(header.split("┃")[1:-1], row.split("│")[1:-1], strict=True))
    cells = {k.strip(): v.strip() for k, v in cells.items()}
    assert (cells["median"], cells["p90"]) == ("0.10s", "3.09s") and "mean" not in cells


# -- progress ----------------------------------------------------------------------------


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for i in range(3):
        (folder / f"r{i}.xml").write_text(
            f'<testsuite name="s"><testcase classname="c" name="t{i}" time="1"/></testsuite>'
        )
    return folder


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "0"}])
def test_ingest_is_quiet_on_stderr_when_not_a_terminal(
    sqlite_cli: Cli, reports: Path, env: dict[str, str]
) -> None:
    sqlite_cli.env = env
    code, out, err = sqlite_cli("ingest", "junit", str(reports))
    assert (code, err) == (0, "") and "3 file(s)" in out


def test_ingest_shows_progress_on_a_terminal(sqlite_cli: Cli, reports: Path) -> None:
    sqlite_cli.env = {"TTY_COMPATIBLE": "1", "TERM": "xterm"}
    code, out, err = sqlite_cli("ingest", "junit", str(reports))
    assert code == 0 and "3 file(s)" in out
    assert "storing reports" in err or "reading reports" in err


def test_json_stays_quiet_even_on_a_terminal(sqlite_cli: Cli, reports: Path) -> None:
    sqlite_cli.env = {"TTY_COMPATIBLE": "1", "TERM": "xterm"}
    code, out, err = sqlite_cli("ingest", "junit", str(reports), "--json")
    assert (code, err) == (0, "") and json.loads(out)["files"] == 3
    code, out, err = sqlite_cli("sample", "--days", "1", "--json")
    assert (code, err) == (0, "") and json.loads(out)["runs"] > 0


def test_sample_shows_progress_on_a_terminal_only(sqlite_cli: Cli) -> None:
    code, _, err = sqlite_cli("sample", "--days", "1")
    assert (code, err) == (0, "")
    sqlite_cli.env = {"TTY_COMPATIBLE": "1", "TERM": "xterm"}
    code, _, err = sqlite_cli("sample", "--days", "1")
    assert code == 0 and "loading sample history" in err


# -- windows -----------------------------------------------------------------------------


def _ingest_old(cli: Cli) -> None:
    cli.json("ingest", "junit", str(NEXTEST), "--run-id", "1",
             "--started", "2026-08-03T09:00:00+00:00")  # fmt: skip
    cli.json("ingest", "junit", str(NEXTEST), "--run-id", "2",
             "--started", "2026-09-30T17:00:00+00:00")  # fmt: skip


@pytest.mark.parametrize("command", ["tests", "report", "flaky", "runs"])
def test_an_empty_window_names_what_the_store_holds(cli: Cli, command: str) -> None:
    _ingest_old(cli)
    args = [command] if command != "runs" else [command, "--window", "30"]
    code, out, err = cli(*args)
    assert code == 0 and err == ""
    what = "runs" if command == "runs" else "test results"
    assert f"No {what} in the last 30 days (since 2026-10-28 12:00)" in out
    assert f"the store holds {what} from 2026-08-03 to 2026-09-30" in out
    assert "`--since 2026-08-03` shows them." in out
    code, out, _ = cli(command, "--since", "2026-08-03")
    assert code == 0 and "No " not in out


@pytest.mark.parametrize("command", ["tests", "report", "runs"])
def test_an_empty_window_in_json_is_empty_with_the_note_on_stderr(cli: Cli, command: str) -> None:
    _ingest_old(cli)
    code, out, err = cli(command, "--json", "--window", "7")
    data = json.loads(out)
    assert code == 0 and not data.get("tests") and not data.get("runs")
    assert err.startswith("pilothouse: No ") and "2026-08-03 to 2026-09-30" in err


@pytest.mark.parametrize("command", ["tests", "report", "runs", "flaky"])
def test_since_and_window_are_checked_like_other_options(cli: Cli, command: str) -> None:
    code, _, err = cli(command, "--since", "yesterday")
    assert code == 2 and "--since" in err
    code, _, err = cli(command, "--since", "2026-01-01", "--window", "3")
    assert code == 2 and "exclude each other" in err


def test_tests_default_to_the_last_30_days(cli: Cli) -> None:
    _ingest_old(cli)
    cli.json("ingest", "junit", str(NEXTEST), "--run-id", "3")  # now
    (recent,) = {t["runs"] for t in cli.json("tests")["tests"]}
    everything = {t["runs"] for t in cli.json("tests", "--since", "2026-01-01")["tests"]}
    assert recent == 1 and everything == {3}


def test_an_empty_store_has_no_stored_range(store: Store) -> None:
    assert store.run_range() is None and store.run_range(with_results=True) is None


def test_the_stored_range_is_min_and_max_of_the_runs(cli: Cli) -> None:
    _ingest_old(cli)
    with Store.open(cli.db) as store:
        first, last = store.run_range(with_results=True) or (None, None)
    assert first is not None and last is not None
    assert (first.isoformat(), last - first) == (
        "2026-08-03T09:00:00+00:00",
        timedelta(days=58, hours=8),
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_config_table_fits_and_keeps_every_value(sqlite_cli: Cli, width: int) -> None:
    sqlite_cli.env = {"COLUMNS": str(width), "PILOTHOUSE_REPOSITORY": "hypha-labs/" + "h" * 60}
    code, out, _ = sqlite_cli("config")
    assert code == 0
    _check_fits(out, width)
    values = "".join(_name_column(out, "key", 1))
    assert sqlite_cli.db in values and "hypha-labs/" + "h" * 60 in values
