"""Match a user's question to FAQ entries: synonyms, typo repair, idf-weighted overlap, rapidfuzz.

The score of an entry (0..1) blends three signals, each computed on stems after
synonyms are expanded and typos repaired against the knowledge base's vocabulary:

- coverage: how much of the question's information (idf-weighted) the entry's
  questions, title and keywords contain (words found only in its answer count less);
- closeness: weighted Dice overlap with the entry's single closest phrasing;
- fuzz: rapidfuzz's token_sort_ratio against that phrasing, for word order and
  near-misses that survive stemming.

`bm25` scores the same question as Okapi BM25 against each entry as one document (its
questions, title, keywords and answer); `faq.py` blends it in for the shortlisted entries.

Only entries sharing at least one stem with the question are considered (an inverted
index), and only the SHORTLIST best covered are scored in full, which keeps a
2,000-entry base fast. Weights and thresholds were chosen by
measurement with `img-advisor eval` (see README, "Matching").
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from bot.answers.normalize import content_stems, normalize
from bot.knowledge import Entry
from bot.knowledge.similar import concatenated_ranges

W_COVERAGE = 0.45
W_CLOSENESS = 0.35
W_FUZZ = 0.20
W_ANSWER_WORDS = 0.3
"""A question word found only in an entry's answer (not its questions) counts this much."""
SHORTLIST = 12
"""Only the entries whose questions cover the most of the question are scored in full."""
TYPO_CUTOFF = 82.0
MIN_TYPO_LENGTH = 4
PREPARED_MEMO = 64
TIE_BREAK = 1e-6
"""Scale of the shortlist's tie-break (far below any real difference in coverage)."""
BM25_K1 = 1.2
BM25_B = 0.75
BM25_ANSWER = 0.5
"""In BM25, a word of the answer counts this much against one of the entry's questions (BM25F-style)."""


@dataclass(frozen=True)
class Candidate:
    """An entry and how well it fits the question (0..1)."""

    entry_id: str
    score: float


class SynonymExpander:
    """Rewrite abbreviations and variants to their canonical words (knowledge/synonyms.yaml)."""

    def __init__(self, synonyms: dict[str, str]):
        self.synonyms = synonyms
        if synonyms:
            alternatives = "|".join(re.escape(v) for v in synonyms)  # longest first
            self._pattern: re.Pattern[str] | None = re.compile(rf"\b(?:{alternatives})\b")
        else:
            self._pattern = None

    def expand(self, normalized: str) -> str:
        """Replace every known variant in already-normalised text."""
        if self._pattern is None:
            return normalized
        return self._pattern.sub(lambda m: self.synonyms[m.group(0)], normalized)


class _Postings(NamedTuple):
    """Where one stem occurs, as arrays that `Matcher.rank` and `Matcher.bm25` add up with `np.bincount`."""

    entries: np.ndarray  # entries whose questions, title or keywords hold the stem (ascending)
    ties: np.ndarray  # per such entry: its tie-break factor, a hair above 1
    phrasings: np.ndarray  # the phrasings holding it (indexes into Matcher._phrasings)
    answer_entries: np.ndarray  # entries holding it only in their answer
    bm25_entries: np.ndarray  # entries whose whole text holds it
    bm25_terms: np.ndarray  # per such entry: the stem's BM25 term score in it


def _indexes(values: Iterable[int] = ()) -> np.ndarray:
    return np.fromiter(values, dtype=np.int64)


def _floats(values: Iterable[float] = ()) -> np.ndarray:
    return np.fromiter(values, dtype=np.float64)


_NOWHERE = _Postings(_indexes(), _floats(), _indexes(), _indexes(), _indexes(), _floats())


def _packed(postings: dict[str, _Postings]) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """The postings as a few long arrays (the knowledge cache pickles them ten times faster than one small
    array per stem and field): the stems, each field's arrays end to end, and where each one ends."""
    stems = list(postings)
    fields = [[getattr(postings[s], name) for s in stems] for name in _Postings._fields]
    ends = np.array([np.cumsum([len(a) for a in arrays]) for arrays in fields], dtype=np.int64).reshape(
        len(fields), len(stems))
    return stems, [np.concatenate([_indexes(), *arrays]) for arrays in fields], ends


