"""store.test_results: one test's results, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from pilothouse.store import Store
from tests.conftest import Cli
from tests.web.conftest import HOSTILE_CLASS, HOSTILE_MESSAGE, HOSTILE_NAME, hostile_report


def test_one_test_results_oldest_first_on_both_backends(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    for run_id, outcome in ((2, "failed"), (1, "passed"), (3, "failed")):
        report = tmp_path / f"r{run_id}.xml"
        report.write_text(hostile_report(outcome))
        started = f"2026-11-2{run_id}T10:00:00+00:00"
        code, _, err = cli("ingest", "junit", str(report), "--run-id", str(run_id),
                           "--started", started, "--job", f"job {run_id}")  # fmt: skip
        assert code == 0, err
    with Store.open(store_url) as store:
        results = store.test_results(HOSTILE_CLASS, HOSTILE_NAME)
        assert [(r.run_key, r.outcome) for r in results] == [
            ("1", "passed"), ("2", "failed"), ("3", "failed"),
        ]  # fmt: skip
        assert [r.message for r in results] == ["", HOSTILE_MESSAGE, HOSTILE_MESSAGE]
        assert {r.duration for r in results} == {0.25}
        assert [r.job for r in results] == ["job 1", "job 2", "job 3"]
        assert all(r.created_at is not None and r.created_at.tzinfo for r in results)
        since = results[1].created_at
        later = store.test_results(HOSTILE_CLASS, HOSTILE_NAME, since=since)
        assert [r.run_key for r in later] == ["2", "3"]
        assert store.test_results(HOSTILE_CLASS, "no such test") == []
        assert len(store.test_results(HOSTILE_CLASS, "plain")) == 3


def test_every_route_answers_on_both_backends(cli: Cli, tmp_path: Path, store_url: str) -> None:
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    from pilothouse.web.app import create_app, get_paths
    from tests.web.conftest import web_state

    for run_id, outcome in ((1, "passed"), (2, "failed")):
        report = tmp_path / f"r{run_id}.xml"
        report.write_text(hostile_report(outcome))
        started = f"2026-11-2{run_id}T10:00:00+00:00"
        assert (
            cli("ingest", "junit", str(report), "--run-id", str(run_id), "--started", started)[0]
            == 0
        )
    test = quote(f"{HOSTILE_CLASS}::{HOSTILE_NAME}")
    with Store.open(store_url) as store:
        client = TestClient(create_app(web_state(store_url, tmp_path), store))
        for path in get_paths(client.app):  # type: ignore[arg-type]
            filled = path.replace("{test}", test).replace("{run_id}", "1")
            response = client.get(filled + "?days=30")
            assert response.status_code == 200, (path, response.text[:200])
        history = client.get(f"/api/tests/{test}?days=30").json()
    assert [r["outcome"] for r in history["results"]] == ["passed", "failed"]
    assert history["messages"][0]["message"] == HOSTILE_MESSAGE
