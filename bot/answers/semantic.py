"""Semantic similarity between a question and the entries' phrasings (WordLlama, offline).

Lexical matching misses paraphrases ("shadowing a doctor" for an observership); a small
embedding model whose weights ship inside its PyPI package (WordLlama, 256 dimensions)
catches many of them. The weights load once, from the installed package, with
downloads disabled: nothing is fetched at run time. If the package is missing, the
bot answers with lexical matching alone (and logs it once).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from bot.knowledge import Entry

log = logging.getLogger(__name__)

RECENT = 8
"""Texts whose per-entry similarities are kept for the next calls (one message's parts, question and whole
text)."""
TOKEN_MEMO = 3072
"""Tokens whose similarity columns are kept (`SemanticIndex._products`; the least recently used go first): all
the labelled questions together have 2,145 distinct tokens. A token not kept costs one product with the whole
matrix, what a question cost before; a memo much smaller than the questions' vocabulary misses about one token
a question (1,024 tokens: two), and would be slower than no memo."""
WORD_TOKENS = 20_000
"""Words whose token ids are kept (`SemanticIndex._token_ids`): the tokenizer costs about 10 us for one short
question, most of it per call, the memo under 2 us (2026-12-06); the 1,534 labelled questions use 2,441 distinct
words."""
WHOLE_TEXTS_FIRST = 4
"""The first texts are encoded whole: the check that words may be encoded one by one (`_word_by_word`, 14 ms)
is made only by a process that asks more (not by `img-advisor ask` with one question)."""
ONE_BY_ONE_BELOW, BLOCK_OF = 3, 4
"""`_TokenFactors.products` multiplies fewer than 3 texts' columns one by one, more in a multiple of 4 columns:
SciPy 1.17 multiplies a 2,000-entry base's 534,000 counts by 1 column in 0.48 ms, by 2 in 1.35, 3 in 1.55, 4 in
1.31, 5 in 1.54, 8 in 1.47, 9 in 1.74, 12 in 1.58 and 16 in 1.76 ms (2026-12-06, one thread, the best of 7 runs)."""
TOKEN_MEMO_BYTES = 128 << 20
"""The most the memo may take: 3,072 tokens of a base of up to 10,000 phrasings (80 MB for the shipped 6,300).
A larger base (a 2,000-entry one has about 39,000) keeps no memo: it compares a question through the phrasings'
tokens instead (`_TokenFactors`)."""

_MODEL = None
_MISSING = False

_CONFIG = "l2_supercat"
"""The model `WordLlama.load()` loads by default (256 dimensions), by the names of its files in the package."""


def _quiet_import_wordllama():  # noqa: ANN202 - the module is optional
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
    finally:  # wordllama calls logging.basicConfig(level=INFO) on import: every event would log a line
        root.handlers[:] = handlers
        root.setLevel(level)
    return wordllama


class _Rows:
    """The embedding matrix as WordLlama holds it (float32), read lazily from the package's float16 file.

    WordLlama converts all 32,000 rows to float32 at load (32 MB); a question reads a
    dozen. Indexing converts only the rows asked for: float16 -> float32 is exact, so
    every lookup gives the same numbers, bit for bit, as indexing WordLlama's matrix.
    """

    def __init__(self, half):  # noqa: ANN001 - a numpy float16 matrix (memory-mapped)
        import numpy as np

        self._half = half
        self.shape = half.shape
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        import numpy as np

        return self._half[index].astype(np.float32)


class _LightModel:
    """What `SemanticIndex` uses of `WordLlamaInference` (tokenizer and embedding), loaded without
    importing wordllama itself (which imports requests and its dependencies for downloads, about a
    sixth of a cold start) and without converting the whole matrix. Embedding many texts at once
    (the phrasings, when the knowledge cache does not have them) is WordLlama's own `embed`."""

    binary = False

    def __init__(self, package: Path, version: str, half, tokenizer):  # noqa: ANN001
        self.version = version
        self._package = package
        self._half = half
        self.embedding = _Rows(half)
        self.tokenizer = tokenizer
        self.tokenizer.enable_padding()  # as WordLlamaInference.__init__ sets them
        self.tokenizer.no_truncation()
        self._full = None

    def embed(self, texts: list[str], norm: bool = False):  # noqa: ANN201 - a numpy matrix
        if self._full is None:  # wordllama's own code, on the same rows and tokenizer
            self._full = _quiet_import_wordllama().WordLlamaInference(self._half, self.tokenizer)
        return self._full.embed(texts, norm=norm)


