"""The `img-advisor` command: the composition root that builds the core and starts adapters.

    img-advisor                 same as `img-advisor run`
    img-advisor run             run the bot (console when no platform token is set)
    img-advisor chat            an interactive console conversation
    img-advisor ask [--json] [QUESTION]
    img-advisor kb check [--dir DIR]
    img-advisor eval FILE
    img-advisor discord sync [--guild ID | --global] [--clear]

It lives at the edge (adapters/), so the core in bot/ never imports an adapter.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import bot
from adapters.logs import setup_logging
from bot.config import Settings, SettingsError
from bot.knowledge import KnowledgeBase, check_knowledge, load_knowledge
from bot.knowledge.yamlsource import KnowledgeError
from bot.markup import to_plain

if TYPE_CHECKING:  # imported where used: `ask` needs neither the store nor the other capabilities
    from bot.advisor import Advisor
    from bot.database import Database

log = logging.getLogger("img_advisor")

EXIT_DATABASE = 78
"""Exit status when the database cannot be used at start (EX_CONFIG): a supervisor should not
restart into the same error (the systemd unit sets RestartPreventExitStatus=78)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="img-advisor",
        description="IMG Advisor: answers, quizzes and reminders for international medical graduates "
                    "on the road to a US residency.",
    )
    parser.add_argument("--version", action="version", version=f"img-advisor {bot.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("run", help="run the bot (the console when no platform token is set)",
                   description="Run the bot. With no platform token in the environment it runs "
                               "the console adapter.")
    sub.add_parser("chat", help="talk to the bot in this terminal",
                   description="An interactive console conversation. /dm and /group switch chat "
                               "type; a number presses a button (a letter, when the question takes a "
                               "number as its answer); /quit leaves. Logs only warnings unless "
                               "IMG_ADVISOR_LOG_LEVEL is set.")

    ask = sub.add_parser("ask", help="answer one question (or one per line from stdin)",
                         description="Answer QUESTION as the bot would in a private chat. With no "
                                     "QUESTION, read one question per line from standard input.")
    ask.add_argument("question", nargs="?", help="the question; omit to read lines from stdin")
    ask.add_argument("--json", action="store_true",
                     help='print {"text", "entry", "score", "suggestions"} as JSON (one object per line)')

    kb = sub.add_parser("kb", help="knowledge-base tools", description="Knowledge-base tools.")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    check = kb_sub.add_parser("check", help="validate every knowledge file",
                              description="Validate knowledge/ and report each problem with file and "
                                          "line. Exit status 1 on errors (warnings do not fail).")
    check.add_argument("--dir", type=Path, help="knowledge directory (default: IMG_ADVISOR_KB, else the checkout's "
                                                "knowledge/ when run inside one, else the installed one)")
    due = kb_sub.add_parser("due", help="what needs review next, soonest first",
                            description="List entries (a year after their review, or their valid_until) and "
                                        "estimated deadlines, soonest first.")
    due.add_argument("--dir", type=Path, help="knowledge directory (as for check)")
    due.add_argument("--limit", type=int, default=20, help="show at most this many (default 20)")

    report = sub.add_parser("report", help="what to improve next: unanswered questions, disliked answers",
                            description="Reports from the database (IMG_ADVISOR_DB) for maintainers.")
    report.add_argument("which", choices=("misses", "feedback", "html"),
                        help="misses: unanswered questions clustered by similarity; feedback: entries by 👎 rate")
    report.add_argument("--csv", type=Path, metavar="FILE", help="write CSV to FILE instead of a table")
    report.add_argument("dir", nargs="?", type=Path, help="html: the directory to write index.html and its charts into")

    sub.add_parser("stats", help="users, chats, questions answered, reminders pending (JSON)",
                   description="Usage numbers from the database, as JSON.")
    health = sub.add_parser("health", help="check the database, the knowledge base and the running bot",
                            description="Exit 0 when the database opens at the current schema, the knowledge "
                                        "base loads and (with --require-running) the bot's heartbeat is fresh.")
    health.add_argument("--require-running", action="store_true",
                        help="also fail unless `img-advisor run` wrote a heartbeat in the last 2 minutes")
    backup = sub.add_parser("backup", help="copy the database safely while the bot runs",
                            description="Copy IMG_ADVISOR_DB to FILE with SQLite's online backup.")
    backup.add_argument("file", type=Path, help="where to write the copy")

    dc = sub.add_parser("discord", help="Discord tools: publish the slash commands",
                        description="Discord tools (need DISCORD_BOT_TOKEN).")
    dc_sub = dc.add_subparsers(dest="discord_command", metavar="DISCORD_COMMAND", required=True)
    sync = dc_sub.add_parser("sync", help="publish the slash commands (run after an upgrade that changes them)",
                             description="Publish the slash commands to Discord: globally, or to one server "
                                         "(instant, for trying the bot out). A server's set replaces the global "
                                         "one, which is cleared, so nobody sees a command twice.")
    where = sync.add_mutually_exclusive_group()
    where.add_argument("--guild", type=int, metavar="ID",
                       help="publish to this server only (default: DISCORD_GUILD_ID, if set)")
    where.add_argument("--global", dest="global_", action="store_true",
                       help="publish globally even when DISCORD_GUILD_ID is set")
    sync.add_argument("--clear", action="store_true", help="remove the commands (global, or the server's) instead")

    ev = sub.add_parser("eval", help="score a question set (accuracy, out-of-scope rate, misses)",
                        description="Score a question set: by keywords (shared/eval/faq_dev.yaml) or, with "
                                    "--labels, by entries judged by reading (tests/eval/*_labels.yaml): right, "
                                    "partial, wrong, declined, and per confidence band.")
    ev.add_argument("file", type=Path, help="YAML list of {q, topic, expect_any} or {q, topic, want}")
    ev.add_argument("--labels", type=Path, help="labels of the items (which entries answer each)")
    ev.add_argument("--plot", type=Path, metavar="FILE", help="with --labels: draw the calibration chart as a PNG")
    ev.add_argument("--grading", type=Path, metavar="FILE", help="with --labels: write the per-item grading (Markdown)")
    ev.add_argument("--quiet", action="store_true", help="print the summary only, not every miss")
    return parser


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"img-advisor: {exc}") from None


