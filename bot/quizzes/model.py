"""Quizzes as data (knowledge/quizzes/*.yaml): the model and the checks `kb check` runs.

A quiz is a small graph: each option of a question names the `next` question (or
`end`). Outcomes are rules over the answers: an outcome is reached when, for every
question it names in `when`, the user's answer is one of the listed option ids.
Every complete path must reach at least one outcome; every outcome must be reachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, StringConstraints

from bot.knowledge.schema import Strict, Text
from bot.knowledge.yamlsource import Problem, YamlDoc

END = "end"
MAX_PATHS = 50_000

ShortId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,11}$")]


class Option(Strict):
    """One answer; `min`/`max` let a typed number choose it."""

    id: ShortId
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    next: ShortId = END
    min: float | None = None
    max: float | None = None


class Question(Strict):
    id: ShortId
    text: Text
    options: list[Option] = Field(min_length=2, max_length=8)


class Outcome(Strict):
    """A result shown when its `when` conditions hold; `locked` explains how to reach it otherwise."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,23}$")]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    when: dict[ShortId, list[ShortId]] = Field(min_length=1)
    reason: Text
    next_steps: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]] = []
    faq: list[str] = []
    order: int = 0
    locked: Text | None = None

    def matches(self, answers: dict[str, str]) -> bool:
        return all(answers.get(q) in allowed for q, allowed in self.when.items())

    def near_miss(self, answers: dict[str, str]) -> bool:
        """All conditions but one hold: worth saying what would open it."""
        return sum(answers.get(q) not in allowed for q, allowed in self.when.items()) == 1


class Quiz(Strict):
    id: ShortId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=60)]
    intro: Text
    start: ShortId
    questions: list[Question] = Field(min_length=1)
    outcomes: list[Outcome] = Field(min_length=1)
    disclaimer: Text | None = None

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def results(self, answers: dict[str, str]) -> list[Outcome]:
        return sorted((o for o in self.outcomes if o.matches(answers)), key=lambda o: o.order)


@dataclass
class _Walk:
    paths: list[dict[str, str]]
    visited: set[str]
    cycle: tuple[str, str] | None = None
    truncated: bool = False


def _walk(quiz: Quiz) -> _Walk:
    """Every complete path of answers from the start question (depth-first)."""
    by_id = {q.id: q for q in quiz.questions}
    walk = _Walk([], set())

    def visit(question_id: str, answers: dict[str, str], stack: tuple[str, ...]) -> None:
        if walk.cycle or walk.truncated:
            return
        if len(walk.paths) >= MAX_PATHS:
            walk.truncated = True
            return
        question = by_id[question_id]
        walk.visited.add(question_id)
        for option in question.options:
            answered = {**answers, question_id: option.id}
            if option.next == END or option.next not in by_id:
                walk.paths.append(answered)
            elif option.next in stack:
                walk.cycle = (question_id, option.next)
                return
            else:
                visit(option.next, answered, stack + (option.next,))

    if quiz.start in by_id:
        visit(quiz.start, {}, (quiz.start,))
    return walk


def check_quiz(quiz: Quiz, doc: YamlDoc, entry_ids: set[str]) -> list[Problem]:
    """Graph and rule problems of one quiz, each with its line."""
    problems: list[Problem] = []
    by_id: dict[str, int] = {}
    for qi, question in enumerate(quiz.questions):
        if question.id in by_id:
            problems.append(Problem(doc.name, doc.line_of(("questions", qi)), f"duplicate question id {question.id!r}"))
        by_id[question.id] = qi
        seen = set()
        for oi, option in enumerate(question.options):
            where = doc.line_of(("questions", qi, "options", oi))
            if option.id in seen:
                problems.append(Problem(doc.name, where, f"duplicate option id {option.id!r} in {question.id!r}"))
            seen.add(option.id)
            if option.next != END and option.next not in {q.id for q in quiz.questions}:
                problems.append(Problem(doc.name, doc.line_of(("questions", qi, "options", oi, "next")),
                                        f"next {option.next!r} is not a question of this quiz (or 'end')"))
            action = f"quiz:{quiz.id}:{question.id}:{option.id}"
            if len(action.encode()) > 64:
                problems.append(Problem(doc.name, where, "ids too long for a button (64 bytes)"))
    if quiz.start not in by_id:
        problems.append(Problem(doc.name, doc.line_of(("start",)), f"start {quiz.start!r} is not a question"))
        return problems
    for oi, outcome in enumerate(quiz.outcomes):
        for q_id, allowed in outcome.when.items():
            question = quiz.questions[by_id[q_id]] if q_id in by_id else None
            if question is None:
                problems.append(Problem(doc.name, doc.line_of(("outcomes", oi, "when", q_id)),
                                        f"outcome {outcome.id!r} names unknown question {q_id!r}"))
                continue
            unknown = set(allowed) - {o.id for o in question.options}
            if unknown:
                problems.append(Problem(doc.name, doc.line_of(("outcomes", oi, "when", q_id)),
                                        f"outcome {outcome.id!r}: {sorted(unknown)} are not options of {q_id!r}"))
        for fi, faq_id in enumerate(outcome.faq):
            if faq_id not in entry_ids:
                problems.append(Problem(doc.name, doc.line_of(("outcomes", oi, "faq", fi)),
                                        f"FAQ entry {faq_id!r} does not exist"))
    walk = _walk(quiz)
    if walk.cycle:
        src, dst = walk.cycle
        problems.append(Problem(doc.name, doc.line_of(("questions", by_id[src])),
                                f"cycle: {src!r} leads back to {dst!r}; a quiz must always move forward"))
        return problems
    if walk.truncated:
        problems.append(Problem(doc.name, 1, f"more than {MAX_PATHS} answer paths; make the quiz smaller"))
        return problems
    for qi, question in enumerate(quiz.questions):
        if question.id not in walk.visited:
            problems.append(Problem(doc.name, doc.line_of(("questions", qi)),
                                    f"question {question.id!r} is not reachable from {quiz.start!r}"))
    reached: set[str] = set()
    dead_end_reported = False
    for answers in walk.paths:
        results = quiz.results(answers)
        reached.update(o.id for o in results)
        if not results and not dead_end_reported:
            path = ", ".join(f"{q}={a}" for q, a in answers.items())
            problems.append(Problem(doc.name, doc.line_of(("outcomes",)), f"answers reach no outcome: {path}"))
            dead_end_reported = True
    for oi, outcome in enumerate(quiz.outcomes):
        if outcome.id not in reached:
            problems.append(Problem(doc.name, doc.line_of(("outcomes", oi)),
                                    f"outcome {outcome.id!r} is reached by no combination of answers"))
    return problems


def paths(quiz: Quiz) -> list[dict[str, str]]:
    """Every complete path of answers (for tests and tools)."""
    return _walk(quiz).paths
