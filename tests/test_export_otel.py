"""`pilothouse export otel`: stored runs as traces at a loopback OTLP/HTTP receiver that
decodes the protobuf, on SQLite and PostgreSQL; checked against the fake GitHub's own
payloads (ids, names, conclusions, timestamps)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilothouse.store import Store
from pilothouse.telemetry.model import ExportJob, ExportRun, ExportStep
from pilothouse.telemetry.spans import destination_of, result_of, trace_spans
from tests.conftest import FIXED_NOW, Cli
from tests.github_fake import FakeGitHub
from tests.otlp_receiver import ReceivedSpan, otlp_receiver

REPO = "hypha-labs/hypha"
SERVER, INTERNAL = 2, 1  # the protobuf's Span.SpanKind values
STATUS_ERROR = 2


def _sync(cli: Cli, fake: FakeGitHub) -> None:
    cli.env["GH_TOKEN"] = fake.token
    with fake.serve() as url:
        code, _out, err = cli("ingest", "github", "--repo", REPO, "--api-url", url)
    assert code == 0, err


@pytest.fixture
def synced(cli: Cli) -> FakeGitHub:
    """Four `ci` runs (the third failed, then re-run and passed) synced at FIXED_NOW."""
    fake = FakeGitHub(REPO, clock_start=FIXED_NOW)
    fake.add_workflow("ci", ".github/workflows/ci.yml")
    made = [
        fake.add_run(
            workflow="ci",
            created_at=FIXED_NOW - timedelta(days=3) + timedelta(hours=12 * i),
            jobs=3,
            conclusion="failure" if i == 2 else "success",
            runner_labels=["self-hosted", "linux"] if i % 2 else None,
        )
        for i in range(4)
    ]
    fake.rerun(made[2]["id"], at=FIXED_NOW - timedelta(days=1, hours=20))
    _sync(cli, fake)
    return fake


def _api(fake: FakeGitHub, path: str) -> Any:
    request = httpx.Request(
        "GET",
        f"https://api.github.com/repos/{REPO}{path}",
        headers={"Authorization": f"Bearer {fake.token}"},
    )
    return fake.handler(request).json()


def _fake_jobs(fake: FakeGitHub) -> dict[str, dict[str, Any]]:
    """Every job of every attempt, by job id, as the fake's API shows them."""
    found = {}
    for run in _api(fake, "/actions/runs?per_page=100")["workflow_runs"]:
        for job in _api(fake, f"/actions/runs/{run['id']}/jobs?filter=all&per_page=100")["jobs"]:
            found[str(job["id"])] = job
    return found


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def _traces(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    by_trace: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    return by_trace


def test_runs_arrive_as_traces_with_the_conventions_attributes(
    synced: FakeGitHub, cli: Cli
) -> None:
    jobs = _fake_jobs(synced)
    with otlp_receiver() as (url, receiver):
        code, out, err = cli("export", "otel", "--endpoint", url)
    assert code == 0, err
    traces = _traces(receiver.spans)
    assert len(traces) == 5  # four runs, one of them attempted twice
    assert out.strip() == f"sent 5 runs ({len(receiver.spans)} spans) to {url}/v1/traces"

    roots = [s for s in receiver.spans if not s.parent_span_id]
    assert len(roots) == 5 and all(s.kind == SERVER for s in roots)
    assert {s.name for s in roots} == {"RUN ci"}
    assert Counter(s.attributes["cicd.pipeline.result"] for s in roots) == {
        "success": 4,
        "failure": 1,
    }
    (failed,) = [s for s in roots if s.attributes["cicd.pipeline.result"] == "failure"]
    assert failed.status_code == STATUS_ERROR and failed.attributes["error.type"] == "failure"
    assert failed.attributes["pilothouse.run.attempt"] == 1
    rerun = [s for s in roots if s.attributes["cicd.pipeline.run.id"] == failed.attributes[
        "cicd.pipeline.run.id"]]  # fmt: skip
    assert sorted(s.attributes["pilothouse.run.attempt"] for s in rerun) == [1, 2]
    assert len({s.trace_id for s in rerun}) == 2  # one trace per attempt
    for root in roots:
        assert root.resource["service.name"] == REPO
        assert root.resource["vcs.repository.url.full"] == f"https://github.com/{REPO}"
        assert root.attributes["cicd.pipeline.name"] == "ci"
        assert root.attributes["cicd.pipeline.run.url.full"].startswith(
            f"https://github.com/{REPO}/actions/runs/"
        )
        assert root.scope == "pilothouse"

    tasks = [s for s in receiver.spans if s.attributes.get("cicd.pipeline.task.run.id") and
             "pilothouse.step.number" not in s.attributes]  # fmt: skip
    assert {s.attributes["cicd.pipeline.task.run.id"] for s in tasks} == set(jobs)
    for task in tasks:
        job = jobs[task.attributes["cicd.pipeline.task.run.id"]]
        parent = next(s for s in roots if s.span_id == task.parent_span_id)
        assert parent.trace_id == task.trace_id
        assert task.kind == INTERNAL and task.name == job["name"]
        assert task.attributes["cicd.pipeline.task.name"] == job["name"]
        assert task.attributes["cicd.pipeline.task.run.result"] == result_of(job["conclusion"])
        assert task.attributes["cicd.pipeline.task.run.url.full"] == job["html_url"]
        assert task.attributes["cicd.worker.name"] == job["runner_name"]
        assert task.attributes["pilothouse.runner.labels"] == job["labels"]
        # Span times are the real timestamps (GitHub's are whole seconds).
        assert (task.start_ns, task.end_ns) == (_ns(job["started_at"]), _ns(job["completed_at"]))
        assert task.events == [("job.queued", _ns(job["created_at"]))]
        timed = [s for s in job["steps"] if s["started_at"] and s["completed_at"]]
        steps = [s for s in receiver.spans if s.parent_span_id == task.span_id]
        assert sorted((s.name, s.start_ns, s.end_ns) for s in steps) == sorted(
            (s["name"], _ns(s["started_at"]), _ns(s["completed_at"])) for s in timed
        )


def test_a_second_export_sends_only_new_runs_and_again_resends_the_same_ids(
    synced: FakeGitHub, cli: Cli
) -> None:
    with otlp_receiver() as (url, receiver):
        assert cli("export", "otel", "--endpoint", url)[0] == 0
        first = sorted((s.trace_id, s.span_id) for s in receiver.spans)
        sent_requests = len(receiver.requests)

        code, out, _err = cli("export", "otel", "--endpoint", url)
        assert code == 0 and len(receiver.requests) == sent_requests
        assert "nothing new to send" in out and "--again" in out

        synced.add_run(workflow="ci", created_at=FIXED_NOW - timedelta(hours=2), jobs=2)
        _sync(cli, synced)
        report = cli.json("export", "otel", "--endpoint", url)
        assert report["runs"] == 1
        new = [s for s in receiver.spans if (s.trace_id, s.span_id) not in set(first)]
        assert len(new) == report["spans"] and len({s.trace_id for s in new}) == 1

        receiver.spans.clear()
        assert cli.json("export", "otel", "--endpoint", url, "--again")["runs"] == 6
        again = sorted((s.trace_id, s.span_id) for s in receiver.spans)
        assert set(first) <= set(again)  # the same ids: a receiver can tell it is a resend


def test_a_receiver_that_refuses_gets_nothing_recorded(synced: FakeGitHub, cli: Cli) -> None:
    with otlp_receiver() as (url, receiver):
        receiver.fail_with = [400]
        code, out, err = cli("export", "otel", "--endpoint", url, "--timeout", "2")
        assert code == 1 and out == ""
        assert err.startswith(f"pilothouse: error: {url}/v1/traces: the OTLP receiver did not take")
        assert len(err.strip().splitlines()) == 1 and "400" in err
        # Nothing was marked sent: the next export sends every run.
        assert cli.json("export", "otel", "--endpoint", url)["runs"] == 5


def test_a_transient_refusal_is_retried(synced: FakeGitHub, cli: Cli) -> None:
    with otlp_receiver() as (url, receiver):
        receiver.fail_with = [503]
        report = cli.json("export", "otel", "--endpoint", url, "--timeout", "5")
    assert report["runs"] == 5 and len(receiver.requests) == 2


def test_batches_split_requests_and_repo_filters(synced: FakeGitHub, cli: Cli) -> None:
    with otlp_receiver() as (url, receiver):
        assert cli.json("export", "otel", "--endpoint", url, "--repo", "other/repo")["runs"] == 0
        report = cli.json("export", "otel", "--endpoint", url, "--batch", "2", "--repo", REPO)
    assert report["runs"] == 5 and len(receiver.requests) == 3


def test_window_limits_the_runs(synced: FakeGitHub, cli: Cli) -> None:
    with otlp_receiver() as (url, _receiver):
        report = cli.json("export", "otel", "--endpoint", url, "--since", "2026-11-25T11:00Z")
        assert report["runs"] == 3  # the third run's two attempts and the fourth run
        assert report["window"] == "since 2026-11-25 11:00"
        assert cli.json("export", "otel", "--endpoint", url, "--window", "1")["runs"] == 0


def test_headers_reach_the_receiver_and_are_never_printed(
    synced: FakeGitHub, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=delivery")
    with otlp_receiver() as (url, receiver):
        code, out, err = cli(
            "export", "otel", "--endpoint", url, "--header", "x-api-key=s3cr3t-value"
        )
    assert code == 0, err
    assert receiver.requests[0]["x-api-key"] == "s3cr3t-value"
    assert receiver.requests[0]["x-team"] == "delivery"
    assert "s3cr3t" not in out + err
    code, _out, err = cli("export", "otel", "--endpoint", url, "--header", "s3cr3t")
    assert code == 2 and "s3cr3t" not in err.replace("'s3cr3t'", "")


def test_the_endpoint_comes_from_the_sdk_variables(synced: FakeGitHub, cli: Cli) -> None:
    with otlp_receiver() as (url, receiver):
        cli.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url + "/"
        assert cli.json("export", "otel")["endpoint"] == f"{url}/v1/traces"
        cli.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{url}/v1/traces"
        assert cli.json("export", "otel", "--again")["runs"] == 5
    assert len(_traces(receiver.spans)) == 5


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("ftp://collector:4318", "is not an http(s) URL"),
        ("collector:4318", "is not an http(s) URL"),
        ("http://127.0.0.1:99999", "has a bad port"),
    ],
)
def test_bad_endpoints_are_one_line_errors(
    synced: FakeGitHub, cli: Cli, endpoint: str, message: str
) -> None:
    code, out, err = cli("export", "otel", "--endpoint", endpoint)
    assert code == 1 and out == "" and message in err
    assert err.startswith("pilothouse: error: --endpoint: ") and len(err.strip().splitlines()) == 1


