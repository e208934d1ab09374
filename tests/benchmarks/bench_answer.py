"""Benchmark the whole answer path: reading, lexical + semantic ranking, confidence, reply.

Prints p50 / p99 of `FaqService.answer` per question on the shipped knowledge base and
on a synthetic 2,000-entry base (target: p99 <= 5 ms), with plain `Matcher.rank` (the
lexical layer alone) measured in the same run as the baseline. The default questions are short
(the held-out and FAQ sets); `--blind` adds the labelled blind sets' messages, long ones with
several questions among them, which may be ranked more than once (each part, then the whole message).

Run:  python tests/benchmarks/bench_answer.py [--rounds N] [--size N] [--blind]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.answers.evaluation import load_questions  # noqa: E402
from bot.answers.faq import FaqService  # noqa: E402
from bot.config import bundled_knowledge_dir  # noqa: E402
from bot.knowledge import KnowledgeBase, load_knowledge  # noqa: E402
from tests.benchmarks.bench_match import percentiles, questions, synthetic_entries  # noqa: E402


def timed(call, texts: list[str], rounds: int) -> list[float]:  # noqa: ANN001
    samples = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            call(text)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--blind", action="store_true", help="also the labelled blind sets' messages")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    kb = load_knowledge(bundled_knowledge_dir())
    texts = questions()
    if args.blind:
        texts += [q.q for path in sorted((Path(__file__).resolve().parents[1] / "eval").glob("blind*_2026-12.yaml"))
                  for q in load_questions(path)]
    for name, base in (("shipped", kb), (f"synthetic {args.size:,}", None)):
        if base is None:
            entries = synthetic_entries(kb, args.size)
            base = KnowledgeBase({e.id: e for e in entries}, kb.topics, kb.synonyms, kb.smalltalk)
        started = time.perf_counter()
        faq = FaqService(base)
        built = time.perf_counter() - started
        lexical = timed(lambda t: faq.matcher.rank(t, limit=4), texts, args.rounds)
        whole = timed(faq.answer, texts, args.rounds)
        (l50, l99), (w50, w99) = percentiles(lexical), percentiles(whole)
        print(f"{name} ({len(base.entries):,} entries, {len(texts):,} questions, index built in {built:.2f} s): "
              f"answer p50 {w50:.2f} ms, "
              f"p99 {w99:.2f} ms (target p99 <= 5 ms); lexical rank alone p50 {l50:.2f} ms, p99 {l99:.2f} ms; "
              f"ratio p99 {w99 / l99:.1f}x")


if __name__ == "__main__":
    main()
