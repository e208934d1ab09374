"""The curator's page: one static HTML report (no server) of what to improve next.

`img-advisor report html DIR` writes DIR/index.html with its charts beside it:
unanswered questions clustered, entries by 👎 rate, entries by review date, the cycle
timeline, and (when a labelled question set is available) the calibration chart of the
answers' confidence. Everything user-supplied is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path

from bot.answers.evaluation import (
    Graded,
    confidence_bands,
    graded_table,
    plot_calibration,
)
from bot.answers.faq import FaqService
from bot.answers.reports import Cluster
from bot.knowledge.currency import review_due

REVIEW_ROWS = 30
"""The soonest reviews shown; `img-advisor kb due --limit N` lists more."""

STYLE = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;width:100%}th,td{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f1f3f5}h2{margin-top:2.5rem}
.estimated{color:#9a6700}.past{color:#888}.overdue{color:#c00;font-weight:bold}img{max-width:100%}"""


@dataclass(frozen=True)
class PageData:
    """What the page shows, gathered by the caller from the database and the knowledge base."""

    clusters: list[Cluster]
    feedback: list[tuple[str, int, int]]  # entry id, 👍, 👎
    graded: list[Graded] | None  # a labelled set's grading, for the calibration chart
    graded_name: str = ""


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    if not rows:
        return "<p>(nothing recorded yet)</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _timeline_chart(faq: FaqService, path: Path, today: dt.date) -> bool:
    """The Match calendar on a time line (estimated dates hatched); False when there is nothing to draw."""
    deadlines = sorted(faq.kb.deadlines.values(), key=lambda d: d.due)
    if not deadlines:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 0.4 * len(deadlines) + 1.2), dpi=100)
    for row, deadline in enumerate(deadlines):
        colour = "#999999" if deadline.due.date() < today else ("#e0a030" if not deadline.confirmed else "#2a6fdb")
        ax.plot([deadline.due], [row], "o", color=colour, markersize=9)
        said = deadline.confirmed or "estimat" in deadline.title.lower()
        ax.annotate(deadline.title + ("" if said else " (estimated)"), (deadline.due, row),
                    xytext=(8, -4), textcoords="offset points", fontsize=8)
    ax.axvline(dt.datetime.combine(today, dt.time()), color="#d1495b", linestyle="--", linewidth=1)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_title("The Match calendar")
    ax.margins(x=0.6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_page(directory: Path, faq: FaqService, data: PageData, today: dt.date | None = None) -> Path:
    """Write index.html (and its PNG charts) into `directory`; return the page's path."""
    today = today or dt.date.today()
    directory.mkdir(parents=True, exist_ok=True)
    entries = faq.kb.entries
    sections = [f"<h1>IMG Advisor: the curator's page</h1><p>Written {today.isoformat()} from "
                f"{len(entries)} entries and {len(faq.kb.deadlines)} calendar dates.</p>"]

    rows = [(c.count, escape(c.example), escape(", ".join(f"{k} {v}" for k, v in sorted(c.reasons.items()))),
             escape(c.nearest or ""), f"{c.nearest_score:.2f}" if c.nearest_score is not None else "",
             escape(" | ".join(sorted(set(c.questions))[:5]))) for c in data.clusters]
    sections.append("<h2>Unanswered questions, clustered</h2><p>What users asked that no entry answered well "
                    "(kept without names or ids), most frequent first.</p>"
                    + _table(("count", "example", "why", "nearest entry", "score", "variants"), rows))

    votes = sorted(((e, up, down) for e, up, down in data.feedback), key=lambda r: (-r[2] / max(r[1] + r[2], 1), -r[2]))
    rows = [(escape(e), escape(entries[e].title if e in entries else "(entry removed)"), up, down,
             f"{down / (up + down):.0%}" if up + down else "-") for e, up, down in votes]
    sections.append("<h2>Entries by 👎 (not helpful) rate</h2>"
                    + _table(("entry", "title", "helpful", "not helpful", "not-helpful rate"), rows))

    rows = []
    for item in review_due(entries, faq.kb.deadlines, today)[:REVIEW_ROWS]:
        css = "overdue" if item.when < today else ""
        rows.append((f'<span class="{css}">{item.when}</span>', item.what, escape(item.id), escape(item.reason)))
    sections.append("<h2>By review date, soonest first</h2>" + _table(("review by", "kind", "id", "why"), rows))

    rows = []
    for deadline in sorted(faq.kb.deadlines.values(), key=lambda d: d.due):
        css = "past" if deadline.due.date() < today else ("estimated" if not deadline.confirmed else "")
        status = "past" if deadline.due.date() < today else ("estimated" if not deadline.confirmed else "confirmed")
        rows.append((f'<span class="{css}">{deadline.due.date()}</span>', escape(deadline.title), escape(deadline.cycle),
                     status, f'<a href="{escape(deadline.source.url)}">{escape(deadline.source.title)}</a>'))
    timeline = '<p>Blue: confirmed; orange: estimated from past years; grey: past; red line: today.</p>' \
        '<img src="timeline.png" alt="the Match calendar on a time line">' \
        if _timeline_chart(faq, directory / "timeline.png", today) else ""
    sections.append("<h2>The cycle timeline</h2>" + timeline
                    + _table(("date", "what", "cycle", "status", "source"), rows))

    if data.graded:
        plot_calibration(data.graded, directory / "calibration.png")
        sections.append(f"<h2>Calibration on {escape(data.graded_name)}</h2>"
                        '<img src="calibration.png" alt="answers by confidence: right, partial, wrong">'
                        f"<pre>{escape(graded_table(data.graded))}\n\n{escape(confidence_bands(data.graded))}</pre>")
    else:
        sections.append("<h2>Calibration</h2><p>No labelled question set was found (tests/eval/*_labels.yaml in a "
                        "checkout): run from the repository to include the chart.</p>")
    page = directory / "index.html"
    page.write_text(f"<!doctype html><html lang=en><meta charset=utf-8><title>IMG Advisor curator's page</title>"
                    f"<style>{STYLE}</style><body>{''.join(sections)}</body></html>\n", encoding="utf-8")
    return page