def _read_safetensors_half(path: Path, key: str):  # noqa: ANN202 - a numpy matrix
    """One float16 tensor of a .safetensors file, memory-mapped (the format: an 8-byte little-endian
    header length, a JSON header with dtype, shape and byte offsets, then the raw data)."""
    import json
    import mmap

    import numpy as np

    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    info = header[key]
    if info["dtype"] != "F16":
        raise ValueError(f"{key} is {info['dtype']}, not F16")
    start, end = info["data_offsets"]
    rows, columns = info["shape"]
    if end - start != rows * columns * 2:
        raise ValueError(f"{key}: {end - start} bytes for shape {info['shape']}")
    return np.frombuffer(mapped, dtype="<f2", count=rows * columns, offset=8 + size + start).reshape(rows, columns)


def _light_model() -> _LightModel:
    """The default model from the installed package's files, as `WordLlama.load` finds them."""
    import importlib.util

    spec = importlib.util.find_spec("wordllama")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'wordllama'")
    package = Path(next(iter(spec.submodule_search_locations)))
    weights = package / "weights" / f"{_CONFIG}_256.safetensors"
    vocabulary = package / "tokenizers" / f"{_CONFIG}_tokenizer_config.json"
    version_spec = importlib.util.spec_from_file_location("_wordllama_version", package / "_version.py")
    if not (weights.is_file() and vocabulary.is_file()) or version_spec is None or version_spec.loader is None:
        raise FileNotFoundError(f"WordLlama's {_CONFIG} files are not in {package}")
    version_module = importlib.util.module_from_spec(version_spec)
    version_spec.loader.exec_module(version_module)
    from tokenizers import Tokenizer

    return _LightModel(package, str(version_module.__version__), _read_safetensors_half(weights, "embedding.weight"),
                       Tokenizer.from_file(str(vocabulary)))


def _model():  # noqa: ANN202 - the model type comes from an optional package
    global _MODEL, _MISSING
    if _MODEL is None and not _MISSING:
        try:
            _MODEL = _light_model()
        except Exception as light:  # noqa: BLE001 - another layout of the package: load it as WordLlama does
            log.debug("loading WordLlama's files directly failed (%s); loading through WordLlama", light)
            try:
                wordllama = _quiet_import_wordllama()
                _MODEL = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
                _MODEL.version = wordllama.__version__
            except Exception as exc:  # noqa: BLE001 - any failure means: lexical matching only
                _MISSING = True
                log.warning("semantic matching is off (%s); answering with lexical matching only", exc)
    return _MODEL


def _embedded(model, texts: list[str]):  # noqa: ANN001, ANN202 - numpy and the model are optional
    """The phrasings' unit vectors, from the knowledge cache when the same model embedded the same texts."""
    import hashlib

    import numpy as np

    from bot.knowledge import cache

    digest = hashlib.sha256(b"wordllama vectors 1\0")
    weights = np.ascontiguousarray(model.embedding[:256])  # a change of weights changes these rows
    digest.update(f"{model.version}|{model.embedding.shape}|{model.embedding.dtype}\0".encode())
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


