"""Answers to questions in users' own words: confident, unsure, out of scope, small talk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.advisor import Advisor
from bot.answers.evaluation import Label, evaluate, grade, load_labels, load_questions, verdict
from bot.answers import faq as faq_module
from bot.answers.faq import FaqService
from bot.config import bundled_knowledge_dir
from bot.events import Incoming
from bot.knowledge import load_knowledge
from tests.eval_sets import FITTED, OUTSIDE, REAL_DEV, LabelledSet

DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "faq_dev.yaml"
HOLDOUT = Path(__file__).parent / "eval" / "holdout.yaml"


@pytest.mark.parametrize("question, entry", [
    ("obsership fees??", "observership-cost"),
    ("can i do hands on with b1/b2", "b1-hands-on"),
    ("YOG 2015 still ok for IM?", "yog-cutoffs"),
    ("Is Step-1 pass/fail now???", "step1-pass-fail"),
    ("ÉCFMG certification requirements", "ecfmg-requirements"),
    ("how many LoRs per program", "how-many-lors"),
    ("J1 vs H1B", "j1-vs-h1b"),
    ("wat is the diffrence betwen clerkship and observrship", "clerkship-vs-observership"),
    ("which question bank do most people use for step 2", "usmle-study-resources"),
    ("is venezuela under the partial travel ban?", "travel-ban-country-list"),
    ("do publications matter for img", "research-publications-img"),
    ("i got a new publication after my interview, can i tell the programs", "post-interview-update"),
    ("my visa card gets rejected when i pay for eras, what can i do", "myeras-payment-declined"),
    ("is fcvs required for a state license", "fcvs"),
    ("can im and fm programs both go on my rank order list", "rank-two-specialties"),
    ("if i match somewhere and refuse to go, can i apply again next cycle", "match-binding"),
    ("how many lors does an im program want", "how-many-lors"),
    ("which documents should i carry to the consulate for the j1", "j1-visa-interview"),
    ("is there a date by which residents must pass step 3", "step3-deadline-residency"),
    ("my ppd came positive, i had bcg as a child, what test do hospitals accept", "health-clearance-details"),
    ("do fm programs ask for a standardized letter like the em sloe", "fm-letters"),
    ("the embassy refused my j1 after i matched, do i need a waiver from nrmp", "visa-refused-after-match"),
])
def test_real_phrasing_finds_the_right_entry(advisor: Advisor, question: str, entry: str) -> None:
    """Answered directly, or (when the confidence is not high enough to answer) offered first."""
    outcome = advisor.ask(question)
    assert outcome.entry == entry or (outcome.entry is None and outcome.suggestions[:1] == [entry])


def test_a_doctor_living_abroad_learns_the_travel_ban_goes_by_nationality(advisor: Advisor) -> None:
    """The lists name the country of the passport; a residence permit elsewhere changes nothing, and a J-1 is
    blocked for partial-ban nationals while an H-1B is not."""
    reply = advisor.ask("i have a residence permit in another country, does the travel ban still apply to me")
    text = reply.replies[0].text
    assert reply.entry == "travel-ban-country-list"
    assert "nationality" in text and "residence permit elsewhere does not exempt you" in text
    assert "H-1B" in text and "Venezuela" in text and "Syria" in text


def test_a_matched_sudanese_doctor_learns_the_j1_is_blocked_and_where_every_listed_country_is(advisor: Advisor) -> None:
    """The J-1 entry states the rule for both lists and leaves the lists themselves to the country-list entry,
    offered as a button, so the two cannot drift apart."""
    reply = advisor.ask("i am sudanese, can i still get j1 visa for residency")
    assert reply.entry == "travel-ban-j1-2025"
    text = reply.replies[0].text
    assert "no **J-1** is issued" in text
    assert "nationality" in text and "**not H-1B**" in text
    labels = [b.label for row in reply.replies[0].buttons for b in row]
    assert "More: Which countries the 2026 travel bans cover" in labels


def test_a_foreign_graduate_asking_for_an_eras_fee_waiver_is_told_plainly_there_is_none(advisor: Advisor) -> None:
    """AAMC's Fee Assistance Program is for medical-school applicants; the answer says so, names the cycle's
    rules and points at a cheaper program list rather than promising a discount."""
    reply = advisor.ask("does aamc give ecfmg graduates any discount on eras application fees")
    assert reply.entry == "eras-fee-assistance"
    text = reply.replies[0].text
    assert "preparing to apply to medical school" in text and "no ECFMG or USMLE fee waiver" in text
    assert "students-residents.aamc.org" in text


@pytest.mark.parametrize("message", [
    "my father is having chest pain right now what do i do",
    "My father had a stroke. What should I do?",
])
def test_an_emergency_gets_the_safety_note(advisor: Advisor, message: str) -> None:
    assert advisor.ask(message).kind == "safety"


@pytest.mark.parametrize("message", [
    "I have been feeling suicidal since I failed. Will one step 1 fail ruin my chances for internal medicine?",
    "went unmatched again, honestly i want to die",
])
def test_self_harm_words_get_a_crisis_line_not_a_lookup(advisor: Advisor, message: str) -> None:
    """Beside a question or alone, self-harm words get 988 and the local emergency number, and no entry."""
    outcome = advisor.ask(message)
    assert outcome.kind == "crisis" and outcome.entry is None
    text = outcome.replies[0].text
    assert "call or text 988" in text and "local emergency number" in text
    assert "medical advice" not in text  # the treatment note is for a sick relative, not for the asker


async def test_forget_also_drops_who_was_just_given_the_crisis_line(advisor: Advisor) -> None:
    """The once-an-hour memory of an overheard crisis line is about a person: /forget clears it too."""
    advisor.groups.set_auto_answer("telegram", "-100777", True)
    overheard = Incoming("telegram", "-100777", "4242", "Amina", is_private=False,
                         text="failed again, honestly i want to die")
    assert "call or text 988" in (await advisor.handle(overheard))[0].text
    assert await advisor.handle(overheard) == []  # posted a moment ago: not again within the hour
    await advisor.handle(Incoming("telegram", "4242", "4242", "Amina", text="/forget"))
    done = await advisor.handle(Incoming("telegram", "4242", "4242", "Amina", action="forget:yes"))
    assert "everything I stored about you is deleted" in done[0].text
    assert "call or text 988" in (await advisor.handle(overheard))[0].text


def test_a_family_illness_told_as_backstory_does_not_hide_the_question(advisor: Advisor) -> None:
    """A gap explained by a parent's stroke is not an emergency: the Step 3 question behind it gets looked up."""
    outcome = advisor.ask("I took a gap year because my dad had a stroke and I cared for him. "
                          "Is step 3 worth taking before I apply?")
    assert outcome.kind != "safety"
    assert "step3" in (outcome.entry or "") or any("step3" in s for s in outcome.suggestions)


