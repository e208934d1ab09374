"""The knowledge stays current: the 2027 calendar ahead, cycles named, and tools that check what a maintainer edits."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.advisor import Advisor
from bot.config import bundled_knowledge_dir, checkout_knowledge_dir
from bot.database import Database
from bot.events import Incoming
from bot.knowledge import KnowledgeBase, check_knowledge, load_knowledge
from bot.knowledge.currency import review_due
from bot.markup import to_plain
from tests.fakes import KNOWLEDGE_TODAY, TEST_LIMITS, FakeClock

TODAY = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
ROOT = Path(__file__).resolve().parents[1]


def private(text: str = "", action: str | None = None) -> Incoming:
    return Incoming(platform="test", chat_id="u1", user_id="u1", user_name="Amina", is_private=True, text=text,
                    action=action)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "checkout" / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), target)
    (target.parent / "pyproject.toml").write_text('[project]\nname = "img-advisor"\n', encoding="utf-8")
    return target


async def test_deadlines_on_1_december_2026_lists_eight_upcoming_2027_cycle_dates_each_with_its_source(
        kb: KnowledgeBase) -> None:
    advisor = Advisor(kb, Database.in_memory(), FakeClock(TODAY), limits=TEST_LIMITS)
    [reply] = await advisor.handle(private("/deadlines"))
    items = [line for line in reply.text.splitlines() if line.startswith("• ")]
    assert len(items) >= 8
    assert all("](http" in line for line in items), "every date names its source"
    past = [d for d in kb.deadlines.values() if d.due <= TODAY]
    assert not [d for d in past if d.title in reply.text], "no past date is offered as upcoming"
    upcoming = [d for d in kb.deadlines.values() if d.due > TODAY]
    assert len(upcoming) >= 8 and all("2027" in d.cycle or "2028" in d.cycle for d in upcoming)
    estimated = [d for d in upcoming if not d.confirmed]
    assert estimated and all("estimat" in (d.title + (d.approximate or "")).lower() for d in estimated)


async def test_a_reminder_for_an_estimated_date_says_it_is_an_estimate(kb: KnowledgeBase) -> None:
    advisor = Advisor(kb, Database.in_memory(), FakeClock(TODAY), limits=TEST_LIMITS)
    match_day = next(d for d in kb.deadlines.values() if not d.confirmed and d.due > TODAY + dt.timedelta(days=30))
    await advisor.handle(private("/deadlines"))
    await advisor.handle(private(action=f"dl:{match_day.id}:7"))
    [reminder] = advisor.reminders.store.active_reminders("test", "u1")
    assert "estimate" in reminder.text


def test_the_stale_and_wrong_claims_of_the_audit_are_gone(kb: KnowledgeBase) -> None:
    text = "\n".join(e.answer for e in kb.entries.values())
    esta = [e.answer for e in kb.entries.values() if "ESTA" in e.answer and "$" in e.answer and "fee" in e.answer]
    assert esta and all("$40" in a for a in esta if "$21" in a), "ESTA is $40 from 30 Sep 2025, not $21"
    assert "Feb 25" not in text and "Jan 15" not in text.replace("Jan 15,", "")
    usce = kb.quizzes["usce"]
    j1_options = [o for q in usce.questions for o in q.options if "J-1" in o.label]
    assert all("hands-on" not in o.label.lower() for o in j1_options)
    visa = kb.quizzes["visa"]
    citizen = [o for q in visa.questions for o in q.options if "citizen" in o.label.lower() or "green" in o.label.lower()]
    assert citizen, "the visa quiz has a path for US citizens and green-card holders"


def test_answers_with_yearly_figures_name_their_cycle(kb: KnowledgeBase) -> None:
    advisor = Advisor(kb, Database.in_memory(), limits=TEST_LIMITS)
    entry = next(e for e in kb.entries.values() if e.cycle)
    assert f"Cycle: {entry.cycle}" in to_plain(advisor.faq.entry_reply(entry.id).text)


def test_an_entry_past_its_valid_until_warns_the_maintainer_and_the_user(kb_copy: Path) -> None:
    path = kb_copy / "faq" / "costs.yaml"
    text = path.read_text(encoding="utf-8")
    first = text.index("  reviewed:")
    path.write_text(text[:first] + "  valid_until: 2026-06-30\n" + text[first:], encoding="utf-8")
    kb, problems = check_knowledge(kb_copy, KNOWLEDGE_TODAY)
    warnings = [str(p) for p in problems if "valid_until 2026-06-30" in str(p)]
    assert len(warnings) == 1 and re.match(r"faq/costs\.yaml:\d+: warning: valid_until", warnings[0])
    entry = next(e for e in kb.entries.values() if e.valid_until == dt.date(2026, 6, 30))
    reply = Advisor(kb, Database.in_memory(), limits=TEST_LIMITS).faq.entry_reply(entry.id)
    assert "may be out of date" in reply.text


def test_an_empty_calendar_ahead_is_one_error_naming_the_file(kb_copy: Path) -> None:
    (kb_copy / "deadlines.yaml").write_text(
        "- id: old-one\n  title: A past date\n  when: 2025-03-21T12:00\n  timezone: America/New_York\n"
        "  cycle: 2025 Match\n  source: {title: NRMP, url: 'https://www.nrmp.org/'}\n", encoding="utf-8")
    kb, problems = check_knowledge(kb_copy, KNOWLEDGE_TODAY)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert kb is None and len(errors) == 1
    assert errors[0].startswith("deadlines.yaml:1: error: no date in the next six months")


def test_kb_due_lists_what_needs_review_soonest_first(kb: KnowledgeBase) -> None:
    items = review_due(kb.entries, kb.deadlines, KNOWLEDGE_TODAY)
    assert [i.when for i in items] == sorted(i.when for i in items)
    assert {i.what for i in items} == {"entry", "deadline"}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IMG_ADVISOR_KB"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_kb_check_from_a_checkout_sees_an_added_entry(kb_copy: Path) -> None:
    before = len(load_knowledge(kb_copy).entries)
    (kb_copy / "faq" / "zz-new.yaml").write_text(
        "- id: brand-new-entry\n  topic: costs\n  title: A brand new entry\n  questions:\n"
        "    - zebra quokka platypus\n    - quokka platypus zebra wombat\n  answer: An answer (2026).\n"
        "  sources: ['https://www.ecfmg.org/']\n  reviewed: 2026-11-30\n", encoding="utf-8")
    assert checkout_knowledge_dir(kb_copy.parent / "faq-notes") in (None, kb_copy)
    assert checkout_knowledge_dir(kb_copy) == kb_copy
    done = run_cli("kb", "check", cwd=kb_copy / "faq")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{kb_copy}: OK: {before + 1} entries" in done.stdout


def test_kb_due_command_prints_the_soonest_first(kb_copy: Path) -> None:
    done = run_cli("kb", "due", "--limit", "3", cwd=kb_copy.parent)
    assert done.returncode == 0, done.stderr
    dates = re.findall(r"^(\d{4}-\d\d-\d\d)", done.stdout, re.MULTILINE)
    assert len(dates) == 3 and dates == sorted(dates)
