"""Eligibility quizzes: every outcome reachable in the console, expiry, and `kb check` on broken quizzes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bot.advisor import Advisor
from bot.config import bundled_knowledge_dir
from bot.database import Database
from bot.events import Incoming
from bot.knowledge import KnowledgeBase, check_knowledge, load_knowledge
from bot.quizzes.model import paths
from tests.fakes import TEST_LIMITS, FakeClock
from tests.test_scenarios_console import ConsoleDriver

START = dt.datetime(2025, 10, 1, 6, 0, tzinfo=dt.timezone.utc)


def _path_reaching(kb: KnowledgeBase, quiz_id: str, outcome_id: str) -> dict[str, str]:
    quiz = kb.quizzes[quiz_id]
    return next(p for p in paths(quiz) if outcome_id in {o.id for o in quiz.results(p)})


async def _play(driver: ConsoleDriver, kb: KnowledgeBase, quiz_id: str, answers: dict[str, str]) -> str:
    quiz = kb.quizzes[quiz_id]
    await driver.start(private=True)
    await driver.say(f"/quiz {quiz_id}")
    output = ""
    for question_id, option_id in answers.items():
        label = next(o.label for o in quiz.question(question_id).options if o.id == option_id)
        output = (await driver.press(label)).text
    return output


USCE_OUTCOMES = [o.id for o in load_knowledge(bundled_knowledge_dir()).quizzes["usce"].outcomes]


@pytest.mark.parametrize("outcome_id", USCE_OUTCOMES)
async def test_every_outcome_of_the_usce_quiz_is_reached_through_the_console(
        kb: KnowledgeBase, tmp_path: Path, outcome_id: str) -> None:
    driver = ConsoleDriver(kb, tmp_path / "bot.db", START)
    answers = _path_reaching(kb, "usce", outcome_id)
    output = await _play(driver, kb, "usce", answers)
    outcome = next(o for o in kb.quizzes["usce"].outcomes if o.id == outcome_id)
    assert "Your plan: Which USCE can I do now?" in output
    assert outcome.title in output
    driver.store.close()


@pytest.mark.parametrize("answers", paths(load_knowledge(bundled_knowledge_dir()).quizzes["visa"]),
                         ids=lambda a: "-".join(a.values()))
async def test_every_path_of_the_visa_quiz_ends_with_a_plan_and_the_legal_note(
        kb: KnowledgeBase, tmp_path: Path, answers: dict[str, str]) -> None:
    driver = ConsoleDriver(kb, tmp_path / "bot.db", START)
    output = await _play(driver, kb, "visa", answers)
    assert "general information, not legal advice" in output
    assert any(o.title in output for o in kb.quizzes["visa"].results(answers))
    driver.store.close()


async def test_a_quiz_idle_for_24_hours_expires_quietly(kb: KnowledgeBase) -> None:
    clock = FakeClock(START)
    advisor = Advisor(kb, Database.in_memory(), clock, limits=TEST_LIMITS)
    user = dict(platform="console", chat_id="u", user_id="u", user_name="A", is_private=True, addressed=True)
    await advisor.handle(Incoming(text="/quiz usce", **user))
    clock.advance(dt.timedelta(hours=25))
    replies = await advisor.handle(Incoming(text="graduate", **user))
    assert not any("question" in r.text for r in replies)  # "graduate" is a question for the FAQ again
    stale = await advisor.handle(Incoming(action="quiz:usce:stage:grad", **user))
    assert "no longer running" in stale[0].text


async def test_quiz_replies_are_private_even_in_a_group(advisor: Advisor) -> None:
    event = Incoming("console", "group", "u", "Amina", False, "/quiz usce", None, True)
    replies = await advisor.handle(event)
    public = [r for r in replies if not r.private]
    assert len(public) == 1 and public[0].start_payload == "quiz-usce"
    assert all(r.private for r in replies if "question" in r.text)


def _broken(tmp_path: Path, edit) -> list[str]:
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), kb_dir)
    path = kb_dir / "quizzes" / "visa.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    kb, problems = check_knowledge(kb_dir)
    assert kb is None
    return [str(p) for p in problems if p.severity == "error"]


def _option(data: dict, question: str, option: str) -> dict:
    q = next(q for q in data["questions"] if q["id"] == question)
    return next(o for o in q["options"] if o["id"] == option)


@pytest.mark.parametrize("edit, message", [
    (lambda d: _option(d, "plan", "research").update(next="nowhere"),
     "next 'nowhere' is not a question of this quiz"),
    (lambda d: d["questions"].append({"id": "orphan", "text": "Never asked?",
                                      "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}),
     "question 'orphan' is not reachable from 'plan'"),
    (lambda d: _option(d, "esta", "ok").update(next="plan"), "cycle: 'esta' leads back to 'plan'"),
    (lambda d: d["outcomes"][0]["when"].update(stage=["student"]), "outcome 'b1-observe' is reached by no combination"),
    (lambda d: d["outcomes"].pop(4), "answers reach no outcome: plan=research"),
    (lambda d: d["outcomes"][0]["when"].update(plan=["observe", "fly"]), "['fly'] are not options of 'plan'"),
    (lambda d: d["outcomes"][0]["faq"].append("no-such-entry"), "FAQ entry 'no-such-entry' does not exist"),
    (lambda d: d.update(start="missing"), "start 'missing' is not a question"),
])
def test_kb_check_catches_each_kind_of_broken_quiz(tmp_path: Path, edit, message: str) -> None:
    errors = _broken(tmp_path, edit)
    assert any(message in e and e.startswith("quizzes/visa.yaml:") for e in errors), errors


def test_an_unquoted_yes_gets_a_hint_about_yaml_booleans(tmp_path: Path) -> None:
    errors = _broken(tmp_path, lambda d: _option(d, "esta", "ok").update(id=True))
    assert any("put the word in quotes" in e for e in errors), errors
