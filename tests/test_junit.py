"""The JUnit reader on 104 real reports, on every dialect quirk, and on hostile input."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.errors import InputError
from pilothouse.model import MAX_MESSAGE_CHARS
from pilothouse.sources.junit import ReportFile, duration_scale, iter_testcases, parse_duration

from .conftest import DATA, JUNIT

EXPECTED: dict[str, dict[str, object]] = json.loads((DATA / "junit_expected.json").read_text())


def _parse(xml: str | bytes, name: str = "report.xml") -> list:
    data = xml.encode() if isinstance(xml, str) else xml
    return list(iter_testcases(Path(name), io.BytesIO(data)))


def _counts(cases: list) -> dict[str, int]:
    outcomes = Counter(case.outcome for case in cases)
    return {
        "tests": len(cases),
        "passed": outcomes["passed"],
        "failed": outcomes["failed"],
        "errors": outcomes["error"],
        "skipped": outcomes["skipped"],
    }


def test_the_corpus_is_complete() -> None:
    on_disk = {str(p.relative_to(JUNIT)) for p in JUNIT.rglob("*.xml")}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) == 104


@pytest.mark.parametrize("relative", sorted(k for k, v in EXPECTED.items() if not v.get("refuse")))
def test_real_report_counts_what_its_runner_meant(relative: str) -> None:
    expected = EXPECTED[relative]
    got = _counts(list(iter_testcases(JUNIT / relative)))
    assert got == {k: expected[k] for k in got}


@pytest.mark.parametrize("relative", sorted(k for k, v in EXPECTED.items() if v.get("refuse")))
def test_broken_real_report_is_refused_naming_the_file(relative: str) -> None:
    with pytest.raises(InputError) as caught:
        list(iter_testcases(JUNIT / relative))
    message = str(caught.value)
    assert message.startswith(str(JUNIT / relative))
    assert "\n" not in message


def test_surefire_flaky_failure_passes_and_keeps_its_retry() -> None:
    (case,) = iter_testcases(
        JUNIT / "action-junit-report/maven_surefire_flaky__surefire-report.xml"
    )
    assert case.outcome == "passed"
    assert case.name == "createWebhook"
    assert [r.kind for r in case.retries] == ["flakyFailure"]
    assert "Expected: <false>" in case.retries[0].message


def test_nextest_rerun_failures_fail_and_keep_both_retries() -> None:
    cases = {c.name: c for c in iter_testcases(JUNIT / "nextest/fixture-project-junit.xml")}
    failing = cases["test_failure_assert"]
    assert failing.outcome == "failed"
    assert [r.kind for r in failing.retries] == ["rerunFailure", "rerunFailure"]
    assert failing.retries[0].duration == pytest.approx(0.004)
    assert "assertion `left == right` failed" in failing.message
    assert cases["test_flaky_mod_4"].outcome == "passed"
    assert cases["test_flaky_mod_4"].retries


def test_fields_of_a_pytest_case() -> None:
    xml = """<testsuites><testsuite name="pytest">
      <testcase classname="tests.test_x.TestY" name="test_z[a b-1]" file="tests/test_x.py"
        time="1.25"><failure message="assert 1 == 2">long trace</failure></testcase>
    </testsuite></testsuites>"""
    (case,) = _parse(xml)
    assert case == case._replace()  # a plain NamedTuple
    assert (case.suite, case.classname, case.name, case.file) == (
        "pytest",
        "tests.test_x.TestY",
        "test_z[a b-1]",
        "tests/test_x.py",
    )
    assert case.duration == 1.25
    assert case.outcome == "failed"
    assert case.message == "assert 1 == 2\nlong trace"


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("<failure/>", "failed"),
        ("<error/>", "error"),
        ("<skipped/>", "skipped"),
        ("<failure/><error/>", "failed"),
        ("<error/><skipped/>", "error"),
        ("<system-out>hi</system-out>", "passed"),
        ("<flakyFailure/>", "passed"),
        ("<flakyError/><flakyFailure/>", "passed"),
        ("<failure/><rerunFailure/>", "failed"),
        ("<rerunFailure/>", "failed"),
        ("<rerunError/>", "error"),
        ("", "passed"),
    ],
)
def test_outcome_precedence(body: str, outcome: str) -> None:
    (case,) = _parse(f'<testsuite name="s"><testcase name="t">{body}</testcase></testsuite>')
    assert case.outcome == outcome


@pytest.mark.parametrize(
    ("attributes", "outcome"),
    [
        ('status="disabled"', "skipped"),
        ('status="notrun"', "skipped"),
        ('result="Skip"', "skipped"),
        ('result="Fail"', "failed"),
        ('status="run"', "passed"),
    ],
)
def test_status_attributes(attributes: str, outcome: str) -> None:
    (case,) = _parse(f'<testsuite name="s"><testcase name="t" {attributes}/></testsuite>')
    assert case.outcome == outcome


def test_disabled_status_wins_over_a_failure_child() -> None:
    xml = (
        '<testsuite><testcase name="t" status="disabled">'
        "<failure>x</failure></testcase></testsuite>"
    )
    assert _parse(xml)[0].outcome == "skipped"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1.5", 1.5),
        ("0", 0.0),
        ("1,234.5", 1234.5),
        ("0.5s", 0.5),
        ("250ms", 0.25),
        (" 2 ", 2.0),
        ("1e-3", 0.001),
        ("", None),
        ("abc", None),
        ("-1", None),
        ("NaN", None),
        ("inf", None),
        (None, None),
    ],
)
def test_parse_duration(value: str | None, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


def test_nested_suites_name_the_innermost_suite() -> None:
    xml = """<testsuites>
      <testsuite name="outer">
        <testcase name="a"/>
        <testsuite name="inner"><testcase name="b"/><testsuite name="deep"><testcase name="c"/>
        </testsuite></testsuite>
        <testcase name="d"/>
      </testsuite></testsuites>"""
    assert [(c.suite, c.name, c.classname) for c in _parse(xml)] == [
        ("outer", "a", "outer"),
        ("inner", "b", "inner"),
        ("deep", "c", "deep"),
        ("outer", "d", "outer"),
    ]


def test_namespaced_report_is_read() -> None:
    xml = (
        '<t:testsuite xmlns:t="urn:x" name="s">'
        '<t:testcase name="a"><t:skipped/></t:testcase></t:testsuite>'
    )
    (case,) = _parse(xml)
    assert (case.name, case.outcome) == ("a", "skipped")


def test_cdata_and_non_ascii_survive() -> None:
    xml = """<?xml version="1.0" encoding="UTF-8"?><testsuite name="ünï">
      <testcase name="日本語 テスト" classname="Zażółć">
      <failure><![CDATA[<b>not markup</b> ✓]]></failure></testcase></testsuite>"""
    (case,) = _parse(xml)
    assert (case.suite, case.name, case.classname) == ("ünï", "日本語 テスト", "Zażółć")
    assert case.message == "<b>not markup</b> ✓"


def test_latin1_declared_encoding() -> None:
    data = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><testsuite><testcase name="café"/></testsuite>'
    )
    (case,) = _parse(data.encode("latin-1"))
    assert case.name == "café"


def test_huge_message_is_truncated() -> None:
    xml = (
        f'<testsuite><testcase name="t"><failure message="{"x" * 50_000}"/></testcase></testsuite>'
    )
    (case,) = _parse(xml)
    assert len(case.message) < MAX_MESSAGE_CHARS + 40
    assert case.message.endswith("more chars]")


def test_empty_suite_and_empty_root_are_valid_with_no_tests() -> None:
    assert _parse("<testsuites/>") == []
    assert _parse('<testsuite name="x" tests="0"></testsuite>') == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite><testcase name="&lol9;"/></testsuite>"""


