"""Streaming reader for JUnit XML and its many dialects.

One pass of lxml's ``iterparse`` with every finished element cleared, so memory
stays bounded whatever the size of the report. DTDs are refused outright: no
JUnit writer emits one, and refusing them closes the door on entity bombs and
external entities (XXE) before any expansion can happen.

Dialects covered: pytest, cargo-nextest, jest-junit, mocha, Maven
Surefire/Failsafe (``flakyFailure``, ``rerunFailure``, ``flakyError``,
``rerunError``), go-junit-report, gotestsum, PHPUnit, Catch2, CTest, CUnit,
JUnit 5, marathon, nested ``<testsuites>`` and a bare ``<testsuite>`` root.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from pilothouse.errors import InputError
from pilothouse.model import Outcome, Retry, TestCase, truncate_message

ROOT_TAGS = frozenset({"testsuites", "testsuite"})
_RETRY_TAGS = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError"})
# Outcome markers some runners put in attributes instead of child elements.
_SKIP_STATUSES = frozenset({"skipped", "skip", "disabled", "notrun", "ignored", "pending"})
_FAIL_STATUSES = frozenset({"failed", "fail", "failure"})
_ERROR_STATUSES = frozenset({"error", "errored"})
_DURATION = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*(s|sec|ms)?\s*$")


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A report (on disk, or in memory when *data* is set) and its content digest."""

    path: Path
    digest: str
    size: int
    data: bytes | None = None

    @classmethod
    def from_bytes(cls, label: str, data: bytes) -> ReportFile:
        return cls(Path(label), hashlib.sha256(data).hexdigest(), len(data), data)

    def testcases(self) -> Iterator[TestCase]:
        """Stream this report's testcases (see iter_testcases)."""
        stream = io.BytesIO(self.data) if self.data is not None else None
        return iter_testcases(self.path, stream)

    @classmethod
    def open(cls, path: Path) -> ReportFile:
        """Hash *path* (streaming) so the same report is recognised however it is named."""
        sha = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    sha.update(block)
                    size += len(block)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        return cls(path=path, digest=sha.hexdigest(), size=size)


def parse_duration(value: str | None) -> float | None:
    """Read a ``time`` attribute as seconds; None when absent or nonsense.

    Tolerates what real writers emit: ``"1,234.5"`` (Surefire with a locale),
    ``"0.5s"``, ``"12ms"``, blanks. Negative, NaN and infinite values are None.

    >>> parse_duration("1,234.5"), parse_duration("250ms"), parse_duration("NaN")
    (1234.5, 0.25, None)
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    match = _DURATION.match(value)
    if match is None:
        return None
    try:
        seconds = float(match.group(1).replace(",", ""))
    except ValueError:
        return None
    if match.group(2) == "ms":
        seconds /= 1000.0
    return seconds if math.isfinite(seconds) else None


def _local(tag: Any) -> str:
    """The tag without its namespace; comments and PIs have no string tag."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _text_of(element: Any) -> str:
    message = element.get("message") or ""
    text = (element.text or "").strip()
    if message and text and not text.startswith(message.strip()):
        return f"{message}\n{text}"
    return message or text


def _retry_of(element: Any, kind: str) -> Retry:
    stack = element.find("stackTrace")
    body = _text_of(element)
    if not body and stack is not None:
        body = (stack.text or "").strip()
    return Retry(
        kind=cast(Any, kind),
        message=truncate_message(body),
        duration=parse_duration(element.get("time")),
    )


def _status_outcome(testcase: Any) -> Outcome | None:
    for attribute in ("status", "result"):
        value = (testcase.get(attribute) or "").strip().lower()
        if value in _SKIP_STATUSES:
            return "skipped"
        if value in _FAIL_STATUSES:
            return "failed"
        if value in _ERROR_STATUSES:
            return "error"
    return None


_new_case = tuple.__new__  # builds a TestCase without NamedTuple.__new__'s overhead


UNNAMED = "(unnamed testcase #"


def unnamed(position: int) -> str:
    """The name of a testcase that has none: its position in the report, so
    nameless testcases stay apart instead of merging into one blank test."""
    return f"{UNNAMED}{position})"


# Longer than any test can take (CI providers stop jobs after hours, at most days).
LONGEST_REAL_SECONDS = 7 * 86_400.0


def duration_scale(longest: float, integral: bool) -> float | None:
    """The factor that turns a report's ``time`` values into seconds, from its
    longest value and whether every value is a whole number; None when the
    values cannot be read as any unit (drop them rather than show them).

    Seconds unless some test would take over a week. Whole numbers too large to
    be even milliseconds are nanoseconds (Go's time.Duration, as written by
    container-structure-test).

    >>> duration_scale(12.5, False), duration_scale(999_638_317, True)
    (1.0, 1e-09)
    >>> duration_scale(700_000.5, False) is None
    True
    """
    if longest <= LONGEST_REAL_SECONDS:
        return 1.0
    if integral and longest / 1_000 > LONGEST_REAL_SECONDS:
        return 1e-9
    return None