@pytest.mark.parametrize("amount", ["2000$", "$2,000", "$ 2000", "2,000 USD"])
def test_an_amount_reads_the_same_however_the_dollars_are_written(advisor: Advisor, amount: str) -> None:
    """"2000$", "$2,000" and "2,000 USD" are "2000 dollars": the same reply, about what USCE costs."""
    said = advisor.ask(f"any free observerships? cant afford {amount} fees")
    in_words = advisor.ask("any free observerships? cant afford 2000 dollars fees")
    assert (said.entry, said.suggestions) == (in_words.entry, in_words.suggestions)
    assert (said.entry or said.suggestions[0]) in {"observership-cost", "reduce-usce-costs"}


def test_a_phone_or_laptop_recommendation_is_out_of_scope(advisor: Advisor) -> None:
    assert advisor.ask("which is the best laptop for doing uworld").kind == "out_of_scope"


def test_every_answer_shows_sources_review_date_and_related_buttons(advisor: Advisor) -> None:
    reply = advisor.ask("how much does an observership cost").replies[0]
    assert "Sources: " in reply.text and "Reviewed: December 2026" in reply.text
    labels = [b.label for row in reply.buttons for b in row]
    assert labels and all(label.startswith("More: ") for label in labels)


@pytest.mark.parametrize("question", ["visa", "fees?", "ecfmg"])
def test_a_vague_one_word_question_gets_did_you_mean_buttons(advisor: Advisor, question: str) -> None:
    outcome = advisor.ask(question)
    assert outcome.entry is None
    assert 1 <= len(outcome.suggestions) <= 3
    reply = outcome.replies[0]
    assert reply.text.startswith("I'm not sure")
    assert [b.action for row in reply.buttons for b in row] == [f"faq:{s}" for s in outcome.suggestions]


