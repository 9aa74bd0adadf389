"""Split a test suite into balanced shards from its timing history.

Every CI job of a sharded suite waits for the slowest shard, so the plan
minimises the makespan (the largest shard). The method:

1. Estimate every test: known tests keep their duration (at least a
   millisecond, JUnit's resolution: a test reported as 0.000 s still costs
   something, and a pile of zeros must not land on one shard); a test with no
   history takes the median of its nearest known neighbours (same parametrised
   test, then class, then file), else the median of all known tests, never the
   mean (one huge test would inflate every guess). With no timing at all (no
   history, or only zeros) every test counts the same: a split by count.
2. Items are tests, or with ``by="class"|"file"`` whole groups, except that a
   group longer than an ideal shard is split into its tests: only where the
   balance needs it.
3. LPT (longest item first onto the least loaded shard), then a deterministic
   local search that moves one item out of the slowest shard, or swaps a pair
   between it and another shard, whenever that lowers the larger of the two.
   It only ever accepts improvements, so the result is never worse than LPT.

The same input always gives the same plan: ties break on test ids and the
search is bounded by a count of rounds, not by a clock.
"""

from __future__ import annotations

import bisect
import heapq
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_ROUNDS = 20_000
MIN_SECONDS = 0.001
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    tests: tuple[str, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class Plan:
    shards: tuple[Shard, ...]
    setup_seconds: float
    lower_bound: float
    unknown: tuple[str, ...]
    estimates: Mapping[str, float]
    timed: bool = True
    """False when there was no timing to balance by and the split is by count."""

    @property
    def makespan(self) -> float:
        """The slowest shard's test time (setup excluded)."""
        return max((s.seconds for s in self.shards), default=0.0)

    @property
    def wall_seconds(self) -> float:
        """What CI waits for: setup plus the slowest shard."""
        return self.setup_seconds + self.makespan


class ShardingError(ValueError):
    """The request cannot be planned (no tests, N < 1, an impossible target)."""


def parse_shard_spec(value: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: shard I of N, with 1 <= I <= N.

    >>> parse_shard_spec("2/4")
    (2, 4)
    """
    index, _, total = value.partition("/")
    if not (index.isdigit() and total.isdigit()) or not 1 <= int(index) <= int(total):
        raise ShardingError(f"{value!r}: expected I/N with 1 <= I <= N")
    return int(index), int(total)


# -- ids and neighbours -------------------------------------------------------------------


def _ancestors(test_id: str) -> list[str]:
    """Keys of ever wider neighbourhoods: parametrised base, class, file.

    >>> _ancestors("tests/t.py::TestA::test_b[1-x]")
    ['tests/t.py::TestA::test_b[', 'tests/t.py::TestA::', 'tests/t.py::']
    """
    keys = []
    if "[" in test_id:
        keys.append(test_id[: test_id.index("[") + 1])
    head = test_id.split("[", 1)[0]
    parts = head.split("::")
    for depth in range(len(parts) - 1, 0, -1):
        keys.append("::".join(parts[:depth]) + "::")
    return keys


def group_of(test_id: str, by: str) -> str:
    """The class (``file::Class``) or file a test belongs to; the test itself for "test"."""
    if by == "test":
        return test_id
    parts = test_id.split("[", 1)[0].split("::")
    if by == "file" or len(parts) < 3:
        return parts[0]
    return "::".join(parts[:-1])


def has_timing(known: Mapping[str, float]) -> bool:
    """Whether durations can balance anything: some test took measurable time."""
    return any(seconds > 0 for seconds in known.values())


def estimate_durations(
    known: Mapping[str, float], tests: Sequence[str]
) -> tuple[dict[str, float], tuple[str, ...]]:
    """A duration for every test in *tests*, and which of them had no history."""
    if not has_timing(known):
        return dict.fromkeys(tests, 1.0), tuple(t for t in tests if t not in known)
    known = {test_id: max(seconds, MIN_SECONDS) for test_id, seconds in known.items()}
    by_key: dict[str, list[float]] = {}
    for test_id, seconds in known.items():
        for key in _ancestors(test_id):
            by_key.setdefault(key, []).append(seconds)
    fallback = statistics.median(known.values())
    result: dict[str, float] = {}
    unknown: list[str] = []
    for test_id in tests:
        if test_id in known:
            result[test_id] = known[test_id]
            continue
        unknown.append(test_id)
        for key in _ancestors(test_id):
            if key in by_key:
                result[test_id] = statistics.median(by_key[key])
                break
        else:
            result[test_id] = fallback
    return result, tuple(unknown)


def count_split_note(tests: int) -> str:
    """What a split by count (no timing to balance by) tells the user."""
    return (
        f"no timing history: {tests} tests split by count; later runs are balanced by time "
        "once their JUnit reports are ingested"
    )


def snapshot(known: Mapping[str, float], tests: Sequence[str]) -> dict[str, float]:
    """The duration every test is planned with, as pytest-split's ``.test_durations``.

    Planning again from this (and the same tests) gives the same shards, so CI
    jobs that each pick their shard agree even when the store moves on meanwhile.
    Empty when there is no timing: every consumer then splits by count.
    """
    ordered = sorted(dict.fromkeys(tests))
    usable = {t: s for t, s in known.items() if math.isfinite(s) and s >= 0}
    if not has_timing(usable):
        return {}
    return estimate_durations(usable, ordered)[0]


# -- items: tests or groups ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    seconds: float
    key: str
    tests: tuple[str, ...]


def _items(estimates: Mapping[str, float], tests: Sequence[str], by: str, n: int) -> list[_Item]:
    if by == "test":
        return [_Item(estimates[t], t, (t,)) for t in tests]
    groups: dict[str, list[str]] = {}
    for test in tests:
        groups.setdefault(group_of(test, by), []).append(test)
    total = sum(estimates[t] for t in tests)
    ideal = total / n
    items: list[_Item] = []
    for key, members in groups.items():
        seconds = sum(estimates[t] for t in members)
        if seconds > ideal and len(members) > 1:
            items.extend(_Item(estimates[t], t, (t,)) for t in members)  # too big to keep whole
        else:
            items.append(_Item(seconds, key, tuple(members)))
    return items


# -- the algorithm ------------------------------------------------------------------------


def lpt(items: Sequence[_Item], n: int) -> list[list[_Item]]:
    """Longest processing time first: each item onto the least loaded shard."""
    shards: list[list[_Item]] = [[] for _ in range(n)]
    heap = [(0.0, index) for index in range(n)]
    for item in sorted(items, key=lambda i: (-i.seconds, i.key)):
        load, index = heapq.heappop(heap)
        shards[index].append(item)
        heapq.heappush(heap, (load + item.seconds, index))
    return shards


class _Search:
    """Local search over shards kept as duration-sorted lists."""

    def __init__(self, shards: list[list[_Item]]) -> None:
        self.items = [sorted(s, key=lambda i: (i.seconds, i.key)) for s in shards]
        self.keys = [[i.seconds for i in s] for s in self.items]
        self.loads = [sum(k) for k in self.keys]

    def _remove(self, shard: int, position: int) -> _Item:
        item = self.items[shard].pop(position)
        self.keys[shard].pop(position)
        self.loads[shard] -= item.seconds
        return item

    def _add(self, shard: int, item: _Item) -> None:
        position = bisect.bisect_left(self.keys[shard], item.seconds)
        while (
            position < len(self.items[shard])
            and self.keys[shard][position] == item.seconds
            and self.items[shard][position].key < item.key
        ):
            position += 1
        self.items[shard].insert(position, item)
        self.keys[shard].insert(position, item.seconds)
        self.loads[shard] += item.seconds

    def _best_move(self, hi: int, gap: float) -> tuple[float, int]:
        """The item of shard *hi* closest to gap/2 (and below gap): (delta, position)."""
        keys = self.keys[hi]
        target = gap / 2
        position = bisect.bisect_left(keys, target)
        best = (0.0, -1)
        for candidate in (position - 1, position):
            if 0 <= candidate < len(keys) and _EPSILON < keys[candidate] < gap - _EPSILON:
                if best[1] < 0 or abs(keys[candidate] - target) < abs(best[0] - target):
                    best = (keys[candidate], candidate)
        return best

    def _best_swap(self, hi: int, lo: int, gap: float) -> tuple[float, int, int]:
        """A pair (a in hi, b in lo) with a - b closest to gap/2, inside (0, gap)."""
        a_keys, b_keys = self.keys[hi], self.keys[lo]
        target = gap / 2
        best = (0.0, -1, -1)
        j = 0
        for i, a in enumerate(a_keys):
            # b_keys ascending: advance j while a - b_keys[j] > target
            while j < len(b_keys) and a - b_keys[j] > target:
                j += 1
            for candidate in (j - 1, j):
                if 0 <= candidate < len(b_keys):
                    delta = a - b_keys[candidate]
                    if _EPSILON < delta < gap - _EPSILON and (
                        best[1] < 0 or abs(delta - target) < abs(best[0] - target)
                    ):
                        best = (delta, i, candidate)
        return best

    def improve(self, max_rounds: int) -> None:
        for _ in range(max_rounds):
            hi = max(range(len(self.loads)), key=lambda s: (self.loads[s], -s))
            if not self._step(hi):
                return

    def _step(self, hi: int) -> bool:
        for lo in sorted(range(len(self.loads)), key=lambda s: (self.loads[s], s)):
            gap = self.loads[hi] - self.loads[lo]
            if gap <= _EPSILON:
                return False
            move, move_at = self._best_move(hi, gap)
            swap, swap_a, swap_b = self._best_swap(hi, lo, gap)
            if move_at < 0 and swap_a < 0:
                continue
            if swap_a < 0 or (move_at >= 0 and abs(move - gap / 2) <= abs(swap - gap / 2)):
                self._add(lo, self._remove(hi, move_at))
            else:
                a = self._remove(hi, swap_a)
                b = self._remove(lo, swap_b)
                self._add(lo, a)
                self._add(hi, b)
            return True
        return False


def balance(items: Sequence[_Item], n: int, *, max_rounds: int = MAX_ROUNDS) -> list[list[_Item]]:
    """LPT, then local search; never worse than LPT."""
    search = _Search(lpt(items, n))
    search.improve(max_rounds)
    return search.items


def _fill_empty(shards: list[list[_Item]], estimates: Mapping[str, float]) -> list[list[_Item]]:
    """No shard may be empty while there are tests to spare: move the smallest item of
    the fullest shard, splitting a group into its tests when that is all there is."""
    while True:
        empty = [i for i, s in enumerate(shards) if not s]
        if not empty:
            return shards
        donors = [i for i, s in enumerate(shards) if len(s) > 1]
        if not donors:
            groups = [(i, item) for i, s in enumerate(shards) for item in s if len(item.tests) > 1]
            if not groups:
                return shards
            index, group = max(groups, key=lambda g: (len(g[1].tests), g[1].key))
            shards[index].remove(group)
            shards[index].extend(_Item(estimates[t], t, (t,)) for t in group.tests)
            continue
        donor = max(donors, key=lambda i: (sum(x.seconds for x in shards[i]), -i))
        smallest = min(shards[donor], key=lambda x: (x.seconds, x.key))
        shards[donor].remove(smallest)
        shards[empty[0]].append(smallest)


def lower_bound(durations: Sequence[float], n: int) -> float:
    """No plan can beat max(total / N, the longest test)."""
    if not durations:
        return 0.0
    return max(sum(durations) / n, max(durations))


def plan_shards(
    known: Mapping[str, float],
    tests: Sequence[str],
    n: int,
    *,
    by: str = "test",
    setup_seconds: float = 0.0,
    max_rounds: int = MAX_ROUNDS,
) -> Plan:
    """Split *tests* into *n* shards using the *known* durations.

    Every test lands in exactly one shard; no shard is empty while there are at
    least *n* tests; the same input gives the same plan.
    """
    if n < 1:
        raise ShardingError(f"the number of shards must be at least 1, got {n}")
    ordered = sorted(dict.fromkeys(tests))
    if not ordered:
        raise ShardingError("no tests to split")
    usable = {t: s for t, s in known.items() if math.isfinite(s) and s >= 0}
    estimates, unknown = estimate_durations(usable, ordered)
    items = _items(estimates, ordered, by, n)
    shards = _fill_empty(balance(items, n, max_rounds=max_rounds), estimates)
    built = [
        Shard(
            index=i + 1,
            tests=tuple(sorted(t for item in shard for t in item.tests)),
            seconds=sum(item.seconds for item in shard),
        )
        for i, shard in enumerate(sorted(shards, key=_shard_order))
    ]
    return Plan(
        shards=tuple(built),
        setup_seconds=setup_seconds,
        lower_bound=lower_bound([estimates[t] for t in ordered], n),
        unknown=unknown,
        estimates=estimates,
        timed=has_timing(usable),
    )


def _shard_order(shard: list[_Item]) -> tuple[float, str]:
    """Shards numbered slowest first, ties by their first test: stable numbering."""
    return (-sum(i.seconds for i in shard), min((i.key for i in shard), default=""))


def plan_for_target(
    known: Mapping[str, float],
    tests: Sequence[str],
    target_seconds: float,
    *,
    max_shards: int = 64,
    by: str = "test",
    setup_seconds: float = 0.0,
) -> Plan:
    """The smallest number of shards whose predicted wall time meets the target."""
    budget = target_seconds - setup_seconds
    if budget <= 0:
        raise ShardingError(
            f"the target ({target_seconds:.0f} s) leaves no time after setup "
            f"({setup_seconds:.0f} s per shard)"
        )
    ordered = sorted(dict.fromkeys(tests))
    usable = {t: s for t, s in known.items() if math.isfinite(s) and s >= 0}
    estimates, _unknown = estimate_durations(usable, ordered)
    too_long = sorted((t for t in ordered if estimates[t] > budget), key=lambda t: -estimates[t])
    if too_long:
        named = ", ".join(f"{t} ({estimates[t]:.0f} s)" for t in too_long[:5])
        raise ShardingError(
            f"no number of shards meets {target_seconds / 60:g} min: "
            f"{len(too_long)} test(s) alone take longer than the {budget:.0f} s left after "
            f"setup: {named}"
        )
    total = sum(estimates.values())
    start = max(1, int(total // budget))
    for n in range(start, max_shards + 1):
        plan = plan_shards(known, ordered, n, by=by, setup_seconds=setup_seconds)
        if plan.wall_seconds <= target_seconds + _EPSILON:
            return plan
    raise ShardingError(
        f"{max_shards} shards are not enough for {target_seconds / 60:g} min "
        f"(total {total / 60:.1f} min of tests, {setup_seconds:.0f} s setup each); "
        "raise --max-shards or the target"
    )