def _open_database(path: Path) -> Database:
    """Open the database, or stop with one clear line (damaged, read-only, unreadable: no traceback)."""
    from bot.database import Database, describe_fault, is_store_fault

    try:
        return Database.open(path)
    except (sqlite3.DatabaseError, OSError) as exc:
        reason = describe_fault(exc)[0] if is_store_fault(exc) else str(exc)
        print(f"img-advisor: cannot use the database at {path}: {reason}. Fix or free it, or point "
              "IMG_ADVISOR_DB at another file (restore a backup: see README).", file=sys.stderr)
        raise SystemExit(EXIT_DATABASE) from None


def _advisor(settings: Settings, store: Database | None = None, owners: frozenset[str] = frozenset(),
             flood_limits: bool = True) -> Advisor:
    from bot.advisor import Advisor

    kb = _knowledge(settings)
    return Advisor(kb, store or _open_database(settings.db_path), limits=settings.limits,
                   owners=settings.owners | owners, log_text=settings.log_text, knowledge_dir=settings.knowledge_dir,
                   flood_limits=flood_limits)


def _knowledge(settings: Settings) -> KnowledgeBase:
    """The knowledge base, or stop with its errors."""
    from bot.config import bundled_knowledge_dir

    if settings.knowledge_dir.resolve() != bundled_knowledge_dir().resolve():
        print(f"img-advisor: knowledge base: {settings.knowledge_dir} (not the installed copy)", file=sys.stderr)
    try:
        return load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        raise SystemExit(f"img-advisor: the knowledge base has errors:\n{exc}\n"
                         "Run `img-advisor kb check` for details.") from None


def _in_memory() -> Database:
    from bot.database import Database

    return Database.in_memory()


