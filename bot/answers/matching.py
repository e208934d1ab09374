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

import heapq
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Iterable
from operator import itemgetter

from rapidfuzz import fuzz, process

from bot.answers.normalize import content_stems, normalize
from bot.knowledge import Entry

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


class Matcher:
    """Ranks FAQ entries for a question."""

    def __init__(self, entries: list[Entry], synonyms: dict[str, str]):
        self.expander = SynonymExpander(synonyms)
        # one message's text is prepared several times (stems, semantic similarity, its parts): a small
        # memo serves the repeats; it is far smaller than a day's distinct questions, so it is not an answer cache
        self.prepared = lru_cache(maxsize=PREPARED_MEMO)(self._prepared_uncached)
        self.entry_ids: list[str] = []
        self._answer_only: list[frozenset[str]] = []  # stems in an entry's answer but not its questions
        self._terms: list[dict[str, float]] = []  # per entry: stem -> weighted count in questions, title, keywords, answer
        phrasings: list[tuple[int, frozenset[str]]] = []
        postings: dict[str, set[int]] = defaultdict(set)
        for index, entry in enumerate(entries):
            self.entry_ids.append(entry.id)
            bag: set[str] = set()
            terms: dict[str, float] = defaultdict(float)
            for text in [*entry.questions, entry.title, *entry.keywords]:
                stems = self.stems(text, repair=False)
                if not stems:
                    continue
                bag.update(stems)
                phrasings.append((index, frozenset(stems)))
                for stem_ in stems:
                    terms[stem_] += 1.0
            answer_stems = self.stems(entry.answer, repair=False)
            self._answer_only.append(frozenset(answer_stems) - bag)
            for stem_ in answer_stems:
                terms[stem_] += BM25_ANSWER
            self._terms.append(dict(terms))
            for s in bag:
                postings[s].add(index)
        n = max(len(entries), 1)
        self.idf = {s: math.log((n + 1) / (len(ids) + 0.5)) for s, ids in postings.items()}
        self._unknown_idf = math.log((n + 1) / 0.5)
        documents: dict[str, int] = defaultdict(int)
        for terms in self._terms:
            for stem_ in terms:
                documents[stem_] += 1
        self._bm25_idf = {s: math.log(1 + (n - d + 0.5) / (d + 0.5)) for s, d in documents.items()}
        lengths = [sum(t.values()) for t in self._terms]
        average = sum(lengths) / n if lengths else 1.0
        # per entry, the denominator's constant part: k1 * (1 - b + b * length / average length)
        self._bm25_norm = [BM25_K1 * (1 - BM25_B + BM25_B * length / (average or 1.0)) for length in lengths]
        self._index = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        self._vocabulary = [s for s in self.idf if len(s) >= MIN_TYPO_LENGTH]
        # per entry: its phrasings (sorted text, weight) and, per stem, which of them contain it
        self._by_entry: dict[int, list[tuple[str, float]]] = defaultdict(list)
        self._stem_phrasings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for e_index, p_set in phrasings:
            own = self._by_entry[e_index]
            for stem_ in p_set:
                self._stem_phrasings[e_index][stem_].append(len(own))
            own.append((" ".join(sorted(p_set)), sum(self.idf[x] for x in p_set)))
        self._stem_phrasings = {e: dict(stems) for e, stems in self._stem_phrasings.items()}
        # per stem: the entries whose questions hold it, each with a factor a hair above 1 that is larger the
        # lighter the entry's lightest phrasing holding it: equal coverage goes to the entry where the word
        # is most central ("observership meaning" before "observership fees for two months in texas")
        tie_factor: dict[str, dict[int, float]] = defaultdict(dict)
        for e_index, by_stem in self._stem_phrasings.items():
            own = self._by_entry[e_index]
            for stem_, p_indexes in by_stem.items():
                lightest = max(min(own[p][1] for p in p_indexes), 1e-3)
                tie_factor[stem_][e_index] = 1.0 + TIE_BREAK / lightest
        self._postings = {s: tuple(sorted(tie_factor[s].items())) for s in postings}
        self._repair = lru_cache(maxsize=20_000)(self._repair_uncached)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_repair"], state["prepared"]  # memos: rebuilt empty
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.prepared = lru_cache(maxsize=PREPARED_MEMO)(self._prepared_uncached)
        self._repair = lru_cache(maxsize=20_000)(self._repair_uncached)

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
        if stem in self.idf or len(stem) < MIN_TYPO_LENGTH or stem.isdigit():
            return stem
        best = process.extractOne(stem, self._vocabulary, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return best[0] if best else stem

    def weight(self, stem: str) -> float:
        """Information carried by one stem; unknown words count as rare (they may be off-topic).

        Unknown numbers ("2019", "60") are details of the asker's situation, not a
        sign of another subject, so they weigh like a common word.
        """
        known = self.idf.get(stem)
        if known is not None:
            return known
        return 1.0 if stem.isdigit() else self._unknown_idf

    def bm25(self, q_stems: list[str], entry_ids: set[str]) -> dict[str, float]:
        """Okapi BM25 of the question against each of `entry_ids` (questions, title, keywords and answer
        as one document), scaled so the best of them is 1.0."""
        scores: dict[str, float] = {}
        for entry_id in entry_ids:
            index = self._index.get(entry_id)
            if index is None:
                continue
            terms, norm, score = self._terms[index], self._bm25_norm[index], 0.0
            for stem_ in q_stems:
                count = terms.get(stem_)
                if count:
                    score += self._bm25_idf[stem_] * count * (BM25_K1 + 1) / (count + norm)
            scores[entry_id] = score
        best = max(scores.values(), default=0.0)
        return {e: v / best for e, v in scores.items()} if best > 0 else {e: 0.0 for e in scores}

    def rank(self, text: str, limit: int = 5, q_stems: list[str] | None = None,
             also: Iterable[str] = ()) -> list[Candidate]:
        """The best `limit` entries for `text` (or its precomputed `stems`), best first, scores in 0..1.

        Entries named in `also` (found by another signal) are scored too, even when their coverage
        leaves them out of the shortlist; they count within `limit`."""
        if q_stems is None:
            q_stems = self.stems(text)
        if not q_stems:
            return []
        q_items = [(s, self.weight(s)) for s in q_stems]  # stems are already unique
        q_weight = sum(w for _, w in q_items)
        q_sorted = " ".join(sorted(q_stems))  # token_sort_ratio == ratio of sorted token strings
        # coverage by the entries' own questions, accumulated over the inverted index; ties (a one-word
        # question covered by dozens of entries) go to the entry whose phrasings hold the words most centrally
        covered: dict[int, float] = defaultdict(float)
        for s, w in q_items:
            for e_index, tie in self._postings.get(s, ()):
                covered[e_index] += w * tie
        shortlist = heapq.nlargest(SHORTLIST, covered.items(), key=itemgetter(1))
        # an entry sharing no word with the question scores (nearly) nothing lexically: not worth scoring
        extra = {self._index[e] for e in also if e in self._index and self._index[e] in covered} - {e for e, _ in shortlist}
        scored = [(self._score(e_index, q_items, q_weight, q_sorted), self.entry_ids[e_index])
                  for e_index in [*(e for e, _ in shortlist), *extra]]
        scored.sort(key=lambda c: (-c[0], c[1]))
        return [Candidate(entry_id, round(score, 4)) for score, entry_id in scored[:limit + len(extra)]]

    def _score(self, e_index: int, q_items: list[tuple[str, float]], q_weight: float, q_sorted: str) -> float:
        """One entry's score: coverage, closeness to its closest phrasing, and fuzz against that phrasing."""
        answer_only = self._answer_only[e_index]
        by_stem = self._stem_phrasings.get(e_index, {})  # every stem of the entry's questions, title, keywords
        in_questions = sum(w for s, w in q_items if s in by_stem)
        in_answer = sum(w for s, w in q_items if s in answer_only)
        coverage = (in_questions + W_ANSWER_WORDS * in_answer) / q_weight
        # shared weight per phrasing, accumulated only over the stems each phrasing holds
        shared: dict[int, float] = defaultdict(float)
        for s, w in q_items:
            for p_index in by_stem.get(s, ()):
                shared[p_index] += w
        own = self._by_entry[e_index]
        best_close, best_phrase, best_index = 0.0, "", len(own)
        for p_index, weight in shared.items():
            p_sorted, p_weight = own[p_index]
            close = 2 * weight / (q_weight + p_weight)
            if close > best_close or (close == best_close and p_index < best_index):
                best_close, best_phrase, best_index = close, p_sorted, p_index
        ratio = fuzz.ratio(q_sorted, best_phrase) / 100 if best_phrase else 0.0
        return W_COVERAGE * coverage + W_CLOSENESS * best_close + W_FUZZ * ratio
