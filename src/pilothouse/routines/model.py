"""A routine's report: sections of lines, some of them needing a human."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The exit code of a routine that found something for a human to look at: apart
# from 1 (the routine itself failed: no store, bad settings, a webhook refused).
EXIT_ATTENTION = 6


class Cadence(enum.StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"


# Days each cadence looks back over.
CADENCE_DAYS = {Cadence.daily: 1, Cadence.weekly: 7, Cadence.monthly: 30, Cadence.quarterly: 90}


@dataclass(frozen=True, slots=True)
class Section:
    """One part of a report: what was found (*lines*) and, apart, what needs a human
    (*attention*), with the data it was read from (the commands' --json)."""

    key: str
    title: str
    lines: tuple[str, ...] = ()
    attention: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "attention": list(self.attention),
            "lines": list(self.lines),
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Report:
    cadence: Cadence
    generated_at: datetime
    since: datetime
    sections: tuple[Section, ...]

    @property
    def attention(self) -> list[str]:
        return [f"{s.title}: {line}" for s in self.sections for line in s.attention]

    @property
    def needs_attention(self) -> bool:
        return any(s.attention for s in self.sections)

    @property
    def title(self) -> str:
        return (
            f"pilothouse {self.cadence.value} routine, {self.generated_at:%Y-%m-%d %H:%M} UTC "
            f"(since {self.since:%Y-%m-%d %H:%M})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cadence": self.cadence.value,
            "generated_at": self.generated_at,
            "since": self.since,
            "needs_attention": self.needs_attention,
            "attention": self.attention,
            "sections": [s.as_dict() for s in self.sections],
        }
