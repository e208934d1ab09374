"""The core's small markup: bold, titled links, and escapes that keep user text inert."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.markup import Segment, bold, escape, link, parse, to_plain


def test_bold_and_links_are_parsed() -> None:
    text = "See " + bold("ECFMG") + " at " + link("ecfmg.org", "https://ecfmg.org") + "."
    assert parse(text) == [
        Segment("text", "See "), Segment("bold", "ECFMG"), Segment("text", " at "),
        Segment("link", "ecfmg.org", "https://ecfmg.org"), Segment("text", "."),
    ]
    assert to_plain(text) == "See ECFMG at ecfmg.org (https://ecfmg.org)."


@given(st.text())
def test_escaped_user_text_always_comes_back_as_plain_text(text: str) -> None:
    assert parse(escape(text)) == ([Segment("text", text)] if text else [])


def test_links_with_odd_urls_become_plain_text() -> None:
    assert parse(link("click", "javascript:alert(1)")) == [Segment("text", "click (javascript:alert(1))")]