def _cmd_ask(args: argparse.Namespace) -> int:
    # what `Advisor.ask` does, without building the Advisor: a question needs the knowledge base only
    # (no database, no reminders, quizzes or event loop: a third of the command's start-up)
    from bot.answers.faq import FaqService
    from bot.text import ask

    faq = FaqService(_knowledge(_settings()))
    questions = [args.question] if args.question is not None else (line.rstrip("\n") for line in sys.stdin)
    for question in questions:
        outcome = ask(faq, question)
        text = "\n\n".join(to_plain(r.text) for r in outcome.replies)
        if args.json:
            print(json.dumps({"text": text, "entry": outcome.entry, "entries": outcome.entries, "kind": outcome.kind,
                              "score": outcome.score, "suggestions": outcome.suggestions}, ensure_ascii=False),
                  flush=True)
        else:
            buttons = [b.label for r in outcome.replies for row in r.buttons for b in row]
            print(text + "".join(f"\n[{i}] {label}" for i, label in enumerate(buttons, 1)))
    return 0


def _cmd_kb_check(args: argparse.Namespace) -> int:
    directory = args.dir or _settings().knowledge_dir
    if args.kb_command == "due":
        return _cmd_kb_due(directory, args.limit)
    kb, problems = check_knowledge(directory)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if kb is None:
        print(f"{directory}: {errors} error(s), {warnings} warning(s)")
        return 1
    print(f"{directory}: OK: {len(kb.entries)} entries in {len(kb.topics)} topics, "
          f"{len(kb.synonyms)} synonyms, {len(kb.quizzes)} quizzes, {len(kb.deadlines)} deadlines; "
          f"{warnings} warning(s)")
    return 0


def _cmd_kb_due(directory: Path, limit: int) -> int:
    import datetime as dt

    from bot.knowledge.currency import review_due

    kb, problems = check_knowledge(directory)
    if kb is None:
        for problem in problems:
            print(problem)
        return 1
    today = dt.date.today()
    items = review_due(kb.entries, kb.deadlines, today)
    print(f"{directory}: {len(items)} item(s) with a review date; the soonest {min(limit, len(items))}:")
    for item in items[:limit]:
        late = " (overdue)" if item.when < today else ""
        print(f"{item.when}{late}  {item.what} {item.id}: {item.reason}")
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    import asyncio

    from adapters.console import run_console

    settings = _settings()
    with closing(_open_database(settings.db_path)) as store:
        # the person at the terminal runs the bot: they may reload its knowledge, and they are one local
        # user, so the flood limits that protect groups do not apply (piped questions all get answers)
        advisor = _advisor(settings, store, owners=frozenset({"console:console-user"}), flood_limits=False)
        asyncio.run(run_console(advisor, echo=not sys.stdin.isatty()))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from adapters.runner import build_adapters, serve

    settings = _settings()
    if not (settings.telegram_token or settings.discord_token):
        print("No platform token set (TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN): starting the console.\n"
              "Set a token in the environment to run on Telegram or Discord; see README.", file=sys.stderr)
        return _cmd_chat(args)
    with closing(_open_database(settings.db_path)) as store:
        advisor = _advisor(settings, store)
        asyncio.run(serve(advisor, build_adapters(advisor, settings)))
    return 0


def _cmd_discord(args: argparse.Namespace) -> int:
    import asyncio

    from adapters.discord_bot import DiscordAdapter

    settings = _settings()
    if not settings.discord_token:
        raise SystemExit("img-advisor: set DISCORD_BOT_TOKEN to publish the slash commands")
    guild = None if args.global_ else (args.guild or settings.discord_guild_id)
    adapter = DiscordAdapter(_advisor(settings, _in_memory()), settings.discord_token,
                             api_url=settings.discord_api_url, gateway_url=settings.discord_gateway_url)
    try:
        names = asyncio.run(adapter.sync_commands(guild, clear=args.clear))
    except Exception as exc:  # noqa: BLE001 - one line naming what to fix, never a traceback with the token
        raise SystemExit(f"img-advisor: {adapter.explain(exc) or type(exc).__name__}") from None
    where = f"server {guild}" if guild else "all servers (global; Discord may take a while to show them)"
    if args.clear:
        print(f"removed the slash commands of {where}")
    else:
        print(f"published {len(names)} slash commands to {where}" + ("; cleared the global set" if guild else ""))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bot.answers.faq import FaqService
    from bot.answers.reports import cluster_misses, feedback_table, misses_table
    from bot.answers.store import AnswerStore

    settings = _settings()
    if args.which == "html":
        return _report_html(settings, args.dir)
    if not settings.db_path.exists():
        raise SystemExit(f"img-advisor: no database at {settings.db_path} (set IMG_ADVISOR_DB)")
    with closing(_open_database(settings.db_path)) as store:
        faq = FaqService(load_knowledge(settings.knowledge_dir))
        as_csv = args.csv is not None
        answers = AnswerStore(store)
        text = (misses_table(cluster_misses(answers, faq), as_csv) if args.which == "misses"
                else feedback_table(answers, faq, as_csv))
    if args.csv:
        args.csv.write_text(text, encoding="utf-8")
        print(f"wrote {args.csv}")
    else:
        print(text, end="")
    return 0


