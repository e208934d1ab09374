"""Is the knowledge current? Entries past their review or validity date, and the calendar ahead.

`kb check` warns about an entry whose `valid_until` has passed and fails when the
calendar (deadlines.yaml) has nothing upcoming in the next six months; `kb due` lists
what needs review next, soonest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.knowledge.models import Deadline, Entry
from bot.knowledge.yamlsource import Problem, YamlDoc

REVIEW_EVERY = dt.timedelta(days=365)
CALENDAR_AHEAD = dt.timedelta(days=183)


@dataclass(frozen=True)
class Due:
    """One thing to review, and by when."""

    when: dt.date
    what: str  # "entry" | "deadline"
    id: str
    reason: str


def entry_problems(entries: list[tuple[Entry, YamlDoc, int]], today: dt.date) -> list[Problem]:
    """Warnings for entries whose figures no longer hold (`valid_until` passed)."""
    problems = []
    for entry, doc, index in entries:
        if entry.valid_until is not None and entry.valid_until < today:
            problems.append(Problem(doc.name, doc.line_of((index, "valid_until")),
                                    f"valid_until {entry.valid_until} has passed: update the figures for the "
                                    "current cycle (the bot tells users they may be out of date)", "warning"))
    return problems


def calendar_problems(deadlines: dict[str, Deadline], doc: YamlDoc | None, today: dt.date) -> list[Problem]:
    """An error when nothing in the calendar falls in the next six months."""
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.timezone.utc)
    ahead = [d for d in deadlines.values() if start < d.due <= start + CALENDAR_AHEAD]
    if deadlines and not ahead and doc is not None:
        return [Problem(doc.name, 1, f"no date in the next six months (after {today}): add the coming cycle's "
                                     "dates, marking estimates with `confirmed: false`")]
    return []


def review_due(entries: dict[str, Entry], deadlines: dict[str, Deadline], today: dt.date) -> list[Due]:
    """Everything with a review date, soonest first: entries (a year after review, or valid_until) and
    estimated deadlines (to confirm before they fall)."""
    due = []
    for entry in entries.values():
        when, reason = entry.reviewed + REVIEW_EVERY, f"reviewed {entry.reviewed}"
        if entry.valid_until is not None and entry.valid_until < when:
            when, reason = entry.valid_until, f"figures valid until {entry.valid_until}"
        due.append(Due(when, "entry", entry.id, reason))
    for deadline in deadlines.values():
        if not deadline.confirmed and deadline.due.date() >= today:
            due.append(Due(deadline.due.date(), "deadline", deadline.id, "estimated: confirm on the official page"))
    return sorted(due, key=lambda d: (d.when, d.id))
