"""The store's tables, in SQLAlchemy Core, the same on SQLite and PostgreSQL.

Alembic migrations under ``pilothouse/migrations`` create exactly these; a test
checks that the migrated schema and this metadata agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from pilothouse.store.columns import Int32, Int64, Key, Name, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", Key(32, "provider"), nullable=False),
    Column("full_name", Key(255, "repository"), nullable=False),
    UniqueConstraint("provider", "full_name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("run_key", Key(255, "run id"), nullable=False),
    Column("attempt", Int32("attempt"), nullable=False),
    Column("workflow", Name("workflow")),
    Column("event", Name("event")),
    Column("branch", Name("branch")),
    Column("commit_sha", Name("commit")),
    Column("status", Name("run status")),
    Column("conclusion", Name("run conclusion")),
    Column("created_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    # Columns in the order the migrations add them, so a store created from this
    # metadata is the store they make (tests/test_store.py).
    Column("run_number", Int32("run number")),
    Column("workflow_key", Name("workflow id")),
    Column("html_url", Name("run URL")),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("repository_id", "run_key", "attempt"),
    Index(None, "created_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("job_key", Key(255, "job"), nullable=False),
    Column("name", Name("job name"), nullable=False),
    Column("runner_labels", Name("runner labels"), nullable=False, default="[]"),
    Column("runner_name", Name("runner name")),
    Column("attempt", Int32("job attempt"), nullable=False),
    Column("status", Name("job status")),
    Column("conclusion", Name("job conclusion")),
    Column("created_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    UniqueConstraint("run_id", "job_key"),
)

steps = Table(
    "steps",
    metadata,
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Int32("step number"), primary_key=True, autoincrement=False),
    Column("name", Name("step name"), nullable=False),
    Column("status", Name("step status")),
    Column("conclusion", Name("step conclusion")),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE")),
    Column("digest", Key(64, "report digest"), nullable=False),
    Column("path", Name("report path"), nullable=False),
    Column("size", Int64("report size"), nullable=False),
    Column("tests", Int32("report tests"), nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    # Its failed and errored testcases, counted at ingest: `runs` reads them here.
    Column("failed", Integer, nullable=False, server_default="0"),
    UniqueConstraint("run_id", "digest"),
)

# One row per <testcase>, in report order (ordinal), so a report that repeats a
# test (pytest-rerunfailures, marathon) keeps every try. Deliberately lean: a
# rowid primary key, one foreign key and one secondary index (report_id, which
# every windowed read goes through: runs.created_at -> reports -> results),
# because ingest writes hundreds of thousands of these rows per report
# (benchmarks/junit_ingest.py). Run and job come through the report.
test_results = Table(
    "test_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("report_id", ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("suite", Text, nullable=False),
    Column("duration", Float),
    Column("outcome", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("retries", Integer, nullable=False),
    # the test (classname, name, file) is named once in `tests` (migration 0014): a
    # result carries its id, not the three names again. No foreign key: the id comes
    # from the join with `tests` that stores the result (store.reports), and a check
    # per row would cost ingest another b-tree probe.
    Column("test_id", Integer, nullable=False),
    # a report's results in test order (0014): the rollups group a new report's results
    # by test walking this index, without a sort
    Index(None, "report_id", "test_id"),
)

test_retries = Table(
    "test_retries",
    metadata,
    Column("result_id", ForeignKey("test_results.id", ondelete="CASCADE"), primary_key=True),
    Column("attempt", Int32("retry attempt"), primary_key=True, autoincrement=False),
    Column("kind", Key(16, "retry kind"), nullable=False),
    Column("message", Name("retry message"), nullable=False),
    Column("duration", Float),
)

# -- per-test rollups (migration 0008) -----------------------------------------

# One row per test (classname, name, file), keyed by a digest of the three
# (store.rollups.key_of_test, 16 bytes since 0014; the column is last since then):
# PostgreSQL cannot put 100 KB names in a btree.
tests = Table(
    "tests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("classname", Name("classname"), nullable=False),
    Column("name", Name("test name"), nullable=False),
    Column("file", Name("test file"), nullable=False),
    Column("key", LargeBinary, nullable=False),
    UniqueConstraint("key"),
)

# A test's results of one UTC day (of its runs' created_at), kept at ingest
# (store.rollups): counts, durations, and the newest result of the day by
# (created_at, report id, ordinal). `failed` counts failed and errored results.
test_days = Table(
    "test_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("test_id", ForeignKey("tests.id", ondelete="CASCADE"), primary_key=True),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("timed", Integer, nullable=False),
    Column("duration_sum", Float, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("last_report", Integer, nullable=False),
    Column("last_ordinal", Integer, nullable=False),
    Column("last_outcome", String(8), nullable=False),
    # SQLite: the rows in primary-key order, one b-tree (a window's days are one range)
    sqlite_with_rowid=False,
)

# The duration histogram of a test's day (analysis/sketch.py): durations per bin.
test_day_bins = Table(
    "test_day_bins",
    metadata,
    Column("day", Date, primary_key=True),
    Column("test_id", ForeignKey("tests.id", ondelete="CASCADE"), primary_key=True),
    Column("bin", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    # the least and greatest duration the bin got: its value is clamped to them
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    sqlite_with_rowid=False,
)

# Counts per report and suite (store.tallies, migration 0013): what `flaky` and the
# scorecard sum per run and suite, written with the report, never updated.
report_suites = Table(
    "report_suites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_id", ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    Column("suite", Text, nullable=False),
    Column("results", Integer, nullable=False),
    Column("executed", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    # executed results that were retried (in-run reruns): with `failed`, what makes a
    # report worth reading for flaky evidence
    Column("retried", Integer, nullable=False),
    Index(None, "report_id"),
)

# -- GitHub Actions sync (migration 0002) -------------------------------------

workflows = Table(
    "workflows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("workflow_key", Key(64, "workflow id"), nullable=False),
    Column("name", Name("workflow name"), nullable=False),
    Column("path", Name("workflow path"), nullable=False),
    Column("state", Name("workflow state"), nullable=False),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("repository_id", "workflow_key"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("artifact_key", Key(64, "artifact id"), nullable=False),
    Column("run_key", Key(255, "artifact run id")),
    Column("name", Name("artifact name"), nullable=False),
    Column("size_bytes", Int64("artifact size"), nullable=False),
    Column("digest", Name("artifact digest")),
    Column("expired", Boolean, nullable=False),
    Column("created_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("repository_id", "artifact_key"),
    # A run's artifacts, summed by the scorecard (migration 0011).
    Index(None, "repository_id", "run_key"),
)

cache_usage = Table(
    "cache_usage",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("active_caches_count", Int32("cache count"), nullable=False),
    Column("active_caches_size_bytes", Int64("cache size"), nullable=False),
)

# Where the last complete sync of a repository got to.
sync_state = Table(
    "sync_state",
    metadata,
    Column("repository_id", ForeignKey("repositories.id"), primary_key=True),
    Column("cursor", UTCDateTime),
    Column("synced_at", UTCDateTime),
)

# ETags of API responses already processed: a 304 answer costs no quota.
http_cache = Table(
    "http_cache",
    metadata,
    Column("repository_id", ForeignKey("repositories.id"), primary_key=True),
    Column("url", Key(2000, "API URL"), primary_key=True),
    Column("etag", Name("ETag"), nullable=False),
    Column("next_url", Name("next page URL")),
)

# -- cost ledger (migration 0003) -----------------------------------------------

# Amounts are exact decimal strings: SQLite has no decimal type, and money must
# not pass through floats. Sums happen in the database on amount_units/amount_frac.
cost_lines = Table(
    "cost_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", Key(32, "cost source"), nullable=False),
    Column("line_key", Key(255, "cost line id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("service", Name("service"), nullable=False),
    Column("amount", Name("amount"), nullable=False),
    Column("currency", Name("currency"), nullable=False),
    Column("category", Name("charge category")),
    Column("resource", Name("resource")),
    Column("region", Name("region")),
    Column("account", Name("account")),
    Column("sku", Name("SKU")),
    Column("quantity", Name("quantity")),
    Column("unit", Name("unit")),
    Column("repository", Name("repository")),
    Column("workflow", Name("workflow")),
    Column("model", Name("model")),
    Column("input_tokens", Int64("input tokens")),
    Column("output_tokens", Int64("output tokens")),
    Column("cache_read_tokens", Int64("cache read tokens")),
    Column("cache_write_tokens", Int64("cache write tokens")),
    Column("tags", Name("tags"), nullable=False),
    # The first day of the billing period the line was billed in (CUR, FOCUS):
    # a re-delivered period replaces the lines of its earlier delivery.
    Column("billing_period", Date),
    # The amount again as exact integers the database can SUM (migration 0007):
    # amount = units + frac / 10**12, units = floor(amount), 0 <= frac < 10**12.
    # Both NULL for an amount with more than 12 decimals or beyond int64: those
    # few lines are summed from `amount` in Python (store/costs.py).
    Column("amount_units", Int64("amount")),
    Column("amount_frac", Int64("amount")),
    UniqueConstraint("source", "line_key"),
    Index(None, "day"),
    Index(None, "source", "billing_period"),
)

# Alerts delivered, so that each is sent once per budget, threshold and period.
alerts_sent = Table(
    "alerts_sent",
    metadata,
    Column("alert_key", Key(255, "alert"), primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)

# -- cargo builds (migration 0010) ------------------------------------------------

# One cargo JSON output stored into a run (and job), keyed by its content like a report.
cargo_builds = Table(
    "cargo_builds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE")),
    Column("digest", Key(64, "cargo output digest"), nullable=False),
    Column("path", Name("cargo output path"), nullable=False),
    Column("size", Int64("cargo output size"), nullable=False),
    Column("units", Int32("cargo units"), nullable=False),
    Column("rebuilt", Int32("cargo units rebuilt"), nullable=False),
    Column("success", Boolean),
    Column("warnings", Int32("cargo warnings"), nullable=False),
    Column("errors", Int32("cargo errors"), nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    UniqueConstraint("run_id", "digest"),
)

# One unit per compiler-artifact (or build script run), in output order. Text comes
# from the JSON reader, which refuses NUL and lone surrogates, and no index covers
# it, so rows go in by executemany like test results.
cargo_units = Table(
    "cargo_units",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("build_id", ForeignKey("cargo_builds.id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("member", Boolean, nullable=False),
    Column("package_id", Text, nullable=False),
    Column("target_kind", Text, nullable=False),
    Column("target_name", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("features", Text, nullable=False),
    Column("fresh", Boolean, nullable=False),
    Column("build_script", Boolean, nullable=False),
    Column("seconds", Float),
    Index(None, "build_id"),
)

# -- job logs and the cache events read from them (migration 0009) ----------------------------

# A job's log read (or found expired, `status`), keyed by job and content digest:
# the same log ingested again adds nothing, and a sync asks once per job.
job_logs = Table(
    "job_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("digest", Key(64, "log digest"), nullable=False),
    Column("status", Key(16, "log status"), nullable=False),  # read | expired
    Column("source", Name("log source"), nullable=False),  # file name or API URL
    Column("size", Int64("log size"), nullable=False),
    Column("lines", Int64("log lines"), nullable=False),
    # The log's first and last timestamps: the job's wall time as the log shows it.
    Column("first_at", UTCDateTime),
    Column("last_at", UTCDateTime),
    Column("read_at", UTCDateTime, nullable=False),
    UniqueConstraint("job_id", "digest"),
)

cache_events = Table(
    "cache_events",
    metadata,
    Column("log_id", ForeignKey("job_logs.id", ondelete="CASCADE"), primary_key=True),
    Column("ordinal", Int32("cache event ordinal"), primary_key=True, autoincrement=False),
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("line", Int64("log line"), nullable=False),
    Column("tool", Name("cache tool"), nullable=False),
    Column("kind", Key(16, "cache event kind"), nullable=False),
    Column("key_prefix", Name("cache key family"), nullable=False),
    Column("cache_key", Name("cache key")),
    Column("step", Name("step")),
    Column("at", UTCDateTime),
    Column("seconds", Float),
    Column("size_bytes", Int64("cache size")),
    Column("hits", Int64("cache hits"), nullable=False),
    Column("misses", Int64("cache misses"), nullable=False),
    Column("language", Name("language")),
    Column("detail", Name("detail")),
    Index(None, "job_id"),
)

# -- infrastructure status (migration 0017_infra) -------------------------------------------

# An EC2 instance (key: its id) or Auto Scaling group (key: asg:NAME) as the newest
# `ingest cloudwatch` saw it.
infra_resources = Table(
    "infra_resources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("resource_key", Key(255, "instance or group"), nullable=False),
    Column("kind", Key(16, "resource kind"), nullable=False),
    Column("name", Name("resource name"), nullable=False),
    Column("region", Name("region"), nullable=False),
    Column("state", Name("resource state"), nullable=False),
    Column("instance_type", Name("instance type"), nullable=False),
    Column("group_name", Name("Auto Scaling group")),
    Column("launched_at", UTCDateTime),
    Column("capacity", Int32("desired capacity")),
    Column("seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("resource_key"),
)

# One CloudWatch period of one metric of one resource: a completed period never changes,
# so a point is written once (ON CONFLICT DO NOTHING). Rows in key order on SQLite; the
# window's points of every resource through period_start's index.
infra_points = Table(
    "infra_points",
    metadata,
    Column("resource_id", ForeignKey("infra_resources.id", ondelete="CASCADE"), primary_key=True),
    Column("metric", Key(32, "metric"), primary_key=True),
    Column("period_start", UTCDateTime, primary_key=True),
    Column("period_seconds", Int32("period"), nullable=False),
    Column("value", Float, nullable=False),
    Index(None, "period_start"),
    sqlite_with_rowid=False,
)

# Where the reads of each metric of each resource got to (the end of the last read):
# the next read starts there, also when CloudWatch had no data (memory without the agent).
infra_cursors = Table(
    "infra_cursors",
    metadata,
    Column("resource_id", ForeignKey("infra_resources.id", ondelete="CASCADE"), primary_key=True),
    Column("metric", Key(32, "metric"), primary_key=True),
    Column("read_through", UTCDateTime, nullable=False),
)

# Self-hosted GitHub Actions runners of a repository or organisation, as last listed.
runners = Table(
    "runners",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", Key(255, "runner scope"), nullable=False),
    Column("runner_key", Key(64, "runner id"), nullable=False),
    Column("name", Name("runner name"), nullable=False),
    Column("os", Name("runner OS"), nullable=False),
    Column("status", Name("runner status"), nullable=False),
    Column("busy", Boolean, nullable=False),
    Column("labels", Name("runner labels"), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("scope", "runner_key"),
)

# -- rollouts and their transitions (migration 0015) --------------------------------------------

# A rollout of one version by one plan; the plan's text is kept so `resume` reads what
# `start` read, whatever happened to the file since.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Name("rollout name"), nullable=False),
    Column("version", Name("version"), nullable=False),
    Column("plan_path", Name("plan path"), nullable=False),
    Column("plan_text", Name("plan"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per transition, committed before the operation it names runs; (rollout, seq)
# is unique, so two processes cannot both write the next transition.
rollout_transitions = Table(
    "rollout_transitions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rollout_id", ForeignKey("rollouts.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Int32("transition"), nullable=False),
    Column("kind", Key(16, "transition kind"), nullable=False),
    Column("wave", Int32("wave")),
    Column("target", Name("target")),
    Column("weight", Int32("weight")),
    Column("detail", Name("detail"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("rollout_id", "seq"),
)

# -- CI baselines (migration 0016) ---------------------------------------------------------

# Per workflow and branch, what its first runs measured (`ci baseline`): the reference the
# scorecard compares with. Saved again replaces the row; sums, not ratios, so baselines
# of several workflows add up exactly.
ci_baselines = Table(
    "ci_baselines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workflow", Key(255, "workflow"), nullable=False),
    Column("branch", Key(255, "branch"), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("runs", Int64("runs"), nullable=False),
    Column("duration_p50", Float),  # seconds, completed runs' wall time
    Column("duration_p90", Float),
    Column("queue_jobs", Int64("jobs"), nullable=False),
    Column("queue_p50", Float),  # seconds, job created to started
    Column("queue_p90", Float),
    Column("cache_restores", Int64("cache restores"), nullable=False),
    Column("cache_hits", Int64("cache hits"), nullable=False),
    Column("tests_executed", Int64("tests executed"), nullable=False),
    Column("tests_passed", Int64("tests passed"), nullable=False),
    UniqueConstraint("workflow", "branch"),
)

# -- routines (migration 0018) ---------------------------------------------------------------

# The last failed `ingest github` of each repository (kept by name: the first sync of a
# repository can fail before the repository is stored), read by the daily routine's
# watchdog: a failure after the last complete sync needs a human.
sync_failures = Table(
    "sync_failures",
    metadata,
    Column("provider", Key(32, "provider"), primary_key=True),
    Column("repository", Key(255, "repository"), primary_key=True),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("message", Name("sync failure"), nullable=False),
)

# -- OpenTelemetry export (migration 0019) -----------------------------------------

# Runs (attempts) already sent as traces to an OTLP destination (its URL without
# credentials or query), so a second export sends only what is new.
otel_exports = Table(
    "otel_exports",
    metadata,
    Column("destination", Key(255, "OTLP destination"), primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("exported_at", UTCDateTime, nullable=False),
    Index(None, "run_id"),
)
