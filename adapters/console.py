"""The console adapter: the whole bot in a terminal, no token needed.

Buttons print as numbered options (``[1] Observership costs``); typing the number
presses that button. ``/dm`` and ``/group`` switch between a private chat and a group
chat; in a group, a message is addressed to the bot when it starts with ``@advisor``
or is a command. ``/quit`` (or Ctrl-D) leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.advisor import Advisor
from bot.events import Button, ChatRef, Incoming, Reply
from bot.markup import to_plain
from bot.reminders.scheduler import Delivery, Scheduler

MENTION = "@advisor"
PLATFORM = "console"
BANNER = (
    "IMG Advisor (console). Type a question, /help for commands, /dm or /group to switch "
    "chat type, a number to press a button, /quit to leave."
)


def render(reply: Reply, first_number: int = 1, in_group: bool = False) -> tuple[str, list[Button]]:
    """Render one reply as plain text with numbered buttons; return the text and its buttons.

    In group mode a private reply is marked "(private)": on a real platform it would go
    to the user's private chat (or be visible only to them).
    """
    lines = [to_plain(reply.text)]
    buttons = [b for row in reply.buttons for b in row]
    for offset, button in enumerate(buttons):
        lines.append(f"[{first_number + offset}] {button.label}")
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
        self.buttons: list[Button] = []  # what typed numbers press
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
            self.buttons = []
            return "(now in a private chat with the bot)"
        if stripped.lower() == "/group":
            self.private = False
            self.buttons = []
            return f"(now in a group chat: the bot answers commands and messages starting with {MENTION})"
        if stripped.isdigit() and self.buttons:
            number = int(stripped)
            if not 1 <= number <= len(self.buttons):
                return f"(there is no button {number}; pick 1-{len(self.buttons)})"
            event = self._event(action=self.buttons[number - 1].action, addressed=True)
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
        for reply in replies:
            if reply.delete:
                blocks.append("(the answer above was removed)")
                continue
            text, shown = render(reply, first_number=len(buttons) + 1, in_group=not self.private)
            blocks.append(text)
            buttons.extend(shown)
        if buttons:
            self.buttons = buttons
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
                      write: Callable[[str], None] = print) -> None:
    """Read lines until end of input or /quit, printing answers and due reminders."""
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
            if line.strip().lower() in ("/quit", "/exit"):
                return
            output = await chat.process_line(line)
            if output:
                write(output + "\n")
    finally:
        scheduler.stop()
        await deliveries
