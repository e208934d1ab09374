"""The core's small markup, which every adapter renders in its own way.

Reply text is plain text with three additions:

- ``**bold**`` for a short emphasis (titles, labels);
- ``[title](https://url)`` for a link shown with its title;
- a backslash escapes the next character, so user text can never turn into markup.

Text that came from a user or from the knowledge base and is not meant as markup
goes through `escape` before it is put into a reply. `escape` also makes the text
inert on the platforms: an @ that would start a mention (``@everyone``, ``@username``,
``<@123>``) gets an invisible word joiner after it, so no platform turns it into a
mention or a ping, and control and bidirectional-override characters (which can hide
or reverse text) are dropped. A URL a user typed stays visible text: never a titled
link. Adapters call `parse` and
render the segments (Telegram HTML, Discord markdown, plain console text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_SPECIAL = re.compile(r"([\\*\[\]()])")
_TOKEN = re.compile(
    r"\\(?P<escaped>.)"
    r"|\*\*(?P<bold>(?:\\.|[^*\\])+)\*\*"
    r"|\[(?P<title>(?:\\.|[^\]\\])+)\]\((?P<url>https?://[^\s)]+)\)",
    re.DOTALL,
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
WORD_JOINER = "\u2060"
_MENTION = re.compile(r"(?<!\w)@(?=[\w!&])|<(?=[@#])")
"""An @ starting a mention (@everyone, @username, <@123>, <@&role>) and the < of <@..> and <#...>."""
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters (except tab and newline) and bidirectional controls, which hide or reverse text."""


@dataclass(frozen=True)
class Segment:
    """A run of text: plain, bold, or a link with a title."""

    kind: str  # "text" | "bold" | "link"
    text: str
    url: str = ""


def defang(text: str) -> str:
    """`text` as it is shown: no mention can start in it, no control or bidi-override character is left."""
    return _MENTION.sub("\\g<0>" + WORD_JOINER, _HIDDEN.sub("", text))


def escape(text: str) -> str:
    """Make `text` safe to embed in markup: every special character is escaped, and mentions are defanged."""
    return _SPECIAL.sub(r"\\\1", defang(text))


def bold(text: str) -> str:
    """Markup for `text` shown in bold; `text` is escaped."""
    return f"**{escape(text)}**"


def link(title: str, url: str) -> str:
    """Markup for a link shown with its title; falls back to plain text for odd URLs."""
    if not re.fullmatch(r"https?://[^\s)]+", url):
        return escape(f"{title} ({url})")
    return f"[{escape(title)}]({url})"


def parse(text: str) -> list[Segment]:
    """Split markup into segments, merging neighbouring plain text."""
    segments: list[Segment] = []
    plain: list[str] = []
    pos = 0

    def flush() -> None:
        if plain:
            segments.append(Segment("text", "".join(plain)))
            plain.clear()

    for match in _TOKEN.finditer(text):
        plain.append(text[pos : match.start()])
        pos = match.end()
        if match.group("escaped") is not None:
            plain.append(match.group("escaped"))
        elif match.group("bold") is not None:
            flush()
            segments.append(Segment("bold", _UNESCAPE.sub(r"\1", match.group("bold"))))
        else:
            flush()
            title = _UNESCAPE.sub(r"\1", match.group("title"))
            segments.append(Segment("link", title, match.group("url")))
    plain.append(text[pos:])
    flush()
    return [s for s in segments if s.text]


def to_plain(text: str) -> str:
    """Render markup as plain text: bold loses its stars, links show `title (url)`."""
    out = []
    for seg in parse(text):
        out.append(f"{seg.text} ({seg.url})" if seg.kind == "link" else seg.text)
    return "".join(out)


def split(text: str, limit: int, render: Callable[[str], str]) -> list[str]:
    """Split markup into chunks whose rendering fits `limit` characters.

    Splits at paragraph breaks first, then at line breaks, then between words, so
    bold runs and links stay whole wherever a paragraph allows it. Each chunk is
    returned as markup (render it afterwards).
    """
    if len(render(text)) <= limit:
        return [text]
    chunks: list[str] = []
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if len(parts) > 1:
            break
    else:
        return _hard_split(text, limit, render)
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if len(render(candidate)) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        if len(render(part)) <= limit:
            current = part
        else:
            pieces = split(part, limit, render)
            chunks.extend(pieces[:-1])
            current = pieces[-1]
    if current:
        chunks.append(current)
    return chunks


def _hard_split(text: str, limit: int, render: Callable[[str], str]) -> list[str]:
    """Last resort for one enormous word: cut plain text (markup dropped) into fitting pieces."""
    plain = to_plain(text)
    pieces, current = [], ""
    for ch in plain:
        if len(render(escape(current + ch))) > limit:
            pieces.append(escape(current))
            current = ""
        current += ch
    if current:
        pieces.append(escape(current))
    return pieces
