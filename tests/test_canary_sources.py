"""Where the canary judge's series come from: data files and Prometheus's query_range
(served by a loopback fake shaped as the real API)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pilothouse.delivery.canary import parse_config, query_prometheus, read_data_file
from pilothouse.delivery.canary.sources import parse_step, parse_time, render_query
from pilothouse.errors import ConfigError, InputError
from tests.prometheus_fake import FakePrometheus

CONFIG = parse_config(
    """
    [scope]
    baseline = 'app="api", track="baseline"'
    canary = 'app="api", track="canary"'

    [[metric]]
    name = "errors"
    kind = "count"
    query = 'sum(increase(http_requests_total{ {{ scope }}, code=~"5.." }[1m]))'

    [[metric]]
    name = "latency"
    query = 'histogram_quantile(0.99, sum by (le) (rate(latency_bucket{ {{ scope }} }[1m])))'
    """,
    "canary.toml",
)
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
END = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)


def _q(metric: str, scope: str) -> str:
    config_metric = CONFIG.metric(metric)
    assert config_metric is not None and config_metric.query is not None
    selector = CONFIG.baseline_scope if scope == "baseline" else CONFIG.canary_scope
    assert selector is not None
    return render_query(config_metric.query, selector)


# ---------------------------------------------------------------- data files


def test_a_csv_file_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        "metric,scope,timestamp,value\n"
        "latency,canary,2026-11-30T12:01:00Z,120\n"
        "latency,canary,2026-11-30T12:00:00Z,110\n"
        "latency,baseline,1796040000,100\n"
        "latency,baseline,1796040060,\n"
        "\n"
        "errors,canary,1796040000,3\n"
    )
    series = read_data_file(path)
    assert series[("latency", "canary")] == [110.0, 120.0]
    baseline = series[("latency", "baseline")]
    assert baseline[0] == 100.0 and math.isnan(baseline[1])
    assert series[("errors", "canary")] == [3.0]
    assert ("errors", "baseline") not in series


def test_json_lines_hold_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    records = [
        {"metric": "latency", "scope": "canary", "timestamp": 1796040060, "value": 2.5},
        {
            "metric": "latency",
            "scope": "canary",
            "timestamp": "2026-11-30T12:00:00+00:00",
            "value": 1,
        },
        {"metric": "latency", "scope": "baseline", "timestamp": 1796040000, "value": None},
        {"metric": "latency", "scope": "baseline", "timestamp": 1796040060, "value": "NaN"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    series = read_data_file(path)
    assert series[("latency", "canary")] == [1.0, 2.5]
    assert all(math.isnan(v) for v in series[("latency", "baseline")])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("metric,scope,value\nx,canary,1\n", "data.csv:1: expected the CSV header"),
        ("<html><body>502 Bad Gateway</body></html>\n", "data.csv:1: expected the CSV header"),
        ("", "data.csv:1: expected the CSV header"),
        (
            "metric,scope,timestamp,value\nx,prod,1,2\n",
            "data.csv:2: scope must be baseline or canary",
        ),
        ("metric,scope,timestamp,value\nx,canary,yesterday,2\n", "data.csv:2: not an ISO 8601"),
        ("metric,scope,timestamp,value\nx,canary,1,fast\n", "data.csv:2: value must be a number"),
        ("metric,scope,timestamp,value\nx,canary,1\n", "data.csv:2: expected 4 fields, found 3"),
        ("metric,scope,timestamp,value\n,canary,1,1\n", "data.csv:2: the metric name is empty"),
        ('{"metric": "x", "scope": "canary"}\n', "data.csv:1: missing timestamp"),
        (
            '{"metric": "x", "scope": "canary", "timestamp": 1, "value": 1}\n{oops\n',
            "data.csv:2: not a JSON",
        ),
        ('{"metric": ' + "[" * 200_000 + "\n", "data.csv:1: not a JSON object: nested too deeply"),
        (
            '{"metric": "x", "scope": "canary", "timestamp": 1, "value": true}\n',
            "value must be a number",
        ),
    ],
)
def test_a_bad_data_file_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_data_file(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unreadable_data_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the data file"):
        read_data_file(tmp_path / "missing.csv")
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"metric,scope,timestamp,value\n\xff\xfe\x00garbage\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_data_file(binary)


def test_a_huge_field_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('metric,scope,timestamp,value\nm,canary,1,"' + "9" * 200_000 + '"\n')
    with pytest.raises(InputError, match=r"data.csv:\d+: not CSV: field larger than field limit"):
        read_data_file(path)


def test_a_large_file_reads_in_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = "".join(f"m,{'canary' if i % 2 else 'baseline'},{i},{i % 7}\n" for i in range(200_000))
    path.write_text("metric,scope,timestamp,value\n" + rows)
    series = read_data_file(path)
    assert len(series[("m", "canary")]) == 100_000


# ---------------------------------------------------------------- time and step


def test_times_and_steps() -> None:
    assert parse_time("2026-11-30T12:00:00Z") == START
    assert parse_time("2026-11-30T12:00:00") == START  # no zone: UTC
    assert parse_time(START.timestamp()) == START
    assert parse_step("30") == 30.0 and parse_step("1m30s") == 90.0 and parse_step("250ms") == 0.25
    for bad in ("0", "-5", "fast", "1m fast", "nan"):
        with pytest.raises(ValueError):
            parse_step(bad)
    for bad_time in ("soon", "1e30", True):
        with pytest.raises(ValueError):
            parse_time(bad_time)


# ---------------------------------------------------------------- Prometheus


def _query(url: str, **kwargs) -> dict:  # type: ignore[no-untyped-def,type-arg]
    with httpx.Client(timeout=10) as client:
        return dict(query_prometheus(client, url, CONFIG, start=START, end=END, step=60, **kwargs))


def test_range_queries_per_metric_and_scope() -> None:
    fake = FakePrometheus()
    fake.add(_q("errors", "baseline"), ["0", "0", "1", "0", "0", "0"])
    fake.add(_q("errors", "canary"), ["0", "1", "2", "1", "NaN", "0"])
    fake.add(_q("latency", "baseline"), ["0.21", "0.2", "0.25", None, "0.22", "0.2"])
    fake.add(_q("latency", "canary"), ["0.3", "+Inf", "0.31", "0.29", "0.3", "0.33"])
    with fake.serve() as url:
        series = _query(url + "/")
    assert series[("errors", "baseline")] == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    canary_errors = series[("errors", "canary")]
    assert canary_errors[:4] == [0.0, 1.0, 2.0, 1.0] and math.isnan(canary_errors[4])
    assert series[("latency", "baseline")] == [0.21, 0.2, 0.25, 0.22, 0.2]  # a missing step
    assert math.isnan(series[("latency", "canary")][1])  # +Inf is no value to compare
    first = fake.requests[0]
    assert (
        first["query"]
        == 'sum(increase(http_requests_total{ app="api", track="baseline", code=~"5.." }[1m]))'
    )
    assert (first["start"], first["end"], first["step"]) == (
        "1796040000.000",
        "1796040300.000",
        "60",
    )


def test_scopes_override_the_configured_selectors() -> None:
    fake = FakePrometheus()
    with fake.serve() as url:
        series = _query(url, scopes={"canary": 'region="eu-west-1", track="canary"'})
    assert series[("latency", "canary")] == []  # no series: no data
    queries = [r["query"] for r in fake.requests]
    assert any('region="eu-west-1", track="canary"' in q for q in queries)
    assert any('app="api", track="baseline"' in q for q in queries)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {
                "status": "error",
                "errorType": "bad_data",
                "error": '1:5: parse error: unexpected "}"',
            },
            'HTTP 400, Prometheus bad_data: 1:5: parse error: unexpected "}"',
        ),
        (
            422,
            {
                "status": "error",
                "errorType": "execution",
                "error": "query processing would load too many samples",
            },
            "HTTP 422, Prometheus execution: query processing would load too many samples",
        ),
        (
            503,
            {
                "status": "error",
                "errorType": "timeout",
                "error": "query timed out in expression evaluation",
            },
            "HTTP 503, Prometheus timeout: query timed out",
        ),
        (
            503,
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
            "HTTP 503, not a Prometheus API answer",
        ),
        (
            200,
            '{"status": "success", "data": {"resultType": "vector", "result": []}}',
            "expected a matrix result",
        ),
        (200, "[1, 2]", "not a Prometheus API answer"),
        (200, "[" * 200_000, "not a Prometheus API answer"),  # nested too deeply
        (
            200,
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, 2]]}]},
            },
            'a value is not [time, "number"]',
        ),
        (
            200,
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [{"metric": {}, "values": [[1, "fast"]]}],
                },
            },
            "not a number: 'fast'",
        ),
    ],
)
def test_prometheus_errors_are_one_line(status: int, body: dict | str, message: str) -> None:  # type: ignore[type-arg]
    fake = FakePrometheus()
    fake.fail(_q("errors", "baseline"), status, body)
    with fake.serve() as url:
        with pytest.raises(InputError) as info:
            _query(url)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert f"{url}/api/v1/query_range" in text and "query 'sum(increase(" in text


def test_credentials_in_the_url_are_used_and_never_shown() -> None:
    fake = FakePrometheus()
    fake.fail(
        _q("errors", "baseline"),
        503,
        {"status": "error", "errorType": "unavailable", "error": "overloaded"},
    )
    with fake.serve() as url:
        secret = url.replace("http://", "http://bot:s3cret@")
        with pytest.raises(InputError) as info:
            _query(secret)
    assert "s3cret" not in str(info.value) and "bot" not in str(info.value)
    assert f"{url}/api/v1/query_range" in str(info.value)
    with pytest.raises(InputError) as closed:
        _query(secret)
    assert "s3cret" not in str(closed.value)


def test_several_series_must_be_aggregated() -> None:
    fake = FakePrometheus()
    fake.add(_q("errors", "baseline"), ["1", "2"], ["3", "4"])
    with fake.serve() as url:
        with pytest.raises(InputError, match="2 series; aggregate the query"):
            _query(url)


def test_an_unreachable_server_is_one_line() -> None:
    fake = FakePrometheus()
    with fake.serve() as url:
        pass  # the port is closed again
    with pytest.raises(InputError, match="cannot query Prometheus: ConnectError"):
        _query(url)


def test_a_huge_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pilothouse.delivery.canary import sources

    monkeypatch.setattr(sources, "MAX_RESPONSE_BYTES", 1000)
    fake = FakePrometheus()
    fake.add(_q("errors", "baseline"), [str(i) for i in range(500)])
    with fake.serve() as url:
        with pytest.raises(InputError, match="over 1000 bytes"):
            with httpx.Client() as client:
                query_prometheus(
                    client, url, CONFIG, start=START, end=datetime(2026, 12, 1, tzinfo=UTC), step=60
                )


def test_prometheus_needs_queries_and_scopes() -> None:
    bare = parse_config('[[metric]]\nname = "x"\n', "bare.toml")
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with pytest.raises(ConfigError, match="bare.toml: scope.baseline is required"):
        query_prometheus(client, "http://prom", bare, start=START, end=END, step=60)
    scoped = {"baseline": "a", "canary": "b"}
    with pytest.raises(ConfigError, match="bare.toml: metric 'x': no query for Prometheus"):
        query_prometheus(client, "http://prom", bare, start=START, end=END, step=60, scopes=scoped)
    with pytest.raises(InputError, match="is not after the start"):
        query_prometheus(client, "http://prom", CONFIG, start=END, end=START, step=60)
