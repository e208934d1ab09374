"""Score the FAQ matcher on a question set (the format of shared/eval/faq_dev.yaml).

Each item has `q`, `topic` and `expect_any`: an in-scope answer is correct when the bot
answers with an entry and the answer contains at least one expected term
(case-insensitive). For `topic: out_of_scope` the bot must not answer with an entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.advisor import Advisor
from bot.markup import to_plain

OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Question:
    q: str
    topic: str
    expect_any: tuple[str, ...]


@dataclass
class Result:
    question: Question
    ok: bool
    entry: str | None
    score: float | None
    suggestions: list[str]


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def in_scope(self) -> list[Result]:
        return [r for r in self.results if r.question.topic != OUT_OF_SCOPE]

    @property
    def out_of_scope(self) -> list[Result]:
        return [r for r in self.results if r.question.topic == OUT_OF_SCOPE]

    @property
    def accuracy(self) -> float:
        """Share of in-scope questions answered correctly."""
        rows = self.in_scope
        return sum(r.ok for r in rows) / len(rows) if rows else 0.0

    @property
    def false_answer_rate(self) -> float:
        """Share of out-of-scope questions the bot answered with an entry."""
        rows = self.out_of_scope
        return sum(not r.ok for r in rows) / len(rows) if rows else 0.0


def load_questions(path: Path) -> list[Question]:
    """Read a question set; raises ValueError naming the item when one is malformed."""
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    questions = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("q"), str) or "topic" not in item:
            raise ValueError(f"{path}: item {number} needs at least q and topic")
        questions.append(Question(item["q"], str(item["topic"]),
                                  tuple(str(t).lower() for t in item.get("expect_any") or ())))
    return questions


def evaluate(advisor: Advisor, questions: list[Question]) -> Report:
    """Ask every question and judge each answer."""
    report = Report()
    for question in questions:
        outcome = advisor.ask(question.q)
        text = "\n".join(to_plain(r.text) for r in outcome.replies).lower()
        if question.topic == OUT_OF_SCOPE:
            ok = outcome.entry is None
        else:
            ok = outcome.entry is not None and any(term in text for term in question.expect_any)
        report.results.append(Result(question, ok, outcome.entry, outcome.score, outcome.suggestions))
    return report


def print_report(report: Report, show_misses: bool = True) -> None:
    """Print the summary, a per-topic table and (optionally) every miss."""
    inside, outside = report.in_scope, report.out_of_scope
    print(f"in-scope accuracy:          {report.accuracy:6.1%}  ({sum(r.ok for r in inside)}/{len(inside)})")
    print(f"out-of-scope answered rate: {report.false_answer_rate:6.1%}  "
          f"({sum(not r.ok for r in outside)}/{len(outside)})")
    by_topic: dict[str, list[Result]] = defaultdict(list)
    for result in report.results:
        by_topic[result.question.topic].append(result)
    print(f"\n{'topic':28} {'ok':>4} {'n':>4} {'rate':>7}")
    for topic in sorted(by_topic):
        rows = by_topic[topic]
        good = sum(r.ok for r in rows)
        print(f"{topic:28} {good:4} {len(rows):4} {good / len(rows):7.1%}")
    misses = [r for r in report.results if not r.ok]
    if show_misses and misses:
        print(f"\nmisses ({len(misses)}):")
        for r in misses:
            score = f"{r.score:.2f}" if r.score is not None else "-"
            got = r.entry or (f"did you mean {r.suggestions}" if r.suggestions else "no answer")
            print(f"  [{r.question.topic}] {r.question.q!r} -> {got} (score {score})")
