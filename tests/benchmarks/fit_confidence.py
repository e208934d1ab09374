"""Fit the answer confidence (bot/answers/confidence.json) on questions labelled by reading.

For every labelled item of each set, the ranking's signals for its best entry are taken
with the label saying whether that entry is a right answer; a logistic model (L2, numpy)
is fitted on them, and the answer threshold is the lowest that keeps wrong answers within
WRONG_RATE of each set's in-scope questions and off-topic answers within OFF_TOPIC_RATE of all the
sets' off-topic questions (at most one on any set), graded exactly as `img-advisor eval` grades the
replies. Prints the fit per set, then writes the model.

    python tests/benchmarks/fit_confidence.py            # fit and write
    python tests/benchmarks/fit_confidence.py --dry-run  # fit and print only

Sets: `tests/eval_sets.py` FITTED: ../shared/eval/real_dev.yaml with tests/eval/real_dev_labels.yaml
(blind, by others), and tests/eval/blind*_2026-12.yaml with their labels (blind, each by a helper who
never saw the knowledge base; labelled by another who read it). The newest set (OUTSIDE) is not fitted
on. A set whose files are missing is skipped.

Beside them, the knowledge base teaches itself (`synthetic_samples`): each entry's
phrasings are split in FOLDS; a held-out phrasing is asked of a base that keeps the
rest (right if its own entry comes first), and the phrasings of held-out *entries* are
asked of a base without them (always wrong: the shape of a question the base has no
answer for). Nearly 3,500 examples that share no words with the evaluation sets: with
them, the fit measured on a set it did not see (the cross-check) keeps closer to its
in-sample figure. The answer threshold is still chosen on the labelled sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.answers.confidence import DEFAULT, FEATURES, MODEL_FILE, ConfidenceModel  # noqa: E402
from bot.answers.evaluation import (OUT_OF_SCOPE, Label, Question, answered_entries, load_labels,  # noqa: E402
                                    load_questions, verdict)
from bot.answers.faq import FaqService  # noqa: E402
from bot.answers.reading import Reading, read  # noqa: E402
from bot.config import bundled_knowledge_dir  # noqa: E402
from bot.knowledge import KnowledgeBase, load_knowledge  # noqa: E402
from tests.eval_sets import FITTED  # noqa: E402

SETS = tuple((s.name, s.questions, s.labels) for s in FITTED)
FOLDS = 5
"""Held-out folds of phrasings (positives) and of entries (negatives) in the synthetic examples."""
WRONG_RATE = 0.035
"""Wrong answers allowed per in-scope question on each set (the target is at most 5 %; the hidden set
is unseen, so the fit keeps a margin). 0.045 until 2026-12-03: once off-topic answers were counted over
all sets, 0.045 let the threshold fall to 0.40, which answered 37 more questions right over the fitted
sets but 13 more wrong (27 of 871); 0.035, with the keyword sets' off-topic items counted, stops at 0.45: 16 more
right (578 of 824 answerable), 3 more wrong (17 of 871) than 0.49 with the same weights."""
LABELLED_WEIGHT = 4
"""How many times each labelled question counts in the fit against one synthetic question."""
OFF_TOPIC_RATE = 0.03
"""Off-topic questions that may get an entry, over all the sets together (the target is at most 3 %), and at most
OFF_TOPIC_PER_SET on any one set. Measured per set, 3 % of a set's 8 to 26 off-topic items allowed none at all on
most sets, so one answered message on one set held the threshold up for every other (2026-12-03, the weights of
that morning: at 0.45 instead of 0.49, 14 more right answers over the labelled sets, wrong answers unchanged, 1
off-topic message of 114 answered)."""
OFF_TOPIC_PER_SET = 1
KEYWORD_SETS = (ROOT / "tests" / "eval" / "holdout.yaml", ROOT.parent / "shared" / "eval" / "faq_dev.yaml")
"""The older keyword-graded sets: only their off-topic items count in the threshold (27 more messages that
must get no entry; "best biryani place in chicago" once got the Chicago budget at 0.45)."""
L2 = 0.01
SUGGEST_RATIO = 0.25
""""Did you mean" buttons from this share of the answer threshold: the synthetic negatives pull every
confidence down, and a question such as "after match what happens" should still get its choices. Measured
on the four labelled sets (2026-12-02): from 0.35 to 0.25 the right entry is offered first for 77 questions
instead of 69, and 14 in-scope questions instead of 38 get nothing at all, for 15 off-topic messages of 76
given buttons instead of 7."""


@functools.cache
def labelled(questions_file: Path, labels_file: Path) -> tuple[list[Question], dict[int, Label]]:
    """One set's questions and labels, read once per run (the threshold search grades them many times)."""
    return load_questions(questions_file), load_labels(labels_file)


