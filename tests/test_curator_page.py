"""The curator's page: `img-advisor report html DIR` writes one static page with its charts."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main
from bot.answers.curator_page import PageData, write_page
from bot.answers.faq import FaqService
from bot.answers.store import AnswerStore
from bot.database import Database
from bot.knowledge import KnowledgeBase
from tests.fakes import KNOWLEDGE_TODAY

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_page_shows_misses_votes_reviews_timeline_and_calibration(tmp_path: Path, kb: KnowledgeBase,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db_path = tmp_path / "bot.db"
    database = Database.open(db_path)
    answers = AnswerStore(database)
    for question in ("how to renew my passport", "passport renewal how", "<script>alert(1)</script> parking"):
        answers.record_miss("telegram", question, "none", None, None, 0.0)
    answers.vote("telegram", "u1", "observership-cost", False, 0.0)
    answers.vote("telegram", "u2", "observership-cost", True, 0.0)
    database.close()
    monkeypatch.setenv("IMG_ADVISOR_DB", str(db_path))
    out = tmp_path / "page"

    assert main(["report", "html", str(out)]) == 0

    html = (out / "index.html").read_text(encoding="utf-8")
    for heading in ("Unanswered questions, clustered", "Entries by 👎 (not helpful) rate", "By review date", "The cycle timeline",
                    "Calibration"):
        assert heading in html
    assert "passport" in html and "Observership fees" in html and "50%" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert (out / "timeline.png").read_bytes().startswith(PNG)
    assert "Match Day" in html and "estimated" in html
    if (out / "calibration.png").exists():  # a labelled set is in the checkout
        assert (out / "calibration.png").read_bytes().startswith(PNG)
        assert 'src="calibration.png"' in html and "| answerable" in html


def test_the_page_renders_with_an_empty_database_and_no_labels(tmp_path: Path, kb: KnowledgeBase) -> None:
    page = write_page(tmp_path, FaqService(kb), PageData([], [], None), today=KNOWLEDGE_TODAY)
    html = page.read_text(encoding="utf-8")
    assert "(nothing recorded yet)" in html and "No labelled question set" in html
