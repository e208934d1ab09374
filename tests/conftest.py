"""Shared fixtures: the shipped knowledge base (loaded once), an Advisor on an in-memory store."""

from __future__ import annotations

import os

import pytest

from bot.advisor import Advisor
from bot.config import bundled_knowledge_dir
from bot.database import Database
from bot.knowledge import KnowledgeBase, load_knowledge
from tests.fakes import TEST_LIMITS

# tests load fresh knowledge and never write the user's cache (tests/test_knowledge_cache.py turns it on)
os.environ["IMG_ADVISOR_KB_CACHE"] = "off"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge(bundled_knowledge_dir())


@pytest.fixture
def store() -> Database:
    return Database.in_memory()


@pytest.fixture
def advisor(kb: KnowledgeBase, store: Database) -> Advisor:
    return Advisor(kb, store, limits=TEST_LIMITS)
