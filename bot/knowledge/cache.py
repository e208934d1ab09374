"""A cache of loaded knowledge bases, keyed by the files' contents, so an unchanged base loads without re-parsing.

Measured (tests/benchmarks/bench_load.py, bench_cold_start.py): reading the cache takes
about 3 ms for the shipped base (176 entries) against about 85 ms to parse and check it,
and 0.14 s against 3.5 s for 5,000 entries; `img-advisor ask` starts in 1.09 s instead
of 1.20 s.

- **Key**: a SHA-256 of every file the loader reads (relative name and bytes), the day
  (review-age warnings and "reviewed in the future" depend on it), the source of every
  module of bot.knowledge and of the two it uses from elsewhere (bot.quizzes.model,
  bot.answers.normalize), and the Python, pydantic, PyYAML and rapidfuzz versions. Any change to any of them is a miss, and the base is loaded from the files.
- **Where**: `$IMG_ADVISOR_KB_CACHE` if set to a directory (`off` turns the cache off),
  else `$XDG_CACHE_HOME/img-advisor/knowledge` (usually `~/.cache/img-advisor/knowledge`);
  never inside the installed package. One file per knowledge directory, at most
  `KEEP` files (the oldest go).
- **Also kept** (`read_vectors`/`write_vectors`, `read_object`/`write_object`): the phrasings'
  WordLlama embeddings (`vectors-*.npy`) and the built lexical matcher (`matcher-*.pickle`), each
  under a hash of its inputs (texts, synonyms, model rows) and of the code that builds it; at
  most `KEEP` of each.
- **Safe**: only bases without errors are stored. A cache directory that cannot be
  created or written, or a file that cannot be read or unpickled, is a miss and never an
  error (logged at debug level). Files are written to a temporary name and renamed, so
  two processes never see half a file. The stored objects are pickles: the cache is as
  trusted as the rest of the user's home directory, so it must not be pointed at a
  directory other users can write to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import logging
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = b"img-advisor knowledge cache 1\n"
KEEP = 8
_OUTSIDE_SOURCES = ("bot.quizzes.model", "bot.answers.normalize")  # what the loader uses beyond this package


def cache_dir() -> Path | None:
    """Where cached bases live, or None when the cache is off."""
    setting = os.environ.get("IMG_ADVISOR_KB_CACHE", "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "img-advisor" / "knowledge"


def knowledge_files(directory: Path) -> list[Path]:
    """The files `check_knowledge` reads, in a fixed order."""
    names = ["topics.yaml", "synonyms.yaml", "smalltalk.yaml", "deadlines.yaml"]
    files = [directory / name for name in names]
    for sub in ("faq", "quizzes"):
        folder = directory / sub
        files += sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    return files


@lru_cache(maxsize=1)
def _code_fingerprint() -> bytes:
    import pydantic
    import rapidfuzz
    import yaml

    digest = hashlib.sha256()
    versions = (sys.version, pydantic.VERSION, yaml.__version__, rapidfuzz.__version__)
    digest.update(repr(versions).encode())
    sources = sorted(Path(__file__).resolve().parent.glob("*.py"))  # every module of bot.knowledge
    sources += [Path(importlib.import_module(name).__file__ or name) for name in _OUTSIDE_SOURCES]
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.digest()


def key(directory: Path, today: dt.date) -> bytes:
    """The hex SHA-256 that identifies this directory's contents, today, with this code."""
    digest = hashlib.sha256(FORMAT + _code_fingerprint() + today.isoformat().encode())
    for path in knowledge_files(directory):
        digest.update(b"\0" + path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest().encode()


def _slot(root: Path, directory: Path) -> Path:
    return root / (hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:24] + ".pickle")


def read(directory: Path, today: dt.date) -> tuple[Any, bytes | None]:
    """(the cached base or None, the key to store a fresh load under; None when the cache is off)."""
    root = cache_dir()
    if root is None:
        return None, None
    try:
        wanted = key(directory, today)
    except OSError as exc:
        log.debug("knowledge cache: cannot read %s: %s", directory, exc)
        return None, None
    try:
        with _slot(root, directory).open("rb") as f:
            if f.readline() != FORMAT or f.readline().rstrip(b"\n") != wanted:
                return None, wanted
            return pickle.load(f), wanted
    except FileNotFoundError:
        return None, wanted
    except Exception as exc:  # a damaged or foreign file is a miss, whatever it raises
        log.debug("knowledge cache: ignoring %s: %s", _slot(root, directory), exc)
        return None, wanted


def write(directory: Path, wanted: bytes, kb: Any) -> None:
    """Store `kb` under `wanted`; any failure only means the next start parses again."""
    root = cache_dir()
    if root is not None:
        _store(root, _slot(root, directory), FORMAT + wanted + b"\n", kb, "[0-9a-f]*.pickle", "the knowledge base")


def _store(root: Path, target: Path, header: bytes, obj: Any, siblings: str, what: str) -> None:
    """Write `header` and the pickled `obj` to `target` atomically; keep the KEEP newest `siblings`."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        stored = sorted(root.glob(siblings), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in stored[KEEP:]:
            old.unlink(missing_ok=True)
    except Exception as exc:
        log.debug("knowledge cache: %s not written to %s: %s", what, root, exc)


def read_vectors(digest: str) -> Any:
    """The phrasing embeddings stored under `digest` (a hash of the model and the texts), or None."""
    root = cache_dir()
    if root is None:
        return None
    try:
        import numpy as np

        with (root / f"vectors-{digest}.npy").open("rb") as f:
            return np.load(f, allow_pickle=False)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged file is a miss
        log.debug("knowledge cache: ignoring vectors %s: %s", digest, exc)
        return None


def write_vectors(digest: str, vectors: Any) -> None:
    """Store phrasing embeddings under `digest`; any failure only means the next start embeds again."""
    root = cache_dir()
    if root is None:
        return
    try:
        import numpy as np

        root.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, vectors, allow_pickle=False)
            os.replace(temporary, root / f"vectors-{digest}.npy")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        stored = sorted(root.glob("vectors-*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in stored[KEEP:]:
            old.unlink(missing_ok=True)
    except Exception as exc:
        log.debug("knowledge cache: vectors not written to %s: %s", root, exc)


def read_object(kind: str, digest: str) -> Any:
    """An object built from knowledge (a matcher) stored under `digest` (a hash of its inputs and code), or None."""
    root = cache_dir()
    if root is None:
        return None
    try:
        with (root / f"{kind}-{digest}.pickle").open("rb") as f:
            if f.readline() != FORMAT:
                return None
            return pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged file is a miss
        log.debug("knowledge cache: ignoring %s %s: %s", kind, digest, exc)
        return None


def write_object(kind: str, digest: str, obj: Any) -> None:
    """Store `obj` under `digest`; any failure only means the next start builds it again."""
    root = cache_dir()
    if root is not None:
        _store(root, root / f"{kind}-{digest}.pickle", FORMAT, obj, f"{kind}-*.pickle", kind)
