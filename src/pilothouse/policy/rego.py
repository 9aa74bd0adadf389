"""Rego policies over an input document: which packages the files declare, the
queries asked of each (conftest's rule names), and the findings their answers make.

`evaluate` runs regopy in a child process (worker.py); the rest is pure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pilothouse.errors import InputError, PilothouseError, printable

# conftest's rule names: `deny` and `violation` fail the check, `warn` warns.
RULES = {"deny": "fail", "violation": "fail", "warn": "warn"}
MAX_POLICY_BYTES = 1_000_000
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)\s*(?:#.*)?$", re.MULTILINE)
_LOCATION = re.compile(r"^-- (.+):(\d+):(\d+)\s*$")
_ERROR_MESSAGE = re.compile(r"\(errormsg \d+:(.*?)\)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy file: its name (as the user gave it), text and package."""

    name: str
    text: str
    package: str


@dataclass(frozen=True, slots=True)
class Finding:
    policy: str
    package: str
    rule: str
    level: str  # fail | warn
    message: str
    details: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "package": self.package,
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "details": self.details,
        }


def policy_of(name: str, data: bytes) -> Policy:
    """A policy file's text and package, or an InputError naming the file."""
    if len(data) > MAX_POLICY_BYTES:
        raise InputError(f"{name}: over {MAX_POLICY_BYTES:,} bytes: too large for a policy")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    packages = _PACKAGE.findall(text)
    if not packages:
        raise InputError(f"{name}: no `package` declaration: not a Rego policy")
    return Policy(name, text, packages[0])


def queries(policies: Sequence[Policy]) -> list[str]:
    """The rule queries asked, once per package and rule name."""
    packages = sorted({p.package for p in policies})
    return [f"data.{package}.{rule}" for package in packages for rule in RULES]


def _answer(output: str, where: str) -> Any:
    """A query's value from regopy's output text (None: undefined)."""
    if output.strip() == "undefined":
        return None
    if output.lstrip().startswith("(error"):
        messages = _ERROR_MESSAGE.findall(output) or [" ".join(output.split())[:200]]
        raise InputError(f"{where}: {printable(messages[0])}")
    try:
        parsed = json.loads(output)
    except ValueError:
        shown = printable(output)[:200]
        raise PilothouseError(f"policy: unexpected answer from the Rego runtime: {shown}") from None
    expressions = parsed.get("expressions") if isinstance(parsed, dict) else None
    if not expressions:
        return None
    return expressions[0]


def _message(value: Any) -> tuple[str, Any]:
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict):
        message = value.get("msg", value.get("message"))
        if isinstance(message, str):
            return message, value
    return json.dumps(value, sort_keys=True), value


def findings(policies: Sequence[Policy], results: dict[str, str]) -> list[Finding]:
    """The findings of each package's rules, in the policies' order."""
    named: dict[str, str] = {}
    for policy in policies:
        named.setdefault(policy.package, policy.name)
    found = []
    for package, name in named.items():
        for rule, level in RULES.items():
            value = _answer(results.get(f"data.{package}.{rule}", "undefined"), name)
            if value is None or value is False:
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item is True:  # a boolean rule (`deny if {...}`) that holds
                    message, details = f"{package}.{rule}", None
                else:
                    message, details = _message(item)
                found.append(Finding(name, package, rule, level, message, details))
    return found


def parse_error(stderr: str, raised: str) -> str:
    """The runtime's first error as `file:line:col: message` (its printed form)."""
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        match = _LOCATION.match(line)
        if match and index > 0:
            file, row, column = match.groups()
            return f"{file}:{row}:{column}: {lines[index - 1].strip()}"
    return " ".join(raised.split())[:300] or "the Rego runtime refused the policy"


def evaluate(policies: Sequence[Policy], document: Any, *, timeout: float = 60.0) -> list[Finding]:
    """Evaluate *policies* over *document* (in a child process)."""
    request = {
        "modules": [[p.name, p.text] for p in policies],
        "input": document,
        "queries": queries(policies),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pilothouse.policy.worker"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PilothouseError(f"policy: evaluation did not finish in {timeout:g} s") from None
    try:
        answer = json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PilothouseError(
            f"policy: the Rego runtime stopped (exit {done.returncode}): {printable(last)[:200]}"
        )
    if "error" in answer:
        raise InputError(printable(parse_error(done.stderr, str(answer["error"]))))
    return findings(policies, answer["results"])
