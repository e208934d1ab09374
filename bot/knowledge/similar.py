"""Near-identical strings without comparing every pair: segment filtering, then rapidfuzz.

`similar_pairs(texts, cutoff)` returns every pair i < j with
`rapidfuzz.fuzz.ratio(texts[i], texts[j]) >= cutoff`: exactly the pairs an all-pairs
scan finds (tests/test_knowledge_loading.py compares the two), in time close to linear
in the number of texts. The loader uses it to find colliding questions. Below a cutoff of
DENSE_BELOW the segments are too short to filter anything, and rapidfuzz's `cdist`
compares every pair instead (quadratic, but vectorised and in blocks of bounded memory).

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
segment has h(j) = 0.]

Every string of length L is cut into its segments, and for every partner length up to L
it names the few substrings of itself that could equal that partner's segments. The join
is done with numpy, not a dictionary walked in Python: each segment and each probe is a
64-bit key (a polynomial hash of the substring with the partner length and segment
number), a one-hash Bloom filter drops the probes no segment has, and the rest are
sorted and found in the segments' sorted keys. Hash collisions only add candidates. Each
candidate pair then meets the histogram filter (the Indel distance is at least the L1
distance of the two strings' character counts), which removes nearly all of them, and
the survivors are scored with the same `fuzz.ratio` and cutoff an all-pairs scan uses.
"""

from __future__ import annotations

import math

import numpy as np
from rapidfuzz import fuzz

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


_BASE = np.uint64(0x100000001B3)  # the polynomial hash's base (odd; arithmetic wraps modulo 2**64)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # spreads (partner length, segment number) over the key
_BUCKETS = 64  # characters counted apart by the histogram filter (rarer ones share buckets)


def _prefix_hashes(texts: list[str], length: int) -> np.ndarray:
    """Row r, column k: the hash of texts[r][:k], for texts that all have `length` characters."""
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).reshape(len(texts), length)
    prefix = np.zeros((len(texts), length + 1), dtype=np.uint64)
    for k in range(length):
        prefix[:, k + 1] = prefix[:, k] * _BASE + codes[:, k]
    return prefix


def _window_keys(prefix: np.ndarray, windows: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Keys of (partner length, segment number, text[start:end]) for every row and window: equal
    substrings under the same partner length and segment give equal keys."""
    tags = np.array([other * 65536 + j for other, j, _, _ in windows], dtype=np.uint64)
    starts = np.array([start for _, _, start, _ in windows], dtype=np.intp)
    ends = np.array([end for _, _, _, end in windows], dtype=np.intp)
    powers = np.cumprod(np.concatenate([[1], np.full(prefix.shape[1], _BASE, dtype=np.uint64)]), dtype=np.uint64)
    hashes = prefix[:, ends] - prefix[:, starts] * powers[ends - starts]
    return (hashes ^ (tags * _MIX)) * _MIX


def _histograms(texts: list[str]) -> np.ndarray:
    """Per text, how many of its characters fall in each of _BUCKETS buckets (the commonest characters
    one each, the rest shared). The Indel distance of two strings is at least the L1 distance of their
    histograms (every surplus character must be deleted or inserted), and sharing buckets only lowers it."""
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    counts = np.bincount(codes)
    bucket = np.full(len(counts), _BUCKETS - 1, dtype=np.int64)
    commonest = np.argsort(-counts, kind="stable")[:_BUCKETS - 1]
    bucket[commonest] = np.arange(len(commonest))
    owners = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    histograms = np.bincount(owners * _BUCKETS + bucket[codes], minlength=len(texts) * _BUCKETS)
    kind = np.int16 if max(map(len, texts), default=0) < 2**15 else np.int32
    return histograms.reshape(len(texts), _BUCKETS).astype(kind)


DENSE_BELOW = 90.0
"""Below this cutoff the segments grow short and match everywhere: candidates come from comparing every pair
with rapidfuzz's vectorised `cdist` instead. On the 6,097 shipped questions (2026-12-06) the segment filter
took 0.1 s at 95, 0.3 s at 90, 6.8 s at 80 and 116 s and 19 GB at 70; `cdist` 0.3 s and 60 MB at any cutoff."""
DENSE_ROWS = 256
"""Texts compared with all the others at once by `cdist` (a block of DENSE_ROWS x texts scores)."""


def similar_pairs(texts: list[str], cutoff: float,
                  groups: list[object] | None = None) -> list[tuple[int, int, float]]:
    """Every (i, j, score) with i < j and fuzz.ratio(texts[i], texts[j]) >= cutoff.

    Pairs whose `groups` are equal (two questions of one entry) are left out. Ordered as an
    all-pairs scan reports them: by i, then by score (highest first), then by j.
    """
    if cutoff < DENSE_BELOW:
        first, second = _dense_candidates(texts, cutoff)
    else:
        first, second = _segment_candidates(texts, cutoff)
    if groups is not None and len(first):
        numbers: dict[object, int] = {}
        group_of = np.array([numbers.setdefault(group, len(numbers)) for group in groups], dtype=np.int64)
        keep = group_of[first] != group_of[second]
        first, second = first[keep], second[keep]
    found = []
    for i, j in zip(first.tolist(), second.tolist()):
        longer, shorter = (i, j) if (len(texts[i]), i) > (len(texts[j]), j) else (j, i)
        score = fuzz.ratio(texts[longer], texts[shorter])
        if score >= cutoff:
            found.append((i, j, score))
    found.sort(key=lambda pair: (pair[0], -pair[2], pair[1]))
    return found


def _dense_candidates(texts: list[str], cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair i < j that `cdist` scores near the cutoff or above (float32 scores, hence the margin: the
    exact score decides)."""
    from rapidfuzz import process

    margin = cutoff - 0.01
    firsts, seconds = [], []
    for start in range(0, len(texts), DENSE_ROWS):
        block = process.cdist(texts[start:start + DENSE_ROWS], texts[start:], scorer=fuzz.ratio,
                              score_cutoff=max(margin, 0.0), dtype=np.float32)
        rows, columns = np.nonzero(block >= margin)
        later = columns > rows  # column c is text start + c, row r is text start + r
        firsts.append(start + rows[later])
        seconds.append(start + columns[later])
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate([empty, *firsts]).astype(np.int64), np.concatenate([empty, *seconds]).astype(np.int64))


