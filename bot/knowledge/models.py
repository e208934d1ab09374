"""The knowledge files' schemas (pydantic): FAQ entries, deadlines, topics and small talk."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from bot.knowledge.schema import Strict, Text

EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]

QUESTION_KINDS = ("cost", "when", "how-long", "how-to", "eligibility", "definition", "comparison",
                  "what-next", "where", "advice")
"""The kinds of question an entry can say it answers (`kinds:` in an FAQ entry)."""

Kind = Literal[QUESTION_KINDS]  # type: ignore[valid-type]


class Link(Strict):
    """A source with a title to show and a URL."""

    title: Text
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]




def _source(value: Any) -> Link | str:
    """A source: {title, url}, a bare URL, or a citation text such as a seed article's name."""
    if isinstance(value, dict):
        return Link.model_validate(value)
    if isinstance(value, str) and len(value.strip()) >= 3:
        return value.strip()
    raise ValueError("a source is a URL, a citation text in quotes, or a mapping with title and url")


Source = Annotated[Union[Link, str], BeforeValidator(_source)]


class Entry(Strict):
    """One FAQ entry: the questions it answers, the answer, and where the answer comes from."""

    id: EntryId
    topic: EntryId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=60)]
    questions: list[Text] = Field(min_length=2)
    answer: Text
    sources: list[Source] = Field(min_length=1)
    reviewed: dt.date
    related: list[EntryId] = []
    keywords: list[Text] = []
    kinds: list[Kind] = []
    cycle: Text | None = None
    valid_until: dt.date | None = None


class Deadline(Strict):
    """A date of the Match calendar (knowledge/deadlines.yaml)."""

    id: EntryId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=80)]
    when: dt.datetime
    timezone: Text
    cycle: Text
    source: Link
    approximate: Text | None = None
    note: Text | None = None
    confirmed: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/New_York)") from None
        return value

    @property
    def due(self) -> dt.datetime:
        """The moment in UTC."""
        return self.when.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(dt.timezone.utc)


class Topic(Strict):
    """A group of entries, browsed with /topics."""

    id: EntryId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
    description: Text


class SmallTalkKind(Strict):
    """Phrases that are not questions for the knowledge base, and what to say back."""

    phrases: list[Text] = Field(min_length=1)
    reply: Text


class Emergency(SmallTalkKind):
    """A medical emergency or a request for treatment. `always` phrases (self-harm) get the safety note even where
    the message tells them as backstory beside another question."""

    always: list[Text] = []
    always_reply: Text | None = None  # what self-harm words get instead of `reply` (a crisis line, not "see a doctor")


class SmallTalk(Strict):
    """Greetings, thanks and out-of-scope subjects (knowledge/smalltalk.yaml)."""

    greeting: SmallTalkKind
    thanks: SmallTalkKind
    chatter: SmallTalkKind
    out_of_scope: SmallTalkKind
    emergency: Emergency | None = None  # a medical emergency or a request for treatment: never a FAQ entry
    about: SmallTalkKind | None = None  # questions about the bot itself ("are you chatgpt?"): never a FAQ entry
    not_english: Text | None = None  # said when a message is not in English
