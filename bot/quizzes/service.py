"""Run eligibility quizzes: one question at a time, in private, ending in a personal plan.

Progress lives in SQLite (one active quiz per user), written in one transaction per
step, so a restart mid-quiz resumes where the user was. A quiz idle for 24 hours
expires quietly. Buttons carry `quiz:<quiz>:<question>:<option>`; a press from an
older step is recognised and answered with the current question.

Typed messages during a quiz: a number that fits an option's range ("3" years) picks
that option, so do an option's words and back/restart/cancel/continue. Anything else
is a question: it is answered as usual, and the quiz waits with a one-line
"paused" note and a Continue button.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace as replace_reply

from rapidfuzz import fuzz, process

from bot.events import Button, Incoming, Reply, button_rows
from bot.knowledge import Entry
from bot.markup import bold, escape
from bot.quizzes.model import Option, Question, Quiz
from bot.quizzes.store import QuizStore
from bot.reminders.timezones import tzinfo
from bot.reminders.when import format_local

EXPIRY = dt.timedelta(hours=24)
LABEL_CUTOFF = 75.0
REMIND_AFTER = dt.timedelta(days=7)
MAX_REMIND_BUTTONS = 6
_WORDS = {"back": "back", "previous": "back", "restart": "restart", "start over": "restart",
          "cancel": "cancel", "stop": "cancel", "quit": "cancel", "exit": "cancel",
          "continue": "resume", "resume": "resume", "go on": "resume"}
_NUMBER = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:years?|yrs?|y|months?|mos?|letters?)?\.?", re.IGNORECASE)
MAX_EXTRA_WORDS = 2
"""A typed answer may have this many words more than the option's label ("I'm a graduate")."""

Now = Callable[[], dt.datetime]
Otherwise = Callable[[], Awaitable[list[Reply]]]
AddReminder = Callable[[Incoming, str, dt.datetime], int]


