"""Streaming reader for JUnit XML and its many dialects.

One pass of libxml2 driving a parser target (lxml's SAX-like interface): no tree
is built, each testcase becomes a record when it ends, and only the text that
becomes a message is held, so memory stays bounded whatever the size of the
report or of one text in it. DTDs are refused at their first byte: no JUnit
writer emits one, and refusing them closes the door on entity bombs and external
entities (XXE) before one entity is even declared.

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
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from pilothouse.errors import InputError
from pilothouse.model import MAX_MESSAGE_CHARS, Outcome, Retry, TestCase, truncate_message

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

    def testcases(self, stats: ReadStats | None = None) -> Iterator[TestCase]:
        """Stream this report's testcases (see iter_testcases)."""
        stream = io.BytesIO(self.data) if self.data is not None else None
        return iter_testcases(self.path, stream, stats)

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


@dataclass(slots=True)
class ReadStats:
    """What reading a report learnt besides its testcases, complete once it was read
    to its end: the longest ``time`` value, whether every one was a whole number
    (see duration_scale), and the testcases that had no name."""

    longest: float = 0.0
    integral: bool = True
    unnamed: int = 0
    first_unnamed: str = ""


# Text is held up to this many characters (a failure body, a stack trace); the
# rest is only counted, so a 50 MB body costs no memory. More than the store keeps
# (MAX_MESSAGE_CHARS), so a message attribute repeated at the head of the body is
# still recognised.
HELD_TEXT_CHARS = 16 * MAX_MESSAGE_CHARS


class _Text:
    """A text that arrives in chunks: its head, leading whitespace dropped, and its length."""

    __slots__ = ("parts", "held", "length", "trailing")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.held = 0  # characters in parts
        self.length = 0  # characters seen, leading whitespace excluded
        self.trailing = 0  # whitespace characters at the end of what was seen

    def add(self, chunk: str) -> None:
        if not self.length:
            chunk = chunk.lstrip()
            if not chunk:
                return
        self.length += len(chunk)
        kept = len(chunk.rstrip())
        self.trailing = len(chunk) - kept if kept else self.trailing + len(chunk)
        if self.held < HELD_TEXT_CHARS:
            self.parts.append(chunk)
            self.held += len(chunk)

    def head(self) -> tuple[str, int]:
        """The text stripped, at most HELD_TEXT_CHARS of it, and how many characters follow."""
        length = self.length - self.trailing
        head = "".join(self.parts)[: min(length, HELD_TEXT_CHARS)]
        return head, length - len(head)


@dataclass(slots=True)
class _Detail:
    """A child of a testcase that says how it went: failure, error, skipped, a retry."""

    kind: str
    attrib: dict[str, str]
    text: _Text = field(default_factory=_Text)
    stack: _Text | None = None  # a retry's <stackTrace> (Surefire)

    def message(self) -> str:
        """The message attribute and the body, once each (many writers repeat the
        message at the head of the body), cut to MAX_MESSAGE_CHARS."""
        message = self.attrib.get("message") or ""
        text, more = self.text.head()
        if message and text:
            prefix = message.strip()
            if not text.startswith(prefix if not more else prefix[: len(text)]):
                return truncate_message(f"{message}\n{text}", more=more)
            return truncate_message(message)
        if not message and not text and self.stack is not None:
            text, more = self.stack.head()
        return truncate_message(message or text, more=0 if message else more)

    def retry(self) -> Retry:
        return Retry(
            kind=cast(Any, self.kind),
            message=self.message(),
            duration=parse_duration(self.attrib.get("time")),
        )


_OUTCOME_TAGS = ("failure", "error", "skipped", "disabled")


