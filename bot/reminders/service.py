"""Reminder commands and buttons: /remind, /reminders, /timezone, /deadlines, snooze, stop.

A reminder asked for in words ("remind me tomorrow at 9 to pay the ECFMG fee",
recognised by `bot.reminders.intent`) is set exactly as /remind would set it; its
confirmation has an Undo button.

Times are read in the user's own time zone (UTC until they set one with /timezone).
Personal reminders are delivered privately; in a group only chat admins create
reminders that post to the group. Delivery itself is the scheduler's job
(`bot.reminders.scheduler`); this module only stores, lists and changes reminders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.events import Button, Incoming, Reply, button_rows, in_thread
from bot.groups.store import GroupStore
from bot.knowledge import Deadline
from bot.markup import bold, escape, link
from bot.reminders.intent import reminder_request
from bot.reminders.store import PENDING, SENT, Reminder, ReminderStore
from bot.reminders.timezones import resolve
from bot.reminders.when import EXAMPLES, WhenError, format_local, parse_reminder

MAX_PER_USER = 50
MAX_PER_GROUP = 200
MAX_TEXT = 500
SNOOZES = ((60, "1 hour"), (1440, "1 day"))
DEADLINE_LEADS = ((1, "1 day before"), (7, "1 week before"), (30, "1 month before"))
MAX_DEADLINES_SHOWN = 15

Now = Callable[[], dt.datetime]


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ReminderService:
    """Creates, lists, snoozes and cancels reminders for one store."""

    def __init__(self, store: ReminderStore, groups: GroupStore, now: Now, deadlines: dict[str, Deadline]):
        self.store = store
        self.groups = groups
        self.now = now
        self.deadlines = deadlines
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever reminders change (the scheduler re-checks its next due time)."""
        self._listeners.append(listener)

    def notify_changed(self) -> None:
        """Tell listeners (the scheduler) that reminders changed."""
        for listener in self._listeners:
            listener()

    def _zone(self, event: Incoming) -> tuple[str, bool]:
        """The user's zone name, and whether they set it themselves."""
        zone = self.store.timezone(event.platform, event.user_id)
        return (zone, True) if zone else ("UTC", False)

    # /timezone

    async def timezone(self, event: Incoming, args: str) -> list[Reply]:
        """Show or set the user's time zone."""
        if not args.strip():
            zone, chosen = self._zone(event)
            now = format_local(self.now(), zone)
            state = f"Your time zone is {bold(zone)} (now {escape(now)})." if chosen else \
                "You haven't set a time zone, so I read times in UTC."
            return [Reply(f"{state}\nSet it with /timezone and a city, a zone or an offset, "
                          "e.g. /timezone Karachi, /timezone Asia/Kolkata or /timezone UTC+5:30.",
                          private=not event.is_private)]
        choice = resolve(args[:80])
        if choice is None:
            return [Reply(f"I don't know the time zone “{escape(args.strip()[:80])}”. Try a city (/timezone Lahore), "
                          "a zone name (/timezone Asia/Kolkata) or an offset (/timezone UTC+5:30).",
                          private=not event.is_private)]
        self.store.set_timezone(event.platform, event.user_id, choice.name)
        note = f" ({escape(choice.note)})" if choice.note else ""
        return [Reply(f"✅ Time zone set to {bold(choice.name)}{note}. It's {escape(format_local(self.now(), choice.name))} "
                      "there now. Your reminders will use it.", private=not event.is_private)]

    # /remind

    async def remind(self, event: Incoming, args: str) -> list[Reply]:
        """Create a reminder from "<when> <what>"."""
        return self._create(event, args, Button("Cancel this reminder", "rem:cancel:{}"))

    async def in_words(self, event: Incoming, text: str) -> list[Reply] | None:
        """A message that asks for a reminder in words, set as /remind would; None for any other message."""
        args = reminder_request(text)
        return None if args is None else self._create(event, args, Button("↩ Undo", "rem:cancel:{}"))

    def _create(self, event: Incoming, args: str, cancel: Button) -> list[Reply]:
        """Store the reminder `args` ("<when> <what>") describes; confirm it with `cancel` ({} = its id)."""
        members_may = not event.is_private and self.groups.chat_settings(event.platform, event.chat_id).members_remind
        to_group = not event.is_private and (event.is_admin or members_may)
        private = not event.is_private and not to_group
        if not args.strip():
            return [Reply("Tell me when and what. " + escape(EXAMPLES), private=private)]
        zone, chosen = self._zone(event)
        try:
            schedule = parse_reminder(args, zone, self.now())
        except WhenError as exc:
            return [Reply(escape(str(exc)), private=private)]
        if len(schedule.what) > MAX_TEXT:
            return [Reply(f"Please keep the reminder text under {MAX_TEXT} characters "
                          f"(yours has {len(schedule.what):,}).", private=private)]
        if to_group and self.store.count_active(event.platform, group_chat_id=event.chat_id) >= MAX_PER_GROUP:
            return [Reply(f"This group already has {MAX_PER_GROUP} active reminders, the most I keep. "
                          "Cancel some with /reminders first.")]
        if self.store.count_active(event.platform, owner_id=event.user_id) >= MAX_PER_USER:
            return [Reply(f"You already have {MAX_PER_USER} active reminders, the most I keep per person. "
                          "Cancel some with /reminders first.", private=private)]
        reminder_id = self.store.add_reminder(
            platform=event.platform, owner_id=event.user_id, origin_chat_id=event.chat_id,
            chat_id=in_thread(event.chat_id, event.thread_id) if to_group else event.user_id, dm=not to_group,
            text=schedule.what, tz=zone, due_at=schedule.due.timestamp(), rule=schedule.rule,
            repeat=schedule.description or None)
        self.notify_changed()
        lines = [f"✅ Reminder set for {bold(format_local(schedule.due, zone))}: {escape(schedule.what)}"]
        if schedule.description:
            lines.append(f"Repeats {escape(schedule.description)}.")
        for note in schedule.notes:
            lines.append(f"Note: {escape(note)}.")
        if not chosen:
            lines.append("I read the time in UTC because you haven't set your time zone: "
                         "use /timezone with your city, e.g. /timezone Karachi.")
        if to_group:
            lines.append("It will be posted in this group.")
        elif not event.is_private:
            lines.append("I'll send it to you privately (only admins can set group reminders here).")
        buttons = button_rows([Button(cancel.label, cancel.action.format(reminder_id))])
        return [Reply("\n".join(lines), buttons, private=private)]

    # /reminders and buttons

    async def list_reminders(self, event: Incoming, args: str) -> list[Reply]:
        """The user's active reminders, each with a cancel button."""
        reminders = self.store.active_reminders(event.platform, event.user_id)
        private = not event.is_private
        if not reminders:
            return [Reply("You have no reminders. Set one with /remind, e.g. /remind tomorrow 9am book OET.",
                          private=private)]
        lines, buttons = [bold("Your reminders")], []
        for number, reminder in enumerate(reminders, 1):
            when = format_local(dt.datetime.fromtimestamp(reminder.due_at, dt.timezone.utc), reminder.tz)
            repeat = f" (repeats {reminder.repeat})" if reminder.repeat else ""
            where = "" if reminder.dm else " [posts in the group]"
            lines.append(f"{number}. {escape(when)}: {escape(reminder.text)}{escape(repeat)}{where}")
            buttons.append(Button(f"Cancel {number}: {_short(reminder.text)}", f"rem:cancel:{reminder.id}"))
        return [Reply("\n".join(lines), button_rows(buttons), private=private)]

    async def press(self, event: Incoming, parts: list[str]) -> list[Reply] | None:
        """Handle a `rem:` button; None if the payload is not one of ours."""
        if len(parts) < 2 or not parts[1].isdigit():
            return None
        reminder = self.store.reminder(int(parts[1]))
        if reminder is None or reminder.platform != event.platform:
            return None
        if reminder.owner_id != event.user_id:
            return [Reply("Only the person who set this reminder can change it.", private=True)]
        action = parts[0]
        if action in ("cancel", "stop"):
            if not self.store.cancel_reminder(reminder.id, event.platform, event.user_id):
                return [Reply("That reminder is no longer active.", private=True)]
            self.notify_changed()
            verb = "Stopped" if action == "stop" else "Cancelled"
            return [Reply(f"🗑 {verb}: {escape(reminder.text)}", private=not event.is_private)]
        if action == "snz" and len(parts) == 3 and parts[2].isdigit() and int(parts[2]) in dict(SNOOZES):
            if reminder.status not in (SENT, PENDING):
                return [Reply("That reminder is no longer active.", private=True)]
            due = self.now() + dt.timedelta(minutes=int(parts[2]))
            self.store.snooze(reminder, due.timestamp())
            self.notify_changed()
            return [Reply(f"😴 Snoozed until {bold(format_local(due, reminder.tz))}: {escape(reminder.text)}",
                          private=not event.is_private)]
        return None

    def render_delivery(self, reminder: Reminder, late: dt.datetime | None) -> Reply:
        """The message a due reminder is delivered as, with snooze (and stop) buttons."""
        lines = [f"⏰ {bold('Reminder')}: {escape(reminder.text)}"]
        if late is not None:
            lines.append(f"(Late: this was due {escape(format_local(late, reminder.tz))}; I was offline then.)")
        if reminder.repeat:
            lines.append(f"Repeats {escape(reminder.repeat)}.")
        buttons = [Button(f"Snooze {label}", f"rem:snz:{reminder.id}:{minutes}") for minutes, label in SNOOZES]
        if reminder.rule:
            buttons.append(Button("Stop repeating", f"rem:stop:{reminder.id}"))
        return Reply("\n".join(lines), button_rows(buttons, per_row=2))

    def add_personal(self, event: Incoming, text: str, due: dt.datetime) -> int:
        """A private one-off reminder for the user (quiz next steps); -1 when over the limit."""
        if self.store.count_active(event.platform, owner_id=event.user_id) >= MAX_PER_USER:
            return -1
        zone, _ = self._zone(event)
        reminder_id = self.store.add_reminder(platform=event.platform, owner_id=event.user_id,
                                              origin_chat_id=event.chat_id, chat_id=event.user_id, dm=True,
                                              text=text[:MAX_TEXT], tz=zone, due_at=due.timestamp())
        self.notify_changed()
        return reminder_id

    # /deadlines

    async def deadlines_list(self, event: Incoming, args: str) -> list[Reply]:
        """Upcoming Match-calendar dates, each with a button to be reminded before it."""
        now = self.now()
        zone, _ = self._zone(event)
        upcoming = sorted((d for d in self.deadlines.values() if d.due > now), key=lambda d: d.due)
        if not upcoming:
            return [Reply("No upcoming dates in my calendar yet: the next cycle's official dates are not in my "
                          "sources. Check " + link("nrmp.org", "https://www.nrmp.org/") + " and " +
                          link("the AAMC ERAS timeline",
                               "https://students-residents.aamc.org/applying-residencies-eras/publication-chapters/eras-timeline")
                          + ".")]
        lines, buttons = [bold("Upcoming Match dates")], []
        for deadline in upcoming[:MAX_DEADLINES_SHOWN]:
            when = escape(deadline.approximate) if deadline.approximate else escape(format_local(deadline.due, zone))
            said = f"{deadline.title} {deadline.approximate or ''}".lower()
            status = "" if deadline.confirmed or "estimat" in said else " (estimated, not yet confirmed)"
            note = f" {escape(deadline.note)}" if deadline.note else ""
            lines.append(f"• {when}: {escape(deadline.title)}{status} ({escape(deadline.cycle)}; "
                         f"{link(deadline.source.title, deadline.source.url)}).{note}")
            buttons.append(Button(f"⏰ {_short(deadline.title, 40)}", f"dl:{deadline.id}"))
        lines.append("Dates change every year: check the official page. Tap one to be reminded before it.")
        return [Reply("\n".join(lines), button_rows(buttons))]

    async def press_deadline(self, event: Incoming, parts: list[str]) -> list[Reply] | None:
        """Handle a `dl:` button: pick how long before, then set a personal reminder."""
        deadline = self.deadlines.get(parts[0]) if parts else None
        if deadline is None:
            return None
        if len(parts) == 1:
            buttons = [Button(label, f"dl:{deadline.id}:{days}") for days, label in DEADLINE_LEADS]
            return [Reply(f"When should I remind you about {bold(deadline.title)}?", button_rows(buttons),
                          private=not event.is_private)]
        if not parts[1].isdigit() or int(parts[1]) not in dict(DEADLINE_LEADS):
            return None
        days = int(parts[1])
        due = deadline.due - dt.timedelta(days=days)
        zone, _ = self._zone(event)
        if due <= self.now():
            return [Reply(f"{dict(DEADLINE_LEADS)[days].capitalize()} {escape(deadline.title)} has already passed; "
                          "pick a shorter time.", private=not event.is_private)]
        if self.store.count_active(event.platform, owner_id=event.user_id) >= MAX_PER_USER:
            return [Reply(f"You already have {MAX_PER_USER} active reminders. Cancel some with /reminders first.",
                          private=not event.is_private)]
        on = deadline.approximate or format_local(deadline.due, zone)
        estimated = "" if deadline.confirmed else " (an estimate from past years; not yet confirmed)"
        text = f"{deadline.title} ({deadline.cycle}) is {on}{estimated}. Check the exact date: {deadline.source.url}"
        self.store.add_reminder(platform=event.platform, owner_id=event.user_id, origin_chat_id=event.chat_id,
                                chat_id=event.user_id, dm=True, text=text, tz=zone, due_at=due.timestamp())
        self.notify_changed()
        return [Reply(f"✅ I'll remind you {dict(DEADLINE_LEADS)[days]} ({bold(format_local(due, zone))}): "
                      f"{escape(deadline.title)}.", private=not event.is_private)]