def _case_of(testcase: Any, suite: str, position: int) -> TestCase:
    """Decide one testcase's outcome: failure, else error, else skipped, else passed.

    *position* (1-based, in the report) names a testcase without a name."""
    attrib = testcase.attrib
    if not len(testcase) and "status" not in attrib and "result" not in attrib:
        # The common case, a plain pass with no children: the hot path of ingest.
        get = attrib.get
        time = get("time")
        duration: float | None
        try:
            seconds = float(time)  # None raises TypeError
        except (TypeError, ValueError):
            duration = parse_duration(time)
        else:
            duration = seconds if 0.0 <= seconds < math.inf else None
        return _new_case(
            TestCase,
            (
                suite,
                get("classname") or get("class") or suite,
                get("name") or unnamed(position),
                get("file") or "",
                duration,
                "passed",
                "",
                (),
            ),
        )
    found: dict[str, Any] = {}
    retries: list[Retry] = []
    for child in testcase:
        tag = _local(child.tag)
        if tag in _RETRY_TAGS:
            retries.append(_retry_of(child, tag))
        elif tag in ("failure", "error", "skipped", "disabled") and tag not in found:
            found[tag] = child
    outcome: Outcome
    status = _status_outcome(testcase)
    if status == "skipped":
        # An explicit disabled/notrun status means the test did not run, whatever it holds.
        outcome, detail = "skipped", found.get("skipped", found.get("disabled"))
    elif "failure" in found:
        outcome, detail = "failed", found["failure"]
    elif "error" in found:
        outcome, detail = "error", found["error"]
    elif "skipped" in found or "disabled" in found:
        outcome, detail = "skipped", found.get("skipped", found.get("disabled"))
    else:
        outcome, detail = status or "passed", None
        if outcome == "passed" and retries and all(r.kind.startswith("rerun") for r in retries):
            # Only reruns, every one failed: the test never passed.
            outcome = "error" if retries[-1].kind == "rerunError" else "failed"
    name = testcase.get("name") or unnamed(position)
    return TestCase(
        suite=suite,
        classname=testcase.get("classname") or testcase.get("class") or suite,
        name=name,
        file=testcase.get("file") or "",
        duration=parse_duration(testcase.get("time")),
        outcome=outcome,
        message=truncate_message(_text_of(detail)) if detail is not None else "",
        retries=tuple(retries),
    )


def _release(element: Any) -> None:
    """Free a finished element and the siblings before it."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _check_root(path: Path, root: Any) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise InputError(
            f"{path}:1: refused: the report declares a DTD "
            "(JUnit reports never need one; entity expansion is disabled for safety)"
        )
    tag = _local(root.tag)
    if tag not in ROOT_TAGS:
        raise InputError(
            f"{path}:{root.sourceline or 1}: not a JUnit report: root element is <{tag}>, "
            "expected <testsuites> or <testsuite>"
        )


# Finished testcases are cleared at once and unlinked in batches: memory stays
# bounded by this many empty elements while the per-testcase cost stays low.
_UNLINK_EVERY = 256


def _inside_testcase(element: Any) -> bool:
    """Whether *element* is part of a testcase (read when the testcase ends)."""
    for ancestor in element.iterancestors():
        tag = _local(ancestor.tag)
        if tag == "testcase":
            return True
        if tag in ROOT_TAGS:
            return False
    return False


def _suite_name(parent: Any) -> str:
    if parent is None or _local(parent.tag) != "testsuite":
        return ""
    return str(parent.get("name") or "")


def iter_testcases(path: Path, stream: IO[bytes] | None = None) -> Iterator[TestCase]:
    """Yield every testcase of the JUnit report at *path*, streaming.

    Raises InputError naming the file (and line where known) when the file is
    empty, not well-formed XML, declares a DTD, or is not a JUnit document.
    """
    if stream is not None:
        yield from _iter_stream(path, stream)
        return
    try:
        opened = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with opened:  # closed however the reading ends, refusals included
        yield from _iter_stream(path, opened)


def _iter_stream(path: Path, source: IO[bytes]) -> Iterator[TestCase]:
    # Only "end" events: a testcase is read whole when it ends (failure details,
    # retries); every other finished element outside testcases is freed at once.
    events = etree.iterparse(
        source,
        events=("end",),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    parent: Any = None
    suite = ""
    finished = 0
    try:
        for _event, element in events:
            if not checked:
                _check_root(path, element.getroottree().getroot())
                checked = True
            tag = element.tag
            if tag == "testcase" or _local(tag) == "testcase":
                if element.getparent() is not parent:
                    parent = element.getparent()
                    suite = _suite_name(parent)
                finished += 1
                yield _case_of(element, suite, finished)
                element.clear()
                if finished % _UNLINK_EVERY == 0:
                    # The parser runs ahead of the events, so later siblings may
                    # exist already: unlink only what comes before this one.
                    del parent[: parent.index(element)]
            elif tag == "testsuite" or _local(tag) == "testsuite":
                parent = None  # a suite ended: the next testcase looks its suite up again
                _release(element)
            elif not _inside_testcase(element):
                # properties, suite-level system-out, unknown tags: nothing to keep,
                # and a report made of millions of them must not fill the memory.
                _release(element)
        if not checked:  # no JUnit element anywhere: the root decides what it is
            _check_root(path, events.root)
    except etree.XMLSyntaxError as exc:
        raise InputError(_syntax_message(path, exc)) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _syntax_message(path: Path, exc: etree.XMLSyntaxError) -> str:
    text = str(exc.msg or exc).strip()
    if "Document is empty" in text or "no element found" in text:
        return f"{path}: empty file, not a JUnit report"
    if text.startswith("Unregistered error message"):
        text = "truncated or invalid XML" + text.removeprefix("Unregistered error message")
    line = exc.lineno or (exc.position[0] if exc.position else 0)
    location = f"{path}:{line}" if line else str(path)
    first = text.splitlines()[0] if text else "parse error"
    if "amplification" in first or "entity loop" in first.lower():
        # libxml2 stopped an entity bomb (entities used inside an attribute).
        return f"{location}: refused: entity expansion bomb ({first})"
    return f"{location}: malformed XML: {first}"
