"""Read "when" in a reminder: one-off times with dateparser, recurring ones as dateutil rrules.

    in 3 days follow up with Dr. Lee      tomorrow 9am book OET
    on 15 Dec 18:00 ERAS tokens           next monday call the coordinator
    every Monday 9am ...                  every day at 20:00 ...
    every month on the 1st ...            every other week ...

The time may also come last ("call the embassy tomorrow 10am", as people say it in
words), and chat spellings are read ("tmrw", "2moro", "tonite"). A date that does not
exist ("31 feb 2027") is refused with the reason, never moved to another day.

Times are read in the user's time zone and returned in UTC. A recurring rule keeps
local wall-clock time, so "every day at 9:00" stays 9:00 across daylight-saving changes.
Whatever was ambiguous (no time given, 05/06 as day/month) is reported in `notes`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from dateutil import rrule

from bot.reminders.timezones import tzinfo

MAX_AHEAD = dt.timedelta(days=731)
DEFAULT_TIME = dt.time(9, 0)
MAX_WHEN_WORDS = 8
_AT_HOUR = re.compile(r"\bat (\d{1,2})(?![:.\d]|\s*(?:am|pm|a\.m|p\.m|h\b|o'?clock))", re.IGNORECASE)
_HAS_TIME = re.compile(r"\d{1,2}[:.h]\d{2}|\d\s*(?:am|pm|a\.m|p\.m)|\bnoon\b|\bmidnight\b|\bin \d+ (?:min|minute|hour|hr)",
                       re.IGNORECASE)
_SLASHED = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})\b")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS = {name: i for i, names in enumerate([
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]) for name in names}
_EVERY = re.compile(
    r"^every\s+(?:(other|2nd|second)\s+)?(day|weekday|week|month|year|" + "|".join(_WEEKDAYS) + r")s?\b[,]?\s*(.*)$",
    re.IGNORECASE | re.DOTALL)
_MONTH_DAY = re.compile(r"^(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\b[,]?\s*(.*)$", re.IGNORECASE | re.DOTALL)
_LEAD = re.compile(r"^(?:me\s+)?", re.IGNORECASE)
_WHAT_LEAD = re.compile(r"^(?:to|that|about|of|[:,\-–—|])\s+", re.IGNORECASE)
_WHAT_TAIL = re.compile(r"[\s,:;\-–—]+(?:by|on|at|for|from)?$", re.IGNORECASE)
_SLANG = {"tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "tmrow": "tomorrow", "tmoro": "tomorrow",
          "tomo": "tomorrow", "2moro": "tomorrow", "2morrow": "tomorrow", "2mrw": "tomorrow", "tomorow": "tomorrow",
          "tommorow": "tomorrow", "tommorrow": "tomorrow", "tonite": "tonight", "2nite": "tonight",
          "tdy": "today", "2day": "today", "nxt": "next", "wk": "week", "wks": "weeks", "hrs": "hours", "hr": "hour",
          "mins": "minutes", "min": "minute"}
_SLANG_WORD = re.compile(r"\b(" + "|".join(_SLANG) + r")\b", re.IGNORECASE)
_MONTH = (r"(?P<{}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DATES = (
    re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH.format("month") +
               r"(?:,?\s+(?P<year>\d{4}))?\b", re.IGNORECASE),
    re.compile(r"\b" + _MONTH.format("month") + r"\s+(?:the\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?\b"
               r"(?:,?\s+(?P<year>\d{4}))?", re.IGNORECASE),
    re.compile(r"(?<![\d/.:-])(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})(?:[/.-](?P<year>\d{4}|\d{2}))?(?![\d/.:-])"),
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")
_TIME_START = re.compile(r"^(?:\d|(?:in|on|at|by|this|next|tomorrow|today|tonight|noon|midnight|"
                         + "|".join(_WEEKDAYS) + r"|" + _MONTH.format("m") + r")(?![a-z]))", re.IGNORECASE)
_EVERY_INSIDE = re.compile(r"\s(?=every\s+(?:(?:other|2nd|second)\s+)?(?:day|weekday|week|month|year|"
                           + "|".join(_WEEKDAYS) + r")s?\b)", re.IGNORECASE)


class WhenError(ValueError):
    """The time could not be used; the message tells the user what works."""


@dataclass(frozen=True)
class Schedule:
    """A parsed reminder: first due time (UTC), optional recurrence rule, and the text."""

    due: dt.datetime
    what: str
    rule: str | None = None
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


EXAMPLES = ('Try: "/remind in 3 days follow up with Dr. Lee", "/remind tomorrow 9am book OET", '
            '"/remind on 15 Dec 18:00 ERAS tokens" or "/remind every Monday 9am study".')


def _settings(tz_name: str, now_local: dt.datetime) -> dict:
    return {"TIMEZONE": tz_name if "/" in tz_name or tz_name == "UTC" else "UTC",
            "RETURN_AS_TIMEZONE_AWARE": False, "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now_local.replace(tzinfo=None), "DATE_ORDER": "DMY"}


def _unslang(text: str) -> str:
    return _SLANG_WORD.sub(lambda m: _SLANG[m.group(1).lower()], text)


def _parse(text: str, tz_name: str, now_local: dt.datetime) -> dt.datetime | None:
    text = _AT_HOUR.sub(r"at \1:00", _unslang(text))
    try:
        import dateparser  # imported on first use: one-shot commands (`ask`) never parse a time

        return dateparser.parse(text, languages=["en"], settings=_settings(tz_name, now_local))
    except (ValueError, OverflowError, TypeError):
        return None


def _split(text: str, tz_name: str, now_local: dt.datetime) -> tuple[dt.datetime, str, str] | None:
    """The longest leading run of words that reads as a time, the time, and the rest."""
    words = text.split()
    for count in range(min(len(words), MAX_WHEN_WORDS), 0, -1):
        when = " ".join(words[:count])
        if not re.search(r"[A-Za-z0-9]", when):
            continue
        parsed = _parse(when, tz_name, now_local)
        if parsed is not None:
            return parsed, when, " ".join(words[count:])
    return None


def _split_end(text: str, tz_name: str, now_local: dt.datetime) -> tuple[dt.datetime, str, str] | None:
    """A time said last ("pay the fee tomorrow at 9"): the longest trailing run of words that reads as one."""
    words = text.split()
    for start in range(max(1, len(words) - MAX_WHEN_WORDS), len(words)):
        when = " ".join(words[start:])
        if not _TIME_START.match(_unslang(when)):
            continue
        if when[0].isdigit() and not (_HAS_TIME.search(_AT_HOUR.sub(r"at \1:00", when)) or
                                      any(p.match(when) for p in _DATES)):
            continue  # "step 1 next week": the 1 belongs to what
        parsed = _parse(when, tz_name, now_local)
        if parsed is not None:
            return parsed, when, _WHAT_TAIL.sub("", " ".join(words[:start]))
    return None


def _impossible_date(text: str) -> None:
    """Refuse a date that does not exist (31 February, 31/04): dateparser would quietly read another day."""
    for pattern in _DATES:
        for found in pattern.finditer(text):
            month_text, day, year_text = found.group("month"), int(found.group("day")), found.group("year")
            month = int(month_text) if month_text.isdigit() else _MONTHS.index(month_text.lower()[:3]) + 1
            if not (1 <= month <= 12 and 1 <= day <= 31):
                continue  # not a date at all ("3/40 questions")
            year = (int(year_text) + 2000 if len(year_text) == 2 else int(year_text)) if year_text else None
            longest = calendar.monthrange(year or 2000, month)[1]  # 2000: a leap year, for "29 feb" without one
            if day > longest:
                name = _MONTH_NAMES[month - 1]
                when = f"{name} {year}" if year else name
                has = f"has {longest} days" if year or month != 2 else "has 28 days (29 in a leap year)"
                raise WhenError(f"There is no {day} {when}: {when} {has}. Please check the date.")


def _what(rest: str) -> str:
    what = _WHAT_LEAD.sub("", rest.strip()).strip()
    if not what:
        raise WhenError("What should I remind you of? Put it after the time, e.g. "
                        "\"/remind tomorrow 9am book OET\".")
    return what


def _localize(naive: dt.datetime, tz_name: str) -> dt.datetime:
    return naive.replace(tzinfo=tzinfo(tz_name)).astimezone(dt.timezone.utc)


def _check_range(due: dt.datetime, now: dt.datetime, shown: str) -> None:
    if due <= now:
        raise WhenError(f"{shown} is in the past. Give a time in the future, e.g. \"in 1 minute\" or \"tomorrow 9am\".")
    if due - now > MAX_AHEAD:
        raise WhenError(f"{shown} is more than 2 years ahead; I keep reminders for up to 2 years.")


def format_local(when: dt.datetime, tz_name: str) -> str:
    """A time as the user reads it: "Mon 23 Nov 2026, 09:00 (Asia/Karachi)"."""
    local = when.astimezone(tzinfo(tz_name))
    return f"{local:%a %d %b %Y, %H:%M} ({tz_name})"


def parse_reminder(text: str, tz_name: str, now: dt.datetime) -> Schedule:
    """Read `/remind` arguments in the user's zone; raise WhenError with a helpful message."""
    text = _LEAD.sub("", text.strip(), count=1).strip()
    if not text:
        raise WhenError("Tell me when and what. " + EXAMPLES)
    now_local = now.astimezone(tzinfo(tz_name))
    _impossible_date(text)
    every = _EVERY.match(text)
    if every:
        return _recurring(every, tz_name, now, now_local)
    found = _split(text, tz_name, now_local)
    if found is None:
        inside = _EVERY_INSIDE.search(text)  # "study every monday 9am": the repeat said last
        if inside:
            moved = f"{text[inside.end():]} {_WHAT_TAIL.sub('', text[:inside.start()])}"
            every = _EVERY.match(moved)
            assert every is not None
            return _recurring(every, tz_name, now, now_local)
        found = _split_end(text, tz_name, now_local)
    if found is None:
        raise WhenError("I couldn't read a time in that. " + EXAMPLES)
    naive, when_text, rest = found
    notes = []
    timed = _HAS_TIME.search(_AT_HOUR.sub(r"at \1:00", when_text))
    if not timed and (naive.time() == dt.time(0, 0) or "tomorrow" in _unslang(when_text).lower()):
        naive = naive.replace(hour=DEFAULT_TIME.hour, minute=DEFAULT_TIME.minute)
        notes.append(f"no time given, so I used {DEFAULT_TIME:%H:%M}")
    slashed = _SLASHED.search(when_text)
    if slashed and int(slashed.group(1)) <= 12 and int(slashed.group(2)) <= 12 and slashed.group(1) != slashed.group(2):
        notes.append(f"read {slashed.group(0)} as day/month: {naive:%d %B}")
    due = _localize(naive.replace(second=0, microsecond=0), tz_name)
    _check_range(due, now, f"\"{when_text}\" ({format_local(due, tz_name)})")
    return Schedule(due=due, what=_what(rest), notes=tuple(notes))