def test_no_endpoint_at_all(synced: FakeGitHub, cli: Cli) -> None:
    code, _out, err = cli("export", "otel")
    assert code == 1 and "pass --endpoint URL" in err


def test_an_unreachable_receiver_fails_within_the_timeout(synced: FakeGitHub, cli: Cli) -> None:
    with otlp_receiver() as (url, _receiver):
        pass  # the port is free again: nothing listens there
    code, _out, err = cli("export", "otel", "--endpoint", url, "--timeout", "0.5")
    assert code == 1 and f"{url}/v1/traces: the OTLP receiver did not take" in err


def test_no_store_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{db}")
    with otlp_receiver() as (url, receiver):
        code, _out, err = cli("export", "otel", "--endpoint", url)
    assert code == 1 and "no pilothouse store here" in err
    assert not db.exists() and receiver.requests == []


def test_the_sample_history_exports_every_run(sqlite_cli: Cli) -> None:
    assert sqlite_cli("sample", "--days", "14")[0] == 0
    with Store.open(sqlite_cli.db) as store:
        runs = store.counts()["runs"]
    with otlp_receiver() as (url, receiver):
        report = sqlite_cli.json("export", "otel", "--endpoint", url)
    assert report["runs"] == runs == len(_traces(receiver.spans))
    names = Counter(s.name for s in receiver.spans if s.kind == SERVER)
    assert {"RUN ci-build", "RUN tests-all"} <= set(names)


