"""Benchmark: what recording every rollout step costs against running the hooks themselves.

A plan of --targets targets in 2 waves with steps [5, 25, 50, 100] and a health hook, all
hooks `/bin/true`: the conductor's work is then nothing but its own (decide, commit a row,
spawn a hook). The floor is spawning the same hook calls, one after the other, with the
same `subprocess` call and nothing else. It prints both, the ratio, and the time per
transition the store adds (one committed transaction per row), for SQLite and, with --pg,
PostgreSQL. Informational: exits 0 either way; compare the ratios of one run.

    .venv/bin/python benchmarks/rollout_overhead.py [--targets 20] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy

from pilothouse.delivery.rollout import core, runner
from pilothouse.delivery.rollout.analysis import AnalysisRequest, Verdict
from pilothouse.delivery.rollout.hooks import run_hook
from pilothouse.delivery.rollout.plan import load_plan
from pilothouse.store import Store

HOOK = ["/bin/true", "{target}", "{weight}", "{version}"]


def plan_text(targets: int) -> str:
    names = [f"region-{i}" for i in range(targets)]
    hooks = "\n".join(f"{h} = {HOOK!r}".replace("'", '"') for h in core.RERUN if h in (
        "deploy", "set_weight", "health", "promote", "rollback"))  # fmt: skip
    first, rest = names[:1], names[1:]
    return (
        f'[rollout]\nname = "bench"\n[hooks]\n{hooks}\n'
        f'[[wave]]\nname = "one"\ntargets = {first}\nsteps = [5, 25, 50, 100]\n'
        f'[[wave]]\nname = "rest"\ntargets = {rest}\nmax_parallel = 4\nsteps = [5, 25, 50, 100]\n'
    ).replace("'", '"')


def never(_request: AnalysisRequest) -> Verdict:
    raise AssertionError("no analysis in this plan")


def drive(url: str, path: Path) -> tuple[float, int]:
    plan, text = load_plan(path)
    with Store.open(url, create=True) as store:
        rollout_id = store.start_rollout(
            name=plan.name, version="1", plan_path=str(path), plan_text=text,
            now=datetime.now(UTC),
        )  # fmt: skip
        record = store.rollout(rollout_id)
        assert record is not None
        conductor = runner.Conductor(
            store=store, rollout=record, plan=plan, analyzer=never, env={"PATH": "/bin"},
            clock=lambda: datetime.now(UTC), sleep=time.sleep,
        )  # fmt: skip
        started = time.perf_counter()
        outcome = runner.drive(conductor)
        elapsed = time.perf_counter() - started
        assert outcome.status == core.PROMOTED, outcome
        return elapsed, len(store.rollout_transitions(rollout_id))


def floor(path: Path) -> tuple[float, int]:
    plan, _ = load_plan(path)
    commands = []
    for op in core.forward_ops(plan):
        if op.target is not None and op.kind in plan.waves[op.wave].hooks:
            hook = plan.waves[op.wave].hooks[op.kind]
            commands.append(hook.command(target=op.target, version="1", weight=op.weight or 0))
    started = time.perf_counter()
    for argv in commands:
        assert run_hook(argv, cwd=path.parent, env={"PATH": "/bin"}, timeout=10).ok
    return time.perf_counter() - started, len(commands)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--pg", help="also PostgreSQL at this URL (a schema is made and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as tmp:
        path = Path(tmp) / "plan.toml"
        path.write_text(plan_text(args.targets))
        base, calls = floor(path)
        print(f"{args.targets} targets: {calls} hook calls spawned alone: {base:.2f} s "
              f"({base / calls * 1000:.2f} ms each)")  # fmt: skip
        backends = [("sqlite", f"sqlite:///{tmp}/store.db")]
        schema = None
        if args.pg:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with sqlalchemy.create_engine(args.pg).begin() as connection:
                connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
            backends.append(("postgresql", f"{args.pg}?options=-csearch_path%3D{schema}"))
        try:
            for name, url in backends:
                took, rows = drive(url, path)
                per_row = (took - base) / rows * 1000
                ratio = took / base
                print(f"{name}: driven with {rows} transitions: {took:.2f} s = {ratio:.2f}x "
                      f"the hooks alone; {per_row:.2f} ms per transition")  # fmt: skip
        finally:
            if schema:
                with sqlalchemy.create_engine(args.pg).begin() as connection:
                    connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
