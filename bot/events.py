"""The platform-neutral values that cross the core/adapter boundary.

An adapter turns a platform event into one `Incoming`, calls `Advisor.handle`, and
renders the `Reply` values it gets back. Nothing here knows about any platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_ACTION_BYTES = 64
"""A button's action must fit Telegram's `callback_data` limit (64 bytes)."""
_ACTION = re.compile(r"[A-Za-z0-9_.:\-]+")
"""The characters of an action: the core refuses any pressed payload outside them unread."""


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: a message, a command or a button press."""

    platform: str
    chat_id: str
    user_id: str
    user_name: str = ""
    is_private: bool = True
    text: str = ""
    action: str | None = None
    addressed: bool = False
    is_admin: bool = False
    thread_id: str | None = None
    """The thread (a Telegram forum topic) the event came from, if any; see `in_thread`."""


@dataclass(frozen=True)
class Button:
    """A button the user can press; pressing it sends `action` back to the core."""

    label: str
    action: str

    def __post_init__(self) -> None:
        if len(self.action.encode("utf-8")) > MAX_ACTION_BYTES:
            raise ValueError(f"button action longer than {MAX_ACTION_BYTES} bytes: {self.action!r}")
        if not _ACTION.fullmatch(self.action):
            raise ValueError(f"button action outside [A-Za-z0-9_.:-]: {self.action!r}")


@dataclass(frozen=True)
class Reply:
    """Something the bot says, in the core's small markup (see `bot.markup`).

    `private` asks the adapter to deliver it to the user privately (a DM or an
    ephemeral message) rather than in the chat the event came from. `replace` lets the
    adapter edit the message whose button was pressed instead of sending a new one
    (quiz steps, menus). `start_payload` asks the adapter to offer a way into the
    private chat that starts with `/start <payload>` (a Telegram deep link).
    `delete` asks the adapter to delete the message whose button was pressed (its
    text is then empty). `notice` marks a short acknowledgement that an adapter may
    show as a transient notice (a Telegram callback answer) instead of a message.
    `asks_number` marks a question whose answer may be typed as a number ("3" years):
    an adapter that turns typed numbers into button presses (the console) must pass
    such a number on as text instead.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    private: bool = False
    replace: bool = False
    start_payload: str | None = None
    delete: bool = False
    notice: bool = False
    asks_number: bool = False


@dataclass(frozen=True)
class ChatRef:
    """Where a message goes: a chat on one platform, or (dm=True) a user's private chat.

    `fallback_chat_id` is the chat a private delivery came from, where an adapter may
    post a short notice if the private chat cannot be reached (Discord DMs closed).
    `chat_id` may name a thread of the chat (see `in_thread`); `split_thread` reads it.
    """

    platform: str
    chat_id: str
    dm: bool = False
    fallback_chat_id: str | None = None


THREAD_MARK = "/"
"""Joins a chat id and a thread id in one chat reference: `-100123/42` is topic 42 of chat -100123."""


def in_thread(chat_id: str, thread_id: str | None) -> str:
    """A chat reference naming one thread of a chat (where a group reminder set there posts)."""
    return f"{chat_id}{THREAD_MARK}{thread_id}" if thread_id else chat_id


def split_thread(chat_ref: str) -> tuple[str, str | None]:
    """The chat id and thread id (None: the whole chat) of a chat reference made by `in_thread`."""
    chat_id, _, thread_id = chat_ref.partition(THREAD_MARK)
    return chat_id, thread_id or None


def button_rows(buttons: list[Button], per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    """Arrange buttons into rows of `per_row` (phones fit one long label per row)."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


@dataclass
class Outcome:
    """What the core did with an event, for the CLI's `--json` output and evaluation."""

    replies: list[Reply] = field(default_factory=list)
    entry: str | None = None
    score: float | None = None
    suggestions: list[str] = field(default_factory=list)
    kind: str = "answer"  # "answer" | "unsure" | "none" | "smalltalk" | "out_of_scope" | "safety" | "crisis" | "language" | "invalid"
    entries: list[str] = field(default_factory=list)  # every entry answered (several questions in one message)
