"""Loading and checking knowledge/ (YAML): FAQ entries, topics, synonyms, small talk, deadlines, quizzes.

Offers `load_knowledge`, `check_knowledge`, `KnowledgeBase` and the entry models; problems name file and line.
"""

from bot.knowledge.loader import KnowledgeBase, check_knowledge, load_knowledge
from bot.knowledge.models import (
           QUESTION_KINDS,
           Deadline,
           Entry,
           Link,
           SmallTalk,
           SmallTalkKind,
           Topic,
)
from bot.knowledge.yamlsource import KnowledgeError, Problem

__all__ = ["QUESTION_KINDS", "Deadline", "Entry", "KnowledgeBase", "KnowledgeError", "Link", "Problem", "SmallTalk",
           "SmallTalkKind", "Topic", "check_knowledge", "load_knowledge"]
