"""Reading a message as a person would: politeness set aside, questions found, kinds named."""

from __future__ import annotations

import pytest

from bot.answers.reading import (
    SocialRemover,
    is_not_english,
    question_kind,
    read,
    repair_im,
)

SOCIAL = SocialRemover({
    "greeting": ["hi", "hello", "good morning", "assalam o alaikum", "namaste"],
    "thanks": ["thanks", "thank you", "thanks in advance", "regards"],
    "chatter": ["lol", "bye"],
})


def test_a_greeting_before_the_question_is_set_aside() -> None:
    reading = read("Good morning, I'm confused. Do I need ECFMG certification before ERAS?", SOCIAL)
    assert reading.social == {"greeting"}
    assert reading.question == "Do I need ECFMG certification before ERAS?"
    assert not reading.only_social


def test_thanks_at_the_end_of_a_long_question_is_not_the_message() -> None:
    reading = read("I graduated in 2016 and I want to apply for an H-1B residency, which programs sponsor it? "
                   "Thank you so much in advance", SOCIAL)
    assert "thanks" in reading.social
    assert reading.question.endswith("which programs sponsor it?") and "Thank" not in reading.text


@pytest.mark.parametrize("text", ["assalam o alaikum", "hi!!", "thank you so much sir", "namaste doctor"])
def test_politeness_alone_is_only_social(text: str) -> None:
    assert read(text, SOCIAL).only_social


def test_several_questions_are_found_one_by_one() -> None:
    reading = read("how much is an observership? can i do it on a b1/b2? and when should i apply", SOCIAL)
    assert reading.parts == ("how much is an observership?", "can i do it on a b1/b2?", "and when should i apply")


@pytest.mark.parametrize("text, repaired", [
    ("hi im from nigeria", "hi i am from nigeria"),
    ("im a 2016 graduate", "i am a 2016 graduate"),
    ("how much observership cost in usa?? im from pakistan", "how much observership cost in usa?? i am from pakistan"),
    ("yog 2015 ok for im residency?", "yog 2015 ok for im residency?"),
    ("hi im 38, too old for residency?", "hi i am 38, too old for residency?"),
])
def test_im_is_i_am_before_a_backstory_and_internal_medicine_otherwise(text: str, repaired: str) -> None:
    assert repair_im(text) == repaired


@pytest.mark.parametrize("question, kind", [
    ("how much does step 2 ck cost", "cost"),
    ("when do CK scores come out", "when"),
    ("how long is OET valid for ECFMG", "how-long"),
    ("how do i prepare for oet writing", "how-to"),
    ("can i apply with a 2012 graduation year", "eligibility"),
    ("what is an MSPE", "definition"),
    ("prelim vs categorical?", "comparison"),
    ("after match what happens", "what-next"),
    ("first rotation next month, any tips how to behave with attendings", "advice"),
])
def test_the_kind_of_question_is_named(question: str, kind: str) -> None:
    assert question_kind(question) == kind


@pytest.mark.parametrize("text", ["كم تكلفة الامتحان", "मुझे ऑब्जर्वरशिप चाहिए कितना खर्च", "¿Cuánto cuesta una rotación para un médico de México?"])
def test_text_in_another_language_is_noticed(text: str) -> None:
    assert is_not_english(text)


@pytest.mark.parametrize("text", ["obsership fees??", "Qué? how much is the ERAS fee", "B1/B2 ok?"])
def test_english_with_typos_is_english(text: str) -> None:
    assert not is_not_english(text)


@pytest.mark.parametrize("text", ["hi im from nigeria", "I am Dr. Amina from Nigeria", "hello, im a 2019 graduate"])
def test_saying_who_you_are_is_a_hello(text: str) -> None:
    assert read(text, SOCIAL).only_social


def test_a_question_inside_an_introduction_is_still_asked() -> None:
    reading = read("i am pharmacist can i give usmle", SOCIAL)
    assert not reading.only_social
    assert "usmle" in reading.question


def test_an_introduction_before_a_comma_is_backstory_not_the_question() -> None:
    reading = read("i am doctor from egypt, is observership considered usce by programs?", SOCIAL)
    assert reading.question == "is observership considered usce by programs?"
    assert "egypt" in reading.text


def test_an_introduction_that_carries_the_question_stays_in_it() -> None:
    reading = read("Im 4th year mbbs student in egypt, want electives in US, where to start?", SOCIAL)
    assert "student" in reading.question


def test_saying_who_you_are_is_not_telling_a_story() -> None:
    introduced = read("Good morning sir, I'm from Egypt and graduated in 2019. How much does an observership cost?",
                      SOCIAL)
    assert introduced.question == "How much does an observership cost?"
    assert not introduced.told  # a short question after an introduction is asked alone
    story = read("my attending told me to write the LOR myself. is it ok to do?", SOCIAL)
    assert story.told  # ... and after a story it is read with the story


def test_the_dot_of_dr_does_not_end_a_sentence() -> None:
    reading = read("Hello. I am Dr. Khan. How much does an observership cost?", SOCIAL)
    assert reading.question == "How much does an observership cost?"


def test_a_bare_topic_and_a_question_about_it_are_one_question() -> None:
    reading = read("hipaa?? what it means for me as observer", SOCIAL)
    assert reading.parts == ()
    assert reading.question == "hipaa what it means for me as observer"


def test_bare_options_after_a_question_belong_to_it() -> None:
    reading = read("unmatched after soap, 2024 grad. what now? research? step 3? more usce?", SOCIAL)
    assert reading.parts == ()
    assert reading.question.startswith("what now")


def test_of_several_questions_the_first_is_the_main_one_and_a_follow_up_stays_a_part() -> None:
    reading = read("ck in august, no usce yet. should I apply this september or wait a year? "
                   "also can I do usce during interview season?", SOCIAL)
    assert reading.question == "should I apply this september or wait a year?"
    assert reading.parts == ("should I apply this september or wait a year?",
                             "also can I do usce during interview season?")


def test_an_abbreviation_that_is_also_thanks_is_thanks_only_when_nothing_is_asked() -> None:
    social = SocialRemover({"thanks": ["thanks", "ty"]}, frozenset({"ty"}))
    assert read("ty sir", social).only_social
    assert "ty" in read("is ty good for img before IM?", social).question


def test_a_thank_you_email_is_something_asked_about_not_politeness() -> None:
    reading = read("Hi, should I send a thank you email to the PD after my interview? Thanks!", SOCIAL)
    assert reading.social == {"greeting", "thanks"}
    assert reading.question == "should I send a thank you email to the PD after my interview?"


def test_skipping_groups_whose_first_words_begin_no_word_removes_what_searching_them_all_removes() -> None:
    phrases = {"greeting": ["hi", "hello", "good morning", "assalam o alaikum"], "thanks": ["thanks", "thank you", "ty"],
               "chatter": ["lol", "bye", "see you"]}
    fast = SocialRemover(phrases, frozenset({"ty"}))
    slow = SocialRemover(phrases, frozenset({"ty"}))
    slow._patterns = [(kind, pattern, only_if, None) for kind, pattern, only_if, _ in slow._patterns]
    sentences = ["hi", "Hi, which exam first?", "HELLO doctor", "goodmorning all", "good  morning sir!", "thankyou",
                 "this is it", "ty", "is ty ok?", "lol.bye", "seeyou", "ohio hello", "hello,thanks", "x-hi thanks",
                 "'hi' she said", "high fees", "Thanks!! what now?", "ÀB hello", "bye, see you tomorrow"]
    for sentence in sentences:
        assert fast(sentence) == slow(sentence), sentence
