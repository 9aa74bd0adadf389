"""Where the judge's series come from: a data file (CSV or JSON lines) or Prometheus's
``/api/v1/query_range``. The only I/O of the canary package.

A series maps (metric name, "baseline" | "canary") to its values in time order; NaN
marks a step without a value (an empty CSV cell, a JSON null, Prometheus's "NaN").
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from pilothouse.delivery.canary.config import SCOPE_PLACEHOLDER, CanaryConfig
from pilothouse.delivery.canary.judge import Series
from pilothouse.errors import ConfigError, InputError

SCOPES = ("baseline", "canary")
HEADER = ("metric", "scope", "timestamp", "value")
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a query_range answer larger than this is refused


# ---------------------------------------------------------------- data files


def read_data_file(path: Path) -> Series:
    """The series in a CSV (``metric,scope,timestamp,value``) or JSON-lines file.

    Each record is one value of one metric on one side at one time; values are put in
    time order.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            first = handle.read(1)
            handle.seek(0)
            records = _jsonl(handle, path) if first == "{" else _csv(handle, path)
            return _ordered(records)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the data file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (not UTF-8)") from None


_Record = tuple[str, str, float, float]


def _csv(handle: io.TextIOBase | Any, path: Path) -> Iterator[_Record]:
    reader = csv.reader(handle)
    try:
        yield from _csv_rows(reader, path)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: not CSV: {exc}") from None


def _csv_rows(reader: Any, path: Path) -> Iterator[_Record]:
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        raise InputError(f"{path}:1: expected the CSV header {','.join(HEADER)}")
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            raise InputError(f"{path}:{line}: expected 4 fields, found {len(row)}")
        yield _record(row[0], row[1], row[2], row[3], f"{path}:{line}")


def _jsonl(handle: io.TextIOBase | Any, path: Path) -> Iterator[_Record]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not a JSON object: {exc.msg}") from None
        except RecursionError:
            raise InputError(f"{where}: not a JSON object: nested too deeply") from None
        if not isinstance(item, dict):
            raise InputError(f"{where}: not a JSON object")
        missing = [k for k in HEADER if k not in item and k != "value"]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        yield _record(item["metric"], item["scope"], item["timestamp"], item.get("value"), where)


def _record(metric: Any, scope: Any, timestamp: Any, value: Any, where: str) -> _Record:
    if not isinstance(metric, str) or not metric.strip():
        raise InputError(f"{where}: the metric name is empty")
    if scope not in SCOPES:
        raise InputError(f"{where}: scope must be baseline or canary, not {scope!r}")
    return metric.strip(), scope, _timestamp(timestamp, where), _value(value, where)


def _timestamp(value: Any, where: str) -> float:
    try:
        return parse_time(value).timestamp()
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def _value(value: Any, where: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool):
        raise InputError(f"{where}: value must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: value must be a number, not {value!r}") from None
    return number if math.isfinite(number) else math.nan


def _ordered(records: Iterator[_Record]) -> dict[tuple[str, str], list[float]]:
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for metric, scope, when, value in records:
        points.setdefault((metric, scope), []).append((when, value))
    return {key: [v for _, v in sorted(p, key=lambda t: t[0])] for key, p in points.items()}


