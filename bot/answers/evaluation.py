"""Score the answers on a question set.

Two ways to grade:

- keyword sets (the format of shared/eval/faq_dev.yaml): each item has `q`, `topic` and
  `expect_any`; an in-scope answer is correct when the bot answers with an entry whose
  text contains an expected term. For `topic: out_of_scope` it must not answer.
- labelled sets (shared/eval/real_dev.yaml with tests/eval/real_dev_labels.yaml): each
  item's `want` was read against the knowledge base once and the entries that answer it
  written down; a reply is then right (a labelled entry), partial, wrong (another
  entry), or declined ("did you mean" or "no answer"), judged by reading, not keywords.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.advisor import Advisor
from bot.events import Outcome
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


# labelled grading: right / partial / wrong / declined, by reading

VERDICTS = ("right", "partial", "wrong", "declined")


@dataclass(frozen=True)
class Label:
    """What answers one item, judged by reading its `want` against the knowledge base."""

    index: int
    entries: tuple[str, ...]
    partial: tuple[str, ...] = ()
    gap: str | None = None
    out_of_scope: bool = False
    tags: frozenset[str] = frozenset()  # "multi", "greeting", "long"
    acceptable: tuple[str, ...] = ()  # out of scope, yet the labeller judged these entries an acceptable short
    # reply (a dentist asking their route: the entry saying a dental degree does not lead to USMLE or residency)


@dataclass
class Graded:
    """One item's reply and its verdict."""

    question: Question
    label: Label
    verdict: str
    entries: list[str]
    confidence: float | None
    suggestions: list[str]
    kind: str

    @property
    def answerable(self) -> bool:
        """Whether the knowledge base holds a right answer (the label names an entry)."""
        return bool(self.label.entries) and not self.label.out_of_scope


def load_labels(path: Path) -> dict[int, Label]:
    """Read a label file (tests/eval/*_labels.yaml): item index -> label."""
    labels: dict[int, Label] = {}
    for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        tags = frozenset(t for t in ("multi", "greeting", "long") if item.get(t))
        labels[int(item["i"])] = Label(int(item["i"]), tuple(item.get("entries") or ()),
                                       tuple(item.get("partial") or ()), item.get("gap"),
                                       bool(item.get("out_of_scope")), tags, tuple(item.get("acceptable") or ()))
    return labels


def grade(advisor: Advisor, questions: list[Question], labels: dict[int, Label]) -> list[Graded]:
    """Ask every labelled question and grade each reply against its label."""
    graded = []
    for index, question in enumerate(questions):
        label = labels.get(index)
        if label is None:
            continue
        outcome = advisor.ask(question.q)
        answered = answered_entries(outcome)
        graded.append(Graded(question, label, verdict(label, answered), answered, outcome.score, outcome.suggestions,
                             outcome.kind))
    return graded


def answered_entries(outcome: Outcome) -> list[str]:
    """The entries a reply answered with (several for a message of several questions)."""
    return outcome.entries or ([outcome.entry] if outcome.entry else [])


def verdict(label: Label, answered: list[str]) -> str:
    """right, partial, wrong or declined: a reply's entries judged against an item's label."""
    if label.out_of_scope:
        return "wrong" if answered and not all(e in label.acceptable for e in answered) else "right"
    if not answered:
        return "declined"
    if all(e in label.entries for e in answered):
        return "right"
    if all(e in label.entries or e in label.partial for e in answered):
        return "partial"
    return "wrong"


def _row(name: str, rows: list[Graded]) -> str:
    n = len(rows) or 1
    counts = [sum(g.verdict == v for g in rows) for v in VERDICTS]
    offered = sum(bool(g.verdict == "declined" and g.suggestions and g.suggestions[0] in g.label.entries) for g in rows)
    return f"| {name} | {len(rows)} | " + " | ".join(f"{c / n:.0%} ({c})" for c in counts) + f" | {offered} |"


def graded_table(graded: list[Graded]) -> str:
    """Markdown: verdicts for answerable, all in-scope, off-topic, and the hard kinds of message."""
    inside = [g for g in graded if not g.label.out_of_scope]
    answerable = [g for g in inside if g.answerable]
    plain = [g for g in inside if not g.label.tags]
    lines = ["| items | n | right | partial | wrong | declined | of which the right entry was offered first |",
             "|---|---|---|---|---|---|---|",
             _row("answerable (the knowledge base holds the answer)", answerable),
             _row("all in-scope", inside),
             _row("off-topic (right = no entry, or one the labeller judged acceptable)", [g for g in graded if g.label.out_of_scope])]
    for tag in ("long", "greeting", "multi"):
        lines.append(_row(f"in-scope, {tag}", [g for g in inside if tag in g.label.tags]))
    lines.append(_row("in-scope, none of those", plain))
    return "\n".join(lines)


def confidence_bands(graded: list[Graded], edges: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.85, 1.01)) -> str:
    """Markdown: per confidence band, how many answers were right and wrong (answered items only)."""
    lines = ["| confidence | answered | right | partial | wrong |", "|---|---|---|---|---|"]
    for low, high in zip(edges, edges[1:]):
        rows = [g for g in graded if g.entries and g.confidence is not None and low <= g.confidence < high]
        counts = [sum(g.verdict == v for g in rows) for v in ("right", "partial", "wrong")]
        lines.append(f"| {low:.2f}–{min(high, 1.0):.2f} | {len(rows)} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines)


def grading_lines(graded: list[Graded]) -> list[str]:
    """One line per item: verdict, what was answered, the label, the question's start."""
    lines = []
    for g in graded:
        got = ", ".join(g.entries) or (f"did you mean {', '.join(g.suggestions)}" if g.suggestions else g.kind)
        want = (f"off-topic (acceptable: {', '.join(g.label.acceptable)})" if g.label.acceptable else "off-topic") \
            if g.label.out_of_scope else (", ".join(g.label.entries) or f"gap: {g.label.gap}")
        conf = f"{g.confidence:.2f}" if g.confidence is not None else "-"
        lines.append(f"| {g.label.index} | {g.verdict} | {conf} | {got} | {want} | {g.question.q[:60]!r} |")
    return lines


def plot_calibration(graded: list[Graded], path: Path) -> None:
    """Draw, per confidence band, right / partial / wrong answers as stacked bars (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = [i / 10 for i in range(11)]
    bands = [[g for g in graded if g.entries and g.confidence is not None
              and low <= g.confidence < (high if high < 1 else 1.01)] for low, high in zip(edges, edges[1:])]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    bottom = [0] * len(bands)
    for verdict, colour in (("right", "#2a9d55"), ("partial", "#e0b030"), ("wrong", "#d1495b")):
        counts = [sum(g.verdict == verdict for g in band) for band in bands]
        ax.bar([e + 0.05 for e in edges[:-1]], counts, width=0.09, bottom=bottom, color=colour, label=verdict)
        bottom = [b + c for b, c in zip(bottom, counts)]
    ax.set_xlabel("confidence of the answer")
    ax.set_ylabel("answers")
    ax.set_title("Answers by confidence: right, partial and wrong")
    ax.set_xlim(0, 1)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