def _recurring(match: re.Match[str], tz_name: str, now: dt.datetime, now_local: dt.datetime) -> Schedule:
    other, unit, rest = match.group(1), match.group(2).lower(), match.group(3)
    interval = 2 if other else 1
    kwargs: dict = {"interval": interval}
    every = "every other" if other else "every"
    if unit in _WEEKDAYS:
        freq, kwargs["byweekday"] = rrule.WEEKLY, _WEEKDAYS[unit]
        description = f"{every} {_DAY_NAMES[_WEEKDAYS[unit]]}"
    elif unit == "weekday":
        freq, kwargs["byweekday"] = rrule.DAILY, (0, 1, 2, 3, 4)
        kwargs.pop("interval")
        description = "every weekday (Monday to Friday)"
    else:
        freq = {"day": rrule.DAILY, "week": rrule.WEEKLY, "month": rrule.MONTHLY, "year": rrule.YEARLY}[unit]
        description = f"{every} {unit}"
    if unit == "month":
        day = _MONTH_DAY.match(rest)
        if day and 1 <= int(day.group(1)) <= 31 and not re.match(r"\s*(?:am|pm|:|h\b)", day.group(2), re.IGNORECASE):
            kwargs["bymonthday"] = int(day.group(1))
            rest = day.group(2)
            description += f" on day {kwargs['bymonthday']}"
    notes = []
    hour, minute, rest = _time_of_day(rest, tz_name, now_local)
    if hour is None:
        hour, minute = DEFAULT_TIME.hour, DEFAULT_TIME.minute
        notes.append(f"no time given, so I used {DEFAULT_TIME:%H:%M}")
    if kwargs.get("bymonthday", 0) > 28:
        notes.append("in shorter months that day is skipped")
    start = now_local.replace(tzinfo=None, second=0, microsecond=0)
    rule = rrule.rrule(freq, dtstart=start, byhour=hour, byminute=minute, bysecond=0, **kwargs)
    first = rule.after(start)
    if first is None:
        raise WhenError("That repeat never happens. " + EXAMPLES)
    description += f" at {hour:02d}:{minute:02d}"
    due = _localize(first, tz_name)
    _check_range(due, now, format_local(due, tz_name))
    return Schedule(due=due, what=_what(rest), rule=str(rule), description=description, notes=tuple(notes))


def _time_of_day(rest: str, tz_name: str, now_local: dt.datetime) -> tuple[int | None, int, str]:
    """A leading time of day in `rest` ("9am", "at 20:00"), and what follows it."""
    words = rest.split()
    for count in range(min(len(words), 3), 0, -1):
        when = " ".join(words[:count])
        if not _HAS_TIME.search(_AT_HOUR.sub(r"at \1:00", when)):
            continue
        parsed = _parse(when, tz_name, now_local)
        if parsed is not None:
            return parsed.hour, parsed.minute, " ".join(words[count:])
    return None, 0, rest


def next_occurrence(rule_text: str, tz_name: str, after: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """For a stored rule: the latest occurrence at or before `after`, and the next one after it (UTC)."""
    rule = rrule.rrulestr(rule_text)
    local_after = after.astimezone(tzinfo(tz_name)).replace(tzinfo=None)
    previous = rule.before(local_after, inc=True)
    following = rule.after(local_after)
    return (_localize(previous, tz_name) if previous else None,
            _localize(following, tz_name) if following else None)