def _stats(database: Database) -> dict[str, object]:
    """Every capability's numbers for maintainers, in one mapping."""
    from bot.answers.store import AnswerStore
    from bot.quizzes.store import QuizStore
    from bot.reminders.store import ReminderStore
    from bot.usage.store import UsageStore

    stores = (UsageStore(database), ReminderStore(database), QuizStore(database), AnswerStore(database))
    return {key: value for store in stores for key, value in store.stats().items()}


def _report_html(settings: Settings, directory: Path | None) -> int:
    """The curator's page: misses, 👎 rates, review dates, the timeline and the calibration chart."""
    from bot.answers.curator_page import PageData, write_page
    from bot.answers.evaluation import grade, load_labels, load_questions
    from bot.answers.reports import cluster_misses
    from bot.answers.store import AnswerStore
    from bot.config import checkout_knowledge_dir

    if directory is None:
        raise SystemExit("img-advisor: report html needs a directory: img-advisor report html DIR")
    advisor = _advisor(settings, _in_memory())
    clusters, feedback = [], []
    if settings.db_path.exists():
        with closing(_open_database(settings.db_path)) as store:
            answers = AnswerStore(store)
            clusters, feedback = cluster_misses(answers, advisor.faq), answers.feedback_by_entry()
    graded, name = None, ""
    checkout = checkout_knowledge_dir()
    if checkout is not None:
        for labels in sorted((checkout.parent / "tests" / "eval").glob("*_labels.yaml")):
            questions = labels.with_name(labels.name.replace("_labels", ""))
            if questions.exists():
                graded = (graded or []) + grade(advisor, load_questions(questions), load_labels(labels))
                name = f"{name} + {questions.name}" if name else questions.name
    page = write_page(directory, advisor.faq, PageData(clusters, feedback, graded, name))
    print(f"wrote {page}")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    with closing(_open_database(_settings().db_path)) as store:
        print(json.dumps(_stats(store), indent=2))
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    import time

    from bot.database import Database, describe_fault, is_store_fault, schema_version
    from bot.reminders.scheduler import LEASE as REMINDER_LEASE

    settings = _settings()
    report: dict[str, object] = {}
    ok = True
    beat = lease = None
    try:
        with closing(Database.open(settings.db_path)) as store:
            problem = store.probe()  # damaged, read-only, full or locked: a lasting fault shows here
            if problem:
                report["database"], ok = f"error: {problem}", False
            else:
                report["database"] = f"ok (schema {store.schema_version} of {schema_version()})"
                ok &= store.schema_version == schema_version()
            beat = store.meta("heartbeat")
            lease = store.lease(REMINDER_LEASE)
    except Exception as exc:  # noqa: BLE001 - health reports any failure
        reason = describe_fault(exc)[0] if is_store_fault(exc) else str(exc)
        report["database"], ok = f"error: {reason}", False
    kb, problems = check_knowledge(settings.knowledge_dir)
    report["knowledge"] = f"ok ({len(kb.entries)} entries)" if kb else f"{sum(p.severity == 'error' for p in problems)} errors"
    ok &= kb is not None
    if beat and beat != "stopped":
        beat_data = json.loads(beat)
        age = time.time() - beat_data["at"]
        report["running"] = f"heartbeat {age:.0f} s ago ({', '.join(beat_data['platforms'])})"
        ok &= not args.require_running or age < 120
        platforms = beat_data.get("state", {})
        report["platforms"] = {name: _platform_line(state) for name, state in platforms.items()}
        ok &= not args.require_running or all(s.get("state") != "retrying" for s in platforms.values())
    else:
        report["running"] = "not running" if beat == "stopped" else "no heartbeat yet"
        ok &= not args.require_running
    if lease is not None:
        state = "expired" if lease.expires < time.time() else f"renewed until {lease.expires - time.time():.0f} s from now"
        report["reminders"] = f"delivered by {lease.describe()} (lease {state})"
    report["status"] = "ok" if ok else "unhealthy"
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