class QuizService:
    """Starts quizzes, takes answers (buttons or typed), and shows results."""

    def __init__(self, store: QuizStore, quizzes: dict[str, Quiz], entries: dict[str, Entry], now: Now,
                 timezone_of: Callable[[str, str], str | None] = lambda platform, user: None):
        self.store = store
        self.timezone_of = timezone_of  # the user's own zone, for "remind me" on a plan step
        self.quizzes = quizzes
        self.entries = entries
        self.now = now
        self.add_reminder: AddReminder | None = None  # wired by the Advisor when reminders exist

    # state

    def _session(self, event: Incoming) -> dict | None:
        session = self.store.quiz_session(event.platform, event.user_id)
        if session is None:
            return None
        stale = self.now().timestamp() - session["updated_at"] > EXPIRY.total_seconds()
        if stale or session["quiz_id"] not in self.quizzes:
            self.store.end_quiz_session(event.platform, event.user_id)
            return None
        quiz = self.quizzes[session["quiz_id"]]
        if quiz.question(session["question_id"]) is None:  # the quiz file changed under the user
            self.store.end_quiz_session(event.platform, event.user_id)
            return None
        return session

    def _save(self, event: Incoming, quiz: Quiz, question_id: str, answers: dict[str, str], history: list[str]) -> None:
        self.store.save_quiz_session(event.platform, event.user_id, quiz.id, question_id, answers, history,
                                     self.now().timestamp())

    # rendering

    def _question_reply(self, quiz: Quiz, question: Question, history: list[str], replace: bool,
                        heard: str = "") -> Reply:
        text = f"{bold(quiz.title)} · question {len(history) + 1}\n\n{escape(question.text)}"
        if heard:  # a typed answer: show how it was read
            text = f"✓ {escape(heard)}\n\n{text}"
        rows = [(Button(o.label, f"quiz:{quiz.id}:{question.id}:{o.id}"),) for o in question.options]
        nav = [Button("« Back", "quiz:back")] if history else []
        nav += [Button("↺ Restart", "quiz:restart"), Button("✕ Cancel", "quiz:cancel")]
        ranged = any(o.min is not None or o.max is not None for o in question.options)
        return Reply(text, tuple(rows) + (tuple(nav),), private=True, replace=replace, asks_number=ranged)

    def _result_reply(self, quiz: Quiz, answers: dict[str, str], replace: bool, heading: str = "Your plan") -> Reply:
        results = quiz.results(answers)
        lines = [f"{bold(f'{heading}: {quiz.title}')}", ""]
        buttons: list[Button] = []
        faq_ids: list[str] = []
        for index, outcome in enumerate(quiz.outcomes):
            if outcome not in results:
                continue
            lines.append(f"• {bold(outcome.title)}: {escape(outcome.reason)}")
            for step_index, step in enumerate(outcome.next_steps):
                lines.append(f"   → {escape(step)}")
                if self.add_reminder and len(buttons) < MAX_REMIND_BUTTONS:
                    buttons.append(Button(f"⏰ Remind me: {step[:40]}", f"quiz:rm:{quiz.id}:{index}:{step_index}"))
            faq_ids += [f for f in outcome.faq if f in self.entries and f not in faq_ids]
        locked = [o.locked for o in quiz.outcomes if o.locked and o not in results and o.near_miss(answers)]
        if locked:
            lines += ["", bold("Not yet")] + [f"• {escape(text)}" for text in locked]
        if quiz.disclaimer:
            lines += ["", escape(quiz.disclaimer)]
        lines += ["", "Rules and dates change: check each program's and the official pages."]
        buttons += [Button(f"More: {self.entries[f].title}", f"faq:{f}") for f in faq_ids[:3]]
        buttons.append(Button("↺ Take it again", f"quiz:go:{quiz.id}"))
        return Reply("\n".join(lines), button_rows(buttons), private=True, replace=replace)

    def _menu(self, private: bool) -> Reply:
        buttons = [Button(q.title, f"quiz:go:{q.id}") for q in self.quizzes.values()]
        return Reply("Which quiz? Each takes about a minute and ends in a personal plan.", button_rows(buttons),
                     private=private)

    # entry points

    async def command(self, event: Incoming, args: str) -> list[Reply]:
        """`/quiz [name]`: list quizzes, or start one (moving to private chat from a group)."""
        if not self.quizzes:
            return [Reply("No quizzes are available right now.")]
        name = args.strip().lower()
        if not name:
            return [self._menu(private=False)]
        quiz = self._find(name)
        if quiz is None:
            return [Reply(f"I don't have a quiz called “{escape(name[:40])}”.", self._menu(False).buttons)]
        return self.start(event, quiz, force=False)

    def _find(self, name: str) -> Quiz | None:
        if name in self.quizzes:
            return self.quizzes[name]
        titles = {q.title.lower(): q for q in self.quizzes.values()}
        best = process.extractOne(name, list(titles), scorer=fuzz.WRatio, score_cutoff=70)
        return titles[best[0]] if best else None

    def start(self, event: Incoming, quiz: Quiz, force: bool, replace: bool = False) -> list[Reply]:
        """Begin `quiz`; in a group, point to the private chat where it continues."""
        current = self._session(event)
        if current and current["quiz_id"] != quiz.id and not force:
            other = self.quizzes[current["quiz_id"]]
            buttons = button_rows([Button(f"Continue: {other.title}", "quiz:resume"),
                                   Button(f"Switch to: {quiz.title}", f"quiz:new:{quiz.id}")])
            return [Reply(f"You're in the middle of {bold(other.title)}. One quiz at a time: continue it, "
                          "or switch (your progress there is dropped)?", buttons, private=True)]
        first = quiz.question(quiz.start)
        assert first is not None  # kb check guarantees it
        self._save(event, quiz, first.id, {}, [])
        replies = []
        if not event.is_private:
            replies.append(Reply(f"📋 {escape(event.user_name or 'You')}, let's do {bold(quiz.title)} in a private "
                                 "chat so your answers stay private.", start_payload=f"quiz-{quiz.id}"))
        replies.append(Reply(escape(quiz.intro), private=True))
        replies.append(self._question_reply(quiz, first, [], replace=replace))
        return replies

    async def start_payload(self, event: Incoming, payload: str) -> list[Reply] | None:
        """`/start quiz-<id>` from a deep link."""
        if not payload.startswith("quiz-") or payload[5:] not in self.quizzes:
            return None
        return self.start(event, self.quizzes[payload[5:]], force=True)

    async def press(self, event: Incoming, parts: list[str]) -> list[Reply] | None:
        """Handle a `quiz:` button; None if the payload is not one of ours."""
        head = parts[0] if parts else ""
        if head in ("go", "new") and len(parts) == 2 and parts[1] in self.quizzes:
            return self.start(event, self.quizzes[parts[1]], force=head == "new")
        if head == "rm" and len(parts) == 4:
            return self._remind(event, parts[1:])
        session = self._session(event)
        if head in ("back", "restart", "cancel", "resume"):
            if session is None:
                return [self._gone()]
            return self._navigate(event, session, head, replace=True)
        if len(parts) == 3 and parts[0] in self.quizzes:
            quiz_id, question_id, option_id = parts
            if session is None or session["quiz_id"] != quiz_id:
                return [self._gone()]
            if session["question_id"] != question_id:
                quiz = self.quizzes[quiz_id]
                return [Reply("That button is from an earlier step. Here is where you are:", private=True),
                        self._current(quiz, session, replace=False)]
            return self._answer(event, session, option_id, replace=True)
        return None

    async def text(self, event: Incoming, text: str, otherwise: Otherwise) -> list[Reply]:
        """A typed message: during a quiz an answer, a number or back/restart/cancel/continue.

        Anything else (and everything outside a quiz) goes to `otherwise`, the normal
        answer path; during a quiz its replies end with a "paused" note and Continue.
        """
        session = self._session(event)
        if session is None:
            return await otherwise()
        quiz = self.quizzes[session["quiz_id"]]
        question = quiz.question(session["question_id"])
        assert question is not None
        lowered = text.strip().lower().rstrip(".!")
        if lowered in _WORDS:
            return self._navigate(event, session, _WORDS[lowered], replace=False)
        option = _typed_option(question, text)
        if option is not None:
            return self._answer(event, session, option.id, replace=False, heard=option.label)
        if _NUMBER.fullmatch(text.strip()):  # a number no option takes
            choices = ", ".join(o.label for o in question.options)
            return [Reply(f"I didn't catch that as an answer: {escape(text.strip()[:20])} fits none of the choices "
                          f"({escape(choices)}). Tap the closest one, or type \"cancel\" to stop the quiz.",
                          private=True),
                    self._current(quiz, session, replace=False)]
        replies = await otherwise()
        return [*replies, Reply(f"⏸ Your quiz {bold(quiz.title)} is paused — tap Continue when you're ready.",
                                button_rows([Button("▶ Continue the quiz", "quiz:resume")]), private=True)]

    async def results(self, event: Incoming, args: str) -> list[Reply]:
        """`/results`: the user's last result of each quiz."""
        stored = [(q, a, t) for q, a, t in self.store.quiz_results(event.platform, event.user_id) if q in self.quizzes]
        if not stored:
            return [Reply("You have no quiz results yet. Try /quiz.", private=not event.is_private)]
        replies = []
        for quiz_id, answers, finished in stored:
            when = dt.datetime.fromtimestamp(finished, dt.timezone.utc)
            reply = self._result_reply(self.quizzes[quiz_id], answers, replace=False,
                                       heading=f"Your last result ({when:%d %b %Y})")
            replies.append(reply)
        return replies

    # steps

    def _current(self, quiz: Quiz, session: dict, replace: bool) -> Reply:
        question = quiz.question(session["question_id"])
        assert question is not None
        return self._question_reply(quiz, question, session["history"], replace)

    def _answer(self, event: Incoming, session: dict, option_id: str, replace: bool, heard: str = "") -> list[Reply]:
        quiz = self.quizzes[session["quiz_id"]]
        question = quiz.question(session["question_id"])
        assert question is not None
        option = next((o for o in question.options if o.id == option_id), None)
        if option is None:
            return [Reply("That option no longer exists. Here is the question again:", private=True),
                    self._current(quiz, session, replace=False)]
        answers = {**session["answers"], question.id: option.id}
        history = [*session["history"], question.id]
        next_question = quiz.question(option.next)
        if next_question is None:  # end of the quiz
            self.store.finish_quiz(event.platform, event.user_id, quiz.id, answers, self.now().timestamp())
            result = self._result_reply(quiz, answers, replace)
            return [replace_reply(result, text=f"✓ {escape(heard)}\n\n{result.text}") if heard else result]
        # drop answers to questions after this one (the user went back and changed course)
        self._save(event, quiz, next_question.id, answers, history)
        return [self._question_reply(quiz, next_question, history, replace, heard)]

    def _navigate(self, event: Incoming, session: dict, action: str, replace: bool) -> list[Reply]:
        quiz = self.quizzes[session["quiz_id"]]
        if action == "cancel":
            self.store.end_quiz_session(event.platform, event.user_id)
            return [Reply("Quiz cancelled. Nothing was kept. Start again any time with /quiz.", private=True,
                          replace=replace)]
        if action == "restart":
            return self.start(event, quiz, force=True, replace=replace)[-1:]
        if action == "resume":
            return [self._current(quiz, session, replace=False)]
        history = list(session["history"])
        if not history:
            return [Reply("This is the first question.", private=True), self._current(quiz, session, False)]
        previous = history.pop()
        answers = {k: v for k, v in session["answers"].items() if k in history}
        self._save(event, quiz, previous, answers, history)
        question = quiz.question(previous)
        assert question is not None
        return [self._question_reply(quiz, question, history, replace)]

    def _remind(self, event: Incoming, parts: list[str]) -> list[Reply] | None:
        quiz = self.quizzes.get(parts[0])
        if quiz is None or not parts[1].isdigit() or not parts[2].isdigit() or self.add_reminder is None:
            return None
        outcome_index, step_index = int(parts[1]), int(parts[2])
        if outcome_index >= len(quiz.outcomes) or step_index >= len(quiz.outcomes[outcome_index].next_steps):
            return None
        step = quiz.outcomes[outcome_index].next_steps[step_index]
        zone = self.timezone_of(event.platform, event.user_id) or "UTC"
        local = (self.now() + REMIND_AFTER).astimezone(tzinfo(zone))
        due = local.replace(hour=9, minute=0, second=0, microsecond=0)
        reminder_id = self.add_reminder(event, step, due)
        if reminder_id < 0:
            return [Reply("You have too many active reminders. Cancel some with /reminders first.", private=True)]
        return [Reply(f"⏰ I'll remind you on {bold(format_local(due, zone))}: {escape(step)}",
                      button_rows([Button("Cancel this reminder", f"rem:cancel:{reminder_id}")]), private=True)]

    def _gone(self) -> Reply:
        return Reply("That quiz is no longer running (it finished, was cancelled, or expired after 24 hours). "
                     "Pick one to start again:", self._menu(True).buttons, private=True)


def _typed_option(question: Question, text: str) -> Option | None:
    """The option a typed answer means: a number in an option's range, its position, or its words.

    A number picks by range when the question has ranges (so "3" years is never the third
    button). Words match an option's label only when the message is about as short as the
    label: a question that happens to contain "graduate" is not the answer "Graduate".
    """
    cleaned = text.strip()
    number = _NUMBER.fullmatch(cleaned)
    ranged = [o for o in question.options if o.min is not None or o.max is not None]
    if number:
        value = float(number.group(1))
        if ranged:
            return next((o for o in ranged if (o.min is None or value >= o.min) and (o.max is None or value <= o.max)),
                        None)
        index = int(value)
        return question.options[index - 1] if 1 <= index <= len(question.options) else None
    words = len(cleaned.split())
    if cleaned.endswith("?") and words > MAX_EXTRA_WORDS:
        return None
    labels = {o.label.lower(): o for o in question.options if words <= len(o.label.split()) + MAX_EXTRA_WORDS}
    best = process.extractOne(cleaned.lower(), list(labels), scorer=fuzz.WRatio, score_cutoff=LABEL_CUTOFF)
    return labels[best[0]] if best else None