# ---------------------------------------------------------------- time and step


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_time(value: Any) -> datetime:
    """An ISO 8601 time (UTC when it names no zone) or epoch seconds, as an aware datetime.

    >>> parse_time("1764547200").isoformat()
    '2025-12-01T00:00:00+00:00'
    """
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return _epoch(float(value), value)
    text = str(value).strip()
    try:
        return _epoch(float(text), value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time or epoch seconds: {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _epoch(seconds: float, shown: Any) -> datetime:
    if not math.isfinite(seconds) or not 0 <= seconds < 32503680000:
        raise ValueError(f"epoch seconds out of range: {shown!r}")
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_step(value: str) -> float:
    """A query step in seconds: a number or a Prometheus duration (30s, 1m, 1h30m)."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"not a step (seconds or a duration such as 30s): {value!r}") from None
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"the step must be positive: {value!r}")
    return seconds


# ---------------------------------------------------------------- Prometheus


def render_query(query: str, selector: str) -> str:
    """*query* with its ``{{ scope }}`` replaced by a side's label selector."""
    return query.replace(SCOPE_PLACEHOLDER, selector)


def query_prometheus(
    client: httpx.Client,
    base_url: str,
    config: CanaryConfig,
    *,
    start: datetime,
    end: datetime,
    step: float,
    scopes: Mapping[str, str] | None = None,
) -> Series:
    """Every metric's baseline and canary series from Prometheus's range queries.

    *scopes* ("baseline", "canary" -> label selector) overrides the configuration's
    ``[scope]``. A query answering no series gives no data; more than one is refused
    (aggregate it in the query).
    """
    selectors = _selectors(config, scopes)
    if end <= start:
        raise InputError(
            f"the end ({end.isoformat()}) is not after the start ({start.isoformat()})"
        )
    series: dict[tuple[str, str], list[float]] = {}
    for metric in config.metrics:
        if metric.query is None:
            raise ConfigError(f"{config.source}: metric {metric.name!r}: no query for Prometheus")
        for scope in SCOPES:
            query = render_query(metric.query, selectors[scope])
            params = {
                "query": query,
                "start": _prom_time(start),
                "end": _prom_time(end),
                "step": f"{step:g}",
            }
            series[(metric.name, scope)] = _range(client, base_url, params)
    return series


def _selectors(config: CanaryConfig, scopes: Mapping[str, str] | None) -> dict[str, str]:
    chosen = {"baseline": config.baseline_scope, "canary": config.canary_scope}
    chosen.update(scopes or {})
    for scope in SCOPES:
        if chosen.get(scope) is None:
            raise ConfigError(f"{config.source}: scope.{scope} is required to query Prometheus")
    return {k: str(v) for k, v in chosen.items()}


def _prom_time(when: datetime) -> str:
    return f"{when.timestamp():.3f}"


def public_url(url: str) -> str:
    """*url* without the user and password it may carry (http://user:pass@host basic
    auth): fit for an error message.

    >>> public_url("https://bot:s3cret@prom.example:9090/prometheus")
    'https://prom.example:9090/prometheus'
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _range(client: httpx.Client, base_url: str, params: dict[str, str]) -> list[float]:
    url = base_url.rstrip("/") + "/api/v1/query_range"
    body, status = _get(client, url, params)
    shown = f"{public_url(url)} (query {params['query']!r})"
    try:
        answer = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise InputError(f"{shown}: HTTP {status}, not a Prometheus API answer") from None
    if not isinstance(answer, dict):
        raise InputError(f"{shown}: HTTP {status}, not a Prometheus API answer")
    if answer.get("status") != "success":
        kind, error = answer.get("errorType", "error"), answer.get("error", "no message")
        raise InputError(f"{shown}: HTTP {status}, Prometheus {kind}: {error}")
    if status >= 400:
        raise InputError(f"{shown}: HTTP {status}")
    return _matrix(answer.get("data"), shown)


def _get(client: httpx.Client, url: str, params: dict[str, str]) -> tuple[bytes, int]:
    try:
        with client.stream("GET", url, params=params) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise InputError(
                        f"{public_url(url)}: the answer is over {MAX_RESPONSE_BYTES} bytes"
                    )
                chunks.append(chunk)
            return b"".join(chunks), response.status_code
    except httpx.HTTPError as exc:
        reason = str(exc).replace(url, public_url(url))
        raise InputError(
            f"{public_url(url)}: cannot query Prometheus: {type(exc).__name__}: {reason}"
        ) from None


def _matrix(data: Any, shown: str) -> list[float]:
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, dict) else None
        raise InputError(f"{shown}: expected a matrix result, got {kind!r}")
    result = data.get("result")
    if not isinstance(result, list):
        raise InputError(f"{shown}: the result is not a list")
    if not result:
        return []
    if len(result) > 1:
        raise InputError(
            f"{shown}: {len(result)} series; aggregate the query to one (e.g. sum(...))"
        )
    return _values(result[0], shown)


def _values(item: Any, shown: str) -> list[float]:
    values = item.get("values") if isinstance(item, dict) else None
    if not isinstance(values, list):
        raise InputError(f"{shown}: a series without values")
    out: list[float] = []
    for point in values:
        if not isinstance(point, list) or len(point) != 2 or not isinstance(point[1], str):
            raise InputError(f'{shown}: a value is not [time, "number"]: {str(point)[:60]}')
        try:
            number = float(point[1])
        except ValueError:
            raise InputError(f"{shown}: not a number: {point[1][:40]!r}") from None
        out.append(number if math.isfinite(number) else math.nan)
    return out
