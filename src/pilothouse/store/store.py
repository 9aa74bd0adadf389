"""The store's API of intent; the only code in pilothouse that speaks SQL."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    ScalarSelect,
    Select,
    Subquery,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from pilothouse.errors import InputError, StoreConflict, StoreError
from pilothouse.model import (
    ArtifactRecord,
    AttemptSummary,
    AttemptTimes,
    Baseline,
    CacheCounts,
    CacheGroup,
    CacheUsage,
    CostLine,
    HistoryRow,
    JobRecord,
    JobSummary,
    JobTimes,
    RepositorySync,
    RunArtifacts,
    RunAttempt,
    RunInfo,
    RunSummary,
    StepTimes,
    SuiteTally,
    TestObservation,
    TestResultRow,
    WorkflowActivity,
    WorkflowRecord,
)
from pilothouse.store import baselines as baselines_io
from pilothouse.store import cache as cache_io
from pilothouse.store import cargo as cargo_io
from pilothouse.store import costs, history, rollups, tallies
from pilothouse.store import engine as engines
from pilothouse.store import github as gh
from pilothouse.store import infra as infra_io
from pilothouse.store import metrics as metrics_io
from pilothouse.store import otel as otel_io
from pilothouse.store import pipelines as pipes
from pilothouse.store import reports as reports_io
from pilothouse.store import rollouts as rollouts_io
from pilothouse.store import scorecard as score_io
from pilothouse.store.columns import UnstorableValue
from pilothouse.store.reports import BATCH_ROWS, ReportInput, StoredReport
from pilothouse.store.schema import (
    artifacts,
    cache_usage,
    jobs,
    reports,
    repositories,
    runs,
    steps,
    test_results,
    test_retries,
    tests,
    workflows,
)

if TYPE_CHECKING:  # the analysis layer is not imported by every writer
    from pilothouse.analysis.cost_forecast import DailySpend
    from pilothouse.analysis.regressions import Observation
    from pilothouse.analysis.test_stats import TestStats
    from pilothouse.telemetry.model import ExportRun


class Store:
    """A pilothouse store on SQLite or PostgreSQL.

    >>> store = Store.open("sqlite:///:memory:")  # doctest: +SKIP
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> Store:
        """Open the store at *url*.

        Writing commands pass *create*: the store is created, or its schema
        upgraded, as needed. Otherwise the store must exist at this code's
        schema (StoreMissing, StoreError) and nothing is created or migrated.
        """
        return cls(engines.open_engine(engines.parse_url(url), create=create))

    @staticmethod
    def upgrade(url: str) -> str | None:
        """Create or upgrade the store at *url*; the revision it was at (None: new)."""
        engine = engines.create_store_engine(engines.parse_url(url), create=True)
        try:
            return engines.migrate(engine)
        finally:
            engine.dispose()

    @staticmethod
    def revision(url: str) -> str | None:
        """The schema revision of the store at *url* (None: no store); changes nothing."""
        return engines.stored_revision(engines.parse_url(url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def description(self) -> str:
        return engines.describe(self.engine.url)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction; on SQLite it takes the write lock up front."""
        try:
            with self.engine.connect() as connection:
                connection.info[engines.WRITE_FLAG] = True
                try:
                    with connection.begin():
                        yield connection
                finally:
                    connection.info.pop(engines.WRITE_FLAG, None)
        except UnstorableValue as exc:  # checked by the store's code, before a statement
            raise InputError(str(exc)) from None
        except SQLAlchemyError as exc:
            _raise_unstorable(exc)
            failure = StoreConflict if _conflict(exc) else StoreError
            raise failure(f"{self.description}: write failed: {engines.reason(exc)}") from exc

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            _raise_unstorable(exc)
            raise StoreError(f"{self.description}: read failed: {engines.reason(exc)}") from exc

    # -- writes -------------------------------------------------------------

    def add_reports(
        self, run: RunInfo, items: Iterable[ReportInput], *, now: datetime
    ) -> list[StoredReport]:
        """Store test reports of one run and job in one transaction.

        Returns, per report, whether it was new and its testcases by outcome; a
        report whose digest the run already holds is still read to the end (so
        bad input is caught) but adds nothing. Any exception while reading a
        report rolls the whole call back.

        Give the reports in digest order: each new report's row stays locked until
        the commit, so on PostgreSQL two calls storing the same reports in opposite
        orders wait for each other, and one fails with StoreConflict (a deadlock)
        and can be run again.
        """
        with self._writing() as connection:
            stored = reports_io.add_reports(connection, run, items, now)
            tallies.add_reports(connection, _new_report_ids(stored))
        new = [report for report in stored if report.new]
        results = sum(report.tests for report in new)
        # the rollups grow by at most a row per result: that bound stands for their growth
        rolled = dict.fromkeys(("tests", "test_days", "test_day_bins"), results)
        engines.analyze_if_grown(
            self.engine,
            {"test_results": results, "reports": len(new), "runs": len(new)}
            | rolled
            | {"report_suites": len(new)},
        )
        return stored

    def add_cargo_builds(
        self, run: RunInfo, items: Iterable[cargo_io.CargoInput], *, now: datetime
    ) -> list[cargo_io.StoredBuild]:
        """Store cargo JSON outputs of one run and job in one transaction; an output
        the run already holds is read but adds nothing (see store.cargo)."""
        with self._writing() as connection:
            stored = cargo_io.add_builds(connection, run, items, now)
        units = sum(build.units for build in stored if build.new)
        engines.analyze_if_grown(
            self.engine, {"cargo_units": units, "cargo_builds": sum(b.new for b in stored)}
        )
        return stored

    def crate_rebuilds(
        self, *, since: datetime | None = None, workflow: str | None = None
    ) -> tuple[int, list[dict[str, Any]], dict[tuple[str, str, bool], int]]:
        """Runs with cargo builds, per-crate rebuild counts, and crates built with
        several profiles (see store.cargo), all aggregated by the database."""
        with self._reading() as connection:
            return (
                cargo_io.build_runs(connection, since, workflow),
                cargo_io.crate_rebuilds(connection, since, workflow),
                cargo_io.profile_splits(connection, since, workflow),
            )

    def cargo_range(self) -> tuple[datetime, datetime] | None:
        with self._reading() as connection:
            return cargo_io.build_range(connection)

    # -- GitHub Actions sync ------------------------------------------------

    def store_github_run(
        self, repo: str, attempts: Sequence[RunAttempt], job_records: Sequence[JobRecord]
    ) -> gh.Added:
        """Upsert one run (every attempt given), its jobs and steps, in one transaction."""
        with self._writing() as connection:
            added = gh.store_run(connection, repo, attempts, job_records)
        engines.analyze_if_grown(
            self.engine, {"runs": added.runs, "jobs": added.jobs, "steps": added.steps}
        )
        return added

    def run_versions(self, repo: str) -> dict[str, gh.RunVersion]:
        with self._reading() as connection:
            return gh.run_versions(connection, repo)

    def unfinished_runs(self, repo: str) -> list[str]:
        with self._reading() as connection:
            return gh.unfinished_runs(connection, repo)

    def mark_run_gone(self, repo: str, run_key: str) -> None:
        with self._writing() as connection:
            gh.mark_run_gone(connection, repo, run_key)

    def upsert_artifacts(self, repo: str, items: Sequence[ArtifactRecord]) -> int:
        with self._writing() as connection:
            return gh.upsert_artifacts(connection, repo, items)

    def upsert_workflows(self, repo: str, items: Sequence[WorkflowRecord]) -> int:
        with self._writing() as connection:
            return gh.upsert_workflows(connection, repo, items)

    def add_cache_usage(self, repo: str, usage: CacheUsage, *, taken_at: datetime) -> None:
        with self._writing() as connection:
            gh.add_cache_usage(connection, repo, usage, taken_at=taken_at)

    def sync_state(self, repo: str) -> gh.SyncState:
        with self._reading() as connection:
            return gh.get_sync_state(connection, repo)

    def set_sync_state(self, repo: str, *, cursor: datetime | None, synced_at: datetime) -> None:
        with self._writing() as connection:
            gh.set_sync_state(connection, repo, cursor=cursor, synced_at=synced_at)

    def cached_etag(self, repo: str, url: str) -> gh.CachedEtag | None:
        with self._reading() as connection:
            return gh.cached_etag(connection, repo, url)

    def save_etag(self, repo: str, url: str, etag: str, next_url: str | None) -> None:
        with self._writing() as connection:
            gh.save_etag(connection, repo, url, etag, next_url)

    # -- job logs and caches -------------------------------------------------

    def add_job_logs(
        self, items: Iterable[tuple[RunInfo, cache_io.LogInput]], *, now: datetime
    ) -> list[cache_io.StoredLog]:
        """Store job logs, each of its run and job (named as for JUnit reports), in one
        transaction; a log the job holds already (same digest) adds nothing."""
        with self._writing() as connection:
            stored = cache_io.add_logs(connection, items, now)
        engines.analyze_if_grown(self.engine, {"cache_events": sum(s.events for s in stored)})
        return stored

    def add_synced_job_log(
        self, job_id: int, item: cache_io.LogInput, *, now: datetime
    ) -> cache_io.StoredLog:
        """Store the log of a synced job in its own transaction."""
        with self._writing() as connection:
            return cache_io.add_log(connection, job_id, item, now)

    def mark_job_log_expired(self, job_id: int, source: str, *, now: datetime) -> None:
        with self._writing() as connection:
            cache_io.mark_log_expired(connection, job_id, source, now)

    def jobs_without_logs(self, repo: str, run_keys: Sequence[str]) -> list[tuple[int, str, str]]:
        """(job id, job key, run key) of *repo*'s completed synced jobs in these runs
        whose log was never read (nor found expired)."""
        with self._reading() as connection:
            repo_id = gh.repository_id(connection, repo, create=False)
            if repo_id is None or not run_keys:
                return []
            rows: list[tuple[int, str, str]] = []
            for start in range(0, len(run_keys), 500):  # well under any parameter limit
                chunk = run_keys[start : start + 500]
                found = cache_io.jobs_without_logs(connection, repo_id, chunk)
                rows += [(int(job_id), job_key, run_key) for job_id, job_key, run_key in found]
            return rows

    def cache_groups(
        self, *, since: datetime | None, until: datetime | None = None, branch: str | None = None
    ) -> list[CacheGroup]:
        """Cache events per workflow, job, key family, tool and kind, summed in SQL, of
        the runs on *branch* (any when None)."""
        with self._reading() as connection:
            return cache_io.cache_groups(connection, since, until, branch)

    def cache_counts(
        self,
        *,
        since: datetime,
        until: datetime,
        workflows: Sequence[str] | None,
        branch: str | None,
    ) -> CacheCounts:
        """Exact hits, restore-key hits and misses of the cache restores in the jobs of
        runs of *workflows* (every workflow when None) on *branch* (any when None)
        created in [since, until): the scorecard's cache_hit_rate."""
        with self._reading() as connection:
            return cache_io.cache_counts(
                connection, since=since, until=until, workflows=workflows, branch=branch
            )

    def cache_range(self, *, branch: str | None = None) -> tuple[datetime, datetime] | None:
        """When the first and last runs (on *branch*, any when None) with cache events
        were created."""
        with self._reading() as connection:
            return cache_io.log_range(connection, branch)

    # -- cost ledger --------------------------------------------------------

    def add_cost_lines(
        self, lines: Iterable[CostLine], *, replacing: Collection[str] = ()
    ) -> costs.CostIngest:
        """Store cost lines in one transaction; for sources in *replacing* a billing
        period delivered again replaces its earlier delivery (see costs.add_lines).

        *lines* may be lazy: an error raised while reading them rolls back the call.
        """
        with self._writing() as connection:
            return costs.add_lines(connection, lines, replacing=replacing)

    def cost_range(self) -> costs.StoredRange:
        """How many cost lines the ledger holds, from which day to which."""
        with self._reading() as connection:
            return costs.stored_range(connection)

    def daily_spend(self, since: date, until: date) -> DailySpend:
        """Spend per currency, source and day (floats, for forecasting)."""
        with self._reading() as connection:
            return costs.daily_spend(connection, since, until)

    def usage_report_days(self, since: date, until: date) -> set[tuple[date, str | None]]:
        with self._reading() as connection:
            return costs.usage_report_days(connection, since, until)

    def cost_sums(
        self, since: date, until: date, by: Sequence[str], *, signed: bool = False
    ) -> list[costs.CostSum]:
        """Spend per currency, day, source and *by*, summed exactly by the database."""
        with self._reading() as connection:
            return costs.sum_lines(connection, since, until, by, signed=signed)

    def cost_lines(self, since: date, until: date) -> list[CostLine]:
        """Every stored line of the window (to inspect the ledger; reports use cost_sums)."""
        with self._reading() as connection:
            return list(costs.read_lines(connection, since, until))

    def finished_jobs(
        self, since: datetime
    ) -> list[tuple[str, str | None, str, str, datetime, datetime]]:
        with self._reading() as connection:
            return list(costs.finished_jobs(connection, since))

    def sent_alerts(self, keys: Iterable[str]) -> set[str]:
        with self._reading() as connection:
            return costs.sent_alerts(connection, keys)

    def mark_alert_sent(self, key: str, at: datetime) -> None:
        with self._writing() as connection:
            costs.mark_sent(connection, key, at)

    def runs_to_export(
        self,
        destination: str,
        *,
        since: datetime | None = None,
        repository: str | None = None,
        again: bool = False,
    ) -> list[int]:
        with self._reading() as connection:
            return otel_io.runs_to_export(
                connection, destination, since=since, repository=repository, again=again
            )

    def export_runs(self, run_ids: Sequence[int]) -> list[ExportRun]:
        with self._reading() as connection:
            return otel_io.export_runs(connection, run_ids)

    def mark_exported(self, destination: str, run_ids: Sequence[int], at: datetime) -> int:
        with self._writing() as connection:
            return otel_io.mark_exported(connection, destination, run_ids, at)

    # -- rollouts (store.rollouts) -----------------------------------------

    def start_rollout(
        self, *, name: str, version: str, plan_path: str, plan_text: str, now: datetime
    ) -> int:
        """Record a new rollout and its `start` transition; its id."""
        with self._writing() as connection:
            return rollouts_io.add_rollout(
                connection,
                name=name,
                version=version,
                plan_path=plan_path,
                plan_text=plan_text,
                now=now,
            )

    def add_rollout_transition(self, rollout_id: int, row: rollouts_io.TransitionRow) -> bool:
        """Commit one transition; False when the rollout has one at that seq already."""
        with self._writing() as connection:
            return rollouts_io.add_transition(connection, rollout_id, row)

    def rollout(self, rollout_id: int | None = None) -> rollouts_io.RolloutRecord | None:
        """The rollout *rollout_id* (the newest when None), or None."""
        with self._reading() as connection:
            return rollouts_io.rollout(connection, rollout_id)

    def rollout_transitions(self, rollout_id: int) -> list[rollouts_io.TransitionRow]:
        with self._reading() as connection:
            return rollouts_io.transitions(connection, rollout_id)

    def unfinished_rollouts(self, name: str) -> list[int]:
        with self._reading() as connection:
            return rollouts_io.unfinished(connection, name)

    def rollout_history(
        self, *, limit: int = 20
    ) -> list[tuple[rollouts_io.RolloutRecord, list[rollouts_io.TransitionRow]]]:
        with self._reading() as connection:
            return rollouts_io.history(connection, limit=limit)

    # -- reads --------------------------------------------------------------

    def list_runs(
        self, *, limit: int | None = None, since: datetime | None = None
    ) -> list[RunSummary]:
        """Runs newest first (created at or after *since*), with their jobs and test counts.

        The *limit* newest runs are chosen in SQL and their attempts and jobs read by
        a join on that choice (never a list of ids, which databases cap); test counts
        come from the reports, counted at ingest.
        """
        chosen = _newest_runs(limit, since)
        query = (
            _summary_query()
            .join(
                chosen,
                (chosen.c.repository_id == runs.c.repository_id)
                & (chosen.c.run_key == runs.c.run_key),
            )
            .order_by(
                chosen.c.newest.desc(), runs.c.run_key.desc(), runs.c.repository_id, runs.c.attempt
            )
        )
        if since is not None:
            query = query.where(runs.c.created_at >= since)
        with self._reading() as connection:
            return _summaries(connection, query)

    def runs_by_key(self, run_key: str) -> list[RunSummary]:
        """The run *run_key* (one per repository that has a run of that id), with its
        attempts and jobs as `list_runs` gives them."""
        query = (
            _summary_query()
            .where(runs.c.run_key == run_key)
            .order_by(runs.c.repository_id, runs.c.attempt)
        )
        with self._reading() as connection:
            return _summaries(connection, query)

    def run_count(self, *, since: datetime | None = None) -> int:
        """How many runs the store holds (a run's attempts count once), created since *since*."""
        keys = select(runs.c.repository_id, runs.c.run_key).distinct()
        if since is not None:
            keys = keys.where(runs.c.created_at >= since)
        with self._reading() as connection:
            query = select(func.count()).select_from(keys.subquery())
            return int(connection.execute(query).scalar_one())

    def run_range(self, *, with_results: bool = False) -> tuple[datetime, datetime] | None:
        """When the first and the last stored run were created (only runs with test
        reports when *with_results*); None when there is none. MIN/MAX on an indexed
        column: cheap however many results the store holds."""
        query = select(func.min(runs.c.created_at), func.max(runs.c.created_at))
        if with_results:
            query = query.where(runs.c.id.in_(select(reports.c.run_id)))
        with self._reading() as connection:
            first, last = connection.execute(query).one()
        return None if first is None or last is None else (first, last)

    def test_stats(self, *, since: datetime | None = None) -> list[TestStats]:
        """Per-test statistics of the results of runs created since *since*, slowest
        first, from the per-day rollups (store.rollups) plus the raw results of the
        window's partial first day: counts, pass rate, mean and last outcome exactly as
        summarize_tests computes them over every result, median and p90 within
        sketch.ALPHA relative error. Python sees a row per test, never one per result.
        """
        with self._reading() as connection:
            if connection.dialect.name == "postgresql":  # both reads see one snapshot
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                totals = list(rollups.window_totals(connection, since))
                bins = rollups.window_bins(connection, since)
        from pilothouse.analysis.test_stats import summarize_totals

        return summarize_totals(totals, bins)

    def test_observations(self, *, since: datetime | None = None) -> Iterator[TestObservation]:
        """Every stored test result (of runs created since *since*) with its run's time,
        oldest first."""
        query = observations_query(since)
        with self._reading() as connection:
            # each test's names read once (a row per test), not joined to every result
            tested = connection.execute(observed_tests_query(since))
            names: dict[int, tuple[str, str, str]] = {i: (c, n, f) for i, c, n, f in tested}
            rows = connection.execute(query.execution_options(yield_per=BATCH_ROWS))
            for test_id, outcome, duration, created_at in rows:
                yield _new_record(TestObservation, (*names[test_id], outcome, duration, created_at))

    def suite_tallies(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[SuiteTally]:
        """Per run (attempt) and suite of runs created in [*since*, *until*): how many
        results, executed, passed and failed ones; counted in SQL, streamed."""
        query = history.tallies_query(since, until)
        with self._reading() as connection:
            for row in connection.execute(query.execution_options(yield_per=BATCH_ROWS)):
                yield SuiteTally._make(row)

    def failing_tests(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        outage_runs: Collection[int] = (),
    ) -> list[tuple[str, str, str]]:
        """The tests (classname, name, file) that failed or retried since *since* outside
        the runs (attempts) *outage_runs*."""
        query = history.failing_query(since, outage_runs, until)
        with self._reading() as connection:
            return [(row.classname, row.name, row.file) for row in connection.execute(query)]

    def tests_named(self, names: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """The tests (classname, name, file) ever stored whose name is one of *names*
        (one row per test, not per result); history.TESTS_PER_QUERY names per query."""
        with self._reading() as connection:
            for start in range(0, len(names), history.TESTS_PER_QUERY):
                chunk = names[start : start + history.TESTS_PER_QUERY]
                query = history.named_query(chunk)
                for row in connection.execute(query):
                    yield row.classname, row.name, row.file

    def test_histories(
        self,
        tests: Sequence[tuple[str, str, str]],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[HistoryRow]:
        """The executed results of *tests* (classname, name, file) since *since*, test after
        test (all of one test's rows together, ordered by classname, name, file), each
        oldest first, streamed; history.TESTS_PER_QUERY tests per query."""
        with self._reading() as connection:
            for start in range(0, len(tests), history.TESTS_PER_QUERY):
                chunk = tests[start : start + history.TESTS_PER_QUERY]
                query = history.histories_query(since, chunk, until)
                for row in connection.execute(query.execution_options(yield_per=BATCH_ROWS)):
                    yield HistoryRow(*row)

    def test_results(
        self, classname: str, name: str, *, since: datetime | None = None
    ) -> list[TestResultRow]:
        """Every result of the test *classname*::*name* of runs created since *since*,
        oldest first."""
        query = history.results_query(since, classname, name)
        with self._reading() as connection:
            return [TestResultRow(*row) for row in connection.execute(query)]

    def failure_messages(self, run_ids: Collection[int]) -> Iterator[tuple[str, int, str]]:
        """(run key, attempt, message) of the failed results of the runs (attempts)
        *run_ids*, attempt after attempt, each in report order."""
        if not run_ids:
            return
        query = history.messages_query(run_ids)
        with self._reading() as connection:
            for row in connection.execute(query.execution_options(yield_per=BATCH_ROWS)):
                yield row.run_key, row.attempt, row.message

    def counts(self) -> dict[str, int]:
        """How many rows each main table holds; test results from the reports' counts
        (kept at ingest), so the answer does not walk millions of rows."""
        results = select(func.coalesce(func.sum(reports.c.tests), 0))
        with self._reading() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (
                    repositories,
                    runs,
                    jobs,
                    steps,
                    reports,
                    test_retries,
                    artifacts,
                    workflows,
                    cache_usage,
                )
            } | {test_results.name: int(connection.execute(results).scalar_one())}

    # -- scorecard --------------------------------------------------------

    def run_durations(
        self, span: score_io.Span, workflows: Sequence[str], branch: str
    ) -> list[float]:
        """Wall time (seconds) of the completed runs of *workflows* on *branch* in
        *span*, latest attempt of each, oldest first."""
        with self._reading() as connection:
            return score_io.run_durations(connection, span, workflows, branch)

    def run_artifacts(
        self, span: score_io.Span, workflows: Sequence[str] | None, branch: str
    ) -> list[RunArtifacts]:
        """Artifact bytes and count per run (latest attempt in *span*), oldest first."""
        with self._reading() as connection:
            return score_io.run_artifacts(connection, span, workflows, branch)

    def artifacts_of_run(self, repository_id: int, run_key: str) -> list[tuple[str, int]]:
        with self._reading() as connection:
            return score_io.artifacts_of_run(connection, repository_id, run_key)

    def workflow_activity(self, span: score_io.Span) -> list[WorkflowActivity]:
        """Registered workflows, their state and their runs in *span*."""
        with self._reading() as connection:
            return score_io.workflow_activity(connection, span)

    # -- /metrics ------------------------------------------------------------

    def run_duration_buckets(
        self, since: datetime, bounds: Sequence[float]
    ) -> list[metrics_io.Buckets]:
        """Run wall times since *since* per workflow and conclusion, bucketed in SQL."""
        with self._reading() as connection:
            return metrics_io.run_duration_buckets(connection, since, bounds)

    def job_queue_buckets(
        self, since: datetime, bounds: Sequence[float]
    ) -> list[metrics_io.Buckets]:
        """Job queue times since *since* per runner labels, bucketed in SQL."""
        with self._reading() as connection:
            return metrics_io.job_queue_buckets(connection, since, bounds)

    def run_totals(self) -> list[tuple[str, str, int]]:
        """Stored run attempts per workflow and conclusion (or status)."""
        with self._reading() as connection:
            return metrics_io.run_totals(connection)

    def outcome_totals(self) -> dict[str, int]:
        """Stored test results per outcome (passed, failed, skipped)."""
        with self._reading() as connection:
            return metrics_io.outcome_totals(connection)

    def sync_times(self) -> list[tuple[str, datetime]]:
        """When each synced repository's last complete sync ended."""
        with self._reading() as connection:
            return metrics_io.sync_times(connection)

    # -- the Pipelines and Infrastructure pages ------------------------------

    def attempt_times(self, since: datetime) -> list[AttemptTimes]:
        """Every attempt of the runs created since *since*, oldest first."""
        with self._reading() as connection:
            return list(pipes.attempt_times(connection, since))

    def job_times(self, since: datetime) -> list[JobTimes]:
        """Every job of the runs created since *since*: queue and run seconds."""
        with self._reading() as connection:
            return list(pipes.job_times(connection, since))

    def step_times(self, since: datetime) -> list[StepTimes]:
        """Every timed step of the jobs of runs created since *since*."""
        with self._reading() as connection:
            return list(pipes.step_times(connection, since))

    def step_count(self) -> int:
        with self._reading() as connection:
            return pipes.step_count(connection)

    def repository_syncs(self) -> list[RepositorySync]:
        """Every repository: its last complete sync, runs, unfinished runs, expired logs."""
        with self._reading() as connection:
            return pipes.repository_syncs(connection)

    # -- `pilothouse changes` -------------------------------------------------

    def observations(self, kind: str, since: datetime, branch: str | None) -> list[Observation]:
        """One value per run (queue: per job) created since *since* on *branch* (any:
        None) of *kind*: run_time, queue_time, pass_rate or cache_hit_rate."""
        from pilothouse.store import changes

        read = {
            "run_time": changes.run_time_observations,
            "queue_time": changes.queue_observations,
            "pass_rate": changes.pass_rate_observations,
            "cache_hit_rate": changes.cache_observations,
        }[kind]
        with self._reading() as connection:
            return read(connection, since, branch)

    def record_sync_failure(
        self, provider: str, repository: str, at: datetime, message: str
    ) -> None:
        """Keep why the sync of *repository* failed at *at* (its last failure only)."""
        from pilothouse.store import changes

        with self._writing() as connection:
            changes.record_sync_failure(connection, provider, repository, at, message)

    def sync_failures(self) -> list[tuple[str, str, datetime, str]]:
        """(provider, repository, when, why) of each repository's last failed sync."""
        from pilothouse.store import changes

        with self._reading() as connection:
            return changes.sync_failure_list(connection)

    def workflow_files(self) -> list[tuple[str, str, datetime | None]]:
        """(name, path, last updated) of every synced workflow."""
        from pilothouse.store import changes

        with self._reading() as connection:
            return changes.workflow_files(connection)

    # -- CI baselines ----------------------------------------------------------

    def save_baselines(self, items: Sequence[Baseline]) -> None:
        """Replace the baselines of the items' workflows and branches, in one transaction."""
        with self._writing() as connection:
            baselines_io.save(connection, items)

    def queue_times(self, since: datetime, until: datetime, branch: str) -> list[tuple[str, float]]:
        """(workflow, queue seconds) of each started job of *branch*'s runs in the window."""
        with self._reading() as connection:
            return baselines_io.queue_times(connection, since, until, branch)

    def run_workflows(
        self, since: datetime, until: datetime, branch: str
    ) -> dict[tuple[str, int], str]:
        """The workflow of each run attempt on *branch* created in the window."""
        with self._reading() as connection:
            return baselines_io.run_workflows(connection, since, until, branch)

    def baselines(
        self, *, branch: str | None = None, workflows: Sequence[str] | None = None
    ) -> list[Baseline]:
        """Saved baselines (of *branch* and *workflows* when given), by workflow."""
        with self._reading() as connection:
            return baselines_io.read(connection, branch=branch, workflows=workflows)

    def retries_of(self, classname: str, name: str) -> list[tuple[str, str]]:
        """The stored retries (kind, message) of one test, oldest first."""
        query = (
            select(test_retries.c.kind, test_retries.c.message)
            .join(test_results, test_results.c.id == test_retries.c.result_id)
            .join(tests, tests.c.id == test_results.c.test_id)
            .where(tests.c.classname == classname, tests.c.name == name)
            .order_by(test_results.c.report_id, test_results.c.ordinal, test_retries.c.attempt)
        )
        with self._reading() as connection:
            return [(row.kind, row.message) for row in connection.execute(query)]

    # -- infrastructure status (store/infra.py) ------------------------------------------

    def save_infra(
        self,
        resources: Sequence[infra_io.Resource],
        points: Iterable[infra_io.MetricPoint],
        read_through: Mapping[tuple[str, str], datetime],
        *,
        seen_at: datetime,
    ) -> infra_io.SavedStatus:
        """Store what one `ingest cloudwatch` read, in one transaction."""
        with self._writing() as connection:
            saved = infra_io.save_status(connection, resources, points, read_through, seen_at)
        engines.analyze_if_grown(self.engine, {"infra_points": saved.points})
        return saved

    def infra_cursors(self) -> dict[tuple[str, str], datetime]:
        """Where the reads of each (resource, metric) got to."""
        with self._reading() as connection:
            return infra_io.cursors(connection)

    def infra_resources(self) -> list[infra_io.StoredResource]:
        """Every instance and group as last described."""
        with self._reading() as connection:
            return infra_io.resources(connection)

    def infra_stats(
        self, since: datetime, until: datetime, *, idle_below: float
    ) -> list[infra_io.MetricStats]:
        """Per resource and metric, the window's points aggregated by the database."""
        with self._reading() as connection:
            return infra_io.metric_stats(connection, since, until, idle_below)

    def infra_range(self) -> tuple[datetime, datetime] | None:
        """The first and last stored CloudWatch period."""
        with self._reading() as connection:
            return infra_io.point_range(connection)

    def replace_runners(
        self, listings: Mapping[str, Sequence[infra_io.Runner]], *, seen_at: datetime
    ) -> int:
        """Each scope's runners become its listing, all in one transaction; new runners."""
        with self._writing() as connection:
            return sum(
                infra_io.replace_runners(connection, scope, listed, seen_at)
                for scope, listed in sorted(listings.items())
            )

    def runners(self) -> list[infra_io.StoredRunner]:
        """Every self-hosted runner as last listed."""
        with self._reading() as connection:
            return infra_io.stored_runners(connection)


_new_record = tuple.__new__  # a NamedTuple without NamedTuple.__new__'s overhead


def observations_query(since: datetime | None) -> Select[Any]:
    """The results of runs created since *since*, oldest first: runs.created_at's index
    finds the runs, reports.run_id and test_results.report_id the rest (EXPLAIN in
    benchmarks/read_scale.py), so a window reads its own rows, not the history.
    The rows carry their test's id (observed_tests_query names them)."""
    query = _results_with_runs(
        test_results.c.test_id,
        test_results.c.outcome,
        test_results.c.duration,
        runs.c.created_at,
    ).order_by(runs.c.created_at, test_results.c.report_id, test_results.c.ordinal)
    return query if since is None else _in_window(query, since)


def observed_tests_query(since: datetime | None) -> Select[Any]:
    """(id, classname, name, file) of the tests with results in observations_query(since):
    the window's test ids come from (report_id, test_id)'s index alone."""
    named = select(tests.c.id, tests.c.classname, tests.c.name, tests.c.file)
    if since is None:
        return named
    window = _in_window(_results_with_runs(test_results.c.test_id), since)
    return named.where(tests.c.id.in_(window))


def _results_with_runs(*columns: ColumnElement[Any]) -> Select[Any]:
    """*columns* of test results joined to their report and run."""
    return (
        select(*columns)
        .select_from(test_results)
        .join(reports, reports.c.id == test_results.c.report_id)
        .join(runs, runs.c.id == reports.c.run_id)
    )


def _in_window(query: Select[Any], since: datetime) -> Select[Any]:
    """Results of runs created since *since*. The reports of the window are named by a
    subquery, so both planners start from runs.created_at's index and reach the results
    through test_results.report_id's, with or without statistics (a plain join let
    SQLite scan every result)."""
    window_reports = (
        select(reports.c.id)
        .join(runs, runs.c.id == reports.c.run_id)
        .where(runs.c.created_at >= since)
    )
    return query.where(runs.c.created_at >= since, test_results.c.report_id.in_(window_reports))


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was
# rolled back only to let a concurrent one through.
_CONFLICT_STATES = frozenset({"40P01", "40001"})


def _conflict(exc: SQLAlchemyError) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _CONFLICT_STATES


def _raise_unstorable(exc: SQLAlchemyError) -> None:
    """A value the column types refused is bad input (exit 1), the same on both backends."""
    original = getattr(exc, "orig", None)
    if isinstance(original, UnstorableValue):
        raise InputError(str(original)) from None


def _new_report_ids(stored: Sequence[StoredReport]) -> list[int]:
    """The ids of the reports a call stored (not those the run held already) with results."""
    return [r.report_id for r in stored if r.new and r.report_id is not None and r.tests]


def _newest_runs(limit: int | None, since: datetime | None) -> Subquery:
    """The *limit* newest runs (repository, run key), by their newest attempt in the window."""
    newest = func.max(runs.c.created_at).label("newest")
    query = (
        select(runs.c.repository_id, runs.c.run_key, newest)
        .group_by(runs.c.repository_id, runs.c.run_key)
        .order_by(newest.desc(), runs.c.run_key.desc(), runs.c.repository_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    return query.subquery()


def _report_sum(column: ColumnElement[int]) -> ScalarSelect[Any]:
    """A run's sum of a reports column (0 without reports), read through reports.run_id."""
    return (
        select(func.coalesce(func.sum(column), 0))
        .where(reports.c.run_id == runs.c.id)
        .scalar_subquery()
    )


def _summary_query() -> Select[Any]:
    """Run attempts with their repository and their reports' test counts."""
    return select(
        runs,
        repositories.c.provider,
        repositories.c.full_name,
        _report_sum(reports.c.tests).label("tests"),
        _report_sum(reports.c.failed).label("failed"),
    ).join(repositories, repositories.c.id == runs.c.repository_id)


def _summaries(connection: Connection, query: Select[Any]) -> list[RunSummary]:
    """The runs *query* (of _summary_query) reads, in its order, with their jobs."""
    groups: dict[tuple[int, str], list[Any]] = {}
    for row in connection.execute(query).mappings():
        groups.setdefault((row["repository_id"], row["run_key"]), []).append(row)
    job_rows = _jobs_by_run(connection, query.with_only_columns(runs.c.id).order_by(None))
    return [_run_summary(rows, job_rows) for rows in groups.values()]


def _jobs_by_run(connection: Connection, run_ids: Select[Any]) -> dict[int, list[JobSummary]]:
    found: dict[int, list[JobSummary]] = {}
    query = select(jobs).where(jobs.c.run_id.in_(run_ids)).order_by(jobs.c.run_id, jobs.c.id)
    for row in connection.execute(query).mappings():
        found.setdefault(row["run_id"], []).append(
            JobSummary(
                name=row["name"],
                conclusion=row["conclusion"],
                attempt=row["attempt"],
                runner_labels=tuple(json.loads(row["runner_labels"] or "[]")),
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                created_at=row["created_at"],
                status=row["status"],
                runner_name=row["runner_name"],
            )
        )
    return found


def _run_summary(rows: list[Any], job_rows: dict[int, list[JobSummary]]) -> RunSummary:
    """One run from its attempts' rows; the latest attempt speaks for the run."""
    ordered = sorted(rows, key=lambda r: r["attempt"])
    row = ordered[-1]
    return RunSummary(
        id=row["run_key"],
        provider=row["provider"],
        repository=row["full_name"],
        workflow=row["workflow"],
        commit=row["commit_sha"],
        branch=row["branch"],
        attempt=row["attempt"],
        status=row["status"],
        conclusion=row["conclusion"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        html_url=row["html_url"],
        tests=int(row["tests"] or 0),
        failed=int(row["failed"] or 0),
        attempts=tuple(
            AttemptSummary(
                attempt=r["attempt"],
                status=r["status"],
                conclusion=r["conclusion"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                tests=int(r["tests"] or 0),
                failed=int(r["failed"] or 0),
            )
            for r in ordered
        ),
        jobs=tuple(job for r in ordered for job in job_rows.get(r["id"], ())),
    )