# The DOCTYPE is refused as it is met, before its first declaration is read, so
# no entity exists to expand, in an attribute or in text (huge_tree lifts only
# libxml2's size limits, never this).
@pytest.mark.parametrize(
    "testcase",
    ['<testcase name="&lol9;"/>', "<testcase name='t'><failure>&lol9;</failure></testcase>"],
)
def test_entity_bomb_is_refused_before_any_entity_is_declared(testcase: str) -> None:
    xml = BILLION_LAUGHS.replace('<testcase name="&lol9;"/>', testcase)
    with pytest.raises(InputError, match=r"^bomb.xml:2: refused: the report declares a DTD"):
        _parse(xml, "bomb.xml")


@pytest.mark.parametrize(
    "testcase",
    ['<testcase name="t"><failure>&xxe;</failure></testcase>', '<testcase name="&xxe;"/>'],
)
def test_external_entity_is_never_read(tmp_path: Path, testcase: str) -> None:
    match = "refused: the report declares a DTD"
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f"<testsuite>{testcase}</testsuite>"
    )
    with pytest.raises(InputError, match=match) as caught:
        _parse(xml, "xxe.xml")
    assert "TOP-SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", r"^bad.xml: empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), r"^bad.xml:1: malformed XML"),
        (b"<testsuite><testcase name='a'>", r"^bad.xml:1: malformed XML"),
        (b"<testsuite>\n<testcase name='a'/>\n</testsuites>", r"^bad.xml:3: malformed XML"),
        (
            b"<html><body>hi</body></html>",
            r"^bad.xml:1: not a JUnit report: root element is <html>",
        ),
        (
            b"<assemblies><testsuite/></assemblies>",
            r"not a JUnit report: root element is <assemblies>",
        ),
        (b"just text", r"^bad.xml:1: malformed XML"),
    ],
)
def test_bad_input_names_file_and_line(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        _parse(data, "bad.xml")


def test_unreadable_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        ReportFile.open(tmp_path / "missing.xml")


def test_report_file_digest_is_content_based(tmp_path: Path) -> None:
    one, two = tmp_path / "a.xml", tmp_path / "b.xml"
    one.write_text("<testsuite/>")
    two.write_text("<testsuite/>")
    assert ReportFile.open(one).digest == ReportFile.open(two).digest
    assert ReportFile.open(one).digest == ReportFile.from_bytes("x", b"<testsuite/>").digest


_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="\x00"),
    max_size=20,
)
_kinds = st.sampled_from(["", "<failure/>", "<error/>", "<skipped/>", "<flakyFailure/>"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(_names, _kinds), max_size=6), min_size=1, max_size=5))
def test_any_generated_report_round_trips(suites: list[list[tuple[str, str]]]) -> None:
    from xml.sax.saxutils import quoteattr

    body = "".join(
        f'<testsuite name="s{i}">'
        + "".join(f"<testcase name={quoteattr(n)}>{k}</testcase>" for n, k in cases)
        + "</testsuite>"
        for i, cases in enumerate(suites)
    )
    parsed = _parse(f"<testsuites>{body}</testsuites>")
    flat = [(n, k) for cases in suites for n, k in cases]
    # A testcase without a name is named from its position in the report.
    expected = [n or f"(unnamed testcase #{i})" for i, (n, _) in enumerate(flat, 1)]
    assert [c.name for c in parsed] == expected
    kind_to_outcome = {
        "": "passed",
        "<flakyFailure/>": "passed",
        "<failure/>": "failed",
        "<error/>": "error",
        "<skipped/>": "skipped",
    }
    assert [c.outcome for c in parsed] == [kind_to_outcome[k] for _, k in flat]


