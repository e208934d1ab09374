"""Read a message as a person would: what is asked, and what is only politeness or backstory.

IMGs write "Good morning doctor, I'm from Nigeria, graduated 2016 ... can I still
apply? Thank you so much in advance". Before matching, this module

- finds greetings, thanks and sign-offs, so they get the small-talk reply only when
  nothing else is asked;
- splits the message into sentences and picks the question sentences (up to three
  distinct questions are answered one by one);
- reads "im from X" / "im a graduate" as "I am", not internal medicine;
- names the kind of question (cost, when, how long, how to, eligibility, definition,
  comparison, what next, advice), which entries may declare with `kinds:`;
- notices text that is not English.

Nothing here knows the knowledge base; `faq.py` decides what to answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.answers.normalize import normalize

SHORT_QUESTION = 3
MAX_PARTS = 3
"""At most this many questions of one message are answered separately."""

# "im" before these words is "I am" ("im from pakistan", "im a 2016 graduate"), never internal medicine
_IM_AS_I_AM = re.compile(
    r"\b(i m|im)\b(?=\s+(?:from|a|an|the|not|so|very|really|currently|planning|going|looking|trying|confused|"
    r"new|interested|applying|getting|thinking|doing|in|at|on|working|studying|still|also|just|here|done|"
    r"finished|graduate|graduated|worried|scared|stuck|sure|unsure|afraid|eligible|img|\w+ing|\d+)\b)",
    re.IGNORECASE)

_SENTENCE_END = re.compile(r"(?<=[?!.;])(?<!\b[Dd]r\.)(?<!\b[Mm]r\.)(?<!\b[Mm]s\.)(?<!\b[Mm]rs\.)(?<!\bvs\.)"
                           r"(?<!\b[Pp]rof\.)\s+|\n+|(?<=\?)(?=\S)")
"""Sentence ends, but not the dot of "Dr. Amina", "Mr.", "vs." ."""
_QUESTION_START = re.compile(
    r"^(?:so |and |but |also |ok |okay |then |pls |please |plz |sir |mam |madam |doctor |dr |guys |"
    r"can anyone tell |anyone knows? |does anyone know |i want to know |i wanna know |i need to know |"
    r"i would like to know |tell me |kindly tell |my question is |question |q )*"
    r"(?:what|whats|what's|wat|how|hw|when|whn|where|which|who|whom|why|can|could|cn|is|isnt|are|am|do|does|did|"
    r"should|shall|will|would|may|might|must|any|anything|has|have|is there|are there)\b", re.IGNORECASE)
_ASKING = re.compile(r"\?|\b(?:pls tell|please tell|plz tell|any idea|any advice|any suggestions?|advise me|"
                     r"help me|guide me|i want to know|need to know|wondering|confused about|not sure (?:if|whether|"
                     r"about|how|when|what))\b", re.IGNORECASE)

_INTRODUCTION = re.compile(r"^(?:i am|i m|im|i'm|i’m|my name is|myself|this is|me)\b[^?]*$", re.IGNORECASE)
"""'I am Dr. Amina from Nigeria': who is asking, not what."""

KIND_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("comparison", re.compile(r"\b(?:vs|versus|difference|differences|compare|compared|better than|which one|"
                              r"which is better)\b")),
    ("what-next", re.compile(r"\b(?:after (?:i |you |the |my )?(?:match|matching|matched|soap|interview|"
                             r"certification|passing|pass)|what happens (?:after|next|if|when)|next steps?|"
                             r"then what|what now|now what|(?:didn t|did not|didnt|don t) match|unmatched|"
                             r"what should i do (?:now|next|after))\b")),
    ("cost", re.compile(r"\b(?:how much|cost|costs|fee|fees|price|prices|pricing|expensive|cheap|cheaper|money|"
                        r"budget|afford|pay|paid|payment|dollars?|usd|charges?|spend|total)\b|\$")),
    ("how-long", re.compile(r"\b(?:how long|how many (?:days|weeks|months|years)|duration|valid|validity|"
                            r"expire|expires|expiry|last for|takes? (?:long|time))\b")),
    ("when", re.compile(r"\b(?:when|whn|deadline|deadlines|date|dates|what time|which month|timeline|how soon|"
                        r"by when|come out|comes out|release|released|open|opens|start|starts|close|closes|"
                        r"schedule|too late|too early|best time)\b")),
    ("eligibility", re.compile(r"\b(?:can i|could i|am i|eligible|eligibility|allowed|possible|is it ok|"
                               r"still apply|do i need|need to|required|requirement|requirements|require|must i|"
                               r"do i have to|is it necessary|mandatory|qualify|accepted|accept)\b")),
    ("advice", re.compile(r"\b(?:any advice|advise|advice|any tips|tips|suggestions?|how (?:to|should i) behave|"
                          r"what should i (?:do|know|expect))\b")),
    ("how-to", re.compile(r"\b(?:how (?:do|can|to|should|would|did)|how i|steps|process|procedure|apply|"
                          r"register|request|prepare|find|get (?:a|an|the)|way to|ways to)\b")),
    ("definition", re.compile(r"\b(?:what is|whats|what s|wat is|what are|meaning|mean|means|define|"
                              r"explain|stand for)\b")),
)
"""Kinds of question and the words that show them, most specific first."""


@dataclass(frozen=True)
class Reading:
    """What a message asks, apart from politeness."""

    text: str  # the whole message with greetings, thanks and sign-offs removed ("im" repaired)
    parts: tuple[str, ...]  # the question sentences, when there are several (else empty)
    question: str  # the main question sentence (or the whole text when none stands out)
    social: frozenset[str] = field(default_factory=frozenset)  # "greeting", "thanks", "chatter"
    not_english: bool = False
    told: bool = False  # a sentence neither asks nor only says who is asking ("my attending told me ...")

    @property
    def only_social(self) -> bool:
        """Nothing is asked: a greeting, thanks or chatter alone."""
        return not self.text.strip(" ,.!?-–—:;'\"()")


def repair_im(text: str) -> str:
    """'im from nigeria' -> 'i am from nigeria' (IM stays internal medicine elsewhere)."""
    return _IM_AS_I_AM.sub("i am", text)


def question_kind(text: str) -> str | None:
    """The kind of question asked in (normalised) `text`, or None when no cue shows it."""
    normalized = normalize(text)
    for kind, cue in KIND_CUES:
        if cue.search(normalized):
            return kind
    return None


def is_not_english(text: str) -> bool:
    """Mostly letters of another script (Arabic, Devanagari, Cyrillic, CJK...), or Spanish-like words."""
    if text.isascii():  # every letter is a Latin one (most messages): only the words can tell
        if len(_NOT_ASCII_LETTERS.sub("", text)) < 3:
            return False
    else:
        letters = [ch for ch in text if ch.isalpha()]
        if len(letters) < 3:
            return False
        latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
        if latin / len(letters) < 0.5:
            return True
    words = normalize(text).split()
    if len(words) < 4:
        return False
    foreign = sum(map(_ROMANCE.__contains__, words))
    return foreign >= 3 and foreign > 2 * sum(map(_ENGLISH.__contains__, words))


_NOT_ASCII_LETTERS = re.compile(r"[^A-Za-z]+")
"""In ASCII text, what `str.isalpha` is false for."""
_ROMANCE = frozenset("""que el la los las para por como cuanto cuesta donde necesito quiero puedo una uno del al
es son estoy tengo hacer médico medico residencia ou pour est une je suis mon ma les des dans avec comment
quel quelle combien você para fazer posso preciso""".split())
_ENGLISH = frozenset("""the is are what how when can i my for to of and in do does a an it you me need""".split())


def split_sentences(text: str) -> list[str]:
    """The sentences of a message (on ., ?, !, ; and line breaks), trimmed, without empty ones."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip(" .,!?;-")]


