"""Semantic similarity between a question and the entries' phrasings (WordLlama, offline).

Lexical matching misses paraphrases ("shadowing a doctor" for an observership); a small
embedding model whose weights ship inside its PyPI package (WordLlama, 256 dimensions)
catches many of them. The weights load once, from the installed package, with
downloads disabled: nothing is fetched at run time. If the package is missing, the
bot answers with lexical matching alone (and logs it once).
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.knowledge import Entry

log = logging.getLogger(__name__)

_MODEL = None
_MISSING = False


def _model():  # noqa: ANN202 - the model type comes from an optional package
    global _MODEL, _MISSING
    if _MODEL is None and not _MISSING:
        try:
            import wordllama
            from wordllama import WordLlama

            _MODEL = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        except Exception as exc:  # noqa: BLE001 - any failure means: lexical matching only
            _MISSING = True
            log.warning("semantic matching is off (%s); answering with lexical matching only", exc)
    return _MODEL


class SemanticIndex:
    """The best cosine similarity of a question to each entry's questions and title."""

    def __init__(self, entries: list[Entry]):
        import numpy as np

        self._np = np
        model = _model()
        self.available = model is not None
        self.entry_ids = [e.id for e in entries]
        if not self.available:
            return
        texts, owners = [], []
        for index, entry in enumerate(entries):
            for text in (*entry.questions, entry.title):
                texts.append(text)
                owners.append(index)
        self._owners = np.array(owners, dtype=np.int64)
        self._vectors = model.embed(texts, norm=True) if texts else np.zeros((0, 256), dtype=np.float32)
        self._model = model

    def similarities(self, text: str) -> dict[str, float]:
        """Entry id -> best similarity (0..1, negatives as 0) of `text` to the entry's phrasings."""
        if not self.available or not text.strip():
            return {}
        np = self._np
        vector = self._model.embed([text], norm=True)[0]
        sims = self._vectors @ vector
        best = np.zeros(len(self.entry_ids), dtype=np.float32)
        np.maximum.at(best, self._owners, sims)
        return {self.entry_ids[i]: float(best[i]) for i in np.flatnonzero(best > 0)}
