"""Benchmark: cost ingest rate and the memory of `pilothouse cost --json` at scale.

Generates FOCUS 1.0 exports shaped like the FinOps sample (its 44 columns; 12 services,
~2,000 resources, 90 days, money with 11 decimals as AWS writes it, ~20 % of lines with
tags), 300,000 and 1,000,000 lines, then, each as its own child process, whole-process
(interpreter start-up included):

* bare csv.reader -- the floor: ``csv.reader`` over the file, counting rows;
* pilothouse ingest -- ``python -m pilothouse --db sqlite:///... ingest cost FILE
  --format focus --json`` into a fresh SQLite store;
* pilothouse cost -- ``cost --json --since FIRST --until LAST`` over that store: time
  and peak RSS (``os.wait4``).

Goals (informational; the script exits 0 whether they are met or not): ingest time /
csv.reader time <= 8 at 300k lines, in wall time and in CPU time (user + system, which
other work on a shared machine disturbs less), best of ``--repeat``; ``cost --json``
peak RSS < 150 MB at 300k lines (and, shown, how it grows to 1M).

Run from the project root::

    .venv/bin/python benchmarks/cost_scale.py             # 300k and 1M lines (minutes)
    .venv/bin/python benchmarks/cost_scale.py --quick     # 30k lines, a smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SIZES = (300_000, 1_000_000)
QUICK_SIZES = (30_000,)
RATIO_GOAL = 8.0
RSS_GOAL_MB = 150.0
FIRST_DAY = date(2026, 6, 1)
DAYS = 90
HEADER = (
    "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,"
    "BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,"
    "ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountCategory,"
    "CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountStatus,"
    "CommitmentDiscountType,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,"
    "EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,"
    "PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,"
    "ResourceType,ServiceCategory,Id,ServiceName,SkuId,SkuPriceId,SubAccountId,"
    "SubAccountName,Tags"
).split(",")
SERVICES = ("Amazon Elastic Compute Cloud", "Amazon Simple Storage Service",
            "Amazon Relational Database Service", "AWS Lambda", "Amazon CloudWatch",
            "Amazon Simple Queue Service", "Elastic Load Balancing", "Amazon DynamoDB",
            "Amazon Bedrock", "AWS Key Management Service", "Amazon Route 53",
            "Amazon Virtual Private Cloud")  # fmt: skip
BARE_CSV = """\
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    print(sum(1 for _ in csv.reader(f)))
"""


def _row(rng: random.Random, index: int) -> list[str]:
    day = FIRST_DAY + timedelta(days=index % DAYS)
    month = day.replace(day=1)
    service = SERVICES[index % len(SERVICES)]
    resource = f"arn:aws:{service.split()[-1].lower()}:us-west-2:1234:r-{index % 2000:05d}"
    cost = f"{rng.random() * 3:.11f}"
    team = index % 7
    tags = f'{{"environment": "dev", "team": "t{team}"}}' if index % 5 == 0 else "NULL"
    cells = dict.fromkeys(HEADER, "NULL")
    cells.update(
        BilledCost=cost, EffectiveCost=cost, ListCost=cost, BillingCurrency="USD",
        BillingAccountId="1234567890123", BillingAccountName="SunBird",
        BillingPeriodStart=f"{month} 00:00:00", BillingPeriodEnd=f"{month} 00:00:00",
        ChargeCategory="Usage", ChargeFrequency="Usage-Based",
        ChargePeriodStart=f"{day} 10:00:00", ChargePeriodEnd=f"{day} 11:00:00",
        ConsumedQuantity=f"{rng.random() * 10:.15f}", ConsumedUnit="Hours",
        ProviderName="AWS", PublisherName="Amazon Web Services, Inc.", RegionId="us-west-2",
        ResourceId=resource, ServiceCategory="Compute", Id=f"line-{index}",
        ServiceName=service, SkuId=f"SKU{index % 300}", SubAccountId=f"{index % 40:011d}",
        ChargeDescription=f"$0.0{index % 9} per unit-hour in US West (Oregon)", Tags=tags,
    )  # fmt: skip
    return [cells[name] for name in HEADER]


def write_export(path: Path, lines: int) -> None:
    rng = random.Random(lines)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for index in range(lines):
            writer.writerow(_row(rng, index))


@dataclass(frozen=True)
class Sample:
    seconds: float  # wall
    cpu: float  # user + system: steadier than wall time on a shared machine
    peak_mb: float
    stdout: str


def _spawn(argv: Sequence[str], cwd: Path) -> Sample:
    """Run *argv*, timing it and reading its own peak RSS with os.wait4."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.exit(f"{' '.join(argv)}: exit {proc.returncode}: {err.read().decode()[-800:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return Sample(seconds, cpu, usage.ru_maxrss / 1024, out.read().decode())


def pilothouse(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pilothouse", "--db", f"sqlite:///{db}", *args]


@dataclass(frozen=True)
class Result:
    lines: int
    bare: Sample
    ingest: Sample
    report: Sample

    @property
    def ratio(self) -> float:
        return self.ingest.seconds / self.bare.seconds

    @property
    def cpu_ratio(self) -> float:
        return self.ingest.cpu / self.bare.cpu


def measure(lines: int, tmpdir: Path, repeat: int) -> Result:
    export = tmpdir / f"focus-{lines}.csv"
    write_export(export, lines)
    script = tmpdir / "bare_csv.py"
    script.write_text(BARE_CSV)
    bare = min((_spawn([sys.executable, str(script), str(export)], tmpdir)
                for _ in range(repeat)), key=lambda s: s.cpu)  # fmt: skip
    ingests = []
    for attempt in range(repeat):
        db = tmpdir / f"store-{lines}-{attempt}.db"
        ingests.append(
            _spawn(
                pilothouse(db, "ingest", "cost", str(export), "--format", "focus", "--json"), tmpdir
            )  # fmt: skip
        )
        stored = json.loads(ingests[-1].stdout)["new"]
        if stored != lines:
            sys.exit(f"ingest stored {stored} of {lines} lines")
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    report_argv = pilothouse(db, "cost", "--json", "--since", str(FIRST_DAY), "--until", str(last))
    report = min((_spawn(report_argv, tmpdir) for _ in range(repeat)), key=lambda s: s.seconds)
    return Result(lines, bare, min(ingests, key=lambda s: s.cpu), report)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_results(results: Sequence[Result]) -> None:
    print(f"{'lines':>9} {'csv.reader':>11} {'ingest':>9} {'ratio':>6} {'CPU ratio':>9} "
          f"{'ingest RSS':>11} {'cost --json':>12} {'cost RSS':>9}")  # fmt: skip
    for r in results:
        print(f"{r.lines:>9,} {r.bare.seconds:>10.2f}s {r.ingest.seconds:>8.2f}s "
              f"{r.ratio:>5.1f}x {r.cpu_ratio:>8.1f}x {r.ingest.peak_mb:>8.0f} MB "
              f"{r.report.seconds:>11.2f}s {r.report.peak_mb:>6.0f} MB")  # fmt: skip
    first = results[0]
    print(f"goal: ingest <= {RATIO_GOAL:g}x csv.reader at {first.lines:,} lines: wall "
          f"{first.ratio:.1f}x, {_verdict(first.ratio <= RATIO_GOAL)}; CPU {first.cpu_ratio:.1f}x, "
          f"{_verdict(first.cpu_ratio <= RATIO_GOAL)}")  # fmt: skip
    peak = first.report.peak_mb
    print(f"goal: cost --json peak RSS < {RSS_GOAL_MB:g} MB at {first.lines:,} lines: "
          f"{peak:.0f} MB, {_verdict(peak < RSS_GOAL_MB)}")  # fmt: skip
    if len(results) > 1:
        last = results[-1]
        growth = last.report.peak_mb / first.report.peak_mb
        print(f"cost --json peak RSS from {first.lines:,} to {last.lines:,} lines: x {growth:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30,000 lines only")
    parser.add_argument("--lines", type=int, nargs="+", help="sizes (default 300,000 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cost-scale-") as tmp:
        sizes = args.lines or (QUICK_SIZES if args.quick else SIZES)
        results = [measure(lines, Path(tmp), args.repeat) for lines in sizes]
    print_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
