"""Answering questions: normalising text, matching it to FAQ entries, replies, feedback, evaluation, curator reports.

Offers `FaqService` (faq.py), `AnswerService` (service.py), `AnswerStore` (store.py: votes and unanswered questions).
"""
