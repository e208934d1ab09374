"""The knowledge cache: an unchanged base loads without parsing; any change, another day or a broken cache is a miss."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

import bot
from bot.config import bundled_knowledge_dir
from bot.knowledge import cache, load_knowledge
from bot.knowledge.yamlsource import KnowledgeError
from tests.fakes import KNOWLEDGE_TODAY as TODAY


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), target)
    return target


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("IMG_ADVISOR_KB_CACHE", str(root))
    return root


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every directory that is really parsed and checked (not served from the cache)."""
    from bot.knowledge import loader

    seen: list[Path] = []
    real = loader.check_knowledge

    def counting(directory: Path, today: dt.date | None = None):  # type: ignore[no-untyped-def]
        seen.append(directory)
        return real(directory, today)

    monkeypatch.setattr(loader, "check_knowledge", counting)
    return seen


def test_an_unchanged_base_is_served_from_the_cache(kb_copy: Path, cache_root: Path, parses: list[Path]) -> None:
    first = load_knowledge(kb_copy, TODAY)
    second = load_knowledge(kb_copy, TODAY)
    assert parses == [kb_copy]
    assert second.entries == first.entries and second.quizzes == first.quizzes
    assert second.synonyms == first.synonyms and second.deadlines == first.deadlines
    assert second.warnings == first.warnings
    assert len(list(cache_root.glob("*.pickle"))) == 1


def test_a_changed_file_another_day_or_new_code_is_a_miss(kb_copy: Path, cache_root: Path, parses: list[Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    load_knowledge(kb_copy, TODAY)
    path = kb_copy / "faq" / "visa.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: The ", 1), encoding="utf-8")
    changed = load_knowledge(kb_copy, TODAY)
    assert any(e.title.startswith("The ") for e in changed.entries.values())
    load_knowledge(kb_copy, TODAY + dt.timedelta(days=1))  # review-age warnings depend on the day
    monkeypatch.setattr(cache, "_code_fingerprint", lambda: b"other code")
    load_knowledge(kb_copy, TODAY + dt.timedelta(days=1))
    assert len(parses) == 4
    load_knowledge(kb_copy, TODAY + dt.timedelta(days=1))
    assert len(parses) == 4


def test_a_base_with_errors_is_never_cached(kb_copy: Path, cache_root: Path) -> None:
    (kb_copy / "faq" / "zz.yaml").write_text("- id: [\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(KnowledgeError):
            load_knowledge(kb_copy, TODAY)
    assert not list(cache_root.glob("*.pickle"))


def test_an_unwritable_cache_is_harmless(kb_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("IMG_ADVISOR_KB_CACHE", str(blocker / "cache"))  # cannot be created, even by root
    assert len(load_knowledge(kb_copy, TODAY).entries) >= 80
    assert len(load_knowledge(kb_copy, TODAY).entries) >= 80


@pytest.mark.parametrize("damage", [b"", b"garbage", cache.FORMAT, b"truncated"])
def test_a_damaged_cache_file_is_a_miss(kb_copy: Path, cache_root: Path, parses: list[Path], damage: bytes) -> None:
    expected = load_knowledge(kb_copy, TODAY)
    [slot] = cache_root.glob("*.pickle")
    if damage == b"truncated":
        damage = slot.read_bytes()[:-200]
    slot.write_bytes(damage)
    assert load_knowledge(kb_copy, TODAY).entries == expected.entries
    assert len(parses) == 2
    assert load_knowledge(kb_copy, TODAY).entries == expected.entries  # rewritten: served again
    assert len(parses) == 2


def test_only_a_few_files_are_kept(tmp_path: Path, cache_root: Path) -> None:
    for n in range(cache.KEEP + 3):
        copy = tmp_path / f"kb{n}"
        shutil.copytree(bundled_knowledge_dir(), copy)
        load_knowledge(copy, TODAY)
    assert len(list(cache_root.glob("*.pickle"))) == cache.KEEP
    assert not list(cache_root.glob(".tmp-*"))


def test_the_cache_lives_in_the_users_cache_dir_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.delenv("IMG_ADVISOR_KB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "img-advisor" / "knowledge"
    monkeypatch.delenv("XDG_CACHE_HOME")
    default = cache.cache_dir()
    assert default == Path.home() / ".cache" / "img-advisor" / "knowledge"
    assert Path(bot.__file__).resolve().parent.parent not in default.resolve().parents
    monkeypatch.setenv("IMG_ADVISOR_KB_CACHE", "off")
    assert cache.cache_dir() is None


def test_the_key_covers_every_module_of_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed or new checker module changes what a load reports, so it must change the key."""
    package = Path(cache.__file__).resolve().parent
    fake = tmp_path / "knowledge_pkg"
    fake.mkdir()
    for source in package.glob("*.py"):
        (fake / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(cache, "__file__", str(fake / "cache.py"))
    cache._code_fingerprint.cache_clear()
    try:
        keys = [cache._code_fingerprint()]
        (fake / "models.py").write_text((fake / "models.py").read_text() + "\n# changed\n")
        cache._code_fingerprint.cache_clear()
        keys.append(cache._code_fingerprint())
        (fake / "newcheck.py").write_text("RULES = 1\n")
        cache._code_fingerprint.cache_clear()
        keys.append(cache._code_fingerprint())
        assert len(set(keys)) == 3
    finally:
        cache._code_fingerprint.cache_clear()
