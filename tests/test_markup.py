"""The core's small markup: bold, titled links, and escapes that keep user text inert."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.markup import WORD_JOINER, Segment, bold, defang, escape, link, parse, to_plain


def test_bold_and_links_are_parsed() -> None:
    text = "See " + bold("ECFMG") + " at " + link("ecfmg.org", "https://ecfmg.org") + "."
    assert parse(text) == [
        Segment("text", "See "), Segment("bold", "ECFMG"), Segment("text", " at "),
        Segment("link", "ecfmg.org", "https://ecfmg.org"), Segment("text", "."),
    ]
    assert to_plain(text) == "See ECFMG at ecfmg.org (https://ecfmg.org)."


@given(st.text())
def test_escaped_user_text_always_comes_back_as_plain_text(text: str) -> None:
    shown = defang(text)
    assert parse(escape(text)) == ([Segment("text", shown)] if shown else [])
    assert not MENTION_START.search(shown)  # no mention can start anywhere in it
    assert shown.replace(WORD_JOINER, "") == "".join(ch for ch in text.replace(WORD_JOINER, "")
                                                    if ch in "\t\n" or not _hidden(ch))


MENTION_START = re.compile(r"(?<!\w)@[\w!&]|<[@#]")


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in "\u061c\u200e\u200f" or "\u202a" <= ch <= "\u202e" \
        or "\u2066" <= ch <= "\u2069"


def test_mentions_and_markup_in_user_text_stay_inert() -> None:
    name = "[Free USMLE vouchers](https://evil.example/x) @everyone <@123> <@&9> <#5> @username **b** ‮gnp.exe"
    shown = to_plain("Hi " + escape(name))
    assert not MENTION_START.search(shown) and "\u202e" not in shown
    assert shown.replace(WORD_JOINER, "") == "Hi " + name.replace("\u202e", "")
    assert [s.kind for s in parse("Hi " + escape(name))] == ["text"]
    assert escape("write to info@ecfmg.org") == "write to info@ecfmg.org"  # an e-mail address is not a mention


def test_links_with_odd_urls_become_plain_text() -> None:
    assert parse(link("click", "javascript:alert(1)")) == [Segment("text", "click (javascript:alert(1))")]
