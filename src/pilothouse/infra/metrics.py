"""CloudWatch GetMetricData, planned and read without I/O: which metric of which resource
is asked for, from when (the stored cursor), in batches of at most 500 queries, and the
answers (paged by NextToken) as metric points.

Metric query shapes are the API's own (``MetricDataQueries`` of ``MetricStat``):
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pilothouse.errors import InputError
from pilothouse.infra.model import GROUP, MetricPoint, Resource

# GetMetricData takes at most 500 queries per call.
MAX_QUERIES = 500
# A period is read once it is this long over: CloudWatch publishes EC2 metrics a few
# minutes late, and a stored period is never updated (ON CONFLICT DO NOTHING).
SETTLE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A stored metric: its CloudWatch namespace, name and the statistic kept per period."""

    name: str
    namespace: str
    metric: str
    stat: str
    unit: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("cpu", "AWS/EC2", "CPUUtilization", "Average", "percent"),
    # The CloudWatch agent's memory metric (namespace CWAgent, Linux): its dimensions
    # depend on the agent's config, so they are found with ListMetrics.
    MetricSpec("memory", "CWAgent", "mem_used_percent", "Average", "percent"),
    MetricSpec("network_in", "AWS/EC2", "NetworkIn", "Sum", "bytes"),
    MetricSpec("network_out", "AWS/EC2", "NetworkOut", "Sum", "bytes"),
    MetricSpec("status_failed", "AWS/EC2", "StatusCheckFailed", "Maximum", "count"),
)
BY_NAME = {spec.name: spec for spec in METRICS}
AGENT = BY_NAME["memory"]

Dimensions = tuple[tuple[str, str], ...]


def dimension_of(resource: Resource) -> tuple[str, str]:
    """The CloudWatch dimension that names *resource*."""
    if resource.kind == GROUP:
        return ("AutoScalingGroupName", resource.name)
    return ("InstanceId", resource.key)


def agent_dimensions(listed: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Dimensions]:
    """From ListMetrics' CWAgent mem_used_percent metrics: per instance id or group name
    the dimension set with the fewest dimensions that names it (the agent appends
    ImageId, InstanceType... as configured; GetMetricData needs the exact set)."""
    found: dict[tuple[str, str], Dimensions] = {}
    for metric in listed:
        # in the order ListMetrics gives them: GetMetricData is asked with the same list
        dims: Dimensions = tuple(
            (str(d["Name"]), str(d["Value"])) for d in metric.get("Dimensions", [])
        )
        for pair in dims:
            if pair[0] in ("InstanceId", "AutoScalingGroupName"):
                known = found.get(pair)
                if known is None or len(dims) < len(known):
                    found[pair] = dims
    return found


@dataclass(frozen=True, slots=True)
class Query:
    """One metric of one resource to read from *start* (inclusive) to the call's end."""

    resource: str
    metric: str
    dimensions: Dimensions
    start: datetime


def floor_time(moment: datetime, period_seconds: int) -> datetime:
    """*moment* down to a multiple of *period_seconds* since the epoch (UTC)."""
    seconds = int(moment.timestamp()) // period_seconds * period_seconds
    return datetime.fromtimestamp(seconds, UTC)


def read_end(now: datetime, period_seconds: int) -> datetime:
    """The end of the newest period that is over and settled."""
    return floor_time(now - SETTLE, period_seconds)


def plan(
    resources: Sequence[Resource],
    agent: Mapping[tuple[str, str], Dimensions],
    cursors: Mapping[tuple[str, str], datetime],
    *,
    end: datetime,
    backfill: timedelta,
    period_seconds: int,
) -> list[Query]:
    """Every metric of every resource still to read: from its cursor (the end of its last
    read), or *backfill* before *end* for a new one. A metric without data (memory
    without the agent) is asked for too: its cursor moves, so it costs one query a run."""
    first = floor_time(end - backfill, period_seconds)
    found = []
    for resource in resources:
        pair = dimension_of(resource)
        for spec in METRICS:
            dims = agent.get(pair) if spec is AGENT else (pair,)
            if dims is None:
                continue  # no agent metric for it: nothing to ask
            start = max(cursors.get((resource.key, spec.name), first), first)
            if start < end:
                found.append(Query(resource.key, spec.name, dims, start))
    return found


def batches(queries: Sequence[Query]) -> Iterator[tuple[datetime, list[Query]]]:
    """Queries grouped by start (one StartTime per call), at most MAX_QUERIES a call."""
    by_start: dict[datetime, list[Query]] = {}
    for query in queries:
        by_start.setdefault(query.start, []).append(query)
    for start in sorted(by_start):
        group = by_start[start]
        for offset in range(0, len(group), MAX_QUERIES):
            yield start, group[offset : offset + MAX_QUERIES]


def request(
    batch: Sequence[Query], start: datetime, end: datetime, period_seconds: int
) -> dict[str, Any]:
    """The GetMetricData arguments of one batch (query ids ``q0``, ``q1``, ...)."""
    return {
        "MetricDataQueries": [
            {
                "Id": f"q{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": BY_NAME[query.metric].namespace,
                        "MetricName": BY_NAME[query.metric].metric,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in query.dimensions],
                    },
                    "Period": period_seconds,
                    "Stat": BY_NAME[query.metric].stat,
                },
                "ReturnData": True,
            }
            for index, query in enumerate(batch)
        ],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }


def points_of(
    batch: Sequence[Query], pages: Iterable[Mapping[str, Any]], period_seconds: int
) -> Iterator[MetricPoint]:
    """The points of a batch's answer pages (a query's values may span several pages)."""
    for page in pages:
        for result in page.get("MetricDataResults", []):
            query = _query_of(batch, result.get("Id"))
            if result.get("StatusCode") in ("InternalError", "Forbidden"):
                raise InputError(
                    f"CloudWatch GetMetricData: {query.metric} of {query.resource}: "
                    f"{result.get('StatusCode')}: {_messages(result)}"
                )
            stamps, values = result.get("Timestamps", []), result.get("Values", [])
            if len(stamps) != len(values):
                raise InputError(f"CloudWatch GetMetricData: {result.get('Id')}: "
                                 f"{len(stamps)} timestamps for {len(values)} values")  # fmt: skip
            for stamp, value in zip(stamps, values, strict=True):
                yield MetricPoint(query.resource, query.metric, _utc(stamp),
                                  period_seconds, float(value))  # fmt: skip


def _query_of(batch: Sequence[Query], query_id: Any) -> Query:
    text = str(query_id)
    index = int(text[1:]) if text[:1] == "q" and text[1:].isdigit() else -1
    if not 0 <= index < len(batch):
        raise InputError(f"CloudWatch GetMetricData: an answer for unknown query id {text!r}")
    return batch[index]


def _messages(result: Mapping[str, Any]) -> str:
    return "; ".join(str(m.get("Value", "")) for m in result.get("Messages", [])) or "no message"


def _utc(stamp: Any) -> datetime:
    if not isinstance(stamp, datetime):
        raise InputError(f"CloudWatch GetMetricData: timestamp {stamp!r} is not a time")
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
