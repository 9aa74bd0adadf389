"""The Infrastructure page and `/api/infra` over stored instances, groups and runners:
the same `infra_data` as `pilothouse infra --json`, rendered as text (hostile names too)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from pilothouse.cli.infra import infra_data
from pilothouse.cli.output import json_text
from pilothouse.infra.model import GROUP, INSTANCE, MetricPoint, Resource, Runner
from pilothouse.store import Store
from pilothouse.web.app import create_app
from tests.conftest import FIXED_NOW, Cli
from tests.web.conftest import web_state

HOSTILE = "<script>alert(1)</script>"


def _store_fleet(url: str) -> None:
    start = FIXED_NOW - timedelta(days=7)
    box = Resource("i-0abc", INSTANCE, f"build {HOSTILE}", "eu-west-1", "running", "m5.2xlarge")
    group = Resource("asg:ci", GROUP, "ci", "eu-west-1", "2/2 InService", "c5.large",
                     capacity=2)  # fmt: skip
    points = [
        MetricPoint(key, "cpu", start + timedelta(hours=h), 3600, value)
        for h in range(7 * 24)
        for key, value in (("i-0abc", 3.0 if (start + timedelta(hours=h)).weekday() >= 5
                            else 15.0), ("asg:ci", 70.0))
    ]  # fmt: skip
    with Store.open(url, create=True) as store:
        store.save_infra([group, box], points, {}, seen_at=FIXED_NOW)
        runner = Runner("repo:o/r", "7", HOSTILE, "linux", "online", True, ("self-hosted", HOSTILE))
        store.replace_runners({"repo:o/r": [runner]}, seen_at=FIXED_NOW)


def test_the_page_shows_what_infra_json_prints(cli: Cli, tmp_path: Path) -> None:
    _store_fleet(cli.db)
    (tmp_path / "pilothouse.toml").write_text('[cost.instance_prices]\n"m5.2xlarge" = 0.384\n')
    printed = cli.json("infra", "--window", "7")
    state = web_state(cli.db, cli.cwd)
    with Store.open(cli.db) as store, TestClient(create_app(state, store)) as client:
        assert json.loads(json_text(infra_data(store, state, window_days=7))) == printed
        api = client.get("/api/infra", params={"days": "7"}).json()
        page = client.get("/infra", params={"days": "7"}).text
    assert api == printed
    (box,) = printed["instances"]
    assert box["weekdays_only"] and box["rightsize_to"] == "m5.large"
    assert printed["groups"][0]["cpu_percent"]["p95"] == 70.0
    assert '<table id="instances">' in page and "<td>m5.large</td>" in page
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "weekdays only 2.63 USD" in " ".join(page.split())