# -- the pure span builder ------------------------------------------------------------


def _run(**changes: Any) -> ExportRun:
    t0 = FIXED_NOW
    step = ExportStep(1, "Run tests", "failure", t0 + timedelta(seconds=5), t0 + timedelta(60))
    job = ExportJob(
        "42", "test", ("linux",), "runner-1", "failure", t0, t0 + timedelta(seconds=3),
        t0 + timedelta(minutes=2), (step,),
    )  # fmt: skip
    values: dict[str, Any] = dict(
        id=1, provider="github", repository="o/r", run_key="7", attempt=1, run_number=3,
        workflow="ci", event="push", branch="main", commit_sha="abc", conclusion="failure",
        html_url="https://github.com/o/r/actions/runs/7", created_at=t0, started_at=t0,
        finished_at=t0 + timedelta(minutes=3), jobs=(job,),
    )  # fmt: skip
    values.update(changes)
    return ExportRun(**values)


def test_ids_are_stable_per_run_and_attempt() -> None:
    one, again, other = trace_spans(_run()), trace_spans(_run()), trace_spans(_run(attempt=2))
    assert [s.context.span_id for s in one] == [s.context.span_id for s in again]  # type: ignore[union-attr]
    assert one[0].context.trace_id != other[0].context.trace_id  # type: ignore[union-attr]
    assert len(one) == 3 and one[1].parent == one[0].context and one[2].parent == one[1].context


