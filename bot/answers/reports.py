"""Reports for maintainers: what users asked that the bot could not answer, and which answers they disliked.

`img-advisor report misses` groups unanswered questions by similarity (rapidfuzz on
normalised text), most frequent first, each with the nearest existing entry: what to
add or reword next. `img-advisor report feedback` lists entries by their 👎 rate.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bot.answers.faq import FaqService
from bot.answers.normalize import normalize
from bot.answers.store import AnswerStore

CLUSTER_SIMILARITY = 70.0


@dataclass
class Cluster:
    example: str
    questions: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    nearest: str | None = None
    nearest_score: float | None = None

    @property
    def count(self) -> int:
        return len(self.questions)


def cluster_misses(store: AnswerStore, faq: FaqService, similarity: float = CLUSTER_SIMILARITY) -> list[Cluster]:
    """Unanswered (or 👎) questions grouped by similarity, most frequent first."""
    clusters: list[tuple[str, Cluster]] = []
    for miss in store.misses():
        # compare meaning-bearing stems ("renew passport" ~ "passport renewal"), not raw wording
        key = " ".join(sorted(faq.matcher.stems(miss["question"]))) or normalize(miss["question"])
        best, best_score = None, 0.0
        for rep, cluster in clusters:
            score = fuzz.token_set_ratio(key, rep)
            if score > best_score:
                best, best_score = cluster, score
        if best is None or best_score < similarity:
            best = Cluster(miss["question"])
            clusters.append((key, best))
        best.questions.append(miss["question"])
        best.reasons[miss["reason"]] = best.reasons.get(miss["reason"], 0) + 1
    for _, cluster in clusters:
        ranked = faq.matcher.rank(cluster.example, limit=1)
        if ranked:
            cluster.nearest, cluster.nearest_score = ranked[0].entry_id, ranked[0].score
    return sorted((c for _, c in clusters), key=lambda c: -c.count)


def misses_table(clusters: list[Cluster], as_csv: bool = False) -> str:
    rows = [(c.count, c.example, ", ".join(f"{k} {v}" for k, v in sorted(c.reasons.items())),
             c.nearest or "", f"{c.nearest_score:.2f}" if c.nearest_score is not None else "",
             " | ".join(sorted(set(c.questions))[:5])) for c in clusters]
    header = ("count", "example question", "why", "nearest entry", "score", "variants")
    return _render(header, rows, as_csv)


def feedback_table(store: AnswerStore, faq: FaqService, as_csv: bool = False) -> str:
    """Entries by 👎 rate (then by votes), with their titles."""
    rows = []
    for entry_id, up, down in store.feedback_by_entry():
        total = up + down
        title = faq.kb.entries[entry_id].title if entry_id in faq.kb.entries else "(entry removed)"
        rows.append((entry_id, title, up, down, f"{down / total:.0%}" if total else "-", down / total if total else 0))
    rows.sort(key=lambda r: (-r[5], -(r[2] + r[3])))
    return _render(("entry", "title", "👍", "👎", "👎 rate"), [r[:5] for r in rows], as_csv)


def _render(header: tuple, rows: list[tuple], as_csv: bool) -> str:
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()
    if not rows:
        return "(nothing recorded yet)\n"
    table = [tuple(str(v) for v in header)] + [tuple(str(v) for v in row) for row in rows]
    widths = [min(max(len(r[i]) for r in table), 60) for i in range(len(header))]
    lines = ["  ".join(cell[:60].ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"