# VmHWM, not ru_maxrss: the latter survives exec and so counts the forking parent
# (a big pytest worker) as well.
_MEMORY_PROBE = """
import sys
from pathlib import Path
from pilothouse.sources.junit import iter_testcases
count = sum(1 for _ in iter_testcases(Path(sys.argv[1])))
status = Path("/proc/self/status").read_text().splitlines()
peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(count, peak_kib // 1024)
"""


def test_memory_stays_bounded_by_more_than_testcases(tmp_path: Path) -> None:
    """Suite-level properties and output are freed as they end, like testcases."""
    import subprocess
    import sys

    report = tmp_path / "props.xml"
    with report.open("w") as out:
        out.write('<testsuites><testsuite name="s"><properties>')
        for i in range(400_000):  # ~40 MB of properties
            out.write(f'<property name="key{i}" value="{"v" * 60}"/>')
        out.write('</properties><testcase name="t"/></testsuite></testsuites>')
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(report)], capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    count, peak_mib = map(int, done.stdout.split())
    assert count == 1
    assert peak_mib < 150  # kept whole, the tree of this file takes well over 500 MiB


@pytest.mark.parametrize(
    ("longest", "integral", "scale"),
    [
        (0.0, True, 1.0),
        (3600.0, True, 1.0),  # an hour-long test written in whole seconds
        (604_800.0, True, 1.0),  # a week: the longest a test may plausibly take
        (999_638_317.0, True, 1e-9),  # container-structure-test: Go nanoseconds
        (604_800_001.0, True, 1e-9),  # over a week even as milliseconds
        (604_800_000.0, True, None),  # could be a week in ms or 0.6 s in ns: unknown
        (700_000.0, True, None),  # 8 days as seconds, 11 minutes as ms: unknown
        (999_638_317.5, False, None),  # fractions: not nanoseconds
    ],
)
def test_duration_scale(longest: float, integral: bool, scale: float | None) -> None:
    assert duration_scale(longest, integral) == scale