def _platform_line(state: dict[str, object]) -> str:
    """One platform's state from the heartbeat, for `img-advisor health`."""
    if state.get("state") != "retrying":
        return str(state.get("state"))
    return f"retrying (attempt {state.get('attempts')}): {state.get('problem')}"


def _cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings()
    if not settings.db_path.exists():
        raise SystemExit(f"img-advisor: no database at {settings.db_path}")
    with closing(_open_database(settings.db_path)) as store:
        store.backup(args.file)
    print(f"backed up {settings.db_path} to {args.file}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from bot.answers.evaluation import evaluate, load_questions, print_report

    advisor = _advisor(_settings(), _in_memory())
    questions = load_questions(args.file)
    if args.labels:
        return _eval_labelled(advisor, questions, args)
    report = evaluate(advisor, questions)
    print_report(report, show_misses=not args.quiet)
    return 0


def _eval_labelled(advisor: Advisor, questions: list, args: argparse.Namespace) -> int:
    from bot.answers.evaluation import (
        confidence_bands,
        grade,
        graded_table,
        grading_lines,
        load_labels,
        plot_calibration,
    )

    graded = grade(advisor, questions, load_labels(args.labels))
    summary = f"{graded_table(graded)}\n\nBy confidence (answered items):\n\n{confidence_bands(graded)}\n"
    print(summary)
    if args.grading:
        rows = ["| # | verdict | confidence | answered | label | question |", "|---|---|---|---|---|---|",
                *grading_lines(graded)]
        args.grading.write_text(f"# Grading of {args.file.name} with {args.labels.name}\n\n{summary}\n"
                                + "\n".join(rows) + "\n", encoding="utf-8")
        print(f"wrote {args.grading}")
    elif not args.quiet:
        for line in grading_lines(graded):
            if "| right |" not in line:
                print(line)
    if args.plot:
        plot_calibration(graded, args.plot)
        print(f"wrote {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `img-advisor` command."""
    # One BLAS thread, set before numpy loads OpenBLAS: the semantic layer limits BLAS to one thread anyway
    # (bot/answers/semantic.py: one question is one small product), and OpenBLAS otherwise starts a thread
    # per core as numpy is imported, about 40 ms of a busy machine's cold start. A value set outside wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if hasattr(signal, "SIGPIPE"):  # `img-advisor eval ... | head` should just stop
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _parser().parse_args(argv)
    settings = _settings()
    quiet = args.command in ("kb", "stats", "health", "backup", "report", "ask", "eval", "discord")
    # the console prints replies on the same terminal: log lines between them only when asked for
    console = args.command == "chat" or (args.command in (None, "run") and not (settings.telegram_token or
                                                                                   settings.discord_token))
    setup_logging("WARNING" if quiet or (console and not settings.log_level_set) else settings.log_level,
                  secrets=[settings.telegram_token or "", settings.discord_token or "",
                           settings.telegram_webhook_secret or ""], fmt=settings.log_format)
    command = args.command or "run"
    if command == "run":
        return _cmd_run(args)
    if command == "chat":
        return _cmd_chat(args)
    if command == "ask":
        return _cmd_ask(args)
    if command == "kb":
        return _cmd_kb_check(args)
    if command == "eval":
        return _cmd_eval(args)
    if command == "report":
        return _cmd_report(args)
    if command == "discord":
        return _cmd_discord(args)
    handlers = {"stats": _cmd_stats, "health": _cmd_health, "backup": _cmd_backup}
    if command in handlers:
        return handlers[command](args)
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
