"""Helpers of the HTML report's tests: reading the file back, and a history whose test
names and failure messages are markup."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import lxml.html

from tests.conftest import FIXED_NOW, Cli

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_MESSAGE = "</script><script>alert(2)</script>"
XSS_FAILING = "Bobby</td><script>alert(3)</script>"
# A link inside the file: a fragment, or a data: URL (the favicon that asks for nothing).
INSIDE = ("#", "data:")


def parse(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def outside_references(document: lxml.html.HtmlElement) -> list[str]:
    """Every src/href (and srcset, poster, action...) that is not inside the file."""
    found = []
    for element in document.iter():
        for attribute in ("src", "href", "srcset", "poster", "action", "data", "formaction"):
            value = element.get(attribute)
            if value is not None and value.strip() and not value.strip().startswith(INSIDE):
                found.append(f"<{element.tag} {attribute}={value!r}>")
    return found


def embedded(document: lxml.html.HtmlElement, id_: str = "report-data") -> Any:
    (script,) = document.xpath(f"//script[@id='{id_}']")
    return json.loads(script.text)


def _junit(path: Path, cases: list[tuple[str, str, str | None]]) -> Path:
    """A JUnit file of (classname, name, failure message or None) test cases."""
    body = "".join(
        f"<testcase classname={quoteattr(classname)} name={quoteattr(name)} time='0.5'>"
        + ("" if message is None else f"<failure message={quoteattr(message)}/>")
        + "</testcase>"
        for classname, name, message in cases
    )
    path.write_text(f"<testsuite name='s'>{body}</testsuite>", encoding="utf-8")
    return path


def ingest_markup_history(cli: Cli, folder: Path) -> None:
    """Eight runs on eight commits: XSS_NAME fails once (XSS_MESSAGE) and passes on the
    same commit's second attempt (flaky); XSS_FAILING fails in the newest run."""
    for index in range(8):
        started = FIXED_NOW - timedelta(days=8 - index)
        attempts = [(1, index == 3), (2, False)] if index == 3 else [(1, False)]
        for attempt, flaky_fails in attempts:
            cases = [
                ("xss", XSS_NAME, XSS_MESSAGE if flaky_fails else None),
                ("xss", XSS_FAILING, "assertion failed" if index == 7 else None),
                ("xss", "plain", None),
            ]
            report = _junit(folder / f"r{index}-{attempt}.xml", cases)
            code, _out, err = cli(
                "ingest", "junit", str(report), "--run-id", f"r{index}", "--attempt",
                str(attempt), "--commit", f"c{index}", "--workflow", "tests-all",
                "--branch", "main", "--started", started.isoformat(),
            )  # fmt: skip
            assert code == 0, err
