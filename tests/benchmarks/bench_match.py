"""Benchmark FAQ matching: latency per question and throughput through `Advisor.handle`.

Measures, in one run on one core:

- p50/p99 of `Matcher.rank` on the shipped knowledge base, and on a synthetic
  2,000-entry base built from the shipped vocabulary;
- the same questions through plain `rapidfuzz.process.extractOne` over all question
  strings of the same base (the naive baseline);
- questions per second through the whole `Advisor.handle()` path (private chat), with an
  in-memory store and with a SQLite file store, and the same questions through
  `Matcher.rank` alone (the matcher's own cost: the ratio is what the rest of the path adds),
  and through `FaqService.answer` alone (the whole answer: reading, lexical and semantic
  ranking, confidence, rendering; what `handle()` adds to it is routing, throttle and store).
  The four throughput paths are timed in interleaved blocks (--blocks), so a machine whose
  load comes and goes slows them alike and the ratios between them hold.

Run:  python tests/benchmarks/bench_match.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.advisor import Advisor
from bot.answers.evaluation import load_questions
from bot.answers.faq import FaqService
from bot.answers.matching import Matcher
from bot.config import bundled_knowledge_dir
from bot.database import Database
from bot.events import Incoming
from bot.groups.throttle import Limits
from bot.knowledge import Entry, KnowledgeBase, load_knowledge

HERE = Path(__file__).resolve().parent
QUESTION_FILES = [HERE.parent / "eval" / "holdout.yaml", HERE.parents[2] / "shared" / "eval" / "faq_dev.yaml"]


def questions() -> list[str]:
    found = [q.q for path in QUESTION_FILES if path.exists() for q in load_questions(path)]
    return found + ["obsership fees??", "can i do hands on with b1/b2", "YOG 2015 still ok for IM?"]


def synthetic_entries(kb: KnowledgeBase, size: int, seed: int = 7) -> list[Entry]:
    """`size` entries whose questions mix the shipped base's words, as a larger base would."""
    rng = random.Random(seed)
    real = list(kb.entries.values())
    words = sorted({w for e in real for q in e.questions for w in q.split()})
    entries = []
    for i in range(size):
        base = real[i % len(real)]
        qs = [" ".join(rng.sample(q.split(), k=len(q.split())) + rng.sample(words, k=2)) for q in base.questions]
        entries.append(base.model_copy(update={"id": f"{base.id[:30]}-{i}", "questions": qs}))
    return entries


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile, in the samples' own unit."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_each(fn: Callable[[str], object], qs: list[str], rounds: int) -> tuple[float, float]:
    for q in qs:  # warm caches (stems, typo repair) as a running bot would have
        fn(q)
    samples = []
    for _ in range(rounds):
        for q in qs:
            start = time.perf_counter_ns()
            fn(q)
            samples.append(time.perf_counter_ns() - start)
    p50, p99 = percentiles(samples)
    return p50 / 1e6, p99 / 1e6


def report(label: str, entries: list[Entry], kb: KnowledgeBase, qs: list[str], rounds: int) -> None:
    matcher = Matcher(entries, kb.synonyms)
    strings = [q for e in entries for q in e.questions]
    ours = time_each(lambda q: matcher.rank(q), qs, rounds)
    plain = time_each(lambda q: process.extractOne(q, strings, scorer=fuzz.WRatio), qs, rounds)
    print(f"{label:28} entries={len(entries):5}  Matcher.rank p50={ours[0]:.3f} ms p99={ours[1]:.3f} ms | "
          f"plain extractOne p50={plain[0]:.3f} ms p99={plain[1]:.3f} ms")


async def throughputs(kb: KnowledgeBase, qs: list[str], total: int, database: Database,
                      blocks: int) -> dict[str, float]:
    """Questions per second of each path, timed in `blocks` interleaved blocks (so load that comes and
    goes on a shared machine falls on every path alike, and the ratios hold)."""
    matcher = Matcher(list(kb.entries.values()), kb.synonyms)
    faq = FaqService(kb)
    # limits high enough that every event takes the full path (the default would drop most as a flood)
    advisors = {name: Advisor(kb, store, limits=Limits("10000000/minute", "10000000/minute"))
                for name, store in (("memory", Database.in_memory()), ("file", database))}
    events = [Incoming("console", f"u{i % 50}", f"u{i % 50}", "bench", True, qs[i % len(qs)])
              for i in range(total)]

    async def handled(advisor: Advisor, chunk: list[Incoming]) -> None:
        for event in chunk:
            await advisor.handle(event)

    async def ranked(chunk: list[Incoming]) -> None:
        for event in chunk:
            matcher.rank(event.text)

    async def answered(chunk: list[Incoming]) -> None:
        for event in chunk:
            faq.answer(event.text)

    paths = {"rank": ranked, "answer": answered,
             **{name: (lambda chunk, a=advisor: handled(a, chunk)) for name, advisor in advisors.items()}}
    for run in paths.values():  # warm every path (caches, the store's first rows)
        await run(events[: len(qs)])
    spent = dict.fromkeys(paths, 0.0)
    size = -(-total // blocks)
    for begin in range(0, total, size):
        chunk = events[begin:begin + size]
        for name, run in paths.items():
            start = time.perf_counter()
            await run(chunk)
            spent[name] += time.perf_counter() - start
    return {name: total / seconds for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the question list")
    parser.add_argument("--total", type=int, default=20_000, help="events for the throughput run")
    parser.add_argument("--blocks", type=int, default=10, help="interleaved blocks the throughput runs are timed in")
    args = parser.parse_args()
    kb = load_knowledge(bundled_knowledge_dir())
    qs = questions()
    print(f"{len(qs)} distinct questions x {args.rounds} rounds")
    report("shipped knowledge base", list(kb.entries.values()), kb, qs, args.rounds)
    report("synthetic 2,000-entry base", synthetic_entries(kb, 2000), kb, qs, max(2, args.rounds // 4))
    with tempfile.TemporaryDirectory() as tmp:
        database = Database.open(Path(tmp) / "bench.db")
        try:
            rates = asyncio.run(throughputs(kb, qs, args.total, database, args.blocks))
        finally:
            database.close()
    alone, answered, memory, on_file = rates["rank"], rates["answer"], rates["memory"], rates["file"]
    print(f"Matcher.rank alone:                         {alone:7,.0f} questions/s (the floor of the path)")
    print(f"FaqService.answer alone:                    {answered:7,.0f} questions/s (the ceiling of handle())")
    print(f"Advisor.handle(), in-memory store:          {memory:7,.0f} questions/s  ({alone / memory:.2f}x Matcher.rank, "
          f"{answered / memory:.2f}x FaqService.answer)")
    print(f"Advisor.handle(), SQLite file store:        {on_file:7,.0f} questions/s  ({alone / on_file:.2f}x Matcher.rank, "
          f"{answered / on_file:.2f}x FaqService.answer)  (one core, {args.total:,} events each, "
          f"in {args.blocks} interleaved blocks)")


if __name__ == "__main__":
    main()