@dataclass(slots=True)
class _OpenCase:
    """A testcase with children, while they are read."""

    attrib: dict[str, str]
    depth: int
    suite: str
    details: dict[str, _Detail] = field(default_factory=dict)  # the first of each kind
    retries: list[_Detail] = field(default_factory=list)
    retry: _Detail | None = None  # the retry being read, if the child is one

    def child(self, tag: str, attrib: dict[str, str]) -> _Text | None:
        """Note a child element; the text to collect, if its text matters."""
        self.retry = None
        if tag in _RETRY_TAGS:
            self.retry = _Detail(tag, attrib)
            self.retries.append(self.retry)
            return self.retry.text
        if tag in _OUTCOME_TAGS and tag not in self.details:
            self.details[tag] = _Detail(tag, attrib)
            return self.details[tag].text
        return None

    def grandchild(self, tag: str) -> _Text | None:
        """A retry's first <stackTrace> is its message when it has no other."""
        retry = self.retry
        if tag != "stackTrace" or retry is None or retry.stack is not None:
            return None
        retry.stack = _Text()
        return retry.stack

    def outcome(self) -> tuple[Outcome, _Detail | None]:
        """Failure, else error, else skipped, else passed; an explicit skipped
        status wins over everything (a disabled test did not run, whatever it holds)."""
        details, retries = self.details, self.retries
        status = _status_outcome(self.attrib)
        skipped = details.get("skipped", details.get("disabled"))
        if status == "skipped":
            return "skipped", skipped
        for tag, outcome in (("failure", "failed"), ("error", "error")):
            if tag in details:
                return cast(Outcome, outcome), details[tag]
        if skipped is not None:
            return "skipped", skipped
        if status is None and retries and all(r.kind.startswith("rerun") for r in retries):
            # Only reruns, every one failed: the test never passed.
            return ("error" if retries[-1].kind == "rerunError" else "failed"), None
        return status or "passed", None


def _status_outcome(attrib: dict[str, str]) -> Outcome | None:
    for attribute in ("status", "result"):
        value = (attrib.get(attribute) or "").strip().lower()
        if value in _SKIP_STATUSES:
            return "skipped"
        if value in _FAIL_STATUSES:
            return "failed"
        if value in _ERROR_STATUSES:
            return "error"
    return None


class _NotJUnit(Exception):
    """The root element is not a JUnit one (its line is looked up afterwards)."""


class _DoctypeRefused(Exception):
    """The report declares a DTD: refused before its first declaration is read."""


