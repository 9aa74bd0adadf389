"""The sections' view of the `--json` dicts (pure), and the report's capping and
inlining."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.web import report, sections


def _cost(groups: dict[str, str], *, daily: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    total = sum((Decimal(v) for v in groups.values()), Decimal(0))
    return {
        "total": str(total),
        "today": "0.00",
        "billed_through": "2026-11-27",
        "lagging_sources": {},
        "by_group": groups,
        "daily": daily or [{"day": "2026-11-27", "total": str(total), "groups": groups}],
        "movers": [],
        "anomalies": [],
    }


def test_day_stamp_is_midnight_utc() -> None:
    assert sections.day_stamp("2026-11-27") == int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, ["g0"]), (8, [f"g{i}" for i in range(8)]), (9, [*(f"g{i}" for i in range(7)), "other"])],
)
def test_chart_groups_keep_the_largest_and_sum_the_rest(count: int, expected: list[str]) -> None:
    by_group = {f"g{i}": str(100 - i) for i in range(count)}
    assert sections.chart_groups(by_group) == expected


def test_the_spend_chart_folds_small_groups_into_other() -> None:
    groups = {f"g{i}": f"{10 - i}.00" for i in range(10)}
    data = {**_cost(groups), "target": "50.00", "alert_limit": "75.00"}
    spec = sections.spend_chart("USD", data)
    assert [s["label"] for s in spec["series"]][-1] == "other"
    assert spec["series"][-1]["values"] == [3.0 + 2.0 + 1.0]  # g7, g8, g9
    assert sum(s["values"][0] for s in spec["series"]) == 55.0
    assert spec["lines"] == [
        {"label": "target", "value": 50.0},
        {"label": "alert limit", "value": 75.0},
    ]
    assert {s["unit"] for s in spec["series"]} == {"USD"}


def test_a_currency_without_targets_has_no_lines() -> None:
    spec = sections.spend_chart("EUR", _cost({"EC2": "1.50"}))
    assert spec["lines"] == [] and spec["series"][0]["values"] == [1.5]


def test_test_rows_say_the_name_and_whether_it_fails_now() -> None:
    item = {
        "classname": "pkg.Mod", "name": "test_x", "runs": 4, "pass_rate": 0.75, "failures": 1,
        "median_seconds": 0.25, "p90_seconds": 75.0, "last_outcome": "failed",
    }  # fmt: skip
    row = sections.test_row(item)
    assert row == {
        "test": "pkg.Mod::test_x", "runs": 4, "pass_rate": "75.0%", "failures": 1,
        "median": "0.25s", "p90": "1m15s", "last": "failed", "failing_now": True,
    }  # fmt: skip
    assert (
        sections.test_row({**item, "classname": "", "last_outcome": "passed"})["test"] == "test_x"
    )
    assert not sections.test_row({**item, "last_outcome": "passed"})["failing_now"]


def test_flaky_rows_read_iso_times_and_may_lack_a_message() -> None:
    item = {"test": "a::b", "score": 0.9, "failures": 2, "runs": 10,
            "last_seen": "2026-11-25T13:13:00+00:00", "messages": []}  # fmt: skip
    assert sections.flaky_row(item) == {
        "test": "a::b", "score": "0.90", "failures": "2 / 10",
        "last_seen": "2026-11-25 13:13", "message": "",
    }  # fmt: skip


def test_the_pass_rate_chart_keeps_gaps_and_the_target() -> None:
    by_day = [
        {"day": "2026-11-26", "with_quarantined": 0.5, "without_quarantined": 1.0},
        {"day": "2026-11-27", "with_quarantined": None, "without_quarantined": None},
    ]
    spec = sections.pass_rate_chart(by_day, 99.5)
    assert [s["values"] for s in spec["series"]] == [[50.0, None], [100.0, None]]
    assert spec["lines"] == [{"label": "target", "value": 99.5}]


def _stats(index: int, outcome: str = "passed") -> dict[str, Any]:
    return {
        "classname": "c", "name": f"t{index}", "runs": 3, "pass_rate": 1.0, "failures": 0,
        "median_seconds": 1.0, "p90_seconds": 2.0, "last_outcome": outcome,
    }  # fmt: skip


def test_the_tests_section_caps_every_list() -> None:
    tests = {
        "counts": {},
        "totals": {"tests": 50, "failing": 30, "failing_now": 2},
        "slowest": [_stats(i) for i in range(50)],
        "failing": [_stats(i, "failed") for i in range(30)],
    }
    flaky = {
        "flaky": [
            {
                "test": f"f{i}",
                "score": 1.0,
                "failures": 1,
                "runs": 9,
                "last_seen": None,
                "messages": [],
            }  # fmt: skip
            for i in range(5)
        ],
        "broken": [],
        "outages": [],
        "totals": {"flaky": 12},
        "pass_rate": {"overall": {"with_quarantined": 0.9}, "by_day": []},
    }
    section = sections.tests_section(tests, flaky, target_percent=99.0, limit=3)
    assert [len(section[key]) for key in ("slowest", "failing", "flaky")] == [3, 3, 3]
    assert section["flaky_total"] == 12 and section["pass_rate"] == {"with_quarantined": "90.0%"}
    assert section["note"] is None


def test_the_costs_section_says_so_when_empty() -> None:
    empty = {"since": "2026-10-29", "until": "2026-11-27", "by": "service", "currencies": {}}
    section = sections.costs_section(empty, limit=5, empty_note="No cost data")
    assert section["note"] == "No cost data" and section["currencies"] == []
    full = {**empty, "currencies": {"USD": _cost({"EC2": "3.00", "S3": "1.00"})}}
    (usd,) = sections.costs_section(full, limit=1, empty_note="")["currencies"]
    assert usd["groups"] == [{"group": "EC2", "total": "3.00", "share": "75%"}]
    assert usd["groups_total"] == 2 and usd["target"] is None


# -- the report's capping and inlining ---------------------------------------------------


money = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)


@given(st.dictionaries(st.sampled_from([f"g{i}" for i in range(12)]), money, max_size=12))
def test_folding_groups_keeps_the_day_total(groups: dict[str, Decimal]) -> None:
    texts = {group: str(amount) for group, amount in groups.items()}
    shown = sections.chart_groups(texts)
    folded = report._fold_groups(texts, shown)
    assert set(folded) <= {*shown, "other"}
    assert sum(map(Decimal, folded.values()), Decimal(0)) == sum(groups.values(), Decimal(0))


def test_capped_flaky_keeps_totals_and_drops_evidence() -> None:
    item = {"test": "t", "evidence": [{"run": "1"}], "messages": []}
    flaky = {"flaky": [item] * 4, "broken": [1, 2], "platform": [], "outages": [1, 2, 3],
             "candidates": [1], "pass_rate": {"overall": {}}}  # fmt: skip
    capped = report._capped_flaky(flaky, 2)
    assert capped["flaky"] == [{"test": "t", "messages": []}] * 2
    assert (capped["broken"], capped["outages"]) == ([1, 2], [1, 2])
    assert capped["totals"] == {"flaky": 4, "broken": 2, "platform": 0, "outages": 3,
                                "candidates": 1}  # fmt: skip


@pytest.mark.parametrize("text", ["a</script>b", "x</STYLE >", "</Script"])
def test_text_that_would_close_its_element_is_not_inlined(text: str) -> None:
    with pytest.raises(ValueError, match="cannot be inlined"):
        report._inline(text, "x.js")


def test_the_assets_are_the_packaged_files_with_uplots_licence() -> None:
    assets = report.inline_assets()
    assert assets["uplot_js"].startswith("/*! uPlot 1.6.32")
    assert "Permission is hereby granted, free of charge" in assets["uplot_js"]
    assert "window.pilothouse = { drawCharts: drawCharts, format: fmt };" in assets["charts_js"]
    assert ".uplot" in assets["uplot_css"] and "--ink" in assets["style_css"]
    assert 45_000 < len(assets["uplot_js"]) < 60_000