def _unpacked(packed: tuple[list[str], list[np.ndarray], np.ndarray]) -> dict[str, _Postings]:
    stems, joined, ends = packed
    fields = [np.split(data, field_ends[:-1]) if len(stems) else [] for data, field_ends in zip(joined, ends)]
    return {stem: _Postings(*parts) for stem, *parts in zip(stems, *fields)}


def _bm25_norms(terms: list[dict[str, float]]) -> list[float]:
    """Per entry, BM25's denominator's constant part: k1 * (1 - b + b * length / average length)."""
    lengths = [sum(t.values()) for t in terms]
    average = (sum(lengths) / max(len(terms), 1) if lengths else 1.0) or 1.0
    return [BM25_K1 * (1 - BM25_B + BM25_B * length / average) for length in lengths]


class Matcher:
    """Ranks FAQ entries for a question."""

    def __init__(self, entries: list[Entry], synonyms: dict[str, str]):
        self.expander = SynonymExpander(synonyms)
        # one message's text is prepared several times (stems, semantic similarity, its parts): a small
        # memo serves the repeats; it is far smaller than a day's distinct questions, so it is not an answer cache
        self.prepared = lru_cache(maxsize=PREPARED_MEMO)(self._prepared_uncached)
        self.entry_ids = [entry.id for entry in entries]
        answer_only: list[frozenset[str]] = []  # stems in an entry's answer but not its questions
        terms: list[dict[str, float]] = []  # per entry: stem -> weighted count in questions, title, keywords, answer
        phrasings: list[tuple[int, frozenset[str]]] = []  # (entry, stems), each entry's phrasings in a row
        postings: dict[str, set[int]] = defaultdict(set)
        for index, entry in enumerate(entries):
            bag: set[str] = set()
            counts: dict[str, float] = defaultdict(float)
            for text in [*entry.questions, entry.title, *entry.keywords]:
                stems = self.stems(text, repair=False)
                if not stems:
                    continue
                bag.update(stems)
                phrasings.append((index, frozenset(stems)))
                for stem_ in stems:
                    counts[stem_] += 1.0
            answer_stems = self.stems(entry.answer, repair=False)
            answer_only.append(frozenset(answer_stems) - bag)
            for stem_ in answer_stems:
                counts[stem_] += BM25_ANSWER
            terms.append(dict(counts))
            for s in bag:
                postings[s].add(index)
        n = max(len(entries), 1)
        self.idf = {s: math.log((n + 1) / (len(ids) + 0.5)) for s, ids in postings.items()}
        self._unknown_idf = math.log((n + 1) / 0.5)
        self._index = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        self._vocabulary = [s for s in self.idf if len(s) >= MIN_TYPO_LENGTH]
        # every phrasing as its sorted text (rapidfuzz's token_sort_ratio is the ratio of sorted token strings)
        # and its weight; entry i's phrasings are _phrasings[_first_phrasing[i]:_first_phrasing[i + 1]]
        self._phrasings = [" ".join(sorted(p_set)) for _, p_set in phrasings]
        self._phrasing_weight = _floats(sum(self.idf[x] for x in p_set) for _, p_set in phrasings)
        per_entry = np.bincount(_indexes(e for e, _ in phrasings), minlength=len(entries))
        self._first_phrasing = np.concatenate([[0], np.cumsum(per_entry)]).astype(np.int64)
        self._postings = self._stem_postings(phrasings, postings, answer_only, terms)
        self._repair = lru_cache(maxsize=20_000)(self._repair_uncached)
        self._last_question: tuple[tuple[str, ...], _Question] | None = None

    def _stem_postings(self, phrasings: list[tuple[int, frozenset[str]]], postings: dict[str, set[int]],
                       answer_only: list[frozenset[str]], terms: list[dict[str, float]]) -> dict[str, _Postings]:
        """Per stem, where it occurs: entries (with their tie-break factors), phrasings, answers, BM25 terms."""
        in_phrasings: dict[str, list[int]] = defaultdict(list)
        # per stem and entry, the weight of the entry's lightest phrasing holding the stem
        lightest: dict[str, dict[int, float]] = defaultdict(dict)
        for p_index, (e_index, p_set) in enumerate(phrasings):
            weight = float(self._phrasing_weight[p_index])
            for stem_ in p_set:
                in_phrasings[stem_].append(p_index)
                lightest[stem_][e_index] = min(lightest[stem_].get(e_index, weight), weight)
        in_answers: dict[str, list[int]] = defaultdict(list)
        for e_index, stems in enumerate(answer_only):
            for stem_ in stems:
                in_answers[stem_].append(e_index)
        in_texts: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for e_index, counts in enumerate(terms):
            for stem_, count in counts.items():
                in_texts[stem_].append((e_index, count))
        norms = _bm25_norms(terms)
        n = max(len(terms), 1)
        found: dict[str, _Postings] = {}
        for stem_ in {*postings, *in_answers, *in_texts}:
            ids = sorted(postings.get(stem_, ()))
            # a factor a hair above 1, larger the lighter the entry's lightest phrasing holding the stem: equal
            # coverage goes to the entry where the word is most central ("observership meaning" before
            # "observership fees for two months in texas")
            ties = _floats(1.0 + TIE_BREAK / max(lightest[stem_][e], 1e-3) for e in ids)
            texts = in_texts.get(stem_, [])
            bm25_idf = math.log(1 + (n - len(texts) + 0.5) / (len(texts) + 0.5))
            found[stem_] = _Postings(
                _indexes(ids), ties, _indexes(in_phrasings.get(stem_, ())), _indexes(in_answers.get(stem_, ())),
                _indexes(e for e, _ in texts),
                _floats(bm25_idf * count * (BM25_K1 + 1) / (count + norms[e]) for e, count in texts))
        return found

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_repair"], state["prepared"], state["_last_question"]  # memos: rebuilt empty
        state["_postings"] = _packed(self._postings)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _postings=_unpacked(state["_postings"]))
        self.prepared = lru_cache(maxsize=PREPARED_MEMO)(self._prepared_uncached)
        self._repair = lru_cache(maxsize=20_000)(self._repair_uncached)
        self._last_question = None

    @classmethod
    def cached(cls, entries: list[Entry], synonyms: dict[str, str]) -> Matcher:
        """A matcher for these entries, from the knowledge cache when the same code built it from the same texts."""
        import hashlib
        import sys
        from pathlib import Path

        import rapidfuzz
        import snowballstemmer

        from bot.answers import normalize as normalize_module
        from bot.knowledge import cache

        digest = hashlib.sha256(b"matcher 1\0")
        digest.update(repr((sys.version, rapidfuzz.__version__, getattr(snowballstemmer, "__version__", ""))).encode())
        for module_file in (__file__, normalize_module.__file__):
            digest.update(Path(module_file).read_bytes())
        digest.update(repr(sorted(synonyms.items())).encode())
        for entry in entries:
            digest.update(repr((entry.id, entry.questions, entry.title, entry.keywords, entry.answer)).encode())
        name = digest.hexdigest()[:40]
        found = cache.read_object("matcher", name)
        if isinstance(found, cls):
            return found
        matcher = cls(entries, synonyms)
        cache.write_object("matcher", name, matcher)
        return matcher

    def _prepared_uncached(self, text: str) -> str:
        return self.expander.expand(normalize(text))

    def stems(self, text: str, repair: bool = True, normalized: bool = False) -> list[str]:
        """Content stems of `text` after normalisation and synonyms, optionally typo-repaired."""
        stems = content_stems(self.expander.expand(text) if normalized else self.prepared(text))
        if repair:
            stems = [self._repair(s) for s in stems]
        # keep order, drop repeats
        return list(dict.fromkeys(stems))

    def _repair_uncached(self, stem: str) -> str:
        if stem in self.idf or len(stem) < MIN_TYPO_LENGTH or _is_number(stem):
            return stem
        best = process.extractOne(stem, self._vocabulary, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return best[0] if best else stem

    def weight(self, stem: str) -> float:
        """Information carried by one stem; unknown words count as rare (they may be off-topic).

        Unknown numbers ("2019", "60", "15k") are details of the asker's situation, not a
        sign of another subject, so they weigh like a common word.
        """
        known = self.idf.get(stem)
        if known is not None:
            return known
        return 1.0 if _is_number(stem) else self._unknown_idf

    def _question(self, q_stems: list[str]) -> _Question:
        """The question's weights and postings; the last one's again for the same stems (`faq.py` asks `scores`
        and then `bm25` for one question: a memo of one, keyed by the stems)."""
        key = tuple(q_stems)
        last = self._last_question  # read once: another thread may replace it meanwhile
        if last is None or last[0] != key:
            last = self._last_question = (key, _Question(self, q_stems))
        return last[1]

    def bm25(self, q_stems: list[str], entry_ids: Iterable[str]) -> dict[str, float]:
        """Okapi BM25 of the question against each of `entry_ids` (questions, title, keywords and answer
        as one document), scaled so the best of them is 1.0."""
        question = self._question(q_stems)
        totals = np.bincount(question.joined("bm25_entries"), question.joined("bm25_terms"),
                             minlength=len(self.entry_ids))
        known = [e for e in entry_ids if e in self._index]
        scores = dict(zip(known, totals[[self._index[e] for e in known]].tolist()))
        best = max(scores.values(), default=0.0)
        return {e: v / best for e, v in scores.items()} if best > 0 else {e: 0.0 for e in scores}

    def rank(self, text: str, limit: int = 5, q_stems: list[str] | None = None,
             also: Iterable[str] = ()) -> list[Candidate]:
        """The best `limit` entries for `text` (or its precomputed `stems`), best first, scores in 0..1.

        Entries named in `also` (found by another signal) are scored too, even when their coverage
        leaves them out of the shortlist; they count within `limit`."""
        return [Candidate(entry_id, score) for entry_id, score in self.scores(text, limit, q_stems, also).items()]

    def scores(self, text: str, limit: int = 5, q_stems: list[str] | None = None,
               also: Iterable[str] = ()) -> dict[str, float]:
        """`rank` as entry id -> score, best first: what `faq.py` blends, without a `Candidate` per entry
        (a frozen dataclass costs a few microseconds to build; a dozen of them, a tenth of ranking)."""
        if q_stems is None:
            q_stems = self.stems(text)
        if not q_stems:
            return {}
        question = self._question(q_stems)
        entries, weights = question.weighted("entries")
        # coverage by the entries' own questions, accumulated over the inverted index; ties (a one-word
        # question covered by dozens of entries) go to the entry whose phrasings hold the words most centrally
        covered = np.bincount(entries, weights * question.joined("ties"), minlength=len(self.entry_ids))
        shortlist = self._shortlist(covered, question)
        # an entry sharing no word with the question scores (nearly) nothing lexically: not worth scoring
        extra = {self._index[e] for e in also if e in self._index and covered[self._index[e]] > 0} - set(shortlist)
        chosen = np.array([*shortlist, *extra], dtype=np.int64)
        in_questions = np.bincount(entries, weights, minlength=len(self.entry_ids))[chosen]
        scored = self._scores(chosen, in_questions, question)
        scored.sort(key=lambda c: (-c[0], c[1]))
        return {entry_id: round(score, 4) for score, entry_id in scored[:limit + len(extra)]}

    def _shortlist(self, covered: np.ndarray, question: _Question) -> list[int]:
        """The SHORTLIST entries covering the most of the question; of equal ones, those met first over the
        inverted index (the question's stems in order, each one's entries ascending), as `heapq.nlargest`
        over that accumulation picked them."""
        touched = np.flatnonzero(covered)  # every stem's weight is positive: covered means touched
        if len(touched) > SHORTLIST:
            values = covered[touched]
            kth = np.partition(values, len(values) - SHORTLIST)[len(values) - SHORTLIST]
            touched = touched[values >= kth]
        if len(touched) > SHORTLIST:  # ties at the cut
            first_stem = np.full(len(covered), len(question.found))
            for position in range(len(question.found) - 1, -1, -1):
                first_stem[question.found[position].entries] = position
            order = np.lexsort((touched, first_stem[touched], -covered[touched]))
            touched = touched[order[:SHORTLIST]]
        return touched.tolist()

    def _scores(self, chosen: np.ndarray, in_questions: np.ndarray, question: _Question) -> list[tuple[float, str]]:
        """(score, entry id) of each chosen entry (`in_questions`: the weight of the question's stems its
        questions hold): coverage, closeness to its closest phrasing, and fuzz against that phrasing."""
        in_answer = np.bincount(*question.weighted("answer_entries"), minlength=len(self.entry_ids))[chosen]
        coverage = (in_questions + W_ANSWER_WORDS * in_answer) / question.weight
        # shared weight per phrasing, and weighted Dice overlap with each phrasing of the chosen entries
        shared = np.bincount(*question.weighted("phrasings"), minlength=len(self._phrasings))
        starts = self._first_phrasing[chosen]
        counts = self._first_phrasing[chosen + 1] - starts
        own = concatenated_ranges(starts, counts)
        close = 2 * shared[own] / (question.weight + self._phrasing_weight[own])
        firsts = np.cumsum(counts) - counts
        best_close = np.maximum.reduceat(close, firsts)
        # the closest phrasing of each entry; of equally close ones, its first
        at_best = np.flatnonzero(close == np.repeat(best_close, counts))
        closest = own[at_best[np.searchsorted(at_best, firsts)]]
        # one call for all of them (the same doubles as fuzz.ratio one by one, in half the time)
        ratio = process.cdist([question.sorted_text], [self._phrasings[p] for p in closest.tolist()],
                              scorer=fuzz.ratio, dtype=np.float64)[0] / 100
        scores = W_COVERAGE * coverage + W_CLOSENESS * best_close + W_FUZZ * ratio
        return list(zip(scores.tolist(), [self.entry_ids[e] for e in chosen.tolist()]))


def _is_number(stem: str) -> bool:
    """A number, or thousands of something ("15k"): a detail of the asker's situation, not a word to repair."""
    return stem.isdigit() or (stem[-1:] == "k" and stem[:-1].isdigit())


class _Question:
    """One question's stems as `Matcher.rank` and `Matcher.bm25` score them: their weights and where each occurs.

    Sums over the stems' occurrences are `np.bincount`s over the arrays of `joined`: it adds one by one,
    from 0.0, in the stems' order, so each sum is bit for bit the Python loop `total[slot] += weight`
    over the same order."""

    def __init__(self, matcher: Matcher, stems: list[str]):
        self.found = [matcher._postings.get(s, _NOWHERE) for s in stems]
        weights = [matcher.weight(s) for s in stems]  # stems are already unique
        self.weight = sum(weights)
        self.sorted_text = " ".join(sorted(stems))  # token_sort_ratio == ratio of sorted token strings
        self._weights = _floats(weights)

    def joined(self, field: str) -> np.ndarray:
        """One `_Postings` field of every stem, end to end."""
        return np.concatenate([getattr(p, field) for p in self.found])

    def weighted(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """`joined(field)`, and for each of its elements the weight of the stem it belongs to."""
        arrays = [getattr(p, field) for p in self.found]
        return np.concatenate(arrays), np.repeat(self._weights, [len(a) for a in arrays])
