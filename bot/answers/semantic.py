"""Semantic similarity between a question and the entries' phrasings (WordLlama, offline).

Lexical matching misses paraphrases ("shadowing a doctor" for an observership); a small
embedding model whose weights ship inside its PyPI package (WordLlama, 256 dimensions)
catches many of them. The weights load once, from the installed package, with
downloads disabled: nothing is fetched at run time. If the package is missing, the
bot answers with lexical matching alone (and logs it once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot.knowledge import Entry

log = logging.getLogger(__name__)

_MODEL = None
_MISSING = False


def _model():  # noqa: ANN202 - the model type comes from an optional package
    global _MODEL, _MISSING
    if _MODEL is None and not _MISSING:
        try:
            root = logging.getLogger()
            handlers, level = list(root.handlers), root.level
            try:
                import wordllama
                from wordllama import WordLlama
            finally:  # wordllama calls logging.basicConfig(level=INFO) on import: every event would log a line
                root.handlers[:] = handlers
                root.setLevel(level)

            _MODEL = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        except Exception as exc:  # noqa: BLE001 - any failure means: lexical matching only
            _MISSING = True
            log.warning("semantic matching is off (%s); answering with lexical matching only", exc)
    return _MODEL


def _embedded(model, texts: list[str]):  # noqa: ANN001, ANN202 - numpy and the model are optional
    """The phrasings' unit vectors, from the knowledge cache when the same model embedded the same texts."""
    import hashlib

    import numpy as np
    import wordllama

    from bot.knowledge import cache

    digest = hashlib.sha256(b"wordllama vectors 1\0")
    weights = np.ascontiguousarray(model.embedding[:256])  # a change of weights changes these rows
    digest.update(f"{wordllama.__version__}|{model.embedding.shape}|{model.embedding.dtype}\0".encode())
    digest.update(weights.tobytes())
    for text in texts:
        digest.update(text.encode() + b"\0")
    name = digest.hexdigest()[:40]
    vectors = cache.read_vectors(name)
    if vectors is not None and vectors.shape == (len(texts), model.embedding.shape[1]) and vectors.dtype == np.float32:
        return vectors
    vectors = np.ascontiguousarray(model.embed(texts, norm=True), dtype=np.float32)
    cache.write_vectors(name, vectors)
    return vectors


class SemanticIndex:
    """The best cosine similarity of a question to each entry's questions and title."""

    def __init__(self, entries: list[Entry], prepare: Callable[[str], str] = lambda text: text):
        import numpy as np
        from threadpoolctl import threadpool_limits

        # one question is one small matrix-vector product: BLAS threads only add contention (p99 x5 measured)
        threadpool_limits(limits=1, user_api="blas")

        self._np = np
        model = _model()
        self.available = model is not None
        self.entry_ids = [e.id for e in entries]
        self._prepare = prepare  # the same rewriting for phrasings and questions (synonyms: "didnt match" -> "unmatched")
        if not self.available:
            return
        texts, starts = [], []
        for entry in entries:
            starts.append(len(texts))  # phrasings of one entry are contiguous: reduceat takes each block's best
            texts.extend(prepare(text) for text in (*entry.questions, entry.title))
        self._starts = np.array(starts, dtype=np.int64)
        self._vectors = _embedded(model, texts) if texts else np.zeros((0, 256), dtype=np.float32)
        self._position = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        self._model = model

    def _embed_one(self, text: str):  # noqa: ANN202 - a numpy vector
        """`model.embed([text], norm=True)[0]` as float32, bit for bit, without its per-call batching overhead
        (about half of its time for one short question)."""
        np, model = self._np, self._model
        if getattr(model, "binary", False):
            return model.embed([text], norm=True)[0].astype(np.float32)
        encoded = model.tokenizer.encode_batch([text], is_pretokenized=False, add_special_tokens=False)[0]
        ids = np.array([encoded.ids], dtype=np.int32)
        np.clip(ids, 0, model.embedding.shape[0] - 1, out=ids)
        pooled = model.avg_pool(model.embedding[ids], np.ones(ids.shape, dtype=np.float32))
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled[0].astype(np.float32)  # float64 would copy the matrix

    def similarities(self, text: str, among: set[str], best: int) -> dict[str, float]:
        """Entry id -> best similarity (0..1, negatives as 0) of `text` to the entry's phrasings,
        for the `best` most similar entries and for every entry in `among`."""
        if not self.available or not text.strip() or not self.entry_ids:
            return {}
        np = self._np
        vector = self._embed_one(self._prepare(text))
        per_entry = np.maximum.reduceat(self._vectors @ vector, self._starts)
        count = min(best, len(per_entry))
        chosen = set(np.argpartition(-per_entry, count - 1)[:count].tolist()) if count else set()
        chosen.update(self._position[e] for e in among if e in self._position)
        return {self.entry_ids[i]: max(float(per_entry[i]), 0.0) for i in chosen}
