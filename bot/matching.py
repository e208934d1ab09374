"""Match a user's question to FAQ entries: synonyms, typo repair, idf-weighted overlap, rapidfuzz.

The score of an entry (0..1) blends three signals, each computed on stems after
synonyms are expanded and typos repaired against the knowledge base's vocabulary:

- coverage: how much of the question's information (idf-weighted) the entry's
  questions, title and keywords contain;
- closeness: weighted Dice overlap with the entry's single closest phrasing;
- fuzz: rapidfuzz's token_sort_ratio against that phrasing, for word order and
  near-misses that survive stemming.

Only entries sharing at least one stem with the question are scored (an inverted
index), which keeps a 2,000-entry base fast. Weights and thresholds were chosen by
measurement with `img-advisor eval` (see README, "Matching").
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.knowledge import Entry
from bot.normalize import content_stems, normalize

W_COVERAGE = 0.45
W_CLOSENESS = 0.35
W_FUZZ = 0.20
TYPO_CUTOFF = 82.0
MIN_TYPO_LENGTH = 4


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
        self.entry_ids: list[str] = []
        self._phrasings: list[tuple[int, frozenset[str], str, float]] = []  # entry, stems, joined, weight
        self._entry_bags: list[frozenset[str]] = []
        phrasings: list[tuple[int, frozenset[str], str]] = []
        postings: dict[str, set[int]] = defaultdict(set)
        for index, entry in enumerate(entries):
            self.entry_ids.append(entry.id)
            bag: set[str] = set()
            for text in [*entry.questions, entry.title, *entry.keywords]:
                stems = self.stems(text, repair=False)
                if not stems:
                    continue
                bag.update(stems)
                phrasings.append((index, frozenset(stems), " ".join(stems)))
            self._entry_bags.append(frozenset(bag))
            for s in bag:
                postings[s].add(index)
        self._postings = {s: sorted(ids) for s, ids in postings.items()}
        n = max(len(entries), 1)
        self.idf = {s: math.log((n + 1) / (len(ids) + 0.5)) for s, ids in postings.items()}
        self._unknown_idf = math.log((n + 1) / 0.5)
        self._phrasings = [(e, p, j, sum(self.idf[x] for x in p)) for e, p, j in phrasings]
        self._vocabulary = [s for s in self.idf if len(s) >= MIN_TYPO_LENGTH]
        self._by_entry: dict[int, list[int]] = defaultdict(list)
        for p_index, (e_index, _, _, _) in enumerate(self._phrasings):
            self._by_entry[e_index].append(p_index)
        self._repair = lru_cache(maxsize=20_000)(self._repair_uncached)

    def stems(self, text: str, repair: bool = True) -> list[str]:
        """Content stems of `text` after normalisation and synonyms, optionally typo-repaired."""
        stems = content_stems(self.expander.expand(normalize(text)))
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
        """Information carried by one stem; unknown words count as rare (they may be off-topic)."""
        return self.idf.get(stem, self._unknown_idf)

    def rank(self, text: str, limit: int = 5) -> list[Candidate]:
        """The best `limit` entries for `text`, best first, with scores in 0..1."""
        q_stems = self.stems(text)
        if not q_stems:
            return []
        q_set = frozenset(q_stems)
        q_weight = sum(self.weight(s) for s in q_set)
        q_joined = " ".join(q_stems)
        candidates: set[int] = set()
        for s in q_set:
            candidates.update(self._postings.get(s, ()))
        scored: list[Candidate] = []
        for e_index in candidates:
            bag = self._entry_bags[e_index]
            coverage = sum(self.weight(s) for s in q_set & bag) / q_weight
            best_close, best_phrase = 0.0, ""
            for p_index in self._by_entry[e_index]:
                _, p_set, p_joined, p_weight = self._phrasings[p_index]
                shared = sum(self.weight(s) for s in q_set & p_set)
                if not shared:
                    continue
                close = 2 * shared / (q_weight + p_weight)
                if close > best_close:
                    best_close, best_phrase = close, p_joined
            ratio = fuzz.token_sort_ratio(q_joined, best_phrase) / 100 if best_phrase else 0.0
            score = W_COVERAGE * coverage + W_CLOSENESS * best_close + W_FUZZ * ratio
            scored.append(Candidate(self.entry_ids[e_index], round(score, 4)))
        scored.sort(key=lambda c: (-c.score, c.entry_id))
        return scored[:limit]