def _segment_candidates(texts: list[str], cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j that share a segment where an alignment within the cutoff must (see the module's
    docstring) and pass the histogram filter."""
    f = min(max(0.0, 1 - cutoff / 100), 0.999)
    empty = np.zeros(0, dtype=np.int64)
    by_length: dict[int, list[int]] = {}
    for i, text in enumerate(texts):
        by_length.setdefault(len(text), []).append(i)
    segment_keys, segment_owners, probe_keys, probe_owners = [], [], [], []
    for length, ids in by_length.items():
        prefix = _prefix_hashes([texts[i] for i in ids], length)
        owners = np.array(ids, dtype=np.int64)
        segments = [(length, j, start, start + size) for j, (start, size) in enumerate(_segments(length, f))]
        segment_keys.append(_window_keys(prefix, segments).ravel())
        segment_owners.append(np.repeat(owners, len(segments)))
        probes = [probe for probe in _probes(length, f) if probe[0] in by_length]  # partners that exist
        if probes:
            probe_keys.append(_window_keys(prefix, probes).ravel())
            probe_owners.append(np.repeat(owners, len(probes)))
    if not probe_keys:
        return empty, empty
    keys, owners = np.concatenate(segment_keys), np.concatenate(segment_owners)
    order = np.argsort(keys)
    keys, owners = keys[order], owners[order]
    probes, askers = np.concatenate(probe_keys), np.concatenate(probe_owners)
    seen = np.zeros(1 << 24, dtype=bool)  # a one-hash Bloom filter: most probes match no segment at all
    seen[keys & np.uint64((1 << 24) - 1)] = True
    maybe = seen[probes & np.uint64((1 << 24) - 1)]
    probes, askers = probes[maybe], askers[maybe]
    order = np.argsort(probes)  # sorted needles: each search starts where the last one ended
    probes, askers = probes[order], askers[order]
    low, high = np.searchsorted(keys, probes, "left"), np.searchsorted(keys, probes, "right")
    hits = high - low
    firsts = np.repeat(askers, hits)
    seconds = owners[concatenated_ranges(low[hits > 0], hits[hits > 0])]
    keep = firsts != seconds
    firsts, seconds = firsts[keep], seconds[keep]
    pairs = np.sort(np.minimum(firsts, seconds) * len(texts) + np.maximum(firsts, seconds))
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    first, second = pairs // len(texts), pairs % len(texts)
    if len(first):  # the histogram filter: cheap, exact, and it drops nearly every candidate
        histograms = _histograms(texts)
        lengths = np.array([len(t) for t in texts], dtype=np.int64)
        allowed = np.floor(f * (lengths[first] + lengths[second]) + _EPSILON)
        close = np.concatenate([np.abs(histograms[first[k:k + 65536]] - histograms[second[k:k + 65536]]).sum(axis=1)
                                for k in range(0, len(first), 65536)]) <= allowed
        first, second = first[close], second[close]
    return first, second


def concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of range(start, start + count) for each pair, without a Python loop."""
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(ends[-1] if len(ends) else 0)
