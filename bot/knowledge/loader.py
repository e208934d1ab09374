"""The knowledge base: FAQ entries, topics, synonyms and small talk, loaded from YAML.

`load_knowledge(directory)` reads and validates every file and returns a
`KnowledgeBase`, or raises `KnowledgeError` listing each problem with file and line.
`check_knowledge(directory)` returns all problems, warnings included, for
`img-advisor kb check`. The layout of knowledge/ is described in knowledge/README.md.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.answers.normalize import normalize
from bot.knowledge import cache
from bot.knowledge.currency import calendar_problems, entry_problems
from bot.knowledge.models import Deadline, Entry, SmallTalk, Text, Topic
from bot.knowledge.similar import similar_pairs
from bot.knowledge.yamlsource import KnowledgeError, Problem, YamlDoc, load
from bot.quizzes.model import Option, Outcome, Question, Quiz, check_quiz

_MONEY = re.compile(r"(?:\$|US\$|AUD |€|£)\s?\d")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b|undated", re.IGNORECASE)
ANSWER_SOFT_LIMIT = 900
ANSWER_HARD_LIMIT = 1200
REVIEW_MAX_AGE_DAYS = 365
COLLISION_SCORE = 95.0

@dataclass
class KnowledgeBase:
    """Everything loaded from knowledge/, validated."""

    entries: dict[str, Entry]
    topics: dict[str, Topic]
    synonyms: dict[str, str]
    smalltalk: SmallTalk
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    quizzes: dict[str, Quiz] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def entries_in(self, topic_id: str) -> list[Entry]:
        """The entries of one topic, in file order."""
        return [e for e in self.entries.values() if e.topic == topic_id]


class _Adapter:
    """A pydantic `TypeAdapter`, built on first use (a base served from the cache validates nothing)."""

    def __init__(self, kind: Any):
        self._kind = kind
        self._adapter: TypeAdapter | None = None

    def validate_python(self, value: Any) -> Any:
        if self._adapter is None:
            self._adapter = TypeAdapter(self._kind)
        return self._adapter.validate_python(value)


_ENTRY = _Adapter(Entry)
_TOPIC = _Adapter(Topic)
_TOPICS = _Adapter(list[Topic])
_DEADLINES = _Adapter(list[Deadline])
_SYNONYMS = _Adapter(dict[Text, list[Text]])
_SMALLTALK = _Adapter(SmallTalk)
_QUIZ = _Adapter(Quiz)


_WHOLE = object()
_QUIZ_FIELDS = set(Quiz.model_fields) | set(Question.model_fields) | set(Option.model_fields) | set(Outcome.model_fields)


def _validate(doc: YamlDoc, adapter: _Adapter, problems: list[Problem],
              value: Any = _WHOLE, prefix: tuple[Any, ...] = ()) -> Any:
    """Validate `value` (default: the whole document), turning errors into problems with lines."""
    try:
        return adapter.validate_python(doc.value if value is _WHOLE else value)
    except ValidationError as exc:
        for err in exc.errors():
            # keep list indexes and real field names; drop pydantic's union-member labels
            path = prefix + tuple(p for p in err["loc"] if isinstance(p, int) or p in _FIELD_NAMES)
            named = [str(p) for p in path if not isinstance(p, int)]
            if err["type"] == "extra_forbidden":
                msg = f"unknown field {err['loc'][-1]!r}"
                path = prefix + tuple(err["loc"])
            elif err["type"] == "missing":
                msg = f"missing field {err['loc'][-1]!r}"
            else:
                msg = f"{'.'.join(named) or 'value'}: {err['msg']}"
                if isinstance(err.get("input"), bool):
                    msg += " (YAML reads yes/no/on/off/true/false as a boolean: put the word in quotes)"
            problems.append(Problem(doc.name, doc.line_of(path), msg))
        return None


_FIELD_NAMES = set(Entry.model_fields) | set(Topic.model_fields) | set(Deadline.model_fields) | _QUIZ_FIELDS | set(SmallTalk.model_fields) | {"phrases", "reply"}


def _load_doc(root: Path, rel: str, problems: list[Problem]) -> YamlDoc | None:
    path = root / rel
    if not path.exists():
        problems.append(Problem(rel, 1, "file is missing"))
        return None
    doc, found = load(path, rel)
    problems.extend(found)
    return doc


_ID_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?id:[ \t]*[\"']?([a-z0-9][a-z0-9-]*)", re.MULTILINE)
_TOPIC_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?topic:[ \t]*[\"']?([a-z0-9][a-z0-9-]*)", re.MULTILINE)


def _salvage(path: Path) -> tuple[set[str], set[str]]:
    """The entry ids and topics an unreadable FAQ file seems to name, read line by line.

    One syntax error is one problem: without this, every `related:` link and quiz link
    to an entry of the broken file, and its topic, would be reported again elsewhere."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set(), set()
    return set(_ID_LINE.findall(text)), set(_TOPIC_LINE.findall(text))


