"""A group's quiet hours: when the bot posts nothing unprompted."""

from __future__ import annotations

import datetime as dt

from bot.groups.store import ChatSettings
from bot.reminders.timezones import tzinfo


def quiet_until(settings: ChatSettings, now: dt.datetime) -> dt.datetime | None:
    """The end of the chat's quiet hours if `now` falls inside them, else None."""
    if not settings.quiet_start or not settings.quiet_end:
        return None
    zone = tzinfo(settings.quiet_tz)
    local = now.astimezone(zone)
    start = dt.time.fromisoformat(settings.quiet_start)
    end = dt.time.fromisoformat(settings.quiet_end)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.timezone.utc)
