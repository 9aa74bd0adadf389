"""The sample history's bills: a FOCUS export of the AWS account and a Bedrock log.

Shaped like our first user: about $85-96 a day, CI runners that idle over the
weekend, an oversized build-cache instance, a test database, artifact storage,
and an LLM agent bill on Bedrock split by task tag (triage, review, summarize),
with one runaway-agent day. The files are written as the real formats and go
through the same readers as real exports; the same arguments give the same bytes.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

FOCUS_COLUMNS = (
    "Id", "BilledCost", "EffectiveCost", "BillingCurrency", "ChargePeriodStart",
    "ChargePeriodEnd", "ChargeCategory", "ServiceName", "ResourceId", "RegionId",
    "SubAccountId", "SkuId", "ConsumedQuantity", "ConsumedUnit", "Tags",
)  # fmt: skip
ACCOUNT = "210987654321"
SONNET = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
LITE = "amazon.nova-lite-v1:0"
RUNAWAY_DAYS_AGO = 9  # the agent looped on a flaky test for an afternoon


@dataclass(frozen=True, slots=True)
class _Resource:
    service: str
    resource: str
    sku: str
    weekday: Decimal
    weekend: Decimal
    unit: str
    tags: dict[str, str]


RESOURCES = (
    _Resource("Amazon Elastic Compute Cloud", "i-ci-runner-pool", "c6i.4xlarge", Decimal("38.40"),
              Decimal("30.70"), "Hrs", {"team": "ci", "role": "runners"}),
    _Resource("Amazon Elastic Compute Cloud", "i-build-cache", "m5.2xlarge", Decimal("9.22"),
              Decimal("9.22"), "Hrs", {"team": "ci", "role": "cache"}),
    _Resource("Amazon Relational Database Service", "db-test-postgres", "db.m6g.large",
              Decimal("6.05"), Decimal("6.05"), "Hrs", {"team": "ci", "role": "test-db"}),
    _Resource("Amazon Simple Storage Service", "s3-ci-artifacts", "TimedStorage-ByteHrs",
              Decimal("2.31"), Decimal("2.31"), "GB-Mo", {"team": "ci", "role": "artifacts"}),
    _Resource("AmazonCloudWatch", "cw-ci-logs", "CW:Logs-Ingest", Decimal("1.18"),
              Decimal("0.64"), "GB", {"team": "ci", "role": "logs"}),
)  # fmt: skip


def _focus_rows(days: int, end: date, rng: random.Random) -> list[dict[str, str]]:
    rows = []
    start = end - timedelta(days=days - 1)
    for offset in range(days):
        day = start + timedelta(days=offset)
        for resource in RESOURCES:
            base = resource.weekend if day.weekday() >= 5 else resource.weekday
            amount = (base * Decimal(str(round(rng.uniform(0.93, 1.07), 4)))).quantize(
                Decimal("0.000001")
            )
            rows.append(
                {
                    "Id": f"{day.isoformat()}/{resource.resource}",
                    "BilledCost": str(amount),
                    "EffectiveCost": str(amount),
                    "BillingCurrency": "USD",
                    "ChargePeriodStart": f"{day.isoformat()} 00:00:00",
                    "ChargePeriodEnd": f"{(day + timedelta(days=1)).isoformat()} 00:00:00",
                    "ChargeCategory": "Usage",
                    "ServiceName": resource.service,
                    "ResourceId": resource.resource,
                    "RegionId": "eu-west-1",
                    "SubAccountId": ACCOUNT,
                    "SkuId": resource.sku,
                    "ConsumedQuantity": "24",
                    "ConsumedUnit": resource.unit,
                    "Tags": json.dumps(resource.tags, sort_keys=True),
                }
            )
    return rows


def _invocations(days: int, end: date, rng: random.Random) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    start = end - timedelta(days=days - 1)
    for offset in range(days):
        day = start + timedelta(days=offset)
        calls = 60 if day.weekday() < 5 else 22
        if (end - day).days == RUNAWAY_DAYS_AGO:
            calls *= 5
        for n in range(calls):
            task = rng.choices(("triage", "review", "summarize"), weights=(5, 3, 2))[0]
            model = LITE if task == "summarize" and n % 2 else SONNET
            at = datetime(day.year, day.month, day.day, 5, tzinfo=UTC) + timedelta(
                seconds=n * (64_800 // calls)  # spread over 18 hours of the day
            )
            records.append(_record(rng, at, model, task, f"{day.isoformat()}-{n:04d}"))
    return records


def _record(
    rng: random.Random, at: datetime, model: str, task: str, request: str
) -> dict[str, object]:
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": ACCOUNT,
        "region": "eu-west-1",
        "requestId": f"sample-{request}",
        "operation": "Converse",
        "modelId": model,
        "input": {
            "inputContentType": "application/json",
            "inputTokenCount": rng.randint(120_000, 260_000),
            "cacheReadInputTokenCount": rng.randint(0, 40_000),
            "cacheWriteInputTokenCount": 0,
        },
        "output": {
            "outputContentType": "application/json",
            "outputTokenCount": rng.randint(6_000, 16_000),
        },  # fmt: skip
        "requestMetadata": {"task": task, "repo": "hypha-labs/hypha"},
    }


def write_sample_costs(folder: Path, *, days: int, end: date, seed: int = 7) -> tuple[Path, Path]:
    """Write the FOCUS export and the Bedrock log into *folder*; return their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    focus = folder / "aws-focus.csv"
    with focus.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=FOCUS_COLUMNS)
        writer.writeheader()
        writer.writerows(_focus_rows(days, end, rng))
    bedrock = folder / "bedrock-invocations.jsonl"
    bedrock.write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in _invocations(days, end, rng)),
        encoding="utf-8",
    )
    return focus, bedrock