def _synonym_map(raw: dict[str, list[str]]) -> dict[str, str]:
    """variant (normalised) -> canonical (normalised), longest variants first."""
    mapping: dict[str, str] = {}
    for canonical, variants in raw.items():
        canon = normalize(canonical)
        for variant in variants:
            mapping[normalize(variant)] = canon
    return dict(sorted(mapping.items(), key=lambda kv: -len(kv[0])))


def _check_entries(entries: list[tuple[Entry, YamlDoc, int]], topics: dict[str, Topic],
                   unchecked_topics: set[str] | None, today: dt.date, problems: list[Problem],
                   broken_ids: set[str]) -> None:
    """Ids, topics, answers, review dates and links of the entries; `unchecked_topics` are
    topics with errors of their own (None: topics.yaml could not be read), not reported again."""
    ids: dict[str, tuple[str, int]] = {}
    for entry, doc, index in entries:
        line = doc.line_of((index,))
        if entry.id in ids:
            first = ids[entry.id]
            problems.append(Problem(doc.name, line, f"duplicate id {entry.id!r} (first at {first[0]}:{first[1]})"))
        ids.setdefault(entry.id, (doc.name, line))
        if entry.topic not in topics and unchecked_topics is not None and entry.topic not in unchecked_topics:
            problems.append(Problem(doc.name, doc.line_of((index, "topic")),
                                    f"topic {entry.topic!r} is not in topics.yaml"))
        if len(entry.answer) > ANSWER_HARD_LIMIT:
            problems.append(Problem(doc.name, doc.line_of((index, "answer")),
                                    f"answer is {len(entry.answer)} characters; keep it under {ANSWER_SOFT_LIMIT}"))
        elif len(entry.answer) > ANSWER_SOFT_LIMIT:
            problems.append(Problem(doc.name, doc.line_of((index, "answer")),
                                    f"answer is {len(entry.answer)} characters; about {ANSWER_SOFT_LIMIT} reads best on a phone",
                                    "warning"))
        if _MONEY.search(entry.answer) and not _YEAR.search(entry.answer):
            problems.append(Problem(doc.name, doc.line_of((index, "answer")),
                                    "answer quotes a fee but no year: say which year (or 'undated') it is for",
                                    "warning"))
        age = (today - entry.reviewed).days
        if age > REVIEW_MAX_AGE_DAYS:
            problems.append(Problem(doc.name, doc.line_of((index, "reviewed")),
                                    f"reviewed {entry.reviewed} is over 12 months ago; check the facts again", "warning"))
        if entry.reviewed > today:
            problems.append(Problem(doc.name, doc.line_of((index, "reviewed")),
                                    f"reviewed {entry.reviewed} is in the future"))
    for entry, doc, index in entries:
        for j, rel in enumerate(entry.related):
            if rel not in ids and rel not in broken_ids:
                problems.append(Problem(doc.name, doc.line_of((index, "related", j)), f"related id {rel!r} does not exist"))
            elif rel == entry.id:
                problems.append(Problem(doc.name, doc.line_of((index, "related", j)), "an entry cannot be related to itself"))
    _check_collisions(entries, problems)