_ASKED_INSIDE = re.compile(r"\b(?:can|could|should|shall|do|does|will|would|may|am|is|are|how|what|when|where|which)\s+"
                           r"(?:i|we|you|my|it|there|one)\b", re.IGNORECASE)
"""A question inside a sentence that opens like an introduction: "i am pharmacist can i give usmle"."""


def _is_introduction(sentence: str) -> bool:
    """A short sentence saying who the asker is, with nothing asked."""
    return (len(sentence.split()) <= 8 and bool(_INTRODUCTION.match(sentence.strip())) and not is_question(sentence)
            and not _ASKED_INSIDE.search(sentence))


def _split_introduction(sentence: str) -> list[str]:
    """'i am doctor from egypt, is observership considered usce?' -> the introduction, then the question
    (only when the words after the comma open a question themselves: 'im a student in egypt, want electives,
    where to start' keeps who is asking in the question)."""
    head, comma, tail = sentence.partition(",")
    if comma and _is_introduction(head) and _QUESTION_START.match(normalize(tail.strip())):
        return [head.strip(), tail.strip()]
    return [sentence]


def is_question(sentence: str) -> bool:
    """Whether a sentence asks something (a question mark, a question word, "pls tell")."""
    stripped = sentence.strip()
    return bool(_ASKING.search(stripped) or _QUESTION_START.match(normalize(stripped)))


_REFERS_BACK = re.compile(r"\b(?:it|its|this|that|these|those|they|them)\b", re.IGNORECASE)
BARE_TOPIC = 2
"""A question of at most this many words ("hipaa??", "ESTA?") names a topic the next question may ask about."""


def _fold_bare_topics(questions: list[str]) -> list[str]:
    """Bare topics belong to the question beside them: 'hipaa?? what it means for me as observer' is one
    question (a topic, then a question about 'it'), and so is 'what now? research? step 3?' (options)."""
    folded: list[str] = []
    for question in questions:
        previous = folded[-1] if folded else ""
        bare_before = len(normalize(previous).split()) <= BARE_TOPIC and _REFERS_BACK.search(question)
        if previous and (bare_before or len(normalize(question).split()) <= BARE_TOPIC):
            folded[-1] = f"{previous.rstrip(' ?!.')} {question}"
        else:
            folded.append(question)
    return folded


