"""Experiment (not used by the bot yet): a softmax classifier over the phrasings' WordLlama vectors.

The semantic signal today is each entry's best cosine over its phrasings (a 6,300 x 256 matrix-vector
product per question). This script trains a multinomial logistic regression on the same unit vectors,
labels being the entries (knowledge only, no evaluation data), and prints, per labelled set, how often
the right entry is the classifier's first and in its first five, beside the best-cosine signal.

Run:  python tests/benchmarks/try_semantic_classifier.py [--epochs 150] [--l2 1e-4]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.answers.evaluation import load_labels, load_questions  # noqa: E402
from bot.answers.faq import FaqService  # noqa: E402
from bot.answers.reading import read  # noqa: E402
from bot.config import bundled_knowledge_dir  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from eval_sets import FITTED, OUTSIDE  # noqa: E402


def train(vectors: np.ndarray, labels: np.ndarray, classes: int, epochs: int, l2: float,
          rate: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by full-batch Adam: weights (dimensions x classes) and biases."""
    w = np.zeros((vectors.shape[1], classes), np.float32)
    b = np.zeros(classes, np.float32)
    target = np.zeros((len(labels), classes), np.float32)
    target[np.arange(len(labels)), labels] = 1
    moments = [[0.0, 0.0], [0.0, 0.0]]
    for step in range(1, epochs + 1):
        z = vectors @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - target) / len(labels)
        for m, grad, param in ((moments[0], vectors.T @ g + l2 * w, w), (moments[1], g.sum(axis=0), b)):
            m[0] = 0.9 * m[0] + 0.1 * grad
            m[1] = 0.999 * m[1] + 0.001 * grad * grad
            param -= rate * (m[0] / (1 - 0.9 ** step)) / (np.sqrt(m[1] / (1 - 0.999 ** step)) + 1e-8)
    return w, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--l2", type=float, default=1e-4)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    faq = FaqService(load_knowledge(bundled_knowledge_dir()))
    index = faq.semantic
    if not index.available:
        sys.exit("WordLlama is not installed: nothing to compare")
    vectors, starts, ids = index._vectors, index._starts, index.entry_ids
    labels = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(vectors))))
    started = time.perf_counter()
    w, b = train(vectors, labels, len(starts), args.epochs, args.l2)
    print(f"{len(vectors):,} phrasings of {len(starts)} entries; trained in {time.perf_counter() - started:.1f} s")
    print("set: questions | best cosine first / in first five | classifier first / in first five")
    for labelled in (*FITTED, *OUTSIDE):
        if not labelled.questions.exists():
            continue
        questions, answers = load_questions(labelled.questions), load_labels(labelled.labels)
        counts = np.zeros(4)
        total = 0
        for i, question in enumerate(questions):
            label = answers.get(i)
            if not label or label.out_of_scope or not label.entries:
                continue
            total += 1
            q = index._embed_one(index._prepare(read(question.q, faq.social).question))
            for k, scores in enumerate((np.maximum.reduceat(vectors @ q, starts), q @ w + b)):
                order = [ids[j] for j in np.argsort(-scores)[:5]]
                counts[2 * k] += order[0] in label.entries
                counts[2 * k + 1] += bool(set(order) & set(label.entries))
        print(f"{labelled.name}: {total} | " + " | ".join(f"{counts[j] / total:.2f} / {counts[j + 1] / total:.2f}"
                                                         for j in (0, 2)))


if __name__ == "__main__":
    main()
