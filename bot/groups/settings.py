"""`/settings`: what a group's admins change (auto-answer, confidence, quiet hours, reply style, consent)."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.events import Button, Incoming, Reply, button_rows
from bot.groups.store import ChatSettings, GroupStore
from bot.markup import bold, escape

WELCOME = (
    "Hello! I'm IMG Advisor. I answer questions about the road to a US residency for international "
    "medical graduates (USCE, ECFMG, USMLE, visas, costs, the Match), always with sources.\n\n"
    "Mention me or reply to one of my messages with a question, or use /ask. /topics browses what I know; "
    "/help lists everything.\n\nAdmins: /settings chooses how I behave here (auto-answer, quiet hours, "
    "short answers).")
"""What the bot says when it is added to a group: what it does, and where admins set it up."""

THRESHOLDS = (("normal", None), ("high", 0.60), ("very high", 0.75))
_QUIET = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?$")


class SettingsService:
    """`/settings`: what admins can change for their group, as buttons and short commands."""

    def __init__(self, store: GroupStore, timezone_of: Callable[[str, str], str | None]):
        self.store = store
        self.timezone_of = timezone_of  # a user's own time zone, for the quiet hours they type

    def _describe(self, s: ChatSettings) -> tuple[str, list[Button]]:
        level = next(name for name, value in THRESHOLDS if value == s.threshold) if any(
            v == s.threshold for _, v in THRESHOLDS) else f"{s.threshold:.2f}"
        quiet = f"{s.quiet_start}-{s.quiet_end} ({s.quiet_tz})" if s.quiet_start else "off"
        lines = [
            bold("Settings for this chat"),
            f"• Auto-answer confident matches without a mention: {'on' if s.auto_answer else 'off'} "
            f"(confidence needed: {level})",
            f"• Members may post reminders to the group: {'yes' if s.members_remind else 'no, admins only'}",
            f"• Quiet hours (nothing unprompted but the crisis line): {escape(quiet)}",
            f"• Answers in the group: {'short, details in private' if s.reply_style == 'short' else 'full'}",
            f"• Keep unanswered questions, without names, to improve the bot: {'on' if s.record_misses else 'off'}",
            "",
            "Quiet hours: /settings quiet 22:00-07:00 (your time zone) or /settings quiet off.",
        ]
        next_level = THRESHOLDS[(next((i for i, (_, v) in enumerate(THRESHOLDS) if v == s.threshold), 0) + 1)
                                % len(THRESHOLDS)][0]
        buttons = [
            Button(f"Auto-answer: turn {'off' if s.auto_answer else 'on'}", f"set:aa:{int(not s.auto_answer)}"),
            Button(f"Confidence: {next_level}", f"set:th:{next_level.replace(' ', '-')}"),
            Button("Members' reminders: " + ("admins only" if s.members_remind else "allow"),
                   f"set:mr:{int(not s.members_remind)}"),
            Button("Answers: " + ("full" if s.reply_style == "short" else "short"),
                   f"set:rs:{'full' if s.reply_style == 'short' else 'short'}"),
            Button(f"Keep unanswered questions: turn {'off' if s.record_misses else 'on'}",
                   f"set:rm:{int(not s.record_misses)}"),
        ]
        if s.quiet_start:
            buttons.append(Button("Quiet hours: turn off", "set:qh:off"))
        return "\n".join(lines), buttons

    def _refusal(self, event: Incoming) -> list[Reply] | None:
        if event.is_private:
            return [Reply("Settings are for groups: add me to a group and use /settings there as an admin.")]
        if not event.is_admin:
            return [Reply("Sorry, only this chat's admins can change my settings.", private=True)]
        return None

    async def command(self, event: Incoming, args: str) -> list[Reply]:
        refusal = self._refusal(event)
        if refusal:
            return refusal
        words = args.lower().split()
        if words[:1] == ["quiet"]:
            return self._quiet(event, " ".join(words[1:]))
        if words[:1] == ["autoanswer"] and words[1:2] in (["on"], ["off"]):
            self.store.update_chat_settings(event.platform, event.chat_id, auto_answer=words[1] == "on")
        text, buttons = self._describe(self.store.chat_settings(event.platform, event.chat_id))
        return [Reply(text, button_rows(buttons))]

    def _quiet(self, event: Incoming, spec: str) -> list[Reply]:
        if spec in ("off", "none", ""):
            changed = self.store.update_chat_settings(event.platform, event.chat_id, quiet_start=None, quiet_end=None)
        else:
            match = _QUIET.match(spec.replace(" ", ""))
            if not match or int(match.group(1)) > 23 or int(match.group(3)) > 23 \
                    or int(match.group(2) or 0) > 59 or int(match.group(4) or 0) > 59:
                return [Reply("Write quiet hours like /settings quiet 22:00-07:00 (or /settings quiet off).")]
            zone = self.timezone_of(event.platform, event.user_id) or "UTC"
            changed = self.store.update_chat_settings(
                event.platform, event.chat_id, quiet_start=f"{int(match.group(1)):02d}:{match.group(2) or '00'}",
                quiet_end=f"{int(match.group(3)):02d}:{match.group(4) or '00'}", quiet_tz=zone)
        text, buttons = self._describe(changed)
        return [Reply(text, button_rows(buttons), replace=True)]

    async def press(self, event: Incoming, parts: list[str]) -> list[Reply] | None:
        if len(parts) != 2:
            return None
        refusal = self._refusal(event)
        if refusal:
            return refusal
        key, value = parts
        changes: dict[str, object]
        if key == "aa" and value in "01":
            changes = {"auto_answer": value == "1"}
        elif key == "mr" and value in "01":
            changes = {"members_remind": value == "1"}
        elif key == "rm" and value in "01":
            changes = {"record_misses": value == "1"}
        elif key == "rs" and value in ("full", "short"):
            changes = {"reply_style": value}
        elif key == "th" and value.replace("-", " ") in dict(THRESHOLDS):
            changes = {"threshold": dict(THRESHOLDS)[value.replace("-", " ")]}
        elif key == "qh" and value == "off":
            changes = {"quiet_start": None, "quiet_end": None}
        else:
            return None
        text, buttons = self._describe(self.store.update_chat_settings(event.platform, event.chat_id, **changes))
        return [Reply(text, button_rows(buttons), replace=True)]

    async def autoanswer(self, event: Incoming, args: str) -> list[Reply]:
        """`/autoanswer on|off`: the short way to the main setting."""
        if event.is_private:
            return [Reply("Auto-answer is for groups: in a private chat I always answer.")]
        choice = args.strip().lower()
        if choice not in ("on", "off"):
            state = "on" if self.store.auto_answer(event.platform, event.chat_id) else "off"
            return [Reply(f"Auto-answer is {state}. Use /autoanswer on or /autoanswer off.")]
        self.store.set_auto_answer(event.platform, event.chat_id, choice == "on")
        if choice == "on":
            return [Reply("Auto-answer is on: I'll answer questions I'm confident about without a mention.")]
        return [Reply("Auto-answer is off: I'll answer only when addressed.")]
