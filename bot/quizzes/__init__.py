"""Eligibility quizzes: the quiz model and its checks, the button-driven engine, sessions and results.

Offers `Quiz` and `check_quiz` (model.py), `QuizService` (service.py), `QuizStore` (store.py).
"""