@pytest.mark.parametrize("question", [
    "what's the dose of amoxicillin for a child", "PLAB 2 dates", "netflix recommendations",
    "MCCQE eligibility canada", "ALL NBME FORMS + QBANK PDFs cheap!! dm me, limited offer",
    "how long does the approbation take in germany", "i am a staff nurse in kerala, how to work as a nurse in usa",
])
def test_out_of_scope_questions_are_declined_politely(advisor: Advisor, question: str) -> None:
    outcome = advisor.ask(question)
    assert outcome.entry is None
    assert "outside what I can help with" in outcome.replies[0].text


def test_a_school_without_wfme_recognized_accreditation_is_not_told_it_is_ineligible(advisor: Advisor) -> None:
    """ECFMG's news of 2023-12-22: the accreditation policy only reports; the entry once said it was required."""
    outcome = advisor.ask("my school is not wfme recognized, can i still get ecfmg certified")
    assert outcome.entry == "wfme-accreditation"
    assert "It is not a requirement today" in outcome.replies[0].text


def test_a_january_step_3_is_warned_its_score_may_come_after_the_rank_list_deadline(advisor: Advisor) -> None:
    outcome = advisor.ask("when do step 3 results come if i test in january")
    assert outcome.entry == "step3-score-timing"
    assert "test in December" in outcome.replies[0].text


@pytest.mark.parametrize("question", ["should i send thank you email after the interview",
                                      "thank u mail to all faculty after interview or not needed?"])
def test_a_thank_you_email_after_an_interview_gets_the_post_interview_entry(advisor: Advisor, question: str) -> None:
    """"thank you" was once set aside as politeness, leaving "should i send email ..." to match anything."""
    assert advisor.ask(question).entry == "post-interview-contact"


def test_a_spouse_who_is_a_nurse_is_a_visa_question_not_a_nursing_career_one(advisor: Advisor) -> None:
    """"work as a nurse" once declined anything that said it; a J-2 spouse's work is what the family entry covers."""
    assert advisor.ask("can my wife work as a nurse on J2 visa").entry == "j1-family"
    assert advisor.ask("my husband is a nurse, can he work on J2 while I do residency on J1?").entry == "j1-family"


def test_a_question_its_backstory_agrees_with_is_answered_a_little_less_sure(advisor: Advisor,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """"I'm in the US on H-4 because my husband works in IT ... can I do residency?": the question sentence alone
    and the whole message both put the same entry first. That agreement answers a little below the threshold;
    without it (AGREED_DISCOUNT 0) the same message gets "did you mean"."""
    message = load_questions(OUTSIDE[1].questions)[59].q
    outcome = advisor.ask(message)
    assert outcome.entry == "h4-to-residency"
    assert outcome.score is not None and outcome.score < advisor.faq.model.answer_at
    monkeypatch.setattr(faq_module, "AGREED_DISCOUNT", 0.0)
    unsure = advisor.ask(message)
    assert unsure.entry is None and unsure.suggestions[:1] == ["h4-to-residency"]


def test_a_backstory_that_picks_the_questions_second_choice_is_answered_at_the_threshold(
        advisor: Advisor, monkeypatch: pytest.MonkeyPatch) -> None:
    """"observership in a hospital in NJ is strictly hands off. will programs count it as usce or not?": the
    question alone puts research experience first and observerships second; the whole message puts observerships
    first. That half agreement answers at the threshold; held to the usual whole-message margin it is declined."""
    message = load_questions(FITTED[6].questions)[39].q
    outcome = advisor.ask(message)
    assert outcome.entry == "observership-not-accepted"
    monkeypatch.setattr(faq_module, "RUNNER_UP_MARGIN", faq_module.WHOLE_MESSAGE_MARGIN)
    assert advisor.ask(message).entry is None


@pytest.mark.parametrize("question, reply", [
    ("hello everyone", "Hello!"), ("good morning doctors", "Hello!"),
    ("thank you so much!!", "You're welcome"), ("congrats to all who passed 🎉", "Good luck"),
])
def test_small_talk_gets_a_short_friendly_reply(advisor: Advisor, question: str, reply: str) -> None:
    outcome = advisor.ask(question)
    assert outcome.entry is None and reply in outcome.replies[0].text


def test_nothing_fits_says_so_and_offers_topics(advisor: Advisor) -> None:
    outcome = advisor.ask("zebra quantum spaceship")
    assert outcome.entry is None and outcome.suggestions == []
    assert "don't have an answer" in outcome.replies[0].text
    assert any(b.action.startswith("topic:") for row in outcome.replies[0].buttons for b in row)


def test_a_maintainer_synonym_changes_matching_without_code(tmp_path: Path) -> None:
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), kb_dir)
    before = FaqService(load_knowledge(kb_dir)).answer("zorblax fees").entry
    with (kb_dir / "synonyms.yaml").open("a", encoding="utf-8") as f:
        f.write("observerships: [zorblax]\n")
    after = FaqService(load_knowledge(kb_dir)).answer("zorblax fees").entry
    assert before != "observership-cost" and after == "observership-cost"


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared/eval/faq_dev.yaml is not beside the project")
def test_dev_set_meets_the_accuracy_targets(advisor: Advisor) -> None:
    report = evaluate(advisor, load_questions(DEV_SET))
    assert report.accuracy >= 0.84  # 22/25 on 2026-12-01; the blind sets below are the ones that matter
    assert report.false_answer_rate <= 0.05


