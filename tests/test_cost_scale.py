"""The cost ledger summed by the database: the same reports as when every line was
read into Python, on real exports and the demo data, on both backends."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.errors import InputError
from pilothouse.model import CostLine
from pilothouse.sample_costs import write_sample_costs
from pilothouse.sources.costs.focus import read_focus
from pilothouse.store import Store
from pilothouse.store.costs import SCALE, exact_amount, exact_parts
from pilothouse.store.engine import alembic_config, parse_url

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


# -- exact integer parts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("0", (0, 0)),
        ("-0", (0, 0)),
        ("0E+7", (0, 0)),
        ("0.00000080000", (0, 800_000)),  # the FOCUS sample's 11 decimals
        ("1.81E-8", (0, 18_100)),
        ("-1.25", (-2, 750_000_000_000)),
        ("-0.000000000001", (-1, 999_999_999_999)),
        ("9223372036854775807.999999999999", (2**63 - 1, 999_999_999_999)),
        ("0.0000000000001", (None, None)),  # 13 decimals: summed from the text
        ("9223372036854775808", (None, None)),  # beyond int64
        ("1E+30", (None, None)),
        ("0." + "1" * 100, (None, None)),
        ("1.500000000000000", (1, 500_000_000_000)),  # 15 decimals, trailing zeros: exact
        ("-.5", (-1, 500_000_000_000)),
        ("+1.5", (1, 500_000_000_000)),
        (" 2.25 ", (2, 250_000_000_000)),
        ("1.5e3", (1500, 0)),
        ("NaN", (None, None)),
        ("-Infinity", (None, None)),
    ],
)
def test_exact_parts(text: str, parts: tuple[int | None, int | None]) -> None:
    assert exact_parts(text) == parts
    if parts[0] is not None:
        assert exact_amount(*parts) == Decimal(text)  # type: ignore[arg-type]


@given(st.decimals(allow_nan=False, allow_infinity=False, places=12, max_value=10**15,
                   min_value=-(10**15)))  # fmt: skip
def test_exact_parts_round_trip(value: Decimal) -> None:
    units, frac = exact_parts(value)
    assert units is not None and frac is not None and 0 <= frac < 10**SCALE
    assert exact_amount(units, frac) == value


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_exact_parts_are_the_scaled_amount_or_none(value: Decimal) -> None:
    """Text in any notation (the fast path moves the point, Decimal reads the rest)."""
    scaled = Fraction(value) * 10**SCALE
    units, frac = divmod(int(scaled), 10**SCALE) if scaled.denominator == 1 else (None, None)
    if units is not None and not -(2**63) <= units < 2**63:
        units = frac = None
    for form in (str(value), f"{value:f}", value):
        assert exact_parts(form) == (units, frac)


# -- the database's sums --------------------------------------------------------------------


def _line(key: str, amount: str, service: str = "EC2", day: int = 1) -> CostLine:
    return CostLine("focus", key, date(2026, 11, day), service, Decimal(amount), "USD")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"service": "EC2\x00"}, "service 'EC2\\x00': contains a NUL character"),
        ({"line_key": "k" * 256}, "256 characters, at most 255 are stored"),
        ({"input_tokens": 2**63}, f"input tokens {2**63}: out of range"),
    ],
)
def test_a_batch_is_checked_as_the_column_types_check_a_row(
    store: Store, bad: dict[str, object], message: str
) -> None:
    """Checked a batch at a time, a bad value deep in a batch still names its field, and
    the ingest stores nothing; text beyond ASCII is no bad value."""
    lines = [_line(f"k{i}", "1.5") for i in range(1500)]
    lines[1200] = lines[1200]._replace(**bad)
    with pytest.raises(InputError) as raised:  # the store's one-line user error
        store.add_cost_lines(lines)
    assert message in str(raised.value)
    assert store.cost_range().lines == 0
    fine = [_line(f"k{i}", "1.5", service="Zürich ☁️") for i in range(1500)]
    fine[7] = fine[7]._replace(tags=(("équipe", "données"),), model="m", input_tokens=2**63 - 1)
    assert store.add_cost_lines(fine).new == 1500
    stored = {
        line.line_key: line for line in store.cost_lines(date(2026, 11, 1), date(2026, 11, 1))
    }
    assert stored["k7"].tags == (("équipe", "données"),) and stored["k7"].input_tokens == 2**63 - 1
    assert stored["k8"].service == "Zürich ☁️" and stored["k8"].model is None


def test_sums_are_exact_with_amounts_beyond_the_scale(store: Store) -> None:
    amounts = ["0.1", "0.2", "0.0000000000001", "0.0000000000001", "-0.3",
               "1E+19", "-1E+19", "0.000000000000000000000000000000007"]  # fmt: skip
    store.add_cost_lines(_line(f"k{i}", a) for i, a in enumerate(amounts))
    (summed,) = store.cost_sums(date(2026, 11, 1), date(2026, 11, 1), ("service",))
    assert summed.lines == len(amounts)
    assert summed.line.amount == Decimal("0.000000000000200000000000000000007")


def test_sums_group_lines_and_keep_signs_apart(store: Store) -> None:
    lines = [_line("a", "2.5"), _line("b", "-1"), _line("c", "0"), _line("d", "3"),
             _line("e", "4", "S3"), _line("f", "5", day=2)]  # fmt: skip
    store.add_cost_lines(lines)
    window = (date(2026, 11, 1), date(2026, 11, 2))
    plain = {(s.line.day.day, s.line.service): (s.line.amount, s.lines)
             for s in store.cost_sums(*window, ("service",))}  # fmt: skip
    assert plain == {(1, "EC2"): (Decimal("4.5"), 4), (1, "S3"): (Decimal(4), 1),
                     (2, "EC2"): (Decimal(5), 1)}  # fmt: skip
    signed = sorted((s.line.amount, s.lines) for s in store.cost_sums(*window, (), signed=True))
    assert signed == [(Decimal(-1), 1), (Decimal(0), 1), (Decimal("5"), 1),
                      (Decimal("9.5"), 3)]  # fmt: skip


def test_the_focus_sample_is_summed_per_group_not_read_per_line(store: Store) -> None:
    """What `cost` reads is one row per day and service, whatever the line count."""
    store.add_cost_lines(read_focus(FOCUS))
    sums = store.cost_sums(date(2024, 9, 1), date(2024, 10, 31), ("service",))
    assert sum(s.lines for s in sums) == 1000
    assert len(sums) == len({(s.line.day, s.line.service) for s in sums}) < 300
    exact = sum((line.amount for line in read_focus(FOCUS)), Decimal(0))
    assert sum((s.line.amount for s in sums), Decimal(0)) == exact


# -- migration 0007 -------------------------------------------------------------------------


def test_the_migration_backfills_the_parts_of_stored_lines(store_url: str) -> None:
    engine = sqlalchemy.create_engine(parse_url(store_url))
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0005_cost")
            for key, amount in [("a", "-1.25"), ("b", "0.0000000000001"), ("c", "7")]:
                connection.exec_driver_sql(
                    "INSERT INTO cost_lines (source, line_key, day, service, amount, currency, "
                    f"tags) VALUES ('focus', '{key}', '2026-11-01', 'EC2', '{amount}', 'USD', "
                    "'{}')"
                )
    finally:
        engine.dispose()
    assert Store.upgrade(store_url) == "0005_cost"
    with Store.open(store_url) as store, store.engine.connect() as connection:
        parts = connection.exec_driver_sql(
            "SELECT line_key, amount_units, amount_frac FROM cost_lines ORDER BY line_key"
        ).all()
        (summed,) = store.cost_sums(date(2026, 11, 1), date(2026, 11, 1), ())
    assert [tuple(row) for row in parts] == [
        ("a", -2, 750_000_000_000), ("b", None, None), ("c", 7, 0)
    ]  # fmt: skip
    assert summed.line.amount == Decimal("5.7500000000001")
