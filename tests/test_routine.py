"""`pilothouse routine daily|weekly|monthly|quarterly` on the sample history, posting
to a loopback webhook; the sections against the commands that own their numbers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pilothouse.model import RepositorySync
from pilothouse.routines import sections
from pilothouse.routines.model import EXIT_ATTENTION, Cadence
from tests.webhook import Hook, webhook_server

from .conftest import FIXED_NOW, Cli
from .github_fake import FakeGitHub
from .test_github_sync import REPO as SYNC_REPO
from .test_github_sync import _history


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    cli = Cli(cwd=folder, db=f"sqlite:///{folder / 'store.db'}")
    code, _out, err = cli("sample", "--days", "35")
    assert code == 0, err
    return folder / "store.db"


@pytest.fixture
def sample_cli(sample_db: Path, tmp_path: Path) -> Cli:
    shutil.copy(sample_db, tmp_path / "store.db")
    return Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def webhook() -> Iterator[Hook]:
    with webhook_server() as hook:
        yield hook


def _sections(out: str) -> dict[str, dict[str, object]]:
    return {s["key"]: s for s in json.loads(out)["sections"]}


@pytest.mark.parametrize(
    ("cadence", "keys"),
    [
        ("daily", ["cost", "freshness", "tests", "infra"]),
        ("weekly", ["performance", "changes", "tests", "cost"]),
        ("monthly", ["cost", "whatif", "performance", "changes", "changelog"]),
        ("quarterly", ["capacity", "infra", "budget", "performance"]),
    ],
)
def test_each_routine_runs_on_the_sample_and_posts_its_report(
    sample_cli: Cli, webhook: Hook, cadence: str, keys: list[str]
) -> None:
    url, received, _statuses = webhook
    (sample_cli.cwd / "pilothouse.toml").write_text(f'[routine]\nwebhooks = ["{url}"]\n')
    code, out, err = sample_cli("routine", cadence, "--notify")
    # the sample spends over its budgets: every routine finds something for a human
    assert code == EXIT_ATTENTION, err
    assert out.startswith(f"## pilothouse {cadence} routine, 2026-11-27 12:00 UTC")
    assert "**Needs a human:**" in out
    assert [r["text"] for r in received] == [out]
    assert "needs a human" in err and "SECRET" not in err + out
    code, doc, err = sample_cli("routine", cadence, "--format", "json")
    assert code == EXIT_ATTENTION, err
    data = json.loads(doc)
    assert data["cadence"] == cadence and data["needs_attention"] is True
    assert [s["key"] for s in data["sections"]] == keys
    if cadence == "monthly":  # the working directory is no checkout: said, not failed
        (changelog,) = (s for s in data["sections"] if s["key"] == "changelog")
        assert "not a git repository" in changelog["lines"][0]


def test_daily_agrees_with_cost_and_alerts(sample_cli: Cli) -> None:
    code, out, _err = sample_cli("routine", "daily", "--format", "json")
    assert code == EXIT_ATTENTION
    cost = _sections(out)["cost"]
    alerts = sample_cli.json("cost", "alerts")
    assert cost["data"]["alerts"] == alerts
    assert cost["attention"] == [a["text"] for a in alerts["alerts"] if a["new"]]
    spend = sample_cli.json("cost", "--days", "2")
    assert cost["data"]["cost"] == spend
    yesterday = spend["currencies"]["USD"]["daily"][0]
    assert any(line.startswith(f"{yesterday['day']}: {yesterday['total']} USD") for line in
               [*cost["lines"], *cost["attention"]])  # fmt: skip
    infra = _sections(out)["infra"]
    document = sample_cli.json("infra")  # the sample's two EC2 instances
    assert infra["data"] == document
    names = [item["name"] or item["key"] for item in document["instances"]]
    assert len(names) == 2
    assert [line.split(" (")[0] for line in infra["lines"]] == names
    failed = [n for n, item in zip(names, document["instances"], strict=True)
              if item["status_check_failed"]]  # fmt: skip
    assert [a for a in infra["attention"] if "status check" in a] == [
        f"{name}: a status check failed" for name in failed
    ]


def test_daily_tests_section_is_the_report_and_flaky_documents(sample_cli: Cli) -> None:
    code, out, _err = sample_cli("routine", "daily", "--format", "json")
    tests = _sections(out)["tests"]
    flaky = sample_cli.json("flaky")
    assert tests["data"]["flaky"] == flaky
    assert tests["data"]["report"]["totals"] == sample_cli.json("report", "--window", "1")["totals"]


def test_weekly_performance_is_the_scorecard(sample_cli: Cli) -> None:
    code, out, _err = sample_cli("routine", "weekly", "--format", "json")
    performance = _sections(out)["performance"]
    assert performance["data"] == sample_cli.json("score", "--window", "7")
    missed = [c["title"] for c in performance["data"]["criteria"] if c["status"] == "missed"]
    assert [line.split(":")[0] for line in performance["attention"]] == missed


def test_monthly_prices_saved_scenarios_and_reads_the_changelog(
    sample_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "pilothouse.toml").write_text(
        '[[whatif.scenarios]]\nname = "batch half"\nkind = "batch"\nshare = 0.5\n'
    )
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    _git_repository(checkout)
    code, out, err = sample_cli("routine", "monthly", "--format", "json", "--repo", str(checkout))
    assert code == EXIT_ATTENTION, err
    found = _sections(out)
    whatif = sample_cli.json("cost", "whatif", "--days", "30")
    assert found["whatif"]["data"] == whatif
    changelog = found["changelog"]
    # the commit before the period is left out; the period's two are in, as notes
    assert changelog["lines"][0].startswith("2 commits (since ")
    assert sorted(c["description"] for c in changelog["data"]["commits"]) == [
        "add the retry budget",
        "stop the double fetch",
    ]
    assert any("add the retry budget" in line for line in changelog["lines"])


def _git_repository(root: Path) -> None:
    def git(*args: str, at: datetime | None = None) -> None:
        env = {"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
               "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.com",
               "HOME": str(root), "PATH": "/usr/bin:/bin"}  # fmt: skip
        if at is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = at.isoformat()
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env,
                       capture_output=True)  # fmt: skip

    git("init", "-q", "-b", "main")
    for subject, days in (("feat: first cut", 60), ("feat: add the retry budget", 20),
                          ("fix: stop the double fetch", 3)):  # fmt: skip
        git("commit", "-q", "--allow-empty", "-m", subject, at=FIXED_NOW - timedelta(days=days))


def test_notify_without_webhooks_is_a_config_error(sample_cli: Cli) -> None:
    code, out, err = sample_cli("routine", "daily", "--notify")
    assert code == 1 and "no routine.webhooks" in err and out == ""


def test_budget_webhooks_serve_when_routine_has_none(sample_cli: Cli, webhook: Hook) -> None:
    url, received, _statuses = webhook
    (sample_cli.cwd / "pilothouse.toml").write_text(f'[budget]\nwebhooks = ["{url}"]\n')
    code, _out, _err = sample_cli("routine", "quarterly", "--notify")
    assert code == EXIT_ATTENTION and len(received) == 1


def test_a_refused_delivery_is_an_error_naming_the_host_only(
    sample_cli: Cli, webhook: Hook
) -> None:
    url, _received, statuses = webhook
    (sample_cli.cwd / "pilothouse.toml").write_text(f'[routine]\nwebhooks = ["{url}"]\n')
    statuses.append(403)
    code, out, err = sample_cli("routine", "weekly", "--notify")
    assert code == 1 and out.startswith("## pilothouse weekly routine")
    assert "1 report deliveries failed: http://127.0.0.1:" in err and "HTTP 403" in err
    assert "SECRET" not in err


def test_a_quiet_store_needs_no_human(tmp_path: Path) -> None:
    """Fresh runs, no spend, no failing test: exit 0, and the sections say so."""
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
    report = tmp_path / "junit.xml"
    report.write_text('<testsuite name="s"><testcase classname="c" name="t" time="1"/></testsuite>')
    code, _out, err = cli("ingest", "junit", str(report), "--run-id", "1", "--started",
                          (FIXED_NOW - timedelta(hours=2)).isoformat())  # fmt: skip
    assert code == 0, err
    code, out, err = cli("routine", "daily")
    assert code == 0, err
    assert "Nothing needs a human." in out and "no infrastructure data" in out


def test_the_watchdog_flags_a_stale_store(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
    report = tmp_path / "junit.xml"
    report.write_text('<testsuite name="s"><testcase classname="c" name="t" time="1"/></testsuite>')
    created = (FIXED_NOW - timedelta(days=3)).isoformat()
    assert cli("ingest", "junit", str(report), "--run-id", "1", "--started", created)[0] == 0
    code, out, err = cli("routine", "daily", "--format", "json")
    assert code == EXIT_ATTENTION
    (item,) = json.loads(out)["attention"]
    assert item.startswith(
        "Sync freshness: newest stored run created 2026-11-24 12:00 (72.0 h ago)"
    )
    (tmp_path / "pilothouse.toml").write_text("[routine]\nstale_hours = 100\n")
    assert cli("routine", "daily")[0] == 0


def _sync(synced: datetime | None, repository: str = "acme/app") -> RepositorySync:
    return RepositorySync("github", repository, synced, synced, 10, synced, 0, 0)


def test_sync_watchdog_names_each_repository_that_fell_behind() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    found = sections.sync_watchdog(
        [
            _sync(now - timedelta(hours=30), "acme/old"),
            _sync(now - timedelta(hours=2)),
            _sync(None, "acme/reports-only"),
        ],  # fmt: skip
        now - timedelta(hours=1),
        now,
        max_hours=26,
    )
    assert found.attention == (
        "acme/old: last complete sync 30.0 h ago, over 26 h: the sync failed or did not run",
    )
    assert "acme/app: last complete sync 2.0 h ago" in found.lines
    assert "acme/reports-only: no complete sync stored" in found.lines


def test_failing_tests_flags_new_flakes_broken_and_failing_now() -> None:
    since = datetime(2026, 11, 26, 12, tzinfo=UTC)
    report = {
        "totals": {"tests": 3, "failing": 2, "failing_now": 1},
        "failing": [
            {"classname": "a", "name": "x", "last_outcome": "failed"},
            {"classname": "a", "name": "y", "last_outcome": "passed"},
        ],
    }
    flaky = {
        "flaky": [
            {"test": "a::new", "score": 0.9, "first_seen": since + timedelta(hours=3)},
            {"test": "a::old", "score": 0.8, "first_seen": since - timedelta(days=9)},
        ],
        "broken": [
            {"test": "a::b", "first_commit": "abc1234", "status": "failing"},
            {"test": "a::c", "first_commit": "def", "status": "fixed"},
        ],
        "outages": [],
    }
    found = sections.failing_tests(report, flaky, newly_since=since)
    assert found.attention == (
        "failing now: a::x",
        "broken since abc1234: a::b",
        "newly flaky: a::new (score 0.90)",
    )


DOCS = Path(__file__).parent.parent / "docs" / "routines.md"


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_documented_schedules_agree() -> None:
    """The Actions workflow parses, its crons are the cron lines' times, and every
    cadence each schedule names is one the command takes."""
    text = DOCS.read_text()
    (workflow,) = (yaml.safe_load(block) for block in _blocks(text, "yaml"))
    crons = [item["cron"] for item in workflow[True]["schedule"]]  # YAML 1.1 reads `on` as True
    (table,) = _blocks(text, "cron")
    lines = [line.split() for line in table.splitlines() if line.strip()]
    assert crons == [" ".join(line[:5]) for line in lines]
    cadences = {c.value for c in Cadence}
    named = re.findall(r"pilothouse routine (\w+|%i|\$\{\{)", text)
    assert set(named) - {"%i", "${{", "CADENCE"} <= cadences
    assert [line[-2] for line in lines] == ["daily", "weekly", "monthly", "quarterly"]
    steps = " ".join(str(step.get("run", "")) for step in workflow["jobs"]["routine"]["steps"])
    for cron, cadence in zip(crons[1:], ["weekly", "monthly", "quarterly"], strict=True):
        assert f'"{cron}") echo "name={cadence}"' in steps


def test_a_failed_sync_is_kept_and_the_watchdog_names_it(tmp_path: Path) -> None:
    """A sync that fails after a good one is stored (its reason, never the token) and
    the daily routine says so at once; the next good sync clears it."""
    fake = FakeGitHub(SYNC_REPO, token="ghp_SECRET_never_print_me", clock_start=FIXED_NOW)
    _history(fake, 3, jobs=1, days=0.5)
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
    cli.env["GITHUB_TOKEN"] = fake.token
    with fake.serve() as url:
        assert cli("ingest", "github", "--repo", SYNC_REPO, "--api-url", url)[0] == 0
        code, out, err = cli("routine", "daily", "--format", "json")
        assert code == 0, out
        cli.env["GITHUB_TOKEN"] = "ghp_wrong"
        cli.now = FIXED_NOW + timedelta(hours=1)
        code, _out, err = cli("ingest", "github", "--repo", SYNC_REPO, "--api-url", url)
        assert code == 1 and "refused the token" in err
        code, out, err = cli("routine", "daily", "--format", "json")
        assert code == EXIT_ATTENTION
        (item,) = json.loads(out)["attention"]
        assert item.startswith(
            f"Sync freshness: {SYNC_REPO}: the sync at 2026-11-27 13:00 failed: "
        )
        assert "refused the token from $GITHUB_TOKEN" in item
        assert "ghp_" not in out + err
        cli.env["GITHUB_TOKEN"] = fake.token
        cli.now = FIXED_NOW + timedelta(hours=2)
        assert cli("ingest", "github", "--repo", SYNC_REPO, "--api-url", url)[0] == 0
        assert cli("routine", "daily")[0] == 0
    assert b"ghp_" not in (tmp_path / "store.db").read_bytes()


def test_a_sync_failure_keeps_any_text_on_both_backends(store_url: str) -> None:
    from pilothouse.store import Store

    odd = "bad \x00 byte \ud800 and " + "x" * 2000
    with Store.open(store_url, create=True) as store:
        store.record_sync_failure("github", "acme/app", FIXED_NOW, odd)
        store.record_sync_failure("github", "acme/app", FIXED_NOW + timedelta(hours=1), "later")
        store.record_sync_failure("github", "acme/other", FIXED_NOW, odd)
        found = store.sync_failures()
    assert [(p, r, at.isoformat()) for p, r, at, _m in found] == [
        ("github", "acme/app", "2026-11-27T13:00:00+00:00"),
        ("github", "acme/other", "2026-11-27T12:00:00+00:00"),
    ]
    assert found[0][3] == "later"
    assert found[1][3].startswith("bad \\x00 byte ? and x") and len(found[1][3]) == 500


def _label(labels: str, p90: float | None, jobs: int = 10) -> dict[str, object]:
    return {"labels": labels, "jobs": jobs, "busy_hours": 2.5, "queue_p90_seconds": p90}


@pytest.mark.parametrize(
    ("first", "last", "flagged"),
    [
        (30.0, 90.0, True),  # tripled, over a minute
        (30.0, 50.0, False),  # grew, but under a minute
        (100.0, 190.0, False),  # under double
        (None, 500.0, False),  # nothing to compare with
    ],
)
def test_capacity_flags_a_queue_that_doubled(
    first: float | None, last: float, flagged: bool
) -> None:
    found = sections.capacity(
        [("Sep", [_label("linux", first)]), ("Oct", []), ("Nov", [_label("linux", last)])]
    )
    assert bool(found.attention) is flagged
    assert found.lines[-1] == f"Nov: linux: 10 jobs, 2.5 runner hours, queue p90 {last:g} s"


def _cost_doc(days: list[tuple[str, str]], month_end: str) -> dict[str, object]:
    return {
        "until": days[-1][0],
        "currencies": {
            "USD": {
                "daily": [{"day": d, "total": t, "groups": {}} for d, t in days],
                "movers": [],
                "alert_limit": "105.00",
                "today": days[-1][1],
                "forecast": {
                    "month_end": month_end,
                    "interval": ["1.00", "2.00"],
                    "trend_per_day": 0.5,
                },  # fmt: skip
            }
        },
    }


def test_cost_tracking_compares_the_period_with_the_one_before() -> None:
    first = datetime(2026, 11, 1, tzinfo=UTC).date()
    days = [((first + timedelta(days=i)).isoformat(), "10.00" if i < 7 else "15.00")
            for i in range(15)]  # fmt: skip
    alerts = {"alerts": [{"text": "old", "new": False}, {"text": "fresh", "new": True}]}
    found = sections.cost_tracking(
        _cost_doc(days, "3000.00"), alerts, "USD", days=7, monthly_budget=2100
    )
    assert found.lines[0] == ("last 7 days to 2026-11-14: 105.00 USD; the 7 before: 70.00 (+50%)")
    assert found.attention == (
        "fresh",
        "month-end forecast 3000.00 USD [1.00 .. 2.00], monthly budget 2100: over the budget",
    )
    calm = sections.cost_tracking(
        _cost_doc(days, "900.00"), {"alerts": []}, "USD", days=7, monthly_budget=2100
    )
    assert calm.attention == ()


def test_budget_forecast_sums_calendar_months() -> None:
    days = [("2026-10-30", "1.50"), ("2026-10-31", "2.50"), ("2026-11-01", "4.00")]
    found = sections.budget_forecast(_cost_doc(days, "50.00"), "USD", monthly_budget=100)
    assert found.lines[:2] == ("2026-10: 4.00 USD", "2026-11: 4.00 USD")
    assert found.attention == ()
    assert sections.budget_forecast({"currencies": {}}, "USD", monthly_budget=1).lines == (
        "no cost data in the period",
    )


def test_spend_over_the_daily_limit_needs_a_human() -> None:
    days = [("2026-11-26", "120.00"), ("2026-11-27", "3.00")]
    found = sections.spend_vs_limit(_cost_doc(days, "10.00"), {"alerts": []}, "EUR")
    assert found.lines == ("no cost data in the window: pilothouse ingest cost PATH --format ...",)
    found = sections.spend_vs_limit(_cost_doc(days, "10.00"), {"alerts": []}, "USD")
    assert found.attention == ("2026-11-26: 120.00 USD (alert limit 105.00) over the limit",)
