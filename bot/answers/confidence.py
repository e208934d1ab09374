"""How sure the bot is that its best entry answers the question: a confidence fitted on labelled data.

A raw similarity does not separate right from wrong (wrong answers scored up to 0.87,
right ones as low as 0.48). The decision uses a logistic model over a few signals of
the ranking instead, fitted on questions whose right entries were judged by reading
(`tests/benchmarks/fit_confidence.py` writes `confidence.json` beside this module):

- answer when the confidence reaches `answer_at`;
- offer up to three "did you mean" buttons when it reaches `suggest_at`;
- otherwise say honestly that nothing fits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

FEATURES = ("score", "gap", "lexical", "semantic", "lexical_agrees", "semantic_agrees", "kind_match",
            "kind_mismatch", "one_word", "bm25_agrees", "runner_up_related", "next_two_related", "semantic_gap",
            "bm25_gap", "topic_words")
"""The signals, in the order of the model's weights."""

MODEL_FILE = Path(__file__).with_name("confidence.json")


@dataclass(frozen=True)
class Signals:
    """What the ranking says about its best candidate."""

    score: float  # blended score of the best entry
    gap: float  # its lead over the runner-up
    lexical: float  # its lexical score alone
    semantic: float  # its semantic similarity alone
    lexical_agrees: bool  # it is also the best entry by lexical matching alone
    semantic_agrees: bool  # it is also the best entry by semantic similarity alone
    kind_match: bool  # the entry answers the kind of question asked
    kind_mismatch: bool  # the entry answers only other kinds
    one_word: bool  # the question has at most one topic word
    bm25_agrees: bool = False  # it is also the best entry by BM25 over the entries' whole text
    runner_up_related: bool = False  # the runner-up is in its `related` list, or it is in the runner-up's:
    # a close second then means a neighbourhood of entries, not a confusion (fitted: +0.49)
    next_two_related: bool = False  # the second and the third both are (fitted: +0.46 more)
    semantic_gap: float = 0.0  # its semantic similarity minus the best other entry's (negative when another is closer)
    bm25_gap: float = 0.0  # the same for BM25, as a share of the best BM25 score
    topic_words: float = 0.0  # how many topic words the question has, over 10 (at most 1): a longer question
    # that still finds its entry is more telling than a short one

    def vector(self) -> list[float]:
        return [float(getattr(self, name)) for name in FEATURES]


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic weights and the two decision thresholds."""

    weights: tuple[float, ...]
    bias: float
    answer_at: float
    suggest_at: float

    def confidence(self, signals: Signals) -> float:
        """The estimated chance (0..1) that the best entry is a right answer."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.vector()))
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def to_json(self) -> str:
        return json.dumps({"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias,
                           "answer_at": self.answer_at, "suggest_at": self.suggest_at}, indent=2) + "\n"


DEFAULT = ConfidenceModel(weights=(6.0, 4.0, 0.0, 0.0, 0.5, 0.5, 0.5, -0.5, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), bias=-4.0,
                          answer_at=0.6,
                          suggest_at=0.3)
"""Used only when confidence.json is missing: roughly the old fixed thresholds."""


def load_model(path: Path = MODEL_FILE) -> ConfidenceModel:
    """The fitted model (or DEFAULT when no fit was written)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT
    if data.get("features") != list(FEATURES):
        return DEFAULT  # fitted for other signals: refit with tests/benchmarks/fit_confidence.py
    return ConfidenceModel(tuple(data["weights"]), data["bias"], data["answer_at"], data["suggest_at"])
