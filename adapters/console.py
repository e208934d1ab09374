"""The console adapter: the whole bot in a terminal, no token needed.

Buttons print as numbered options (``[1] Observership costs``); typing the number
presses that button. When a question takes a typed number as its answer ("How many
years ago did you graduate?"), its buttons print as letters (``[a] 0-2 years``) so
that "3" is your answer, not the third button. ``/dm`` and ``/group`` switch between
a private chat and a group chat; in a group, a message is addressed to the bot when it
starts with ``@advisor`` or is a command. ``/quit`` (or Ctrl-D) leaves.

The console is one local user, so the bot runs without the flood limits that protect
groups (see adapters/cli.py): every line gets its answer.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Callable

from bot.advisor import Advisor
from bot.events import Button, ChatRef, Incoming, Reply
from bot.markup import to_plain
from bot.reminders.scheduler import Delivery, Scheduler

MENTION = "@advisor"
PLATFORM = "console"
BANNER = (
    "IMG Advisor (console). Type a question, /help for commands, /dm or /group to switch "
    "chat type, a number (or letter) to press a button, /quit to leave."
)


LETTER_HINT = "(type your answer, a number works; or a letter to press a button)"


def key(index: int, letters: bool = False) -> str:
    """What the user types to press the button at `index` (0-based): "1", "2"... or "a", "b"..."""
    return string.ascii_lowercase[index] if letters else str(index + 1)


def render(reply: Reply, first_number: int = 1, in_group: bool = False,
           letters: bool = False) -> tuple[str, list[Button]]:
    """Render one reply as plain text with numbered (or lettered) buttons; return the text and its buttons.

    In group mode a private reply is marked "(private)": on a real platform it would go
    to the user's private chat (or be visible only to them).
    """
    lines = [to_plain(reply.text)]
    buttons = [b for row in reply.buttons for b in row]
    for offset, button in enumerate(buttons):
        lines.append(f"[{key(first_number - 1 + offset, letters)}] {button.label}")
    if reply.start_payload and in_group:
        lines.append(f"(opens the private chat with /start {reply.start_payload})")
    prefix = "(private) " if reply.private and in_group else ""
    return prefix + "\n".join(lines), buttons


class ConsoleChat:
    """One console conversation: turns typed lines into events and replies into text."""

    def __init__(self, advisor: Advisor, user_id: str = "console-user", user_name: str = "you",
                 private: bool = True, is_admin: bool = True):
        self.advisor = advisor
        self.user_id = user_id
        self.user_name = user_name
        self.private = private
        self.is_admin = is_admin
        self.keys: dict[str, Button] = {}  # what typed numbers (or letters) press
        self.shown: list[Button] = []  # buttons in the last output

    @property
    def chat_id(self) -> str:
        return self.user_id if self.private else "console-group"

    def _event(self, **fields: object) -> Incoming:
        return Incoming(platform=PLATFORM, chat_id=self.chat_id, user_id=self.user_id,
                        user_name=self.user_name, is_private=self.private, is_admin=self.is_admin,
                        **fields)  # type: ignore[arg-type]

    async def process_line(self, line: str) -> str:
        """Handle one typed line and return everything the bot printed in answer."""
        stripped = line.strip()
        if stripped.lower() == "/dm":
            self.private = True
            self.keys = {}
            return "(now in a private chat with the bot)"
        if stripped.lower() == "/group":
            self.private = False
            self.keys = {}
            return f"(now in a group chat: the bot answers commands and messages starting with {MENTION})"
        numbered = "1" in self.keys
        if stripped.lower() in self.keys:
            event = self._event(action=self.keys[stripped.lower()].action, addressed=True)
        elif stripped.isdigit() and numbered:
            return f"(there is no button {stripped}; pick 1-{len(self.keys)})"
        else:
            addressed = self.private or stripped.startswith("/")
            text = line
            if stripped.lower().startswith(MENTION):
                addressed = True
                text = stripped[len(MENTION):].lstrip(" ,:")
            event = self._event(text=text, addressed=addressed)
        return self.show(await self.advisor.handle(event))

    def show(self, replies: list[Reply]) -> str:
        """Render replies; their buttons become the ones numbers press next."""
        self.shown = []
        if not replies:
            return ""
        blocks: list[str] = []
        buttons: list[Button] = []
        letters = any(r.asks_number for r in replies)  # a typed number is an answer: buttons get letters
        for reply in replies:
            if reply.delete:
                blocks.append("(the answer above was removed)")
                continue
            text, shown = render(reply, first_number=len(buttons) + 1, in_group=not self.private, letters=letters)
            blocks.append(text)
            buttons.extend(shown)
        if buttons:
            self.keys = {key(i, letters): b for i, b in enumerate(buttons[:26] if letters else buttons)}
            if letters:
                blocks.append(LETTER_HINT)
        self.shown = buttons
        return "\n\n".join(blocks)


class ConsoleNotifier:
    """Delivers reminders by printing them into the console conversation."""

    def __init__(self, chat: ConsoleChat, write: Callable[[str], None]):
        self.chat = chat
        self.write = write

    async def deliver(self, target: ChatRef, reply: Reply) -> Delivery:
        """Print a due reminder; its buttons become the ones numbers press."""
        prefix = "(private) " if target.dm and not self.chat.private else ""
        self.write(prefix + self.chat.show([reply]) + "\n")
        return Delivery.ok()


async def run_console(advisor: Advisor, read: Callable[[str], str] = input,
                      write: Callable[[str], None] = print, echo: bool = False) -> None:
    """Read lines until end of input or /quit, printing answers and due reminders.

    `echo` prints each line read after its prompt (input piped in is not shown by the terminal).
    """
    chat = ConsoleChat(advisor)
    scheduler = Scheduler(advisor.database, {PLATFORM: ConsoleNotifier(chat, write)},
                          advisor.reminders.render_delivery, advisor.clock)
    advisor.reminders.on_change(scheduler.wake)
    deliveries = asyncio.create_task(scheduler.run(), name="reminder-scheduler")
    write(BANNER)
    loop = asyncio.get_running_loop()
    try:
        while True:
            prompt = "you> " if chat.private else "you (group)> "
            try:
                line = await loop.run_in_executor(None, read, prompt)
            except (EOFError, KeyboardInterrupt):
                write("")
                return
            if echo:
                write(line)
            if line.strip().lower() in ("/quit", "/exit"):
                return
            output = await chat.process_line(line)
            if output:
                write(output + "\n")
    finally:
        scheduler.stop()
        await deliveries
