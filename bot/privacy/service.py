"""`/mydata` and `/forget`: a user sees, and deletes, everything every capability stores about them.

The confirmation takes a button or a typed yes/no, but only as the very next message
and within FORGET_TYPED_SECONDS: anything else cancels it, so a later "no" is just text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from bot.database import Database
from bot.events import Button, Incoming, Reply, button_rows
from bot.markup import bold, escape

FORGET_TYPED_SECONDS = 300
"""How long a typed "yes" or "no" answers the /forget question (after that it is just text)."""
_YES_NO = {**dict.fromkeys(("yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "yes please", "delete",
                            "delete it", "delete everything", "yes delete", "yes delete everything"), "yes"),
           **dict.fromkeys(("no", "n", "nope", "nah", "no thanks", "cancel", "keep", "keep it", "no keep it", "don't",
                            "dont", "do not", "stop"), "no")}


class PrivacyService:
    """What the bot stores about a user, in words, and deleting it."""

    def __init__(self, database: Database, now: Callable[[], dt.datetime],
                 forgotten: Callable[[str, str], None] = lambda platform, user: None):
        self.database = database
        self.now = now
        self.forgotten = forgotten  # called after a deletion: capabilities drop what memory holds
        self._asked: dict[tuple[str, str], float] = {}  # who was just asked to confirm /forget, and when

    async def mydata(self, event: Incoming, args: str) -> list[Reply]:
        """`/mydata`: every capability's lines about the user, with a button to delete it all."""
        lines = [bold("What I store about you"), *self.database.describe_user(event.platform, event.user_id), "",
                 "Not stored: your messages, your name, or which chats you are in. Unanswered questions are kept "
                 "without any name or id, under a one-way code. Use /forget to delete everything above."]
        return [Reply("\n".join(lines), button_rows([Button("Delete all of it", "forget:ask")]), private=True)]

    async def forget(self, event: Incoming, args: str) -> list[Reply]:
        """`/forget`: say what would go, and ask to confirm (buttons, or a typed yes/no)."""
        data = self.database.user_data(event.platform, event.user_id)
        summary = (f"{data['reminders']} reminder(s), {data['quiz_results']} quiz result(s), "
                   f"{data['quiz_in_progress']} quiz in progress, {data['votes']} vote(s), "
                   f"{data['questions_kept']} question(s) kept, time zone: {data['timezone'] or 'not set'}")
        buttons = button_rows([Button("Yes, delete everything", "forget:yes"), Button("No, keep it", "forget:no")])
        now = self.now().timestamp()
        self._asked[(event.platform, event.user_id)] = now
        for key in [k for k, at in self._asked.items() if now - at > FORGET_TYPED_SECONDS]:
            del self._asked[key]  # bounded: only the last few minutes' questions are kept
        return [Reply(f"This deletes everything I store about you, in every chat: {escape(summary)}. "
                      "It can't be undone. Are you sure? (Tap a button, or type yes or no.)", buttons, private=True)]

    def typed_answer(self, event: Incoming, text: str) -> str | None:
        """"yes"/"no" when this message answers a /forget question asked just before; the question is used up."""
        asked = self._asked.pop((event.platform, event.user_id), None)
        if asked is None or self.now().timestamp() - asked > FORGET_TYPED_SECONDS or text.startswith("/"):
            return None
        return _YES_NO.get(" ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split()))

    async def confirmed(self, event: Incoming, answer: str, replace: bool = True) -> list[Reply]:
        """The answer to the confirmation: delete everything, or nothing."""
        self._asked.pop((event.platform, event.user_id), None)
        if answer != "yes":
            return [Reply("Nothing was deleted.", private=True, replace=replace)]
        self.database.forget_user(event.platform, event.user_id)
        self.forgotten(event.platform, event.user_id)
        return [Reply("Done: everything I stored about you is deleted.", private=True, replace=replace)]