def samples(faq: FaqService) -> list[tuple[str, list[float], int]]:
    """(set name, signals, 1 if the best entry is right else 0) for every ranked question."""
    rows = []
    for name, questions_file, labels_file in SETS:
        if not (questions_file.exists() and labels_file.exists()):
            print(f"skipping {name}: {questions_file.name} or {labels_file.name} missing")
            continue
        questions, labels = labelled(questions_file, labels_file)
        for index, question in enumerate(questions):
            label = labels.get(index)
            if label is None:
                continue
            reading = read(question.q, faq.social)
            for item in [reading, *(Reading(p, (), p) for p in reading.parts)]:
                ranking = faq.rank(item)
                if ranking.top is None:
                    continue
                entry = ranking.top.entry_id
                if entry in label.partial and entry not in label.entries:
                    continue  # half right: neither a positive nor a negative example
                rows.append((name, ranking.signals.vector(), int(entry in label.entries)))
    return rows


def synthetic_samples(kb: KnowledgeBase) -> list[tuple[str, list[float], int]]:
    """("synthetic", signals, right) for held-out phrasings and for the phrasings of held-out entries."""
    rows: list[tuple[str, list[float], int]] = []

    def ask(faq: FaqService, queries: list[tuple[str, str | None]]) -> None:
        for text, own_entry in queries:
            reading = read(text, faq.social)
            ranking = faq.rank(reading)
            if ranking.top is not None and not reading.only_social:
                rows.append(("synthetic", ranking.signals.vector(), int(ranking.top.entry_id == own_entry)))

    for fold in range(FOLDS):
        kept, held = {}, []
        for offset, entry in enumerate(kb.entries.values()):
            chosen = [(offset + j) % FOLDS == fold for j in range(len(entry.questions))]
            kept[entry.id] = entry.model_copy(update={"questions": [q for q, c in zip(entry.questions, chosen) if not c]})
            held += [(q, entry.id) for q, c in zip(entry.questions, chosen) if c]
        ask(FaqService(dataclasses.replace(kb, entries=kept), model=DEFAULT), held)
    order = sorted(kb.entries)
    random.Random(7).shuffle(order)
    for fold in range(FOLDS):
        gone = set(order[fold::FOLDS])
        kept = {k: v for k, v in kb.entries.items() if k not in gone}
        held = [(q, None) for entry_id in sorted(gone) for q in kb.entries[entry_id].questions]
        ask(FaqService(dataclasses.replace(kb, entries=kept), model=DEFAULT), held)
    return rows


def in_scope_sizes() -> dict[str, int]:
    """How many in-scope (not off-topic) labelled questions each set has."""
    sizes = {}
    for name, questions_file, labels_file in SETS:
        if questions_file.exists() and labels_file.exists():
            sizes[name] = sum(not label.out_of_scope for label in labelled(questions_file, labels_file)[1].values())
    return sizes


def graded(faq: FaqService, sets: list[str]) -> dict[str, tuple[int, int, int, int, int]]:
    """Per named set, as `img-advisor eval` grades it with `faq`'s model: (right, wrong, in-scope items,
    off-topic items answered, off-topic items)."""
    rates = {}
    for name, questions_file, labels_file in SETS:
        if name not in sets:
            continue
        questions, labels = labelled(questions_file, labels_file)
        right = wrong = inside = answered_off = off = 0
        for index, question in enumerate(questions):
            label = labels.get(index)
            if label is None:
                continue
            judged = verdict(label, answered_entries(faq.answer(question.q)))
            if label.out_of_scope:
                off += 1
                answered_off += judged == "wrong"
            else:
                inside += 1
                wrong += judged == "wrong"
                right += judged == "right"
        rates[name] = (right, wrong, inside, answered_off, off)
    return rates


@functools.cache
def keyword_off_topic_questions() -> tuple[tuple[str, ...], ...]:
    """The off-topic messages of each keyword set that exists, read once per run."""
    return tuple(tuple(q.q for q in load_questions(path) if q.topic == OUT_OF_SCOPE)
                 for path in KEYWORD_SETS if path.exists())


def keyword_off_topic(faq: FaqService) -> list[tuple[int, int, int, int, int]]:
    """Per keyword set that exists, (0, 0, 0, off-topic items answered with an entry, off-topic items)."""
    return [(0, 0, 0, sum(faq.answer(q).entry is not None for q in off), len(off))
            for off in keyword_off_topic_questions()]