class _Reader:
    """The parser's target: lxml calls start, end and data as it reads, and
    testcases become records as they end.

    No tree is built, so memory does not depend on the report, and text of any
    length flows through in chunks: only the text that becomes a message is held,
    up to HELD_TEXT_CHARS.

    Nearly every testcase is plain: no child, no status attribute, a pass. Those
    cost two list operations each as they are read; a run of sibling plain
    testcases becomes records together (_flush), one attribute at a time over the
    whole run. A testcase with a child becomes an _OpenCase as the child starts.
    """

    def __init__(self, stats: ReadStats) -> None:
        self.stats = stats
        self.done: list[TestCase] = []  # finished since the caller last took them
        self.depth = 0
        self.suites: list[tuple[int, str]] = [(-1, "")]  # open testsuites: depth, name
        self.plain: list[dict[str, str]] = []  # attributes of sibling testcases, in order
        self.plain_suite = ""  # their suite
        self.in_plain = False  # the last of them has started and not ended yet
        self.open: list[_OpenCase] = []  # testcases with children, innermost last
        self.text: _Text | None = None  # where character data goes, if anywhere
        self.position = 0  # testcases made into records so far, for the nameless ones

    def doctype(self, *_declaration: object) -> None:
        raise _DoctypeRefused

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        self.text = None  # a child ends the text that matters: its parent's .text
        if self.in_plain:
            self._open_last()
        if tag[0] == "{":
            tag = tag.rpartition("}")[2]
        if tag == "testcase" and depth > 1:  # the common case, first
            plain = self.plain
            if not plain:
                self.plain_suite = self._suite_of(depth)
            plain.append(attrib or {})  # lxml gives an element without attributes a non-dict
            self.in_plain = True
        else:
            self._start(tag, attrib, depth)

    def data(self, chunk: str) -> None:
        if self.text is not None:
            self.text.add(chunk)

    def end(self, _tag: str) -> None:
        self.depth -= 1
        self.text = None
        if self.in_plain:  # a plain testcase ended: it waits in self.plain
            self.in_plain = False
        else:
            self._end(self.depth + 1)

    def close(self) -> None:
        self.flush()

    def take(self) -> list[TestCase]:
        """The records made so far; a testcase that has started but not ended
        waits (its next event may be a child)."""
        last = self.plain.pop() if self.in_plain else None
        self.flush()
        if last is not None:
            self.plain.append(last)
        done, self.done = self.done, []
        return done

    def _start(self, tag: str, attrib: dict[str, str], depth: int) -> None:
        if depth == 1 and tag not in ROOT_TAGS:
            raise _NotJUnit(tag)
        self.flush()  # whatever comes next is no sibling of the plain testcases
        if self.open and depth - self.open[-1].depth == 1:
            self.text = self.open[-1].child(tag, attrib)
        elif self.open and depth - self.open[-1].depth == 2:
            self.text = self.open[-1].grandchild(tag)
        elif tag == "testsuite":
            self.suites.append((depth, attrib.get("name") or ""))

    def _end(self, depth: int) -> None:
        self.flush()
        if self.open and self.open[-1].depth == depth:
            self._finish(self.open.pop())
        elif self.suites[-1][0] == depth:
            self.suites.pop()

    def _suite_of(self, depth: int) -> str:
        """A testcase's suite: its parent's name if the parent is a testsuite."""
        suite_depth, name = self.suites[-1]
        return name if suite_depth == depth - 1 else ""

    def _open_last(self) -> None:
        """The testcase that started last has a child: it is not plain."""
        attrib, suite = self.plain.pop(), self.plain_suite
        self.flush()
        self.open.append(_OpenCase(attrib, self.depth - 1, suite))
        self.in_plain = False

    def flush(self) -> None:
        """Make records of the plain testcases read so far (siblings: one suite).

        Each attribute is read by one map over the whole run (``dict.get`` called
        from C), not by Python code per testcase: the hot path of ingest.
        """
        run, suite = self.plain, self.plain_suite
        if not run:
            return
        self.plain = []
        if any(map(dict.__contains__, run, repeat("status"))) or any(
            map(dict.__contains__, run, repeat("result"))
        ):  # some runner marks outcomes in attributes: decide each one
            for attrib in run:
                self._finish(_OpenCase(attrib, self.depth + 1, suite))
            return
        names = list(map(dict.get, run, repeat("name")))
        if None in names or "" in names:
            names = [n or self._unnamed(self.position + i) for i, n in enumerate(names, 1)]
        classnames = list(map(dict.get, run, repeat("classname")))
        if None in classnames or "" in classnames:
            classnames = [
                c or a.get("class") or suite for c, a in zip(classnames, run, strict=True)
            ]
        files = map(dict.get, run, repeat("file"), repeat(""))
        durations = self._durations(list(map(dict.get, run, repeat("time"))))
        self.position += len(run)
        fields = zip(
            repeat(suite), classnames, names, files, durations,
            repeat("passed"), repeat(""), repeat(()),
        )  # fmt: skip
        self.done.extend(map(_new_case, repeat(TestCase), fields))

    def _durations(self, times: list[str | None]) -> list[float | None]:
        """parse_duration of each, with float() over the whole run when it can."""
        durations: list[float | None]
        try:
            seconds = list(map(float, times))  # type: ignore[arg-type]  # None: TypeError
        except (TypeError, ValueError):
            durations = list(map(parse_duration, times))
        else:
            if all(map(math.isfinite, seconds)) and min(seconds) >= 0:
                durations = seconds  # type: ignore[assignment]
            else:
                durations = list(map(parse_duration, times))
        known = [d for d in durations if d is not None] if None in durations else durations
        if known:
            floats = cast(list[float], known)
            self._note(max(floats), all(map(float.is_integer, floats)))
        return durations

    def _finish(self, case: _OpenCase) -> None:
        attrib, suite = case.attrib, case.suite
        outcome, detail = case.outcome()
        duration = parse_duration(attrib.get("time"))
        if duration is not None:
            self._note(duration, duration.is_integer())
        self.position += 1
        self.done.append(
            TestCase(
                suite=suite,
                classname=attrib.get("classname") or attrib.get("class") or suite,
                name=attrib.get("name") or self._unnamed(self.position),
                file=attrib.get("file") or "",
                duration=duration,
                outcome=outcome,
                message=detail.message() if detail is not None else "",
                retries=tuple(r.retry() for r in case.retries),
            )
        )

    def _note(self, longest: float, integral: bool) -> None:
        stats = self.stats
        stats.longest = max(stats.longest, longest)
        stats.integral = stats.integral and integral

    def _unnamed(self, position: int) -> str:
        name = unnamed(position)
        self.stats.unnamed += 1
        self.stats.first_unnamed = self.stats.first_unnamed or name
        return name