class _Trickle(io.BytesIO):
    """A stream that returns a few bytes per read, like a slow pipe."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(min(size if size is not None and size >= 0 else 7, 7))


@pytest.mark.parametrize("relative", sorted(k for k, v in EXPECTED.items() if not v.get("refuse")))
def test_a_report_read_in_pieces_gives_the_same_testcases(relative: str) -> None:
    """Events of one testcase can straddle the blocks fed to the parser."""
    data = (JUNIT / relative).read_bytes()
    whole = list(iter_testcases(JUNIT / relative))
    assert list(iter_testcases(Path(relative), _Trickle(data))) == whole


_HUGE_TEXT_PROBE = """
import sys
from pathlib import Path
from pilothouse.sources.junit import iter_testcases
cases = list(iter_testcases(Path(sys.argv[1])))
status = Path("/proc/self/status").read_text().splitlines()
peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print([(c.name, c.outcome, c.message[:5], c.message[-30:]) for c in cases], peak_kib // 1024)
"""


def test_a_50_mb_system_out_and_failure_body_are_read_in_bounded_memory(tmp_path: Path) -> None:
    """libxml2 refuses a text node over 10 MB unless told otherwise; the reader
    streams text and keeps only the head of a failure body."""
    import subprocess
    import sys

    report = tmp_path / "huge.xml"
    line = "x" * 99 + "\n"
    with report.open("w") as out:
        out.write('<testsuite name="s"><testcase name="passes"><system-out>')
        out.writelines(line for _ in range(500_000))  # 50 MB
        out.write('</system-out></testcase><testcase name="fails"><failure message="boom">')
        out.writelines(line for _ in range(500_000))
        out.write("</failure></testcase></testsuite>")
    done = subprocess.run(
        [sys.executable, "-c", _HUGE_TEXT_PROBE, str(report)], capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    cases, peak_mib = done.stdout.rsplit(" ", 1)
    more = len("boom\n") + 500_000 * len(line) - 1 - MAX_MESSAGE_CHARS  # body stripped
    tail = (f"boom\n{line * 40}"[:MAX_MESSAGE_CHARS] + f"… [{more} more chars]")[-30:]
    assert cases == str([("passes", "passed", "", ""), ("fails", "failed", "boom\n", tail)])
    assert int(peak_mib) < 100  # the report is 100 MB


def test_a_huge_cdata_body_is_read_and_cut() -> None:
    body = "y" * 12_000_000  # over libxml2's 10 MB limit for one text node
    xml = f'<testsuite><testcase name="t"><failure><![CDATA[{body}]]></failure></testcase>'
    xml += "</testsuite>"
    (case,) = _parse(xml)
    assert case.outcome == "failed"
    assert (
        case.message == f"{'y' * MAX_MESSAGE_CHARS}… [{12_000_000 - MAX_MESSAGE_CHARS} more chars]"
    )
