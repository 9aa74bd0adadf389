"""The cost ledger summed by the database: the same reports as when every line was
read into Python, on real exports and the demo data, on both backends."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pilothouse.sample_costs import write_sample_costs

from .conftest import DATA, Cli

COST = DATA / "cost"
GOLDEN = COST / "golden" / "reports.json"
FOCUS = COST / "focus-sample-data" / "focus_sample.csv"
CUR = COST / "fixtures" / "cur2.csv"
BEDROCK = COST / "fixtures" / "bedrock_invocations.jsonl"
USAGE = COST / "fixtures" / "github_usage_enhanced.csv"
QUIRKS = COST / "fixtures" / "focus_quirks.csv"
SEPTEMBER = ("--since", "2024-09-01", "--until", "2024-10-31")

# name -> (exports as (path, format), commands): each command's --json output was
# recorded from the code that read every line into Python (commit 62cf21e).
CASES: dict[str, tuple[list[tuple[str, str]], list[list[str]]]] = {
    "focus-sample": (
        [(str(FOCUS), "focus")],
        [
            ["cost", *SEPTEMBER],
            ["cost", *SEPTEMBER, "--by", "tag:application"],
            ["cost", "whatif", *SEPTEMBER, "--weekdays-only", "i-0", "--batch", "0.5"],
        ],
    ),
    "fixtures": (
        [
            (str(CUR), "cur"),
            (str(BEDROCK), "bedrock-log"),
            (str(USAGE), "github-usage"),
            (str(QUIRKS), "focus"),
        ],  # fmt: skip
        [
            ["cost", "--since", "2023-01-01", "--until", "2026-11-27"],
            ["cost", "--since", "2023-01-01", "--until", "2026-11-27", "--by", "model"],
            ["cost", "whatif", "--since", "2025-05-01", "--until", "2025-06-30", "--batch", "0.5"],
        ],  # fmt: skip
    ),
    "demo": (
        [("demo/aws-focus.csv", "focus"), ("demo/bedrock-invocations.jsonl", "bedrock-log")],
        [
            ["cost"],
            ["cost", "--by", "model"],
            ["cost", "--by", "tag:team", "--days", "60"],
            ["cost", "alerts"],
            ["cost", "whatif", "--weekdays-only", "ci-runner", "--batch", "0.3"],
        ],
    ),
}


def _outputs(cli: Cli, name: str) -> list[object]:
    exports, commands = CASES[name]
    write_sample_costs(cli.cwd / "demo", days=60, end=date(2026, 11, 27))
    for path, fmt in exports:
        code, _out, err = cli("ingest", "cost", str(cli.cwd / path), "--format", fmt)
        assert code == 0, err
    return [cli.json(*command) for command in commands]


@pytest.mark.parametrize("name", sorted(CASES))
def test_reports_are_those_of_the_line_by_line_ledger(cli: Cli, name: str) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    assert _outputs(cli, name) == expected


def record(folder: Path) -> None:  # pragma: no cover - run once, by hand
    """Write GOLDEN from the current code: ``python -c 'from tests.test_cost_scale
    import record; record(...)'``."""
    found = {}
    for name in sorted(CASES):
        where = folder / name
        where.mkdir(parents=True)
        found[name] = _outputs(Cli(cwd=where, db=f"sqlite:///{where / 's.db'}"), name)
    GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
