"""Loading knowledge/ fast and exactly: one LibYAML parse per file, the blocked collision check, no knock-on errors."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process

from bot.answers.normalize import normalize
from bot.config import bundled_knowledge_dir
from bot.knowledge import check_knowledge, load_knowledge, similar
from bot.knowledge.loader import COLLISION_SCORE
from bot.knowledge.similar import similar_pairs
from bot.knowledge.yamlsource import FastLoader, PureLoader, YamlDoc, load
from tests.fakes import KNOWLEDGE_TODAY as TODAY

SHIPPED = sorted(bundled_knowledge_dir().rglob("*.yaml"))


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), target)
    return target


def errors_and_warnings(directory: Path) -> list[str]:
    return [str(p) for p in check_knowledge(directory, TODAY)[1]]


# --- one parse, the same values and lines -------------------------------------------------------

def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a parsed YAML value."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, prefix + (index,))
    return found


def marks(node: yaml.Node | None) -> list[tuple[str, int, int, int, int]]:
    """Kind, start and end (line, column) of every node, depth first."""
    if node is None:
        return []
    start, end = node.start_mark, node.end_mark
    out = [(type(node).__name__, start.line, start.column, end.line, end.column)]
    if isinstance(node, yaml.MappingNode):
        for key, child in node.value:
            out += marks(key) + marks(child)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            out += marks(child)
    return out


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    if getattr(yaml, "__with_libyaml__", False):
        assert issubclass(FastLoader, yaml.CSafeLoader)
    else:
        assert FastLoader is PureLoader


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(bundled_knowledge_dir())))
def test_libyaml_and_pure_python_give_the_same_values_and_lines(path: Path) -> None:
    fast, fast_problems = load(path, path.name, FastLoader)
    pure, pure_problems = load(path, path.name, PureLoader)
    assert fast is not None and pure is not None and fast_problems == pure_problems == []
    # and both equal what PyYAML's own pure-Python safe_load / compose give (the old two-pass reading)
    text = path.read_text(encoding="utf-8")
    assert fast.value == pure.value == yaml.load(text, Loader=yaml.SafeLoader)
    assert marks(fast.node) == marks(pure.node) == marks(yaml.compose(text, Loader=yaml.SafeLoader))
    for where in paths(fast.value):
        assert fast.line_of(where) == pure.line_of(where), where


@pytest.mark.parametrize("text", [
    "a: 1\nb: 1.5\nc: yes\nd: ~\ne: 2026-12-02\nf: '2026-12-02'\ng: [x, 'y', \"\", -3, .inf]\n",
    "a: &v [1, 2]\nb: *v\nc: &s text\nd: *s\n",  # aliases of a list and of a scalar
    "? [1, 2]\n: complex key\n",  # a key that is a list: PyYAML reports it
    "s: !!set {a, b}\nb: !!binary aGk=\nt: !!str 12\n",  # tags beyond the plain ones
    "a: 1\na: 2\nb: {x: 1, x: 2}\n",  # repeated keys: the last kept, each reported
    "- Yes\n- yesterday\n- n\n- No way\n- 0x1F\n- 1_000\n- +1\n- .5\n- '~'\n- ~x\n- null\n- 'on'\n",
    "a: 2026-13-01\nb: !!int abc\n",  # values YAML cannot construct: a problem with a line
])
@pytest.mark.parametrize("loader", [FastLoader, PureLoader], ids=["libyaml", "pure"])
def test_the_direct_constructor_gives_what_pyyaml_gives(tmp_path: Path, text: str, loader: type) -> None:
    # knowledge files are read with a constructor of their own for strings, lists and dicts; whatever a file
    # holds, the value, the problems and the lines are those of PyYAML's own safe constructor
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    doc, problems = load(path, "t.yaml", loader)
    try:
        expected = yaml.load(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError):  # and without LibYAML too: one problem, not an UnboundLocalError
        assert doc is None and len(problems) == 1 and problems[0].line == (2 if "abc" in text else 1), problems
        return
    assert doc is not None and repr(doc.value) == repr(expected)
    repeated = [p.message for p in problems]
    assert repeated == ([] if "a: 1\na: 2" not in text else ["duplicate key 'x'", "duplicate key 'a'"]) or \
        sorted(repeated) == ["duplicate key 'a'", "duplicate key 'x'"]


def test_a_merge_key_keeps_the_tree_as_written(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("base: &b\n  x: 1\n  y: 2\nuse:\n  <<: *b\n  y: 3\n", encoding="utf-8")
    doc, problems = load(path, "m.yaml")
    assert problems == [] and doc is not None
    assert doc.value == {"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 3}}
    assert doc.line_of(("use", "y")) == 6  # the override's own line, not the anchor's


# --- one error, reported once; no tracebacks ----------------------------------------------------

def test_one_syntax_error_in_a_faq_file_is_one_problem(kb_copy: Path) -> None:
    with (kb_copy / "faq" / "costs.yaml").open("a", encoding="utf-8") as f:
        f.write("  bad: [unclosed\n")
    found = errors_and_warnings(kb_copy)
    # entries elsewhere link to costs.yaml's entries, and quizzes too: none of that is reported again
    assert len(found) == 1, found
    assert found[0].startswith("faq/costs.yaml:") and "YAML syntax: expected ',' or ']'" in found[0]


def test_one_syntax_error_in_topics_is_one_problem(kb_copy: Path) -> None:
    with (kb_copy / "topics.yaml").open("a", encoding="utf-8") as f:
        f.write("x: [\n")
    found = errors_and_warnings(kb_copy)
    assert len(found) == 1 and found[0].startswith("topics.yaml:") and "YAML syntax" in found[0], found


def test_one_bad_topic_does_not_hide_the_others(kb_copy: Path) -> None:
    text = (kb_copy / "topics.yaml").read_text(encoding="utf-8")
    line = text[:text.index("title: Costs and fees")].count("\n") + 1
    (kb_copy / "topics.yaml").write_text(text.replace("title: Costs and fees", "title: Co"), encoding="utf-8")
    # the costs topic is broken, but its entries are not reported as naming an unknown topic
    assert errors_and_warnings(kb_copy) == [
        f"topics.yaml:{line}: error: title: String should have at least 3 characters"]


def test_a_file_that_is_not_a_list_is_one_problem(kb_copy: Path) -> None:
    text = (kb_copy / "faq" / "visa.yaml").read_text(encoding="utf-8")
    (kb_copy / "faq" / "visa.yaml").write_text("entries:\n" + "".join(f"  {line}\n" for line in text.splitlines()),
                                               encoding="utf-8")
    assert errors_and_warnings(kb_copy) == [
        "faq/visa.yaml:1: error: an FAQ file is a list of entries (each starting with '- id:')"]


@pytest.mark.parametrize("value, message", [
    ("2026-13-01", "reviewed: Input should be a valid date or datetime, month value is outside expected range"),
    ("2026-02-30", "reviewed: Input should be a valid date or datetime, day value is outside expected range"),
    ("2026-01-01 25:00:00", "reviewed: Input should be a valid date"),
    ("!!int abc", "YAML: cannot read this value: invalid literal for int()"),
    ("!!float x", "YAML: cannot read this value: could not convert string to float"),
    ("!!binary x$x", "YAML: failed to decode base64 data"),
    ("!!python/object:os.system x", "YAML: could not determine a constructor"),
])
def test_a_malformed_value_is_an_error_with_file_and_line(kb_copy: Path, value: str, message: str) -> None:
    path = kb_copy / "faq" / "visa.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  reviewed: "))
    lines[at] = f"  reviewed: {value}\n"
    path.write_text("".join(lines), encoding="utf-8")
    found = errors_and_warnings(kb_copy)  # no exception escapes
    assert len(found) == 1 and found[0].startswith(f"faq/visa.yaml:{at + 1}: error: {message}"), found
    with pytest.raises(Exception) as error:
        load_knowledge(kb_copy, TODAY)
    assert type(error.value).__name__ == "KnowledgeError"


def test_a_malformed_deadline_time_names_its_line(kb_copy: Path) -> None:
    path = kb_copy / "deadlines.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("when: "))
    lines[at] = lines[at][:lines[at].index("when: ")] + "when: 2026-02-30T12:00\n"
    path.write_text("".join(lines), encoding="utf-8")
    found = errors_and_warnings(kb_copy)
    assert len(found) == 1 and found[0].startswith(f"deadlines.yaml:{at + 1}: error: when:"), found


def test_an_anchor_that_contains_itself_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("a: &x [*x]\n", encoding="utf-8")
    doc, problems = load(path, "r.yaml")
    assert isinstance(doc, YamlDoc) and problems == []


# --- the blocked collision check finds what comparing every pair finds --------------------------

def all_pairs(texts: list[str], cutoff: float) -> list[tuple[int, int, float]]:
    """The check as it was: every text against every later one (rapidfuzz, score order)."""
    found = []
    for i, text in enumerate(texts):
        for _, score, j in process.extract(text, texts[i + 1:], scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
            found.append((i, i + 1 + j, score))
    return found


def both_ways(texts: list[str], cutoff: float) -> tuple[list, list]:
    """`similar_pairs` with its candidates from shared segments, then from comparing every pair (`cdist`),
    whatever the cutoff (by default, segments at DENSE_BELOW and above)."""
    with mock.patch.object(similar, "DENSE_BELOW", 0.0):
        segments = similar_pairs(texts, cutoff)
    with mock.patch.object(similar, "DENSE_BELOW", 101.0):
        dense = similar_pairs(texts, cutoff)
    return segments, dense


def shipped_questions() -> list[str]:
    kb = load_knowledge(bundled_knowledge_dir(), TODAY)
    return [normalize(q) for e in kb.entries.values() for q in e.questions]


def mutate(text: str, rng: random.Random, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        at = rng.randrange(len(chars) + 1)
        kind = rng.random()
        if kind < 0.35 and chars:
            del chars[min(at, len(chars) - 1)]
        elif kind < 0.7:
            chars.insert(at, rng.choice("aeiou "))
        elif kind < 0.85 and chars:
            chars[min(at, len(chars) - 1)] = rng.choice("xyz ")
        elif len(chars) > 1:  # swap two neighbours, a common typo
            k = min(at, len(chars) - 2)
            chars[k], chars[k + 1] = chars[k + 1], chars[k]
    return "".join(chars)


@pytest.mark.parametrize("cutoff", [COLLISION_SCORE, 90, 80, 70])
def test_the_blocked_check_finds_the_same_pairs_on_the_shipped_questions(cutoff: float) -> None:
    texts = shipped_questions()
    assert similar_pairs(texts, cutoff) == all_pairs(texts, cutoff)


@pytest.mark.parametrize("cutoff", [COLLISION_SCORE, 90])
def test_the_blocked_check_finds_the_same_pairs_with_planted_near_duplicates(cutoff: float) -> None:
    rng = random.Random(20)
    texts = shipped_questions()
    planted = [mutate(t, rng, rng.randrange(0, 7)) for t in texts]  # 0 edits: an exact duplicate
    planted += [t.replace(" ", "", 1) for t in rng.sample(texts, 50)]  # two words run together
    planted += [" ".join(reversed(t.split())) for t in rng.sample(texts, 50)]  # same words, other order
    mixed = texts + planted
    rng.shuffle(mixed)
    expected = all_pairs(mixed, cutoff)
    assert len(expected) > 300  # the planted pairs are really there
    assert both_ways(mixed, cutoff) == (expected, expected)


@pytest.mark.parametrize("dense_below", [0.0, 101.0])
def test_pairs_within_one_group_are_left_out_either_way(dense_below: float) -> None:
    rng = random.Random(11)
    texts = [mutate("how much does an observership cost", rng, rng.randrange(0, 6)) for _ in range(40)]
    groups = [i // 3 for i in range(len(texts))]  # three questions to an entry
    expected = [(i, j, score) for i, j, score in all_pairs(texts, 85) if groups[i] != groups[j]]
    assert len(expected) > 20
    with mock.patch.object(similar, "DENSE_BELOW", dense_below):
        assert similar_pairs(texts, 85, groups=groups) == expected


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet="ab ", max_size=45), max_size=40),
       cutoff=st.sampled_from([95, 90, 85, 75, 50]))
def test_the_blocked_check_equals_all_pairs_on_any_strings(texts: list[str], cutoff: float) -> None:
    # a two-letter alphabet makes near-duplicates (and hard cases for the filter) common
    texts = texts + [t[::-1] for t in texts[:5]] + [t[1:] + "a" for t in texts[:5]]
    expected = all_pairs(texts, cutoff)
    assert both_ways(texts, cutoff) == (expected, expected)


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
                      max_size=30), cutoff=st.sampled_from([95, 85, 70]))
def test_the_blocked_check_equals_all_pairs_on_unicode_heavy_strings(texts: list[str], cutoff: float) -> None:
    # more distinct characters than the histogram filter counts apart: the rest share its buckets
    texts = texts + [t[::-1] for t in texts[:5]] + [t[1:] + "é" for t in texts[:5]] + ["😅" * 70, "😅" * 69 + "🙏"]
    expected = all_pairs(texts, cutoff)
    assert both_ways(texts, cutoff) == (expected, expected)


def test_the_loader_reports_the_same_collisions_as_comparing_every_pair(
        kb_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = ("- id: zz-{n}\n  topic: costs\n  title: Zed {n}\n  questions:\n    - {q}\n    - zed question {n}\n"
             "  answer: An answer.\n  sources:\n    - https://www.ecfmg.org/\n  reviewed: 2026-11-01\n")
    text = "\n".join(entry.format(n=n, q=q) for n, q in enumerate([
        "how much does an observership cost?", "how much does an observershp cost", "what is the usmle",
        "what is the usmle?", "how much does a usmle step cost", "how mcuh does a usmle step cost"]))
    (kb_copy / "faq" / "zz.yaml").write_text(text, encoding="utf-8")
    blocked = [p for p in errors_and_warnings(kb_copy) if "collides" in p]

    def every_pair(texts: list[str], cutoff: float, groups: list[object]) -> list[tuple[int, int, float]]:
        return [(i, j, s) for i, j, s in all_pairs(texts, cutoff) if groups[i] != groups[j]]

    monkeypatch.setattr("bot.knowledge.loader.similar_pairs", every_pair)
    assert blocked == [p for p in errors_and_warnings(kb_copy) if "collides" in p]
    assert len(blocked) >= 4 and all(p.startswith("faq/zz.yaml:") for p in blocked), blocked


def test_loading_gives_the_garbage_collector_back(kb_copy: Path) -> None:
    import gc

    assert gc.isenabled()
    load_knowledge(kb_copy, TODAY)
    (kb_copy / "faq" / "zz.yaml").write_text("- id: [\n", encoding="utf-8")
    with pytest.raises(Exception):
        load_knowledge(kb_copy, TODAY)
    assert gc.isenabled()
    gc.disable()
    try:
        check_knowledge(kb_copy, TODAY)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
