"""Rendering helpers shared by commands: JSON on stdout, width-aware Rich tables,
progress on stderr, durations."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO, cast

from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.progress import Progress
from rich.text import Text

if TYPE_CHECKING:
    from rich.table import Table

# Without COLUMNS, a pipe or file gets this width: logs and CI pages are wider than 80.
PIPE_WIDTH = 160


def output_width(env: Mapping[str, str], *, is_terminal: bool) -> int | None:
    """The width to render for: COLUMNS when set, else the terminal's (None: Rich asks the
    terminal), else PIPE_WIDTH for a pipe or file."""
    columns = env.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if is_terminal else PIPE_WIDTH


def stdout_console(env: Mapping[str, str] | None = None) -> Console:
    """A console for human output on stdout that honours COLUMNS, terminal or pipe.

    Off a terminal, lines lose their trailing blanks (Rich pads titles and wrapped
    text to the width): noise in a log, a file or a diff."""
    environ = os.environ if env is None else env
    terminal = sys.stdout.isatty()
    width = output_width(environ, is_terminal=terminal)
    # cast: TextIOBase has what Rich uses of a file (write, flush, isatty, encoding)
    file = sys.stdout if terminal else cast(TextIO, TrimmedLines(sys.stdout))
    return Console(file=file, highlight=False, soft_wrap=False, width=width, _environ=environ)


# Blanks at the end of a line, before any closing colour codes (kept: FORCE_COLOR in CI).
_TRAILING_BLANKS = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")


def trim_line(line: str) -> str:
    """*line* without its trailing blanks, colour codes after them kept.

    >>> trim_line("Title   "), trim_line("\x1b[1mx  \x1b[0m")
    ('Title', '\x1b[1mx\x1b[0m')
    """
    return _TRAILING_BLANKS.sub(r"\1", line)


class TrimmedLines(io.TextIOBase):
    """Text written to *target* with each line's trailing blanks removed. A line is
    passed on once it ends; flush() passes on an unfinished line but holds back its
    trailing blanks until more text shows whether they end the line."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target
        self._pending = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]  # Rich reads it to pick box characters
        return getattr(self._target, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        if lines:
            self._target.write("\n".join(map(trim_line, lines)) + "\n")
        return len(text)

    def flush(self) -> None:
        body = self._pending.rstrip(" \t")
        self._pending = self._pending[len(body) :]
        if getattr(self._target, "closed", False):  # at exit, after the target
            return
        if body:
            self._target.write(body)
        self._target.flush()


def progress_bar(env: Mapping[str, str] | None = None, *, quiet: bool = False) -> Progress:
    """A transient progress display on stderr, shown only when stderr is a terminal
    (TTY_COMPATIBLE=1 says so, =0 says not) and the output is not for a machine.

    FORCE_COLOR does not count: CI sets it for colour in logs, where a bar is noise.
    """
    environ = os.environ if env is None else env
    flag = environ.get("TTY_COMPATIBLE", "")
    terminal = flag == "1" if flag in ("0", "1") else sys.stderr.isatty()
    console = Console(stderr=True, highlight=False, force_terminal=terminal, _environ=environ)
    shown = terminal and not console.is_dumb_terminal and not quiet
    return Progress(console=console, transient=True, disable=not shown)


# -- tables that fit the width ---------------------------------------------------------

# The table's frame: one rule at the left edge, then per column one space each side and a rule.
_FRAME_PER_COLUMN = 3


@dataclass(frozen=True, slots=True)
class Col:
    """A column of a fitted table.

    *fold*: the column breaks its cells over lines when space is short, never cutting
    them: names after `::`, `/` and the like, or prose between words when *prose*; it keeps
    at least *min_width* cells. *drop*: 0 for a column always
    shown; otherwise its rank among the secondary columns: 1 goes first when the width
    is short, then 2, and so on.
    """

    header: str
    justify: JustifyMethod = "left"
    fold: bool = False
    min_width: int = 12
    drop: int = 0
    prose: bool = False


Cell = str | Text


def _width_of(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _natural(columns: Sequence[Col], rows: Sequence[Sequence[Cell]]) -> list[int]:
    return [
        max([_width_of(c.header), *(_width_of(row[i]) for row in rows)])
        for i, c in enumerate(columns)
    ]


def _needed(columns: Sequence[Col], natural: Sequence[int], shown: Sequence[int]) -> int:
    least = [min(natural[i], columns[i].min_width) if columns[i].fold else natural[i]
             for i in shown]  # fmt: skip
    return sum(least) + _FRAME_PER_COLUMN * len(shown) + 1


def fit_columns(
    columns: Sequence[Col], rows: Sequence[Sequence[Cell]], width: int
) -> tuple[list[int], list[int]]:
    """Which columns to show (indexes) and their widths, for *width* cells.

    Secondary columns go, lowest *drop* first, until the folding columns get their
    min_width; the space left is shared among the folding columns by their needs.
    """
    natural = _natural(columns, rows)
    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: columns[i].drop)
    while _needed(columns, natural, shown) > width and droppable:
        shown.remove(droppable.pop(0))
    folding = [i for i in shown if columns[i].fold]
    widths = {i: min(natural[i], columns[i].min_width) if i in folding else natural[i]
              for i in shown}  # fmt: skip
    spare = width - _needed(columns, natural, shown)
    while spare > 0:  # each cell left goes to the folding column still shortest of its need
        needy = [i for i in folding if widths[i] < natural[i]]
        if not needy:
            break
        widths[max(needy, key=lambda i: natural[i] - widths[i])] += 1
        spare -= 1
    return shown, [widths[i] for i in shown]


# Where a name may break, best first: between path parts, then between words.
_BREAKS = (("::", "/"), (".", " "), ("_", "-"))


def _last_break(text: str, cut: int, seps: tuple[str, ...]) -> int:
    """The end of the last of *seps* in text[:cut], 0 if none."""
    found = (text.rfind(sep, 0, cut) for sep in seps)
    return max((at + len(sep) for at, sep in zip(found, seps, strict=True) if at >= 0), default=0)


def fold_name(text: str, width: int) -> str:
    """Break *text* into lines of at most *width* cells, after a separator (`::`, `/`,
    `.`, `_`, space) where one is near; never drops a character.

    >>> fold_name("crate::module::tests::long_name", 16)
    'crate::module::\ntests::long_name'
    """
    lines: list[str] = []
    rest = text
    while cell_len(rest) > width > 0:
        cut = width
        while cut > 1 and cell_len(rest[:cut]) > width:
            cut -= 1  # a wide character may take two cells; one always goes on a line
        best = next(
            (point for seps in _BREAKS if (point := _last_break(rest, cut, seps)) > width // 2),
            cut,
        )
        lines.append(rest[:best])
        rest = rest[best:]
    lines.append(rest)
    return "\n".join(lines)


def fitted_table(
    title: str, columns: Sequence[Col], rows: Sequence[Sequence[Cell]], width: int
) -> Table:
    """A Rich table of *rows* that fits *width*: names fold (never an ellipsis) and
    secondary columns drop in their declared order."""
    shown, widths = fit_columns(columns, rows, width)
    from rich.table import Table  # here: commands that print no table skip its import

    table = Table(title=title, title_justify="left")
    fitted = list(zip(shown, widths, strict=True))
    for i, size in fitted:
        col = columns[i]
        table.add_column(
            col.header,
            justify=col.justify,
            width=size,
            no_wrap=not col.fold,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(_cell(row[i], size, columns[i]) for i, size in fitted))
    return table


def _cell(cell: Cell, width: int, column: Col) -> Text:
    text = cell if isinstance(cell, Text) else Text(cell)
    if not column.fold or column.prose or _width_of(text) <= width:
        return text
    return Text(fold_name(text.plain, width), style=text.style)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json_text(data) + "\n")


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """*data* as JSON the way every surface writes it (`--json`, the web API):
    datetimes in ISO 8601, text as UTF-8."""
    return json.dumps(data, indent=indent, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def seconds(value: float | None) -> str:
    """Human duration: 0.25s, 12.3s, 4m05s, 1h02m."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def markdown_cell(text: str) -> str:
    """*text* safe inside a Markdown table cell (GitHub's job summary)."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def nextest_filterset(tests: tuple[str, ...]) -> str:
    """A nextest filterset selecting exactly these tests (`cargo nextest run -E ...`)."""

    def quote(text: str) -> str:
        escaped = text
        for char in ("\\", ")", ","):
            escaped = escaped.replace(char, "\\" + char)
        return escaped

    parts = []
    for test in tests:
        binary, space, name = test.partition(" ")
        if space:
            parts.append(f"(binary_id({quote(binary)}) & test(={quote(name)}))")
        else:
            parts.append(f"test(={quote(test)})")
    return " | ".join(parts) if parts else "none()"
