"""cargo JSON outputs: the reader on real captures, `ingest cargo` and `crates` on both backends."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.analysis.crates import rank_crates
from pilothouse.errors import InputError
from pilothouse.sample_cargo import cargo_outputs
from pilothouse.sources.cargo import (
    CargoFile,
    parse_package_id,
    read_messages,
    read_timings,
)
from pilothouse.store import Store

from .conftest import DATA, Cli
from .racer import race
from .test_cli import GITHUB_ENV

CARGO = DATA / "cargo"
COLD = CARGO / "fixture-project_build_cold.jsonl"
TIMINGS = CARGO / "fixture-project_cargo-timing.html"


def _read(name: str) -> list[tuple[str, str, str, bool]]:
    build = CargoFile.open(CARGO / name).read()
    return [(u.name, u.target_kind, u.mode, u.fresh) for u in build.units]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("path+file:///w/corelib#0.1.0", ("corelib", "0.1.0", "path")),
        ("path+file:///home/dev/uuidstub#uuid@1.19.0", ("uuid", "1.19.0", "path")),
        ("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
         ("serde", "1.0.0", "registry")),
        ("sparse+https://index.crates.io/#serde@1.0.215", ("serde", "1.0.215", "sparse")),
        ("git+https://github.com/tokio-rs/tokio?branch=master#tokio@1.41.0",
         ("tokio", "1.41.0", "git")),
        ("git+https://github.com/a/foo#0.2.0", ("foo", "0.2.0", "git")),
        ("corelib 0.1.0 (path+file:///w/corelib)", ("corelib", "0.1.0", "path")),
        ("serde 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)",
         ("serde", "1.0.0", "registry")),
        ("foo 0.1.0 (git+https://github.com/a/foo?branch=main#0123abcd)", ("foo", "0.1.0", "git")),
    ],
)  # fmt: skip
def test_package_ids_in_both_forms(text: str, expected: tuple[str, str, str]) -> None:
    package = parse_package_id(text)
    assert (package.name, package.version, package.source) == expected


@pytest.mark.parametrize("text", ["serde", "#1.0", "path+file:///w/x#", "serde 1.0"])
def test_bad_package_ids_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="package id"):
        parse_package_id(text)


def test_cold_fresh_and_touched_builds_of_a_real_workspace() -> None:
    cold = CargoFile.open(CARGO / "build_cold.jsonl").read()
    assert [(u.name, u.target_kind, u.fresh) for u in cold.units] == [
        ("corelib", "custom-build", False),
        ("corelib", "lib", False),
        ("app", "bin", False),
    ]
    assert cold.success is True and cold.warnings == 1 and cold.errors == 0
    assert all(u.member and u.source == "path" for u in cold.units)
    assert [u.build_script for u in cold.units] == [True, True, False]
    assert all(u.fresh for u in CargoFile.open(CARGO / "build_fresh.jsonl").read().units)
    touched = _read("build_incremental_app_touched.jsonl")
    assert [fresh for *_, fresh in touched] == [True, True, False]


def test_test_builds_and_failed_builds() -> None:
    assert ("corelib", "lib", "test", False) in _read("test_no_run.jsonl")
    failed = CargoFile.open(CARGO / "build_error.jsonl").read()
    assert failed.success is False and failed.errors == 1
    assert len(failed.units) == 2


def test_a_path_dependency_outside_the_workspace_is_not_a_member() -> None:
    units = CargoFile.open(COLD).read().units
    members = {u.name: u.member for u in units}
    assert members["uuid"] is False  # /home/dev/uuidstub, outside /home/dev/nxt
    assert members["fixture-project"] is True and members["nextest-derive"] is True
    # A workspace given explicitly wins over the one read from the target directory.
    chosen = CargoFile.open(COLD).read(workspace="/home/dev/uuidstub").units
    assert {u.name for u in chosen if u.member} == {"uuid"}


def test_release_profile_is_read() -> None:
    units = CargoFile.open(CARGO / "fixture-project_build_release_rendered-ansi.jsonl").read().units
    assert {u.profile for u in units if u.target_kind != "custom-build"} == {
        "opt-level=3 debuginfo=0"
    }


def test_timings_report_gives_seconds_and_the_build_script_run() -> None:
    timings = read_timings(TIMINGS)
    units = CargoFile.open(COLD).read(timings=timings).units
    seconds = {(u.name, u.target_kind, u.target_name, u.mode): u.seconds for u in units}
    assert seconds[("uuid", "lib", "uuid", "build")] == 0.41
    assert seconds[("fixture-project", "bin", "wrapper", "build")] == 0.35
    assert seconds[("with-build-script", "custom-build", "build-script-build", "build")] == 0.38
    run = seconds[("with-build-script", "custom-build", "build-script-build", "run-custom-build")]
    assert run == 0.07
    assert all(s is not None for s in seconds.values())


def test_fresh_units_get_no_seconds_from_timings() -> None:
    fresh = CargoFile.open(CARGO / "fixture-project_build_fresh.jsonl")
    assert all(u.seconds is None for u in fresh.read(timings=read_timings(TIMINGS)).units)


def test_timing_info_lines_in_the_stream() -> None:
    lib = {"kind": ["lib"], "crate_types": ["lib"], "name": "ring", "src_path": "/r/src/lib.rs"}
    script = {**lib, "kind": ["custom-build"], "name": "build-script-build"}
    package = "registry+https://github.com/rust-lang/crates.io-index#ring@0.17.8"
    profile = {"opt_level": "0", "debuginfo": 2, "debug_assertions": True,
               "overflow_checks": True, "test": False}  # fmt: skip
    lines = [
        {"reason": "timing-info", "package_id": package, "target": script,
         "mode": "run-custom-build", "duration": 1.5},
        {"reason": "compiler-artifact", "package_id": package, "target": lib, "profile": profile,
         "features": ["std", "alloc"], "filenames": ["/w/target/debug/deps/libring.rlib"],
         "executable": None, "fresh": False},
        {"reason": "timing-info", "package_id": package, "target": lib, "mode": "build",
         "duration": 7.25, "rmeta_time": 3.1},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines).encode()
    units = read_messages(io.BytesIO(text), "t.jsonl").units
    assert [(u.target_kind, u.mode, u.seconds, u.features) for u in units] == [
        ("lib", "build", 7.25, "alloc,std"),
        ("custom-build", "run-custom-build", 1.5, ""),
    ]
    assert units[0].source == "registry" and not units[0].member


def test_human_lines_are_skipped() -> None:
    text = COLD.read_bytes().replace(
        b"\n", b"\n   Compiling fixture-project v0.1.0 (/home/dev/nxt)\n[2026] log line\n", 2
    )
    text += b"    Finished `dev` profile [unoptimized + debuginfo] target(s) in 1.41s\n"
    assert len(read_messages(io.BytesIO(text), "mixed.log").units) == 11


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b'{"reason":"compiler-artifact"', "malformed JSON"),
        (b"  {not json}", "malformed JSON"),
        (b'{"reason":"compiler-artifact","x":"a\tb"}',
         "malformed JSON: Invalid control character at column"),
        (b'{"reason":"compiler-artifact","package_id":"x#1","fresh":true}',
         "package id 'x#1'"),
        (b'{"reason":"build-finished","success":"yes"}',
         "build-finished without a valid 'success'"),
        (b'{"reason":"build-script-executed","package_id":"a\\u0000 1.0 (path+file:///a)"}',
         "NUL character"),
        (b'{"reason":"build-script-executed","package_id":"\\ud800 1.0 (path+file:///a)"}',
         "lone surrogate"),
        (b'{"reason":"build-finished","success":true}\xff', "malformed JSON: not UTF-8"),
    ],
)  # fmt: skip
def test_malformed_lines_are_named_by_line(line: bytes, problem: str) -> None:
    text = COLD.read_bytes().splitlines(keepends=True)
    text.insert(3, line + b"\n")
    with pytest.raises(InputError, match=rf"^bad\.jsonl:4: .*{problem}"):
        read_messages(io.BytesIO(b"".join(text)), "bad.jsonl")


def test_a_long_human_line_is_skipped_and_a_long_message_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pilothouse.sources.cargo.MAX_LINE_BYTES", 64)
    human = b"x" * 500 + b"\n"
    units = read_messages(io.BytesIO(human + b'{"reason":"build-finished","success":true}\n'), "l")
    assert units.success is True
    with pytest.raises(InputError, match="^l:2: message longer than 64 bytes"):
        read_messages(io.BytesIO(human + b'{"reason":"' + b"y" * 100 + b'"}\n'), "l")


def test_a_timings_report_that_is_not_one_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "cargo-timing.html"
    page.write_text("<html><body>no data</body></html>")
    with pytest.raises(InputError, match="not a cargo timings report"):
        read_timings(page)
    page.write_text('<html><script>const UNIT_DATA = [{"name": 1}];</script></html>')
    with pytest.raises(InputError, match=r"cargo-timing\.html:1: UNIT_DATA entry \?: name"):
        read_timings(page)


# -- CLI, both backends ----------------------------------------------------------


def _ingest(cli: Cli, *args: str) -> dict[str, int]:
    return dict(cli.json("ingest", "cargo", *args))


def test_ingest_is_idempotent_per_file(cli: Cli) -> None:
    first = _ingest(cli, str(COLD), "--run-id", "7", "--job", "build")
    assert first == {"files": 1, "units": 11, "rebuilt": 11, "duplicates": 0}
    again = _ingest(cli, str(COLD), "--run-id", "7", "--job", "build")
    assert again == {"files": 1, "units": 11, "rebuilt": 11, "duplicates": 11}
    crates = cli.json("crates")
    assert crates["runs"] == 1
    assert {c["name"]: c["runs_rebuilt"] for c in crates["crates"]}["fixture-project"] == 1


def test_a_malformed_file_refuses_the_whole_call(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(COLD.read_bytes() + b'{"reason": "compiler-artifact",\n')
    code, out, err = cli("ingest", "cargo", str(COLD), str(bad), "--run-id", "8")
    assert code == 1 and out == ""
    assert err == f"pilothouse: error: {bad}:15: malformed JSON: Expecting property name " \
                  "enclosed in double quotes at column 33\n"  # fmt: skip
    code, _out, err = cli("crates", "--json")
    assert code == 0
    assert json.loads(_out)["runs"] == 0  # the good file of the call was not written


def test_crates_ranks_and_explains_on_real_captures(cli: Cli, tmp_path: Path) -> None:
    cold = tmp_path / "cold.jsonl"
    shutil.copy(COLD, cold)
    _ingest(cli, str(cold), "--run-id", "1", "--workflow", "ci", "--timings", str(TIMINGS))
    _ingest(cli, str(CARGO / "fixture-project_build_all-targets_with-error.jsonl"),
            "--run-id", "2", "--workflow", "ci")  # fmt: skip
    two = {c["name"]: c for c in cli.json("crates")["crates"]}
    # Its build script ran (timings) in 1 of the 2 runs that built it: "each time" enough.
    assert two["with-build-script"]["causes"][0]["cause"] == "build-script"
    _ingest(cli, str(CARGO / "fixture-project_build_fresh.jsonl"), "--run-id", "3")
    data = cli.json("crates")
    assert data["runs"] == 3
    crates = {c["name"]: c for c in data["crates"]}
    core = crates["fixture-project"]
    assert (core["runs_rebuilt"], core["runs_seen"], core["member"]) == (2, 3, True)
    assert core["seconds"] == pytest.approx(0.63 + 0.34 + 0.33 + 0.35)
    assert [c["cause"] for c in crates["uuid"]["causes"]] == ["path-dependency"]
    assert crates["uuid"]["member"] is False
    assert crates["with-build-script"]["causes"][0]["cause"] == "unknown"  # fresh in run 3
    assert [c["name"] for c in data["crates"]][:2] == ["fixture-project", "with-build-script"]
    only_ci = cli.json("crates", "--workflow", "ci")
    assert only_ci["runs"] == 2


def test_crates_table_and_empty_store(cli: Cli) -> None:
    code, _out, err = cli("crates")
    assert code == 1 and "no pilothouse store here" in err  # a reader creates nothing
    _ingest(cli, str(COLD), "--run-id", "1")
    cli.env["COLUMNS"] = "90"
    code, out, _err = cli("crates")
    assert code == 0
    assert "Workspace members rebuilt" in out and "Dependencies rebuilt" in out
    assert "path-dependency" in out
    code, out, _err = cli("crates", "--since", "2030-01-01")
    assert code == 0 and out.startswith("No cargo builds since 2030-01-01; the store holds")


def test_timings_go_with_one_output(cli: Cli) -> None:
    code, _out, err = cli("ingest", "cargo", str(COLD), str(COLD.with_name("build_cold.jsonl")),
                          "--timings", str(TIMINGS))  # fmt: skip
    assert code == 2 and "--timings" in err


def test_sample_outputs_are_deterministic_and_explained(store: Store) -> None:
    from datetime import UTC, datetime

    from pilothouse.cargo_ingest import ingest_cargo
    from pilothouse.model import RunInfo

    now = datetime(2026, 11, 27, tzinfo=UTC)
    for number in range(6):
        run = RunInfo("github", "hypha-labs/hypha", str(100 + number), workflow="ci-build",
                      job="build", created_at=now)  # fmt: skip
        outputs = cargo_outputs(run, seed=7)
        assert [o.digest for o in outputs] == [o.digest for o in cargo_outputs(run, seed=7)]
        ingest_cargo(store, outputs, run, now=now)
    runs, rows, profiles = store.crate_rebuilds()
    ranked = {c.name: c for c in rank_crates(rows, profiles)}
    assert runs == 6
    assert ranked["ring"].runs_rebuilt == 6 and ranked["ring"].causes[0][0] == "build-script"
    assert ranked["tokio"].causes[0][0] == "feature-unification"
    assert ranked["hypha-core"].member and ranked["hypha-core"].runs_rebuilt == 6
    assert ranked["hypha-core"].seconds is not None


def test_concurrent_ingests_of_one_run_all_succeed(store_url: str, tmp_path: Path) -> None:
    """Four jobs of one run store their cargo output at once, two of them the same
    output (a retried upload): every writer succeeds, the repeated output once."""
    outputs = [COLD, COLD, CARGO / "fixture-project_build_fresh.jsonl", CARGO / "test_no_run.jsonl"]
    argvs = [["ingest", "cargo", str(path), "--run-id", "9", "--job", "build", "--json"]
             for path in outputs]  # fmt: skip
    results = race(store_url, tmp_path, argvs)
    assert [code for code, _out, _err in results] == [0] * 4, results
    printed = [json.loads(out) for _code, out, _err in results]
    assert sorted(p["duplicates"] for p in printed[:2]) == [0, 11]
    with Store.open(store_url) as store:
        runs, rows, _profiles = store.crate_rebuilds()
    assert runs == 1
    assert {r["name"]: int(r["runs_rebuilt"]) for r in rows}["fixture-project"] == 1


def test_a_file_without_cargo_messages_is_refused(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text('   Compiling app v0.1.0\n{"type": "test", "event": "ok"}\n')
    code, _out, err = cli("ingest", "cargo", str(log))
    assert code == 1
    assert err == f"pilothouse: error: {log}: no cargo JSON message (expected `cargo " \
                  "build|test|check --message-format=json` output)\n"  # fmt: skip


def test_timings_reports_of_newer_cargo(tmp_path: Path) -> None:
    """`cargo report timings` (cargo 1.93+) writes `NAME "KIND"` and lists features."""
    entries = [
        {"i": 0, "name": "app", "version": "0.1.0", "mode": "todo", "target": ' app "bin"',
         "features": [], "start": 0.5, "duration": 2.5, "unblocked_units": [],
         "unblocked_rmeta_units": [], "sections": None},
        {"i": 1, "name": "corelib", "version": "0.1.0", "mode": "todo", "target": " (check)",
         "features": ["std"], "start": 0.0, "duration": 0.75, "unblocked_units": [0],
         "unblocked_rmeta_units": [], "sections": None},
        {"i": 2, "name": "corelib", "version": "0.1.0", "mode": "run-custom-build",
         "target": " build-script (run)", "features": [], "start": 0.0, "duration": 0.25,
         "unblocked_units": [], "unblocked_rmeta_units": [], "sections": None},
    ]  # fmt: skip
    page = tmp_path / "cargo-timing.html"
    page.write_text(f"<html><script>\nconst UNIT_DATA = {json.dumps(entries, indent=2)};\n"
                    "const CONCURRENCY_DATA = [];\n</script></html>")  # fmt: skip
    found = {(t.name, t.kind, t.target, t.mode): t.seconds for t in read_timings(page).values()}
    assert found == {
        ("app", "bin", "app", "build"): 2.5,
        ("corelib", "lib", "", "check"): 0.75,
        ("corelib", "custom-build", "", "run-custom-build"): 0.25,
    }


def test_github_actions_environment_fills_the_run_and_the_workspace(cli: Cli) -> None:
    """Inside a job the run, job and workflow come from the environment, as for
    `ingest junit`; $GITHUB_WORKSPACE is the workspace root (here: the uuid stub's
    directory, so only uuid is a member) and a cargo output and a JUnit report of one
    job meet on one job row."""
    cli.env.update(GITHUB_ENV, GITHUB_WORKSPACE="/home/dev/uuidstub")
    assert _ingest(cli, str(COLD))["units"] == 11
    cli.json("ingest", "junit", str(DATA / "junit" / "nextest" / "fixture-project-junit.xml"))
    (run,) = cli.json("runs")["runs"]
    assert (run["id"], run["attempt"], run["workflow"]) == ("987654321", 2, "tests-all")
    assert run["commit"] == GITHUB_ENV["GITHUB_SHA"]
    assert [job["name"] for job in run["jobs"]] == ["nextest"]
    members = {c["name"] for c in cli.json("crates", "--workflow", "tests-all")["crates"]
               if c["member"]}  # fmt: skip
    assert members == {"uuid"}


def test_hostile_values_are_stored_alike_on_both_backends(cli: Cli, tmp_path: Path) -> None:
    """A 100 KB crate name, non-ASCII features and versions: stored as given."""
    name = "crate-" + "é" * 50_000
    text = COLD.read_text().replace('"features":[]', '"features":["ünï","zstd"]', 1)
    text = text.replace("uuidstub#uuid@1.19.0", f"uuidstub#{name}@1.19.0-ß")
    output = tmp_path / "hostile.jsonl"
    output.write_text(text)
    _ingest(cli, str(output), "--run-id", "1")
    crates = {c["name"]: c for c in cli.json("crates")["crates"]}
    assert crates[name]["version"] == "1.19.0-ß" and not crates[name]["member"]


_NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)
_VERSIONS = st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-[a-z0-9.]{1,8})?", fullmatch=True)


@given(name=_NAMES, version=_VERSIONS, folder=_NAMES, registry=st.booleans())
def test_package_ids_round_trip(name: str, version: str, folder: str, registry: bool) -> None:
    """Every form cargo writes for a package gives back its name, version and source."""
    if registry:
        source, url = "registry", "https://github.com/rust-lang/crates.io-index"
    else:
        source, url = "path", f"file:///w/{folder}"
    new = f"{source}+{url}#{version}" if url.endswith("/" + name) else \
          f"{source}+{url}#{name}@{version}"  # fmt: skip
    for text in (new, f"{name} {version} ({source}+{url})"):
        package = parse_package_id(text)
        assert (package.name, package.version, package.source) == (name, version, source)
    short = parse_package_id(f"path+file:///w/{folder}/{name}#{version}")  # name = last segment
    assert (short.name, short.version, short.local_dir) == (name, version, f"/w/{folder}/{name}")


def test_profile_and_feature_causes_on_real_captures(cli: Cli, tmp_path: Path) -> None:
    """One run builds the workspace in dev and in release (`profile`); two of its jobs
    build uuid with different features (`feature-unification`)."""
    release = CARGO / "fixture-project_build_release_rendered-ansi.jsonl"
    _ingest(cli, str(COLD), "--run-id", "1", "--job", "debug")
    _ingest(cli, str(release), "--run-id", "1", "--job", "release")
    crates = {c["name"]: c for c in cli.json("crates")["crates"]}
    assert [c["cause"] for c in crates["proc-macro-test"]["causes"]] == ["profile"]
    assert [c["cause"] for c in crates["uuid"]["causes"]] == ["path-dependency", "profile"]
    other = tmp_path / "other-features.jsonl"
    other.write_text(COLD.read_text().replace('"features":[]', '"features":["v4"]', 1))
    _ingest(cli, str(other), "--run-id", "1", "--job", "debug-v4")
    uuid = next(c for c in cli.json("crates")["crates"] if c["name"] == "uuid")
    assert [c["cause"] for c in uuid["causes"]] == [
        "feature-unification",
        "path-dependency",
        "profile",
    ]