def test_untimed_jobs_and_steps_are_left_out() -> None:
    job = _run().jobs[0]
    queued = ExportJob(**{**_slots(job), "job_key": "43", "started_at": None})
    spans = trace_spans(_run(jobs=(job, queued)))
    assert [s.name for s in spans] == ["RUN ci", "test", "Run tests"]


def _slots(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


@pytest.mark.parametrize(
    ("conclusion", "result"),
    [("success", "success"), ("cancelled", "cancellation"), ("timed_out", "timeout"),
     ("skipped", "skip"), ("startup_failure", "error"), (None, None), ("weird", None)],
)  # fmt: skip
def test_results_follow_the_conventions(conclusion: str | None, result: str | None) -> None:
    attributes = trace_spans(_run(conclusion=conclusion))[0].attributes or {}
    assert attributes.get("cicd.pipeline.result") == result
    assert ("error.type" in attributes) == (result in ("timeout", "error"))


def test_the_destination_never_keeps_credentials() -> None:
    assert destination_of("https://user:tok@Collector.example:4318/v1/traces?key=x#f") == (
        "https://collector.example:4318/v1/traces"
    )
    assert destination_of("http://[::1]:4318/v1/traces") == "http://[::1]:4318/v1/traces"
    assert json.dumps(destination_of("http://h/")) == '"http://h/"'


@pytest.mark.parametrize(
    ("flags", "scope"),
    [
        ((), " over all history "),
        (("--window", "2"), " in the last 2 days (since "),
        (("--since", "2026-11-01"), " since 2026-11-01 "),
    ],
)
def test_nothing_new_names_the_window_in_plain_words(
    sqlite_cli: Cli, flags: tuple[str, ...], scope: str
) -> None:
    assert sqlite_cli("db", "upgrade")[0] == 0
    code, out, err = sqlite_cli("export", "otel", "--endpoint", "http://127.0.0.1:9", *flags)
    assert code == 0, err
    assert out.startswith(f"nothing new to send to http://127.0.0.1:9/v1/traces{scope}")
    assert " over in " not in out and " over since " not in out


def test_a_malformed_header_variable_is_refused_and_never_printed(
    synced: FakeGitHub, cli: Cli, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key:SECRET123")  # ':' not '='
    with otlp_receiver() as (url, receiver):
        code, out, err = cli("export", "otel", "--endpoint", url)
        assert receiver.requests == []  # not sent without the key the user meant to send
    assert (code, out) == (1, "")
    assert err == (
        "pilothouse: error: $OTEL_EXPORTER_OTLP_HEADERS (or $OTEL_EXPORTER_OTLP_TRACES_HEADERS): "
        "an entry is not KEY=VALUE (comma-separated, URL-encoded); its value is not shown\n"
    )
    printed = capfd.readouterr()
    assert "SECRET123" not in printed.out + printed.err  # nor by the SDK's own logging