def read(text: str, remove_social: "SocialRemover") -> Reading:
    """Read one message: politeness removed, question sentences found, language noticed."""
    repaired = repair_im(text)
    if is_not_english(repaired):
        return Reading(repaired, (), repaired, frozenset(), not_english=True)
    kept_sentences: list[str] = []
    social: set[str] = set()
    for sentence in split_sentences(repaired):
        rest, found = remove_social(sentence)
        social |= found
        if rest.strip(" ,.!?-–—:;'\"()"):
            kept_sentences.extend(_split_introduction(rest.strip(" ,")))
    if kept_sentences and all(_is_introduction(s) for s in kept_sentences):
        return Reading("", (), "", frozenset(social | {"greeting"}))  # "hi im from nigeria": a hello, not a question
    body = " ".join(kept_sentences)
    asks = [is_question(s) for s in kept_sentences]
    questions = _fold_bare_topics([s for s, asked in zip(kept_sentences, asks) if asked])
    # of several questions the first is usually the main one; later ones follow up ("also ...")
    main = questions[0] if questions else body
    if questions and len(questions) == 1 and len(normalize(questions[0]).split()) <= SHORT_QUESTION and len(kept_sentences) > 1:
        main = body  # "is it too late?" needs the backstory before it
    parts = tuple(questions[:MAX_PARTS]) if len(questions) >= 2 else ()
    told = any(not asked and not _is_introduction(s) for s, asked in zip(kept_sentences, asks))
    return Reading(body, parts, main, frozenset(social), told=told)


class SocialRemover:
    """Removes greeting, thanks and chatter phrases (knowledge/smalltalk.yaml) from a sentence.

    A phrase that is also an abbreviation of the knowledge base (`abbreviations`: "ty" is thanks, and
    the transitional year) is set aside only from a sentence that asks nothing: "ok ty" is thanks,
    "is ty good for img?" asks about the transitional year.
    """

    def __init__(self, phrases: dict[str, list[str]], abbreviations: frozenset[str] = frozenset()):
        # per group of phrases: its kind, pattern, whether only a sentence asking nothing loses them, and the
        # first words of its phrases, lowercased (None when one is not ASCII letters, digits, _ or ': no shortcut)
        self._patterns: list[tuple[str, re.Pattern[str], bool, tuple[str, ...] | None]] = []
        for kind, words in phrases.items():
            ordered = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
            plain = [w for w in ordered if w.lower() not in abbreviations]
            ambiguous = [w for w in ordered if w.lower() in abbreviations]
            for group, only_if_nothing_asked in ((plain, False), (ambiguous, True)):
                if group:
                    firsts = tuple(dict.fromkeys(w.split()[0].lower() for w in group))
                    self._patterns.append((kind, _social_pattern(group), only_if_nothing_asked,
                                           firsts if all(_WORD.fullmatch(f) for f in firsts) else None))

    def __call__(self, sentence: str) -> tuple[str, set[str]]:
        found: set[str] = set()
        rest = sentence
        asks: bool | None = None  # read only when an ambiguous phrase needs it (most bases have one or none)
        # a phrase starts where a word starts (nothing of [\w'] before it): in ASCII text (where IGNORECASE is
        # `lower`) a group whose first words begin no word is skipped unsearched (its search tries every phrase
        # at every position: most of reading a message)
        words = _WORD.findall(sentence.lower()) if sentence.isascii() else None
        for kind, pattern, only_if_nothing_asked, firsts in self._patterns:
            if words is not None and firsts is not None and not any(word.startswith(firsts) for word in words):
                continue
            if only_if_nothing_asked:
                asks = is_question(sentence) if asks is None else asks
                if asks:
                    continue
            rest, count = pattern.subn(" ", rest)
            if count:
                found.add(kind)
        return _SPACE_RUN.sub(" ", rest).strip(), found


_SPACE_RUN = re.compile(r"\s{2,}")
_WORD = re.compile(r"[A-Za-z0-9_']+")
"""A word as the social patterns' edges see one in ASCII text (their `[\\w']`)."""


_NAMED_THINGS = r"e-?mails?|mails?|notes?|letters?|messages?|msgs?|cards?|calls?|gifts?|texts?"
"""Words after which a greeting or thanks is part of a question, not politeness: "a thank you email", "a hi message"."""


def _social_pattern(phrases: list[str]) -> re.Pattern[str]:
    """The phrases with their usual companions: "hi sir", "thank you so much in advance", "good morning all";
    not a phrase that names a thing ("should I send a thank you email?", `_NAMED_THINGS`)."""
    alternatives = "|".join(r"\s*".join(re.escape(part) for part in w.split()) for w in phrases)
    return re.compile(
        rf"(?<![\w'])(?:{alternatives})(?!\s*(?:{_NAMED_THINGS})(?![\w']))(?:\s+(?:so much|very much|a lot|in advance|sir|mam|madam|maam|"
        rf"doctors?|docs?|dr|drs|all|everyone|everybody|guys|friends|folks|people|seniors|colleagues|members|brothers?|sisters?|bro|dear|team|again|for (?:your|the) "
        rf"(?:help|time|answer|reply)|for helping))*(?![\w'])[\s,.!:;-]*",
        re.IGNORECASE)
