"""Issue 20: the fast paths give what the slow paths gave, and the caches are keyed by content."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from bot.answers import semantic
from bot.answers.faq import _best_rounded
from bot.answers.normalize import normalize
from bot.database import WAL_CHECKPOINT_PAGES, Database
from bot.knowledge import KnowledgeBase, cache
from bot.text import _ANSI, clean_text

SAMPLES = ["obsership fees??", "B-1/B2 ok for hands on?", "  YOG 2015 still ok for IM?  ", "Café résumé naïve",
           "u.s. clinical experience", "what's the ECFMG's fee", "line\nbreak\tand tab", "\x1b[31mred\x1b[0m text",
           "zero\u200bwidth", "bidi\u202etext", "private\ue000use", "ﬁ ligature", "ÅNGSTRÖM", "", "   "]


def _slow_clean(text: str) -> str:
    text = _ANSI.sub("", text)
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")).strip()




def _random_texts(count: int = 2000) -> list[str]:
    rng = random.Random(20)
    alphabet = [chr(c) for c in range(32, 127)] + list("\n\t\x1b\x00\x7f\u200b\u202e\ue000éüß’ﬁİ") + ["\U0001f44d"]
    return [''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)] + SAMPLES


def test_clean_text_fast_path_drops_exactly_what_the_slow_path_drops() -> None:
    for text in _random_texts():
        assert clean_text(text) == _slow_clean(text), repr(text)


def test_normalize_ascii_fast_path_matches_the_unicode_path() -> None:
    for text in _random_texts():
        if text.isascii():
            # the unicode steps are no-ops on ASCII: normalising the pre-folded text gives the same result
            folded = "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))
            assert normalize(text) == normalize(folded), repr(text)
    assert normalize("Café RÉSUMÉ") == "cafe resume"


@pytest.mark.parametrize("typed, normalized", [
    ("15,000 USD", "15000 usd"), ("$15k budget", "15k dollars budget"), ("2000$ for obs", "2000 dollars for obs"),
    ("$2,000-$4,000 a month", "2000 dollars 4000 dollars a month"), ("1,2,3 steps", "1 2 3 steps"), ("$$$", "$$$"),
])
def test_amounts_are_read_as_people_write_them(typed: str, normalized: str) -> None:
    assert normalize(typed) == normalized


def test_importing_wordllama_leaves_logging_as_it_was() -> None:
    code = ("import logging; from bot.answers import semantic; semantic._model(); r = logging.getLogger(); "
            "print(len(r.handlers), r.level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out == ["0", str(logging.WARNING)]


def test_one_question_embeds_bit_for_bit_as_the_model_does(kb: KnowledgeBase) -> None:
    index = semantic.SemanticIndex(list(kb.entries.values()))
    if not index.available:
        pytest.skip("WordLlama is not installed")
    for text in SAMPLES[:-2] + ["what is an observership", "shadowing a doctor in the us"]:
        expected = index._model.embed([text], norm=True)[0].astype(np.float32)
        assert np.array_equal(index._embed_one(text), expected, equal_nan=True), text


def test_the_best_candidates_are_those_sorting_every_rounded_score_gives() -> None:
    rng = random.Random(4)
    for _ in range(3000):
        # near-ties across the rounding boundary: 0.12345 and 0.123449999 round apart, 0.12344 and 0.12346 do not
        base = rng.choice([0.12345, 0.5, 0.99995, 0.0])
        scores = {f"e{i}": base + rng.choice([0.0, 1e-9, -1e-9, 4e-5, -4e-5, 6e-5, -6e-5, 1e-4, rng.random() / 10])
                  for i in range(rng.randint(0, 25))}
        count = rng.randint(1, 6)
        assert _best_rounded(scores, count) == sorted((-round(v, 4), e) for e, v in scores.items())[:count]


def test_token_ids_word_by_word_are_the_tokenizers_own(kb: KnowledgeBase) -> None:
    index = semantic.SemanticIndex(list(kb.entries.values()))
    if not index.available:
        pytest.skip("WordLlama is not installed")
    for _ in range(semantic.WHOLE_TEXTS_FIRST + 1):
        index._token_ids("what is an observership")
    assert index._added_tokens is not None  # WordLlama's tokenizer takes the word-by-word path
    rng = random.Random(6)
    pieces = ["a", "b", "é", " ", "  ", "日本", "\u2581", "🙂", "x", "0", "\n", "<s>", "</s>", "<unk>", "<", ">", "s"]
    texts = _random_texts() + [q for e in list(kb.entries.values())[:60] for q in e.questions]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 25))) for _ in range(3000)]
    texts += ["what is <s> an observership", "a\u2581b", "fees  fees", " leading", "trailing "]
    tokenizer = index._model.tokenizer
    for text in texts:
        for variant in (text, normalize(text)):
            assert index._token_ids(variant) == tokenizer.encode(variant, add_special_tokens=False).ids, repr(variant)
    assert 0 < len(index._word_tokens) <= semantic.WORD_TOKENS


def test_similarities_from_token_columns_match_the_direct_product_whatever_came_before(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = list(kb.entries.values())
    index = semantic.SemanticIndex(entries)
    if not index.available:
        pytest.skip("WordLlama is not installed")
    texts = [e.questions[0] for e in entries[:40]] + SAMPLES[:-2] + ["what is an observership", "fees fees fees?"]
    first = [index._products(text) for text in texts]
    for text, products in zip(texts, first):  # the same numbers as the matrix by the question's unit vector
        assert np.allclose(products, index._vectors @ index._embed_one(text), rtol=0, atol=2e-6), text
    monkeypatch.setattr(semantic, "TOKEN_MEMO", 64)  # a memo of 64 tokens: evictions all along
    small = semantic.SemanticIndex(entries)
    assert len(small._memo) == 64
    for text, products in zip(reversed(texts), reversed(first)):  # other order, other evictions: bit for bit
        assert np.array_equal(small._products(text), products, equal_nan=True), text
    assert len(small._slots) == 64
    monkeypatch.setattr(semantic, "TOKEN_MEMO_BYTES", 64 * 4 * 1000)  # too small a budget for this base: no memo,
    factored = semantic.SemanticIndex(entries)  # the phrasings compared through their tokens
    assert len(factored._memo) == 0 and factored._factors is not None
    for text, products in zip(texts, first):
        assert np.allclose(factored._columns([text])[0], products, rtol=0, atol=2e-6), text
    units = [factored._embed_one(text) for text in texts[:10]]
    alone = [factored._factors.products([unit])[0] for unit in units]
    for count in range(1, len(units) + 1):  # compared together (one by one, or in padded blocks), each as if alone
        together = factored._factors.products(units[:count])
        assert len(together) == count
        for i in range(count):
            assert np.array_equal(together[i], alone[i], equal_nan=True), (count, i)
    monkeypatch.setattr(semantic, "_TokenFactors", _without_scipy)  # and without SciPy, the direct product
    direct = semantic.SemanticIndex(entries)
    assert direct._factors is None
    for text in texts:
        assert np.array_equal(direct._products(text), direct._vectors @ direct._embed_one(text), equal_nan=True)


def _without_scipy(*args: object) -> None:
    raise ModuleNotFoundError("No module named 'scipy'")


def test_the_model_read_from_its_files_is_the_one_wordllama_loads() -> None:
    model = semantic._model()
    if model is None:
        pytest.skip("WordLlama is not installed")
    wordllama = semantic._quiet_import_wordllama()
    reference = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    assert model.version == wordllama.__version__
    assert model.embedding.shape == reference.embedding.shape and model.embedding.dtype == reference.embedding.dtype
    rows = np.array([[0, 1, 2, 255, 256, 4096, 31999], [5, 17, 900, 12345, 20000, 30000, 31998]], dtype=np.int32)
    assert np.array_equal(model.embedding[rows], reference.embedding[rows])
    assert np.array_equal(model.embedding[:256], reference.embedding[:256])
    texts = SAMPLES[:-2] + ["what is an observership", "shadowing a doctor in the us", "ÅNGSTRÖM ﬁ 👍"]
    ours = model.tokenizer.encode_batch(texts, is_pretokenized=False, add_special_tokens=False)
    theirs = reference.tokenizer.encode_batch(texts, is_pretokenized=False, add_special_tokens=False)
    assert [(e.ids, e.attention_mask) for e in ours] == [(e.ids, e.attention_mask) for e in theirs]
    assert np.array_equal(model.embed(texts, norm=True), reference.embed(texts, norm=True), equal_nan=True)


def test_phrasing_vectors_are_cached_by_content(kb: KnowledgeBase, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG_ADVISOR_KB_CACHE", str(tmp_path))
    entries = list(kb.entries.values())
    fresh = semantic.SemanticIndex(entries)
    if not fresh.available:
        pytest.skip("WordLlama is not installed")
    stored = list(tmp_path.glob("vectors-*.npy"))
    assert len(stored) == 1
    embedded: list[int] = []
    real_embed = fresh._model.embed
    monkeypatch.setattr(fresh._model, "embed", lambda texts, **kw: embedded.append(len(texts)) or real_embed(texts, **kw))
    again = semantic.SemanticIndex(entries)
    assert embedded == [] and np.array_equal(again._vectors, fresh._vectors)
    semantic.SemanticIndex(entries[:-1])  # other texts: another key, embedded afresh
    assert embedded and len(list(tmp_path.glob("vectors-*.npy"))) == 2
    stored[0].write_bytes(b"damaged")  # a damaged file is a miss, never an error
    embedded.clear()
    assert np.array_equal(semantic.SemanticIndex(entries)._vectors, fresh._vectors) and embedded
    monkeypatch.setenv("IMG_ADVISOR_KB_CACHE", "off")
    assert cache.read_vectors("anything") is None


def test_a_file_store_checkpoints_its_wal_less_often(tmp_path: Path) -> None:
    database = Database.open(tmp_path / "bot.db")
    try:
        assert database.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_CHECKPOINT_PAGES
        assert database.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        database.close()


def test_ask_imports_no_platform_library_no_date_parser_and_no_store(tmp_path: Path) -> None:
    code = ("import sys; from adapters.cli import main\n"
            "try:\n    main(['ask', 'what is an observership'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('telegram', 'discord', 'dateparser', 'sqlite_utils', 'limits') "
            "if m in sys.modules), file=sys.stderr)")
    env = {**os.environ, "IMG_ADVISOR_DB": str(tmp_path / "bot.db")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_matcher_is_cached_by_content_and_ranks_as_a_fresh_one(kb: KnowledgeBase, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.answers.matching import Matcher

    monkeypatch.setenv("IMG_ADVISOR_KB_CACHE", str(tmp_path))
    entries = list(kb.entries.values())
    fresh = Matcher(entries, kb.synonyms)
    Matcher.cached(entries, kb.synonyms)
    assert len(list(tmp_path.glob("matcher-*.pickle"))) == 1
    built: list[int] = []
    monkeypatch.setattr(Matcher, "__init__", lambda self, *a: built.append(1) or None)
    served = Matcher.cached(entries, kb.synonyms)
    assert built == []  # read, not rebuilt
    for question in SAMPLES + ["what is an observership", "obsership fees??", "can i do hands on with b1/b2"]:
        assert served.rank(question) == fresh.rank(question) and served.stems(question) == fresh.stems(question)
    Matcher.cached(entries[:-1], kb.synonyms)  # other entries: another key, built afresh
    assert built == [1]
