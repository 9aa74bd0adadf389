"""Instance utilisation for right-sizing: a CSV of resource, instance type and peak CPU.

Columns (case-insensitive): ``resource``, ``instance_type``, and ``peak_cpu`` (or
``cpu_p95`` / ``cpu_max``) in percent, e.g. exported from CloudWatch's
CPUUtilization p95 per instance.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from pilothouse.analysis.whatif import Utilisation
from pilothouse.errors import InputError

_CPU = ("peak_cpu", "cpu_p95", "cpu_max")
MAX_BYTES = 16 * 1024 * 1024  # a row per instance: megabytes would be a fleet of 100,000


def _rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows; a file too large, not UTF-8 or not CSV is an InputError."""
    try:
        with path.open("rb") as stream:  # bounded: /dev/zero has no end
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: over {MAX_BYTES >> 20} MiB: not a utilisation CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        raise InputError(f"{path}: not CSV: {exc}") from None


def read_utilisation(path: Path) -> list[Utilisation]:
    rows = _rows(path)
    header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    cpu = next((c for c in _CPU if c in header), None)
    missing = [c for c in ("resource", "instance_type") if c not in header]
    if cpu is None:
        missing.append(" or ".join(_CPU))
    if not rows or missing or cpu is None:
        raise InputError(f"{path}: missing column(s) {', '.join(missing) or 'all (empty file)'}")
    found = []
    for number, row in enumerate(rows, start=1):
        values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            peak = float(values[cpu].rstrip("%"))
        except ValueError:
            raise InputError(
                f"{path}: row {number}: {cpu} is not a number: {values[cpu]!r}"
            ) from None
        if not math.isfinite(peak) or not 0 <= peak <= 100:
            raise InputError(f"{path}: row {number}: {cpu} must be 0..100, got {peak:g}")
        found.append(Utilisation(values["resource"], values["instance_type"], peak))
    return found
