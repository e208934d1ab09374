"""Choose the FAQ answer thresholds by measurement, not taste.

Ranks every question of one or more eval files once, then replays the decision rule
of `bot.answers.faq.FaqService` for a grid of (ANSWER_AT, MARGIN) values and prints, for each:
in-scope accuracy, the wrong-answer rate (answered with an entry that lacks every
expected term: worse for a user than an honest "did you mean"), and the out-of-scope
answered rate. Run:

    python tests/benchmarks/sweep_thresholds.py ../shared/eval/faq_dev.yaml tests/eval/holdout.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.answers.evaluation import OUT_OF_SCOPE, load_questions
from bot.answers.faq import FaqService, is_confident
from bot.answers.normalize import normalize
from bot.config import bundled_knowledge_dir
from bot.knowledge import load_knowledge
from bot.markup import to_plain


def main(paths: list[str]) -> None:
    faq = FaqService(load_knowledge(bundled_knowledge_dir()))
    questions = [q for p in paths for q in load_questions(Path(p))]
    rows = []
    for q in questions:
        ranked = faq.matcher.rank(q.q, limit=2)
        blocked = faq.out_of_scope.found_in(normalize(q.q))
        right = bool(ranked) and any(
            t in to_plain(faq.entry_reply(ranked[0].entry_id).text).lower() for t in q.expect_any)
        rows.append((q.topic == OUT_OF_SCOPE, blocked, right, ranked, len(faq.matcher.stems(q.q))))
    inside = sum(not r[0] for r in rows)
    outside = len(rows) - inside
    print(f"{len(rows)} questions ({inside} in scope, {outside} out of scope)")
    print(f"{'answer_at':>9} {'margin':>6} {'accuracy':>9} {'wrong':>7} {'oos_answered':>12}")
    for answer_at in [x / 100 for x in range(36, 72, 3)]:
        for margin in (0.0, 0.02, 0.04, 0.08):
            ok = wrong = oos = 0
            for is_oos, blocked, right, ranked, words in rows:
                answers = not blocked and is_confident(ranked, words, answer_at, margin)
                if is_oos:
                    oos += answers
                elif answers:
                    ok += right
                    wrong += not right
            print(f"{answer_at:9.2f} {margin:6.2f} {ok / inside:9.1%} {wrong / inside:7.1%} {oos / max(outside, 1):12.1%}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["../shared/eval/faq_dev.yaml", "tests/eval/holdout.yaml"])
