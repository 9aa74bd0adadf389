"""Store writes and reads for rollouts: one row per rollout, one per transition.

Each transition is its own committed transaction, written before the operation it
names runs. (rollout, seq) is unique and written with ON CONFLICT DO NOTHING: when
another process (`rollout abort`) wrote that seq first, the write reports it instead
of adding a second history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select

from pilothouse.store import keyed
from pilothouse.store.schema import rollout_transitions, rollouts


class RolloutRecord(NamedTuple):
    id: int
    name: str
    version: str
    plan_path: str
    plan_text: str
    created_at: datetime


class TransitionRow(NamedTuple):
    seq: int
    kind: str
    wave: int | None
    target: str | None
    weight: int | None
    detail: str
    at: datetime


_T = rollout_transitions


def add_rollout(
    connection: Connection,
    *,
    name: str,
    version: str,
    plan_path: str,
    plan_text: str,
    now: datetime,
) -> int:
    values = {"name": name, "version": version, "plan_path": plan_path, "plan_text": plan_text}
    result = connection.execute(
        insert(rollouts).values(created_at=now, **values).returning(rollouts.c.id)
    )
    rollout_id = int(result.scalar_one())
    connection.execute(
        insert(_T).values(
            rollout_id=rollout_id, seq=0, kind="start", detail=f"version {version}", at=now
        )
    )
    return rollout_id


def add_transition(connection: Connection, rollout_id: int, row: TransitionRow) -> bool:
    """Write *row* unless the rollout already has a transition at its seq; written?"""
    values: dict[str, Any] = {"rollout_id": rollout_id, **row._asdict()}
    return keyed.insert_new(connection, _T, values, ("rollout_id", "seq")) is not None


def transitions(connection: Connection, rollout_id: int) -> list[TransitionRow]:
    columns = [_T.c[name] for name in TransitionRow._fields]
    query = select(*columns).where(_T.c.rollout_id == rollout_id).order_by(_T.c.seq)
    return [TransitionRow(*row) for row in connection.execute(query)]


def rollout(connection: Connection, rollout_id: int | None) -> RolloutRecord | None:
    """The rollout *rollout_id*, or the newest one when None."""
    query = select(*(rollouts.c[name] for name in RolloutRecord._fields))
    if rollout_id is None:
        query = query.order_by(rollouts.c.id.desc()).limit(1)
    else:
        query = query.where(rollouts.c.id == rollout_id)
    row = connection.execute(query).first()
    return None if row is None else RolloutRecord(*row)


def history(
    connection: Connection, *, limit: int
) -> list[tuple[RolloutRecord, list[TransitionRow]]]:
    """The newest *limit* rollouts with their transitions, newest first."""
    query = select(*(rollouts.c[name] for name in RolloutRecord._fields))
    found = [
        RolloutRecord(*r)
        for r in connection.execute(query.order_by(rollouts.c.id.desc()).limit(limit))
    ]
    return [(record, transitions(connection, record.id)) for record in found]


def unfinished(connection: Connection, name: str) -> list[int]:
    """Rollouts of plan *name* without a finish transition."""
    finished = select(_T.c.rollout_id).where(_T.c.kind == "finish")
    query = select(rollouts.c.id).where(rollouts.c.name == name, rollouts.c.id.not_in(finished))
    return [int(i) for i in connection.scalars(query.order_by(rollouts.c.id))]
