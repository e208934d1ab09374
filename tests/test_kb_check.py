"""`img-advisor kb check` passes on the shipped knowledge base and names file and line on broken copies."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from adapters.cli import main
from bot.config import bundled_knowledge_dir
from bot.knowledge import check_knowledge, load_knowledge
from bot.knowledge.yamlsource import KnowledgeError
from tests.fakes import KNOWLEDGE_TODAY

ENTRY = """\
- id: {id}
  topic: costs
  title: {title}
  questions:
    - {q1}
    - {q2}
  answer: An answer.
  sources:
    - https://www.ecfmg.org/
  reviewed: 2026-11-01
  related: []
"""


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), target)
    return target


def write(kb_dir: Path, name: str, text: str) -> None:
    (kb_dir / "faq" / name).write_text(text, encoding="utf-8")


def problems_of(kb_dir: Path, today: dt.date = KNOWLEDGE_TODAY) -> list[str]:
    kb, problems = check_knowledge(kb_dir, today)
    return [str(p) for p in problems]


def test_the_shipped_knowledge_base_passes_with_at_least_80_entries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check"]) == 0
    assert "OK: " in capsys.readouterr().out
    kb = load_knowledge(bundled_knowledge_dir())
    assert len(kb.entries) >= 80
    for entry in kb.entries.values():
        assert entry.sources and entry.reviewed
        assert len(entry.answer) <= 1000, entry.id


def test_a_yaml_syntax_error_names_file_and_line(kb_copy: Path) -> None:
    write(kb_copy, "zz.yaml", ENTRY.format(id="a-b", title="T t", q1="q one", q2="q two") + "  bad: [unclosed\n")
    found = problems_of(kb_copy)
    assert found == ["faq/zz.yaml:13: error: YAML syntax: expected ',' or ']', but got '<stream end>' "
                     "(while parsing a flow sequence started on line 12)"]


def test_missing_and_unknown_fields_name_their_lines(kb_copy: Path) -> None:
    text = ENTRY.format(id="zz-one", title="Zed one", q1="zed alpha question", q2="zed beta question")
    text = text.replace("  sources:\n    - https://www.ecfmg.org/\n", "").replace("  related: []", "  relatd: []")
    write(kb_copy, "zz.yaml", text)
    found = problems_of(kb_copy)
    assert "faq/zz.yaml:1: error: missing field 'sources'" in found
    assert "faq/zz.yaml:9: error: unknown field 'relatd'" in found


def test_duplicate_ids_and_dangling_related_ids(kb_copy: Path) -> None:
    one = ENTRY.format(id="observership-cost", title="Zed one", q1="zed alpha question", q2="zed beta question")
    two = ENTRY.format(id="zz-two", title="Zed two", q1="zed gamma query", q2="zed delta query")
    two = two.replace("related: []", "related: [no-such-entry]")
    write(kb_copy, "zz.yaml", one + "\n" + two)
    found = problems_of(kb_copy)
    assert any(p.startswith("faq/zz.yaml:1: error: duplicate id 'observership-cost' (first at faq/costs.yaml:") for p in found), found
    assert "faq/zz.yaml:23: error: related id 'no-such-entry' does not exist" in found


def test_colliding_questions_of_two_entries(kb_copy: Path) -> None:
    write(kb_copy, "zz.yaml", ENTRY.format(id="zz-one", title="Zed one", q1="how much does an observership cost?",
                                           q2="zed beta question"))
    found = problems_of(kb_copy)
    assert any(p.startswith("faq/zz.yaml:5: error: question 'how much does an observership cost'") and
               "'observership-cost'" in p and "collides" in p for p in found), found


def test_old_reviews_are_a_warning_not_an_error(kb_copy: Path) -> None:
    write(kb_copy, "zz.yaml", ENTRY.format(id="zz-one", title="Zed one", q1="zed alpha question",
                                           q2="zed beta question").replace("2026-11-01", "2024-01-01"))
    kb, problems = check_knowledge(kb_copy, KNOWLEDGE_TODAY)
    assert kb is not None
    assert [str(p) for p in problems] == [
        "faq/zz.yaml:10: warning: reviewed 2024-01-01 is over 12 months ago; check the facts again"]


def test_bad_values_unknown_topics_and_missing_files(kb_copy: Path) -> None:
    text = ENTRY.format(id="Bad Id!", title="Zed one", q1="zed alpha question", q2="zed beta question")
    write(kb_copy, "zz.yaml", text.replace("topic: costs", "topic: nowhere").replace("2026-11-01", "someday"))
    (kb_copy / "smalltalk.yaml").unlink()
    found = problems_of(kb_copy)
    assert any(p.startswith("faq/zz.yaml:1: error: id:") for p in found), found
    assert any(p.startswith("faq/zz.yaml:10: error: reviewed:") for p in found), found
    assert "smalltalk.yaml:1: error: file is missing" in found


def test_a_broken_copy_fails_the_command_and_the_bot_refuses_to_load_it(
        kb_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(kb_copy, "zz.yaml", "- id: [\n")
    assert main(["kb", "check", "--dir", str(kb_copy)]) == 1
    assert "faq/zz.yaml:" in capsys.readouterr().out
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(kb_copy)
    assert "faq/zz.yaml" in str(error.value)


def test_duplicate_yaml_keys_are_reported(kb_copy: Path) -> None:
    text = ENTRY.format(id="zz-one", title="Zed one", q1="zed alpha question", q2="zed beta question")
    write(kb_copy, "zz.yaml", text + "  title: Again\n")
    assert "faq/zz.yaml:12: error: duplicate key 'title'" in problems_of(kb_copy)


def test_a_fee_without_its_year_is_a_warning(kb_copy: Path) -> None:
    text = ENTRY.format(id="zz-one", title="Zed one", q1="zed alpha question", q2="zed beta question")
    write(kb_copy, "zz.yaml", text.replace("An answer.", "It costs $150 per month."))
    kb, problems = check_knowledge(kb_copy, KNOWLEDGE_TODAY)
    assert kb is not None
    assert [str(p) for p in problems] == [
        "faq/zz.yaml:7: warning: answer quotes a fee but no year: say which year (or 'undated') it is for"]
