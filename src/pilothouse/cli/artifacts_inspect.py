"""`pilothouse artifacts inspect PATH...`: what stripping, compression and deduplication
would save on a build's artifacts, measured on copies; the inputs are never modified."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from pilothouse.artifacts.compress import DEFAULT_METHODS, Method, parse_method
from pilothouse.artifacts.inspect import Options, inspect_inputs, open_inputs
from pilothouse.artifacts.measure import Report, share_percent
from pilothouse.artifacts.sources import DEFAULT_MAX_BYTES, DEFAULT_MAX_RATIO, Limits
from pilothouse.cli.output import Col, fitted_table, print_json, progress_bar, stdout_console
from pilothouse.cli.state import state_of


def inspect(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, directories, zip or tar archives (.tar, .tar.gz, .tar.xz, "
            ".tar.bz2, .tar.zst): together, one artifact."
        ),
    ],  # fmt: skip
    compression: Annotated[
        list[str] | None,
        typer.Option(
            "--compression",
            help="Compression to measure, repeatable: zstd-N (1-22), zstd-N-long, xz-N (0-9), "
            f"xz-Ne, or none (default: {', '.join(DEFAULT_METHODS)}).",
        ),
    ] = None,
    long: Annotated[
        bool, typer.Option("--long", help="Also measure each zstd level with a 128 MiB window.")
    ] = False,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Refuse an archive that expands to more bytes than this.")
    ] = DEFAULT_MAX_BYTES,
    max_ratio: Annotated[
        float,
        typer.Option(min=1, help="Refuse an archive that expands more than this many times."),
    ] = DEFAULT_MAX_RATIO,
    top: Annotated[int, typer.Option(min=1, help="Files listed per table.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure what stripping ELF debug info, zstd and xz compression and removing duplicate
    files would save on an artifact, each alone, on copies: the inputs are only read."""
    state = state_of(ctx)
    methods = _methods(compression or list(DEFAULT_METHODS), long=long)
    objcopy = shutil.which("objcopy", path=state.env.get("PATH", ""))
    options = Options(methods, Limits(max_bytes, max_ratio), objcopy, top)
    inputs = open_inputs([(state.cwd / p, p) for p in paths], options.limits)
    known = [i.content_bytes for i in inputs]
    with progress_bar(state.env, quiet=as_json) as progress:
        total = None if None in known else sum(k or 0 for k in known)
        task = progress.add_task("inspecting", total=total)
        report = inspect_inputs(inputs, options, lambda n: progress.advance(task, n))
    if as_json:
        print_json(report.as_dict())
        return
    _render(stdout_console(state.env), report)


def _methods(names: list[str], *, long: bool) -> tuple[Method, ...]:
    if [n.lower() for n in names] == ["none"]:
        return ()
    try:
        methods = [parse_method(n) for n in names]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--compression") from None
    if long:
        methods += [parse_method(f"{m.name}-long") for m in methods if m.family == "zstd"
                    and not m.long]  # fmt: skip
    return tuple(dict.fromkeys(methods))


def size(value: int) -> str:
    """Bytes in decimal units, as artifact limits are written: 999 B, 1.2 kB, 180.3 MB."""
    if abs(value) < 1000:
        return f"{value} B"
    scaled = float(value)
    for unit in ("kB", "MB", "GB", "TB"):
        scaled /= 1000
        if abs(scaled) < 1000 or unit == "TB":
            break
    return f"{scaled:.1f} {unit}"


def _pct(part: int, total: int) -> str:
    return f"{share_percent(part, total):.1f}%"