def test_held_out_phrasing_meets_the_accuracy_targets(advisor: Advisor) -> None:
    """The first release's own set: keyword-graded, written by the knowledge base's authors (see README)."""
    report = evaluate(advisor, load_questions(HOLDOUT))
    assert report.accuracy >= 0.65
    assert report.false_answer_rate <= 0.05


@pytest.mark.parametrize("labelled", [s for s in (*FITTED, *OUTSIDE) if s.questions.exists()], ids=lambda s: s.name)
def test_the_blind_sets_get_few_wrong_answers_and_decline_off_topic(advisor: Advisor, labelled: LabelledSet) -> None:
    """Sets written by people who never saw the knowledge base, graded against labels judged by reading
    (the confidence is fitted on some, not on the newest): the issue's limits on wrong and off-topic
    answers, and a floor that catches a regression. A dentist's or a nurse's own route is off-topic, but
    its labeller may judge the entry on non-MD degrees an acceptable reply (`acceptable` in the labels)."""
    graded = grade(advisor, load_questions(labelled.questions), load_labels(labelled.labels))
    inside = [g for g in graded if not g.label.out_of_scope]
    off_topic = [g for g in graded if g.label.out_of_scope]
    answerable = [g for g in inside if g.answerable]
    assert sum(g.verdict == "wrong" for g in inside) / len(inside) <= 0.05
    answered_off_topic = sum(g.verdict == "wrong" for g in off_topic)
    # 3 % of a set's 8-26 off-topic items is less than one: the limit holds over all sets (the test below),
    # on real_dev (the set, 25 items) and as at most one message on any other set
    assert answered_off_topic <= (0.03 * len(off_topic) if labelled is REAL_DEV else 1)
    assert sum(g.verdict == "right" for g in answerable) / len(answerable) >= labelled.floor


def test_off_topic_messages_rarely_get_an_entry_over_all_the_blind_sets(advisor: Advisor) -> None:
    """The issue's 3 % limit on off-topic answers, over every labelled set's off-topic messages together."""
    off_topic = [g for s in (*FITTED, *OUTSIDE) if s.questions.exists()
                 for g in grade(advisor, load_questions(s.questions), load_labels(s.labels)) if g.label.out_of_scope]
    assert len(off_topic) >= 100
    assert sum(g.verdict == "wrong" for g in off_topic) / len(off_topic) <= 0.03


def test_an_off_topic_message_is_right_only_without_an_entry_or_with_one_judged_acceptable() -> None:
    dentist = Label(0, (), out_of_scope=True, acceptable=("non-md-degrees-usmle",))
    assert verdict(dentist, []) == "right"
    assert verdict(dentist, ["non-md-degrees-usmle"]) == "right"
    assert verdict(dentist, ["usmle-fees"]) == "wrong"
    assert verdict(dentist, ["non-md-degrees-usmle", "usmle-fees"]) == "wrong"
    assert verdict(Label(1, (), out_of_scope=True), ["non-md-degrees-usmle"]) == "wrong"


@pytest.mark.parametrize("question, entry", [
    ("what is an observership", "what-is-observership"),
    ("what is ecfmg certification", "ecfmg-requirements"),
    ("what is the match", "what-is-match"),
    ("what is soap", "soap"),
    ("what is an externship", "what-is-externship"),
    ("i am pharmacist can i give usmle", "non-md-degrees-usmle"),
])
def test_the_plainest_questions_get_their_entry(advisor: Advisor, question: str, entry: str) -> None:
    """One word of topic ("observership") is shared by dozens of entries: the one that defines it still answers."""
    assert advisor.ask(question).entry == entry
