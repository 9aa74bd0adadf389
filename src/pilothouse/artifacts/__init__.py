"""Artifact inspection: what stripping ELF debug info, zstd/xz compression and removing
duplicate files would save on a build's artifacts, measured on copies of them.

`sources` reads the inputs (files, directories, zip and tar archives) read-only, with
zip-bomb and path-traversal guards; `elf` sizes what stripping removes (pyelftools section
sizes, or binutils `objcopy` run on a temporary copy); `compress` streams a tar of the
whole artifact through real compressors; `measure` is the pure accumulator that turns file
records into a report; `inspect` ties them together.
"""