class _TokenFactors:
    """Every phrasing's cosine similarity to a question through the phrasings' tokens: for a base too large
    for the token memo, where the product with the whole phrasings' matrix (40 MB at 2,000 entries) is most of
    an answer's time.

    A phrasing's vector is the mean of its tokens' embeddings, normalised, so its similarity to a unit
    vector q is (its token counts . s) / |its token counts @ E|, where s = E @ q over the few thousand
    tokens the phrasings use. One small dense product (s) and one sparse one (SciPy's CSR, a few hundred
    thousand counts) read a tenth of what the dense matrix costs; the similarities differ from the direct
    product in the last bits of float32 only.
    """

    def __init__(self, model, texts: list[str]):  # noqa: ANN001 - the model type is optional
        import numpy as np
        from scipy import sparse
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(model.tokenizer.to_str())  # the model's, without its batch padding
        tokenizer.no_padding()
        last = model.embedding.shape[0] - 1
        ids = [np.clip(np.array(e.ids, dtype=np.int64), 0, last)
               for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
        flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        used, columns = np.unique(flat, return_inverse=True)
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        counts = sparse.csr_matrix((np.ones(len(flat), dtype=np.float32),
                                    (np.repeat(np.arange(len(ids)), lengths), columns.reshape(-1))),
                                   shape=(len(ids), len(used)), dtype=np.float32)
        counts.sum_duplicates()
        self._rows = np.ascontiguousarray(model.embedding[used], dtype=np.float32)
        norms = np.linalg.norm(counts @ self._rows, axis=1)  # |sum of the tokens' embeddings| per phrasing
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
        self._weights = sparse.diags(scale, format="csr", dtype=np.float32) @ counts
        self._np = np

    def products(self, units: list) -> list:
        """The similarity of every phrasing to each unit vector of `units`, one vector each. A sparse product
        of several columns reads the counts once for all of them, and adds each column's terms in the same
        order as for one vector alone: a text's similarities do not depend on what is compared beside it.
        SciPy multiplies by a multiple of four columns fastest (`BLOCK_OF`): the rest is zeros."""
        np = self._np
        tokens = [self._rows @ unit for unit in units]
        if len(tokens) < ONE_BY_ONE_BELOW:
            return [self._weights @ column for column in tokens]
        block = np.zeros((len(self._rows), -(-len(tokens) // BLOCK_OF) * BLOCK_OF), dtype=np.float32)
        for i, column in enumerate(tokens):
            block[:, i] = column
        product = self._weights @ block
        return [product[:, i] for i in range(len(tokens))]


def _word_by_word(tokenizer) -> tuple[str, ...] | None:  # noqa: ANN001 - a tokenizers.Tokenizer
    """The tokenizer's added tokens ("<s>"...) if it encodes a text of words joined by single spaces, none of
    them, as its words one by one, end to end; None if it may not.

    WordLlama's tokenizer (Llama's BPE) has no pre-tokenizer: it prepends "\u2581", makes each space one, and
    merges over the whole text. A merge can join two words only into a token holding "\u2581" after another
    character; its vocabulary has none but runs of "\u2581" (which need two spaces in a row), so each word's
    tokens are those of the word alone. An added token is cut out of the text first, which changes what
    the spaces around it become."""
    import json

    try:
        normalizer = json.loads(tokenizer.normalizer.__getstate__()) if tokenizer.normalizer is not None else None
        if (normalizer != _PREPEND_AND_REPLACE or tokenizer.pre_tokenizer is not None
                or type(tokenizer.model).__name__ != "BPE"):
            return None
        if any("\u2581" in token.lstrip("\u2581") for token in tokenizer.get_vocab()):  # 14 ms, once
            return None
        added = list(tokenizer.get_added_tokens_decoder().values())
        if any(token.normalized or " " in token.content or "\u2581" in token.content for token in added):
            return None  # matched in the normalised text, or across words
        return tuple(token.content for token in added)
    except Exception:  # noqa: BLE001 - another kind of tokenizer: encode whole texts
        return None


_PREPEND_AND_REPLACE = {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}


def _token_factors(model, texts: list[str]) -> _TokenFactors | None:  # noqa: ANN001
    """`_TokenFactors` for `texts`, or None where SciPy is missing (the direct product then)."""
    try:
        return _TokenFactors(model, texts)
    except ImportError as exc:
        log.warning("a large knowledge base without SciPy compares each question with every phrasing (%s)", exc)
        return None


class SemanticIndex:
    """The best cosine similarity of a question to each entry's questions and title."""

    def __init__(self, entries: list[Entry], prepare: Callable[[str], str] = lambda text: text):
        import numpy as np
        from threadpoolctl import threadpool_limits

        # one question is one small matrix-vector product: BLAS threads only add contention (p99 x5 measured)
        threadpool_limits(limits=1, user_api="blas")

        self._recent: dict[str, object] = {}  # text -> per-entry similarities, for the latest few texts
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
        # token id -> its row of _memo, least recent first: the phrasings' similarities to the token's embedding,
        # then that embedding (float32); np.empty takes the memory from the system only as rows are written
        self._slots: OrderedDict[int, int] = OrderedDict()
        width = len(self._vectors) + model.embedding.shape[1]
        kept = TOKEN_MEMO if TOKEN_MEMO * width * 4 <= TOKEN_MEMO_BYTES else 0
        self._memo = np.empty((kept, width), dtype=np.float32)
        self._memo_lock = threading.Lock()
        binary = getattr(model, "binary", False)
        self._added_tokens: tuple[str, ...] | None = None  # `_word_by_word`, asked after WHOLE_TEXTS_FIRST texts
        self._texts_encoded = 0  # counted up to WHOLE_TEXTS_FIRST + 1 (then the check has been made)
        self._word_tokens: dict[str, tuple[int, ...]] = {}
        self._factors = _token_factors(model, texts) if not kept and texts and not binary else None

    def _token_ids(self, text: str) -> list[int]:
        """The model tokenizer's ids for `text` (no special tokens): word by word from a memo where the tokenizer
        encodes words independently (`_word_by_word`) and the text is words joined by single spaces, else
        the whole text at once. The same ids either way (`tests/test_fast_paths.py` compares them)."""
        if self._texts_encoded <= WHOLE_TEXTS_FIRST:
            self._texts_encoded += 1
            if self._texts_encoded <= WHOLE_TEXTS_FIRST:
                return self._encode(text)
            self._added_tokens = _word_by_word(self._model.tokenizer)
        memo, added = self._word_tokens, self._added_tokens
        if (added is None or not text or "  " in text or text[0] == " " or text[-1] == " " or "\u2581" in text
                or any(token in text for token in added)):
            return self._encode(text)
        ids: list[int] = []
        for word in text.split(" "):
            found = memo.get(word)
            if found is None:
                if len(memo) >= WORD_TOKENS:
                    memo.clear()
                found = memo[word] = tuple(self._encode(word))
            ids.extend(found)
        return ids

    def _encode(self, text: str) -> list[int]:
        """The tokenizer's own ids for `text`, without special tokens."""
        return self._model.tokenizer.encode(text, add_special_tokens=False).ids

    def _embed_one(self, text: str):  # noqa: ANN202 - a numpy vector
        """`model.embed([text], norm=True)[0]` as float32, bit for bit, without its per-call batching overhead
        (most of its time for one short question): one text's rows summed in the same order as
        `avg_pool` sums its padded batch of one (a mask of ones changes nothing), and the norm reduced
        over the same 256 values as `np.linalg.norm(..., axis=1)`."""
        np, model = self._np, self._model
        if getattr(model, "binary", False):
            return model.embed([text], norm=True)[0].astype(np.float32)
        ids = np.array(self._token_ids(text), dtype=np.int64)
        ids = np.minimum(np.maximum(ids, 0), model.embedding.shape[0] - 1)
        summed = np.add.reduce(model.embedding[ids], axis=0, dtype=np.float32)
        pooled = summed / np.float32(max(len(ids), 1))
        return pooled / np.sqrt(np.add.reduce(pooled * pooled))

    def _products(self, text: str):  # noqa: ANN202 - a numpy vector
        """The cosine similarity of `text` to every phrasing.

        The product of the phrasings' matrix by the question's unit vector reads the whole matrix (5-6 MB:
        most of a semantic step, bound by memory); it is linear in the question's token embeddings, so it is
        the sum of each token's own product with the matrix, divided by the tokens' count and the mean's
        norm. Those per-token columns are kept with the tokens' embeddings (TOKEN_MEMO, the least recently
        used go first): a question of known tokens adds a dozen rows of the memo instead of reading the
        matrix. Each column is one matrix-vector product of its own, whatever else is asked (a product of
        several columns at once gives other last bits for other batches), so a text's similarities do not
        depend on what came before; they differ from the direct product in the last bits of float32 only.
        """
        np, model = self._np, self._model
        tokens = self._token_ids(text)
        unique = dict.fromkeys(tokens)
        if (getattr(model, "binary", False) or not unique or len(unique) > len(self._memo)
                or min(unique) < 0 or max(unique) >= model.embedding.shape[0]):
            return self._vectors @ self._embed_one(text)  # no memo, no token (a NaN vector, as the model's), or
            # a token id outside the embedding
        count, slots = len(self._vectors), self._slots
        with self._memo_lock:
            for token in unique:  # the text's known tokens become the most recent: no new one evicts them
                if token in slots:
                    slots.move_to_end(token)
            for token in unique:
                if token not in slots:
                    slot = len(slots) if len(slots) < len(self._memo) else slots.popitem(last=False)[1]
                    row = self._memo[slot]
                    row[count:] = model.embedding[token]
                    np.matmul(self._vectors, row[count:], out=row[:count])
                    slots[token] = slot
            memo = self._memo
            summed = memo[slots[tokens[0]]].copy()
            for token in tokens[1:]:  # the rows added in place, in order: one pass over each, no gathered copy
                summed += memo[slots[token]]
        pooled = summed[count:] / np.float32(len(tokens))  # as `_embed_one` sums and scales the embeddings
        return summed[:count] / np.float32(len(tokens)) / np.sqrt(np.add.reduce(pooled * pooled))

    def prime(self, texts: list[str]) -> None:
        """Compare texts (a message's parts, question and whole text) with every phrasing, keeping the latest
        few results for the similarities asked for next. A large base compares them all in one product."""
        np = self._np
        todo = list(dict.fromkeys(t for t in texts if t not in self._recent))
        if not self.available or not todo or not self.entry_ids:
            return
        if len(self._recent) + len(todo) > RECENT:
            self._recent.clear()
        for text, column in zip(todo, self._columns([self._prepare(text) for text in todo])):
            self._recent[text] = np.maximum.reduceat(column, self._starts)

    def _columns(self, texts: list[str]) -> list:
        """Each text's similarity to every phrasing: through the phrasings' tokens, all texts in one product,
        for a base too large for the memo (`_TokenFactors`); else one text at a time (`_products`)."""
        if self._factors is None:
            return [self._products(text) for text in texts]
        return self._factors.products([self._embed_one(text) for text in texts])

    def similarities(self, text: str, among: set[str], best: int) -> dict[str, float]:
        """Entry id -> best similarity (0..1, negatives as 0) of `text` to the entry's phrasings,
        for the `best` most similar entries and for every entry in `among`."""
        if not self.available or not text.strip() or not self.entry_ids:
            return {}
        np = self._np
        per_entry = self._recent.get(text)  # the same question again, for more entries (faq.rank asks twice)
        if per_entry is None:
            self.prime([text])
            per_entry = self._recent[text]
        count = min(best, len(per_entry))
        chosen = set(np.argpartition(-per_entry, count - 1)[:count].tolist()) if count else set()
        chosen.update(self._position[e] for e in among if e in self._position)
        indexes = list(chosen)
        return {self.entry_ids[i]: max(sim, 0.0) for i, sim in zip(indexes, per_entry[indexes].tolist())}