def _check_collisions(entries: list[tuple[Entry, YamlDoc, int]], problems: list[Problem]) -> None:
    """Two entries whose questions are (nearly) the same would fight over every match.

    Candidates come from `similar_pairs` (q-gram prefix filtering), not from comparing
    every pair: the same collisions, found in about linear time."""
    owners: list[tuple[str, YamlDoc, int, int]] = []
    texts: list[str] = []
    for entry, doc, index in entries:
        for q_index, question in enumerate(entry.questions):
            owners.append((entry.id, doc, index, q_index))
            texts.append(normalize(question))
    reported: set[tuple[str, str]] = set()
    for i, j, _ in similar_pairs(texts, COLLISION_SCORE, groups=[owner[0] for owner in owners]):
        pair = (owners[i][0], owners[j][0])
        if pair in reported:
            continue
        reported.add(pair)
        _, doc_j, index_j, q_j = owners[j]
        _, doc_i, index_i, q_i = owners[i]
        problems.append(Problem(
            doc_j.name, doc_j.line_of((index_j, "questions", q_j)),
            f"question {texts[j]!r} of {owners[j][0]!r} collides with {texts[i]!r} of {owners[i][0]!r} "
            f"({doc_i.name}:{doc_i.line_of((index_i, 'questions', q_i))}); reword one of them",
        ))


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a base is loaded.

    Loading creates hundreds of thousands of short-lived, acyclic objects (YAML nodes,
    values, models); reference counting frees them, but each full collection the
    allocations trigger walks every live object, so the collector alone made a
    5,000-entry load about twice as slow (tests/benchmarks/bench_load.py: 2.8 s -> 1.4 s).
    Nothing cyclic is lost: the collector runs again once loading is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_knowledge(directory: Path, today: dt.date | None = None) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Load and validate everything under `directory`; return the base (if no errors) and all problems."""
    with _no_cyclic_gc():
        return _check_knowledge(directory, today or dt.date.today())


def _check_knowledge(directory: Path, today: dt.date) -> tuple[KnowledgeBase | None, list[Problem]]:
    problems: list[Problem] = []
    topics: dict[str, Topic] = {}
    topic_lines: dict[str, int] = {}
    unchecked_topics: set[str] | None = set()  # topics with errors of their own; None: topics.yaml unreadable
    doc = _load_doc(directory, "topics.yaml", problems)
    if doc is None:
        unchecked_topics = None
    elif not isinstance(doc.value, list):
        _validate(doc, _TOPICS, problems)
        unchecked_topics = None
    else:
        for index, raw in enumerate(doc.value):  # one at a time: a bad topic does not hide the others
            topic = _validate(doc, _TOPIC, problems, value=raw, prefix=(index,))
            if topic is not None:
                topics[topic.id] = topic
                topic_lines[topic.id] = doc.line_of((index,))
            elif isinstance(raw, dict) and isinstance(raw.get("id"), str):
                unchecked_topics.add(raw["id"])

    synonyms: dict[str, str] = {}
    doc = _load_doc(directory, "synonyms.yaml", problems)
    if doc is not None:
        synonyms = _synonym_map(_validate(doc, _SYNONYMS, problems) or {})

    smalltalk = None
    doc = _load_doc(directory, "smalltalk.yaml", problems)
    if doc is not None:
        smalltalk = _validate(doc, _SMALLTALK, problems)

    deadlines: dict[str, Deadline] = {}
    doc = deadlines_doc = _load_doc(directory, "deadlines.yaml", problems)
    if doc is not None:
        for index, deadline in enumerate(_validate(doc, _DEADLINES, problems) or []):
            if deadline.id in deadlines:
                problems.append(Problem(doc.name, doc.line_of((index,)), f"duplicate id {deadline.id!r}"))
            deadlines[deadline.id] = deadline

    faq_dir = directory / "faq"
    files = sorted(faq_dir.glob("*.yaml")) if faq_dir.is_dir() else []
    if not files:
        problems.append(Problem("faq/", 1, "no FAQ files (faq/*.yaml)"))
    loaded: list[tuple[Entry, YamlDoc, int]] = []
    broken_ids: set[str] = set()  # entries with errors of their own: not reported again as dangling
    broken_topics: set[str] = set()  # topics of entries in unreadable files: not reported as empty
    for path in files:
        doc = _load_doc(directory, f"faq/{path.name}", problems)
        if doc is None or not isinstance(doc.value, list):
            if doc is not None:
                problems.append(Problem(doc.name, 1, "an FAQ file is a list of entries (each starting with '- id:')"))
            ids, entry_topics = _salvage(path)
            broken_ids |= ids
            broken_topics |= entry_topics
            continue
        for index, raw in enumerate(doc.value):
            entry = _validate(doc, _ENTRY, problems, value=raw, prefix=(index,))
            if entry is not None:
                loaded.append((entry, doc, index))
            elif isinstance(raw, dict) and isinstance(raw.get("id"), str):
                broken_ids.add(raw["id"])
    _check_entries(loaded, topics, unchecked_topics, today, problems, broken_ids)
    problems.extend(entry_problems(loaded, today) + calendar_problems(deadlines, deadlines_doc, today))
    used_topics = {e.topic for e, _, _ in loaded} | broken_topics
    for topic_id in topics:
        if topic_id not in used_topics:
            problems.append(Problem("topics.yaml", topic_lines[topic_id], f"topic {topic_id!r} has no entries", "warning"))

    quizzes = _load_quizzes(directory, {e.id for e, _, _ in loaded} | broken_ids, problems)

    if any(p.severity == "error" for p in problems) or smalltalk is None:
        return None, problems
    entries = {e.id: e for e, _, _ in loaded}
    warnings = [p for p in problems if p.severity == "warning"]
    return KnowledgeBase(entries, topics, synonyms, smalltalk, deadlines, quizzes, warnings), problems


def _load_quizzes(directory: Path, entry_ids: set[str], problems: list[Problem]) -> dict[str, Quiz]:
    quizzes: dict[str, Quiz] = {}
    quiz_dir = directory / "quizzes"
    for path in sorted(quiz_dir.glob("*.yaml")) if quiz_dir.is_dir() else []:
        doc = _load_doc(directory, f"quizzes/{path.name}", problems)
        if doc is None:
            continue
        quiz = _validate(doc, _QUIZ, problems)
        if quiz is None:
            continue
        if quiz.id in quizzes:
            problems.append(Problem(doc.name, doc.line_of(("id",)), f"duplicate quiz id {quiz.id!r}"))
        problems.extend(check_quiz(quiz, doc, entry_ids))
        quizzes[quiz.id] = quiz
    return quizzes


def load_knowledge(directory: Path, today: dt.date | None = None) -> KnowledgeBase:
    """Load the knowledge base, or raise `KnowledgeError` naming each problem's file and line.

    An unchanged base comes from the cache (bot/knowledge/cache.py: keyed by the files'
    contents, the day and this code; `IMG_ADVISOR_KB_CACHE=off` turns it off)."""
    today = today or dt.date.today()
    with _no_cyclic_gc():  # unpickling a large base allocates as much as parsing it
        kb, wanted = cache.read(directory, today)
        if isinstance(kb, KnowledgeBase):
            return kb
        kb, problems = check_knowledge(directory, today)
        if kb is None:
            raise KnowledgeError(problems)
        if wanted is not None:
            cache.write(directory, wanted, kb)
        return kb
