"""Benchmark loading the knowledge base: the shipped one and synthetic ones of 2,000 and 5,000 entries.

For each base, in one run:

- `load_knowledge` seconds (median of --runs, in this process), which parses, validates
  and checks every file, the question-collision check included;
- the baseline: parsing the same files with plain LibYAML (`yaml.load(text, CSafeLoader)`),
  the least any loader must spend, and the ratio of the two;
- near-linearity: milliseconds per 1,000 entries at each size, and the 5,000/2,000 time
  ratio next to the 2.5 of a linear loader;
- the same load served from the knowledge cache (bot/knowledge/cache.py), files unchanged.

The synthetic bases are the shipped files plus generated FAQ files in a temporary
directory: each generated entry is a shipped entry with a new id, its questions' words
shuffled plus two words from the shipped vocabulary (as bench_match.py does), and a
`related` link to the previous generated entry. Targets: at most 2 s at 2,000 entries,
at most 5 s at 5,000.

Only the public API is used (`bot.knowledge.load_knowledge`), so the same script times
another checkout too: `PYTHONPATH=/path/to/other/checkout python tests/benchmarks/bench_load.py`.

Run:  python tests/benchmarks/bench_load.py [--sizes 2000 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from bot.config import bundled_knowledge_dir
from bot.knowledge import load_knowledge

PER_FILE = 100
TARGETS = {2000: 2.0, 5000: 5.0}


def build_base(target: Path, size: int, seed: int = 11) -> Path:
    """Copy the shipped knowledge base to `target` and add generated entries up to `size` in all."""
    shutil.copytree(bundled_knowledge_dir(), target)
    shipped = [e for path in sorted((target / "faq").glob("*.yaml"))
               for e in yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)]
    rng = random.Random(seed)
    words = sorted({w for e in shipped for q in e["questions"] for w in q.split()})
    generated = []
    siblings: dict[str, list[str]] = {}  # questions generated from one shipped entry: kept apart
    for i in range(max(0, size - len(shipped))):
        base = shipped[i % len(shipped)]
        entry = dict(base)
        entry["id"] = f"{base['id'][:30]}-s{i}"
        entry["questions"] = [_fresh_question(q, words, siblings.setdefault(base["id"], []), rng)
                              for q in base["questions"]]
        entry["related"] = [generated[-1]["id"]] if generated else []
        generated.append(entry)
    for n in range(0, len(generated), PER_FILE):
        text = yaml.safe_dump(generated[n:n + PER_FILE], sort_keys=False, allow_unicode=True, width=100)
        (target / "faq" / f"zz-synthetic-{n // PER_FILE:03}.yaml").write_text(text, encoding="utf-8")
    return target


def _fresh_question(question: str, words: list[str], taken: list[str], rng: random.Random) -> str:
    """The question's words shuffled plus two vocabulary words, not near-identical to `taken`.

    Copies of one shipped entry share their words, so without this check two of them
    now and then collide (and a base with collisions does not load)."""
    for _ in range(50):
        text = " ".join(rng.sample(question.split(), k=len(question.split())) + rng.sample(words, k=2))
        if process.extractOne(text.lower(), taken, scorer=fuzz.ratio, score_cutoff=85) is None:
            break
    taken.append(text.lower())
    return text


def yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.yaml"))


def plain_libyaml(directory: Path) -> float:
    """Seconds to parse every YAML file of `directory` with plain LibYAML (no line numbers, no checks)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    start = time.perf_counter()
    for path in yaml_files(directory):
        yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return time.perf_counter() - start


def time_load(directory: Path, runs: int, today: dt.date) -> tuple[float, float, int]:
    """(first run, median of `runs`) seconds of load_knowledge, and the number of entries loaded."""
    samples = []
    entries = 0
    for _ in range(runs):
        start = time.perf_counter()
        kb = load_knowledge(directory, today)
        samples.append(time.perf_counter() - start)
        entries = len(kb.entries)
    return samples[0], statistics.median(samples), entries


def time_cached(directory: Path, runs: int, today: dt.date, cache_root: Path) -> float:
    """Median seconds of load_knowledge once the cache holds this base (the first load fills it)."""
    os.environ["IMG_ADVISOR_KB_CACHE"] = str(cache_root)
    try:
        load_knowledge(directory, today)
        return time_load(directory, runs, today)[1]
    finally:
        os.environ["IMG_ADVISOR_KB_CACHE"] = "off"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000], help="synthetic base sizes (entries)")
    parser.add_argument("--runs", type=int, default=3, help="loads per base (the median is reported)")
    args = parser.parse_args()
    # no cache: every load parses and checks from scratch (a cache, if present, is measured separately)
    os.environ["IMG_ADVISOR_KB_CACHE"] = "off"
    today = dt.date.today()
    has_cache = importlib.util.find_spec("bot.knowledge.cache") is not None  # older checkouts have none
    print(f"LibYAML: {'yes' if getattr(yaml, '__with_libyaml__', False) else 'no'}; median of {args.runs} loads")
    print(f"{'base':>16} {'entries':>7} {'load s':>8} {'first s':>8} {'ms/1000 entries':>16} "
          f"{'plain LibYAML s':>16} {'ratio':>6} {'cached s':>9}  target")
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        bases = [("shipped", bundled_knowledge_dir())]
        bases += [(f"synthetic {size:,}", build_base(Path(tmp) / f"kb-{size}", size)) for size in args.sizes]
        for label, directory in bases:
            first, median, entries = time_load(directory, args.runs, today)
            plain = statistics.median(plain_libyaml(directory) for _ in range(args.runs))
            cached = time_cached(directory, args.runs, today, Path(tmp) / "cache") if has_cache else float("nan")
            results[entries] = median
            target = next((f"<= {t:.0f} s {'ok' if median <= t else 'MISSED'}"
                           for size, t in TARGETS.items() if size == entries), "")
            print(f"{label:>16} {entries:>7,} {median:>8.3f} {first:>8.3f} {median / entries * 1e6:>16.1f} "
                  f"{plain:>16.3f} {median / plain:>6.1f} {cached:>9.3f}  {target}")
    sizes = sorted(results)
    if len(sizes) >= 2:
        small, large = sizes[-2], sizes[-1]
        print(f"linearity: load({large:,}) / load({small:,}) = {results[large] / results[small]:.2f} "
              f"(linear: {large / small:.2f})")


if __name__ == "__main__":
    main()