def with_model(faq: FaqService, w: np.ndarray, b: float, threshold: float) -> FaqService:
    """`faq` answering with these weights and this answer threshold (the index is built once per run)."""
    faq.model = ConfidenceModel(tuple(float(v) for v in w), b, round(float(threshold), 2),
                                round(float(threshold) * SUGGEST_RATIO, 2))
    return faq


def lowest_threshold(faq: FaqService, w: np.ndarray, b: float, sets: list[str], budget: float) -> float:
    """The lowest answer threshold at which, on every named set, wrong answers stay within `budget` of its
    in-scope items, and off-topic answers within OFF_TOPIC_RATE of all the sets' off-topic items (at most
    OFF_TOPIC_PER_SET on one set; the keyword sets' off-topic items count too), graded as `img-advisor eval`
    grades."""
    for t in np.arange(0.30, 0.96, 0.01):
        counts = [*graded(with_model(faq, w, b, t), sets).values(), *keyword_off_topic(faq)]
        off_topic_ok = (sum(c[3] for c in counts) <= OFF_TOPIC_RATE * sum(c[4] for c in counts)
                        and all(answered_off <= OFF_TOPIC_PER_SET for *_, answered_off, _ in counts))
        if off_topic_ok and all(wrong <= budget * inside for _, wrong, inside, _, _ in counts):
            return round(float(t), 2)
    return 0.96


def fit(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method, with a small L2 penalty on the weights (not the bias)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * L2 * len(y)
    penalty[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(design @ theta)))
        gradient = design.T @ (p - y) + penalty @ theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-synthetic", action="store_true", help="fit on the labelled sets alone")
    parser.add_argument("--labelled-weight", type=int, default=LABELLED_WEIGHT,
                        help=f"each labelled question counts this many times against one synthetic (default {LABELLED_WEIGHT})")
    parser.add_argument("--wrong-rate", type=float, default=WRONG_RATE,
                        help=f"the share of in-scope questions that may get a wrong answer (default {WRONG_RATE})")
    args = parser.parse_args()
    kb = load_knowledge(bundled_knowledge_dir())
    faq = FaqService(kb, model=DEFAULT)
    rows = samples(faq)
    synthetic = [] if args.no_synthetic else synthetic_samples(kb)
    rows_all = rows * args.labelled_weight + synthetic
    x = np.array([r[1] for r in rows_all])
    y = np.array([r[2] for r in rows_all], dtype=float)
    names = np.array([r[0] for r in rows_all])
    w, b = fit(x, y)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    sizes = {name: n for name, n in in_scope_sizes().items() if name in set(names)}

    best = lowest_threshold(faq, w, b, sorted(sizes), args.wrong_rate)
    model = ConfidenceModel(tuple(round(float(v), 4) for v in w), round(b, 4), round(best, 2), round(best * SUGGEST_RATIO, 2))
    order = np.argsort(p)
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    auc = (ranks[y == 1].sum() - y.sum() * (y.sum() + 1) / 2) / max(y.sum() * (len(y) - y.sum()), 1)
    print(f"{len(rows)} ranked labelled questions and {len(synthetic)} synthetic ones "
          f"({int(y.sum())} with a right best entry); AUC {auc:.3f}")
    for feature, weight in zip(FEATURES, model.weights):
        print(f"  {feature:14} {weight:+.3f}")
    print(f"  bias           {model.bias:+.3f}\nanswer_at {model.answer_at}, suggest_at {model.suggest_at}")
    faq.model = model
    for name, (right, wrong, inside, answered_off, off) in graded(faq, sorted(sizes)).items():
        print(f"{name}: right {right}, wrong {wrong} of {inside} in-scope; off-topic answered {answered_off}/{off}")
    # honest figures: fit on the other sets (and the synthetic questions), measure on this one
    for name in sorted(sizes):
        train = names != name
        w2, b2 = fit(x[train], y[train])
        t2 = lowest_threshold(faq, w2, b2, [n for n in sizes if n != name], args.wrong_rate)
        right, wrong, inside, answered_off, off = graded(with_model(faq, w2, b2, t2), [name])[name]
        print(f"cross-check, fitted without {name} (answer_at {t2:.2f}): on {name} right {right}, wrong {wrong} "
              f"of {inside} in-scope; off-topic answered {answered_off}/{off}")
    if not args.dry_run:
        MODEL_FILE.write_text(model.to_json(), encoding="utf-8")
        print(f"wrote {MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
