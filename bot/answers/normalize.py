"""Turn what users type into comparable tokens: case, unicode, punctuation, stems.

IMGs write on phones, in a second language, with abbreviations and typos:
"obsership fees??", "B1/B2 ok for hands on?", "YOG 2015 still ok for IM?". This
module only does language-level work; domain words (abbreviations, misspellings)
live in knowledge/synonyms.yaml and are applied by `bot.answers.matching`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")

# "b-1" -> "b1", "h-1b" -> "h1b", "j-1" -> "j1": letter-digit hyphens joined
_LETTER_DIGIT = re.compile(r"(?<=\b[a-z])[-\s](?=\d\w?\b)")
_NON_WORD = re.compile(r"[^\w$]+|_")
# "15,000" -> "15000", and an amount in dollars says so in words: "$15k", "2000$" -> "15k dollars", "2000 dollars"
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_DOLLARS = re.compile(r"\$\s?(\d[\d.]*k?)\b|\b(\d[\d.]*k?)\s?\$")
_SPACES = re.compile(r"\s+")

STOPWORDS = frozenset("""
a an the and or but if then so of to in on at for from by with about as into over
is are was were be been being am do does did doing done have has had having will would shall should
can could may might must i me my mine we our us you your yours he she it its they them their this that
these those there here what which whom whose any some all each every no not
just also very too much many more most than only own same other such up down out off again further
once both few nor s t don now pls plz please guys guy anyone someone somebody everyone hey hi hello
thanks thank thx help tell know want need get got one really kindly sir mam maam bro dear ok okay
still ive id him his her hers""".split())
"""Words that carry no topic. "after" and "before" are kept ("ECFMG before ERAS", "after the Match"),
and so are question words (who, when, how...): "who writes my
letters" and "how do I ask for letters" are different questions. Note: "us" the pronoun and "US" the country normalise
alike; synonyms.yaml maps "u.s."/"usa"/"united states" to the token "usa" instead."""


NORMALIZED_MEMO = 256
"""Reading one message normalises the same few texts several times (the message, its sentence, its question:
often one string); a memo this small serves the repeats and holds no more than a few messages."""


@lru_cache(maxsize=NORMALIZED_MEMO)
def normalize(text: str) -> str:
    """Lowercase, strip accents and punctuation, join "b-1" style codes, collapse spaces."""
    if text.isascii():  # no accents to strip: NFKD and the combining marks are no-ops (most messages)
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("u.s.", "usa ").replace("’", "'").replace("'s ", " ")
    text = _LETTER_DIGIT.sub("", text)
    if "$" in text or "," in text:
        text = _DOLLARS.sub(r" \1\2 dollars ", _THOUSANDS.sub("", text))
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The English stem of one normalised word ("observerships" -> "observership")."""
    return _stemmer.stemWord(word)


def content_stems(text: str) -> list[str]:
    """Stems of the words in already-normalised `text` that carry meaning."""
    return [stem(w) for w in text.split() if w not in STOPWORDS and len(w) < 40]
