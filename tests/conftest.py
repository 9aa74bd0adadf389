"""Shared fixtures: stores on both backends, the CLI runner, the real report corpus."""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from pilothouse.cli import run
from pilothouse.cli.state import World
from pilothouse.store import Store

DATA = Path(__file__).parent / "data"
JUNIT = DATA / "junit"
PG_URL = os.environ.get("PILOTHOUSE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIXED_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    with pg_schema() as url:
        yield url


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """See pg_url."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url, create=True) as opened:
        yield opened


@dataclass
class Cli:
    """Runs the CLI in-process with a controlled environment, cwd and clock."""

    cwd: Path
    db: str
    env: dict[str, str] = field(default_factory=dict)
    now: datetime = FIXED_NOW

    def __call__(self, *args: str) -> tuple[int, str, str]:
        """Run `pilothouse ARGS`; return (exit code, stdout, stderr)."""
        env = {"PILOTHOUSE_DB": self.db, **self.env}
        world = World(env=env, cwd=self.cwd, clock=lambda: self.now)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args), world=world)
        return code, out.getvalue(), err.getvalue()

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, store_url: str) -> Cli:
    return Cli(cwd=tmp_path, db=store_url)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    return Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