def iter_testcases(
    path: Path, stream: IO[bytes] | None = None, stats: ReadStats | None = None
) -> Iterator[TestCase]:
    """Yield every testcase of the JUnit report at *path* (or in *stream*), streaming.

    Raises InputError naming the file (and line where known) when the file is
    empty, not well-formed XML, declares a DTD, or is not a JUnit document.
    *stats*, when given, is filled in as the report is read.
    """
    stats = stats if stats is not None else ReadStats()
    if stream is not None:
        yield from _read(path, stream, stats)
        return
    try:
        opened = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with opened:  # closed however the reading ends, refusals included
        yield from _read(path, opened, stats)


# Bytes handed to the parser at a time: the testcases of one block are yielded
# before the next is read.
_BLOCK_BYTES = 1 << 16


def _parser(reader: _Reader) -> Any:
    """A parser that can only read what the document itself holds.

    No DTD is loaded and any DOCTYPE is refused as it is met, before one entity
    is declared, so nothing can expand (entity bombs) or be fetched (external
    entities, network). With that door closed, huge_tree only lifts libxml2's
    size limits: a 50 MB <system-out> or CDATA body is read, not refused.
    """
    return etree.XMLParser(  # type: ignore[call-overload]
        target=reader,
        # Only the predefined entities can occur (no DTD, no declarations), and
        # resolving them is what turns "&amp;" in an attribute into "&".
        resolve_entities=True,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
    )


def _read(path: Path, source: IO[bytes], stats: ReadStats) -> Iterator[TestCase]:
    reader = _Reader(stats)
    parser = _parser(reader)
    try:
        for block in iter(lambda: source.read(_BLOCK_BYTES), b""):
            parser.feed(block)
            yield from reader.take()
        parser.close()
        yield from reader.take()
    except etree.XMLSyntaxError as exc:
        raise InputError(_syntax_message(path, exc)) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except _DoctypeRefused:
        raise InputError(
            f"{path}:{_doctype_line(source)}: refused: the report declares a DTD "
            "(JUnit reports never need one; entity expansion is disabled for safety)"
        ) from None
    except _NotJUnit as exc:
        raise InputError(
            f"{path}:{_root_line(source)}: not a JUnit report: root element is <{exc}>, "
            "expected <testsuites> or <testsuite>"
        ) from None


def _doctype_line(source: IO[bytes]) -> int:
    """The line of the DOCTYPE (in the prolog, so in the first block), else 1."""
    source.seek(0)
    head = source.read(_BLOCK_BYTES)
    at = head.find(b"<!DOCTYPE")
    return head.count(b"\n", 0, at) + 1 if at >= 0 else 1


def _root_line(source: IO[bytes]) -> int:
    """The line of the root element, found by parsing the start of the file again."""
    source.seek(0)
    events = etree.iterparse(
        source, events=("start",), resolve_entities=False, load_dtd=False, no_network=True
    )
    try:
        for _event, element in events:
            return element.sourceline or 1
    except etree.XMLSyntaxError:
        pass
    return 1


def _syntax_message(path: Path, exc: etree.XMLSyntaxError) -> str:
    text = str(exc.msg or exc).strip()
    if "Document is empty" in text or "no element found" in text:
        return f"{path}: empty file, not a JUnit report"
    if text.startswith("Unregistered error message"):
        text = "truncated or invalid XML" + text.removeprefix("Unregistered error message")
    line = exc.lineno or (exc.position[0] if exc.position else 0)
    location = f"{path}:{line}" if line else str(path)
    first = text.splitlines()[0] if text else "parse error"
    return f"{location}: malformed XML: {first}"
