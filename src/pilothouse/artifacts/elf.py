"""What stripping an ELF binary would save, two ways.

`objcopy` (binutils), when on PATH, is run on a temporary copy with `--strip-debug` and
`--strip-unneeded` and the outputs are measured: the real figure. Without it, or when it
cannot handle the file, the figure is estimated from the section headers (pyelftools): the
sections stripping removes (their bytes, their header entry and their name), which is what
objcopy removes short of alignment padding.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"
# Sections `--strip-debug` removes: the ones binutils flags as debugging.
DEBUG_PREFIXES = (".debug", ".zdebug", ".gnu.debuglto_", ".line", ".stab", ".gdb_index")
# Sections `--strip-unneeded` also removes from an executable or a shared library, whose
# static symbol table no relocation needs (the dynamic one stays).
SYMBOL_SECTIONS = (".symtab", ".strtab")
OBJCOPY_TIMEOUT = 600

OBJCOPY = "objcopy"
SECTIONS = "sections"


@dataclass(frozen=True, slots=True)
class StripSizes:
    """Bytes `--strip-debug` and `--strip-unneeded` remove from one file, and how known."""

    debug: int
    unneeded: int
    method: str  # OBJCOPY (measured) or SECTIONS (estimated)


def is_elf(head: bytes) -> bool:
    return head.startswith(ELF_MAGIC)


def strip_sizes(path: Path, objcopy: str | None, workdir: Path) -> StripSizes | None:
    """What stripping *path* (a temporary copy) saves: measured by *objcopy* when given and
    it succeeds, else estimated from sections; None for an ELF neither can read."""
    if objcopy is not None:
        measured = measure_with_objcopy(path, objcopy, workdir)
        if measured is not None:
            return measured
    return estimate_from_sections(path)


def measure_with_objcopy(path: Path, objcopy: str, workdir: Path) -> StripSizes | None:
    """Run objcopy on *path* into *workdir* (never in place) and measure its outputs."""
    size = path.stat().st_size
    after = []
    for flag in ("--strip-debug", "--strip-unneeded"):
        out = workdir / f"stripped{flag}"
        try:
            done = subprocess.run(
                [objcopy, flag, str(path), str(out)],
                capture_output=True,
                timeout=OBJCOPY_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or not out.exists():
            return None
        after.append(out.stat().st_size)
        out.unlink()
    return StripSizes(debug=size - after[0], unneeded=size - after[1], method=OBJCOPY)


def estimate_from_sections(path: Path) -> StripSizes | None:
    """Bytes of the sections stripping removes, read from the section headers."""
    try:
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            entry = int(elf["e_shentsize"])
            kind = str(elf["e_type"])
            sections = [
                (str(s.name), int(s["sh_size"]), s["sh_type"] == "SHT_NOBITS")
                for s in elf.iter_sections()
            ]
    except Exception:  # noqa: BLE001 - a hostile or truncated ELF can fail pyelftools anywhere
        return None
    return section_savings(sections, shentsize=entry, linked=kind in ("ET_EXEC", "ET_DYN"))


def section_savings(
    sections: list[tuple[str, int, bool]], *, shentsize: int, linked: bool
) -> StripSizes:
    """The estimate from (name, size, nobits) triples; *linked*: an executable or shared
    library, whose static symbol table `--strip-unneeded` drops whole.

    >>> section_savings([(".debug_info", 100, False), (".text", 50, False)],
    ...                 shentsize=64, linked=True).debug
    176
    """

    def cost(name: str, size: int, nobits: bool) -> int:
        return (0 if nobits else size) + shentsize + len(name.encode()) + 1

    debug = sum(cost(*s) for s in sections if s[0].startswith(DEBUG_PREFIXES))
    symbols = sum(cost(*s) for s in sections if linked and s[0] in SYMBOL_SECTIONS)
    return StripSizes(debug=debug, unneeded=debug + symbols, method=SECTIONS)