def _render(console: Console, report: Report) -> None:
    width = console.width
    console.print(Text(_summary(report)))
    if report.files == 0:
        return
    total = report.bytes
    rows = [
        [s.method, size(s.bytes_after), size(s.saved), _pct(s.saved, total),
         _how(s.measured, s.files)]
        for s in report.savings
    ]  # fmt: skip
    console.print(fitted_table(f"Savings, each alone, from {size(total)}", _SAVINGS, rows, width))
    if note := _stored_note(report):
        console.print(Text(note))
    largest = [[r.name, r.kind, size(r.size), _pct(r.size, total)] for r in report.largest]
    console.print(fitted_table(f"Largest of {report.files} files", _LARGEST, largest, width))
    kinds = [[k, str(n), size(b), _pct(b, total)] for k, n, b in report.kinds]
    console.print(fitted_table("By kind", _KINDS, kinds, width))
    _render_elf(console, report)
    _render_duplicates(console, report)


def _summary(report: Report) -> str:
    names = ", ".join(i.path for i in report.inputs)
    text = f"{names}: {report.files} files, {size(report.bytes)}"
    if report.stored_bytes != report.bytes:
        text += f" ({size(report.stored_bytes)} as stored)"
    if report.skipped:
        text += "; skipped (not content): " + ", ".join(
            f"{why}: {n}" for why, n in report.skipped.items()
        )
    return text


def _stored_note(report: Report) -> str | None:
    """Archives given as input are compressed already: say how the best figure compares."""
    compressed = [s for s in report.savings if s.measured == "compressed"]
    stored = report.stored_bytes
    if stored == report.bytes or not compressed:
        return None
    best = min(compressed, key=lambda s: s.bytes_after)
    change = _pct(best.bytes_after - stored, stored)
    return (
        f"As given the inputs take {size(stored)}; {best.method} would make them "
        f"{size(best.bytes_after)} ({'+' if best.bytes_after >= stored else ''}{change})."
    )


def _how(measured: str, files: int | None) -> str:
    if measured in ("objcopy", "sections", "objcopy+sections", "none"):
        named = {"objcopy": "objcopy", "sections": "section sizes (estimate)", "none": "no ELF"}
        return f"{named.get(measured, 'objcopy, section sizes')} ({files} ELF files)"
    if measured == "sha256":
        return f"sha256 ({files} redundant {'copy' if files == 1 else 'copies'})"
    return measured


def _render_elf(console: Console, report: Report) -> None:
    if not report.elf:
        return
    rows = []
    for r in report.elf:
        assert r.strip is not None
        rows.append([r.name, size(r.size), size(r.strip.debug), size(r.strip.unneeded),
                     r.strip.method])  # fmt: skip
    console.print(fitted_table("ELF binaries, most to gain first", _ELF, rows, console.width))


def _render_duplicates(console: Console, report: Report) -> None:
    if not report.duplicates:
        return
    rows = [
        ["\n".join(_more(d.names, d.copies)), size(d.size), str(d.copies), size(d.saved)]
        for d in report.duplicates
    ]
    console.print(fitted_table("Duplicate files", _DUPLICATES, rows, console.width))


def _more(names: tuple[str, ...], copies: int) -> list[str]:
    return [*names, f"(+{copies - len(names)} more)"] if copies > len(names) else list(names)


_SAVINGS = (
    Col("method"),
    Col("after", "right"),
    Col("saved", "right"),
    Col("saved %", "right"),
    Col("measured with", fold=True, prose=True, min_width=14, drop=1),
)
_LARGEST = (Col("file", fold=True, min_width=20), Col("kind", drop=2),
            Col("size", "right"), Col("share", "right", drop=1))  # fmt: skip
_KINDS = (Col("kind"), Col("files", "right"), Col("size", "right"), Col("share", "right"))
_ELF = (
    Col("file", fold=True, min_width=20),
    Col("size", "right", drop=3),
    Col("strip-debug saves", "right"),
    Col("strip-unneeded saves", "right", drop=2),
    Col("measured", drop=1),
)
_DUPLICATES = (Col("files", fold=True, min_width=20), Col("size", "right"),
               Col("copies", "right"), Col("saved", "right"))  # fmt: skip
