"""Near-identical strings without comparing every pair: segment filtering, then rapidfuzz.

`similar_pairs(texts, cutoff)` returns every pair i < j with
`rapidfuzz.fuzz.ratio(texts[i], texts[j]) >= cutoff`: exactly the pairs an all-pairs
scan finds (tests/test_knowledge_loading.py compares the two), in time close to linear
in the number of texts. The loader uses it to find colliding questions.

How, and why no pair is missed (the segment filter of Pass-Join: Li, Deng, Wang and
Feng, VLDB 2011). `ratio` is 100 * (1 - d / (la + lb)), with d the Indel distance
(insertions plus deletions) of strings of lengths la >= lb. A pair scores at least
`cutoff` only if d <= f * (la + lb), with f = 1 - cutoff / 100; and, as d >= la - lb,
only if la <= lb * (1 + f) / (1 - f). So for the shorter string B every partner allows
at most t = f * (lb + longest partner) edits. Cut B into t + 1 segments. An alignment
of the two strings with d <= t edits leaves some segment untouched, and (the
"multi-match-aware" bound) one untouched segment j (0-based, starting at p in B) such
that the edits before it number exactly j: then it appears in A at a position p + s with
|s| <= j and |(la - lb) - s| <= t - j. [Proof: let h(j) be the edits before segment j
minus j. h(0) >= 0, h after the last segment is d - t - 1 < 0, and h falls, by exactly
one, only across an untouched segment with no insertion after it; so some untouched
segment has h(j) = 0.] Strings are taken shortest first; each one looks up, for every
shorter-or-equal partner length, only those few substrings of itself in an index of the
earlier strings' segments, and is then indexed by its own segments. Candidates are
scored with the same `fuzz.ratio` and cutoff an all-pairs scan uses.
"""

from __future__ import annotations

import math
from itertools import chain

from rapidfuzz import fuzz, process

_EPSILON = 1e-9


def _longest(length: int, f: float) -> int:
    """The longest partner a string of `length` can have at the cutoff."""
    return math.floor(length * (1 + f) / (1 - f) + _EPSILON) if f < 1 else 10**9


def _segments(length: int, f: float) -> list[tuple[int, int]]:
    """(start, length) of the segments a string of `length` is cut into: one more than the edits it allows."""
    count = math.floor(f * (length + _longest(length, f)) + _EPSILON) + 1
    short, extra = divmod(length, count)  # the last `extra` segments are one longer
    starts, start = [], 0
    for j in range(count):
        size = short + (j >= count - extra)
        starts.append((start, size))
        start += size
    return starts


def _probes(length: int, f: float) -> list[tuple[int, int, int, int]]:
    """The substrings a string of `length` looks up: (partner length, segment, start, end).

    For every partner length from the shortest possible up to `length` itself."""
    probes = []
    for other in range(max(0, math.ceil(length * (1 - f) / (1 + f) - _EPSILON)), length + 1):
        if length > _longest(other, f):
            continue
        segments = _segments(other, f)
        edits, gap = len(segments) - 1, length - other
        for j, (start, size) in enumerate(segments):
            low = max(-j, gap - (edits - j), -start)
            high = min(j, gap + (edits - j), length - size - start)
            probes.extend((other, j, start + shift, start + shift + size) for shift in range(low, high + 1))
    return probes


def similar_pairs(texts: list[str], cutoff: float,
                  groups: list[object] | None = None) -> list[tuple[int, int, float]]:
    """Every (i, j, score) with i < j and fuzz.ratio(texts[i], texts[j]) >= cutoff.

    Pairs whose `groups` are equal (two questions of one entry) are left out. Ordered as an
    all-pairs scan reports them: by i, then by score (highest first), then by j.
    """
    f = min(max(0.0, 1 - cutoff / 100), 0.999)
    plans: dict[int, list[tuple[dict[str, list[int]], int, int]]] = {}
    segments: dict[int, list[tuple[dict[str, list[int]], int, int]]] = {}
    index: dict[tuple[int, int], dict[str, list[int]]] = {}  # (length, segment number) -> segment -> ids
    members: dict[object, set[int]] = {}  # group -> the ids indexed so far
    found: list[tuple[int, int, float]] = []
    for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        text = texts[i]
        length = len(text)
        if length not in plans:  # each probe and segment names its sub-index once, not a key per string
            plans[length] = [(index.setdefault((other, j), {}), start, end) for other, j, start, end in _probes(length, f)]
            segments[length] = [(index.setdefault((length, j), {}), start, start + size)
                                for j, (start, size) in enumerate(_segments(length, f))]
        candidates = set(chain.from_iterable(filter(None, [segment_ids.get(text[start:end])
                                                            for segment_ids, start, end in plans[length]])))
        if groups is not None:
            candidates -= members.get(groups[i], set())
        if candidates:
            order = sorted(candidates)
            for _, score, at in process.extract(text, [texts[j] for j in order], scorer=fuzz.ratio,
                                                score_cutoff=cutoff, limit=None):
                j = order[at]
                found.append((i, j, score) if i < j else (j, i, score))
        for segment_ids, start, end in segments[length]:
            segment_ids.setdefault(text[start:end], []).append(i)
        if groups is not None:
            members.setdefault(groups[i], set()).add(i)
    found.sort(key=lambda pair: (pair[0], -pair[2], pair[1]))
    return found
