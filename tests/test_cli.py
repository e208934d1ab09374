"""The img-advisor command: --help, --version, ask (plain, --json, batch), kb check, chat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bot
from adapters.cli import main


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=60)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert bot.__version__ in capsys.readouterr().out
    for command in (["--help"], ["ask", "--help"], ["kb", "check", "--help"], ["chat", "--help"],
                    ["eval", "--help"], ["run", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(command)
        assert exit_info.value.code == 0
        assert "usage: img-advisor" in capsys.readouterr().out


def test_ask_prints_the_answer_as_a_user_sees_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "obsership fees??"]) == 0
    out = capsys.readouterr().out
    assert "Observership fees" in out and "Sources:" in out and "**" not in out


def test_ask_json_gives_entry_score_and_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "obsership fees??"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["entry"] == "observership-cost"
    assert 0 < result["score"] <= 1
    assert result["suggestions"] == []
    assert result["text"].startswith("Observership fees")


def test_ask_json_for_nonsense_answers_no_entry(capsys: pytest.CaptureFixture[str]) -> None:
    main(["ask", "--json", "qwertyuiop asdfgh"])
    result = json.loads(capsys.readouterr().out)
    assert result["entry"] is None
    assert "don't have an answer" in result["text"]


def test_batch_mode_answers_one_json_line_per_question(tmp_path: Path) -> None:
    questions = "obsership fees??\nhello everyone\nis step 1 pass fail\n\n"
    done = run_cli("ask", "--json", stdin=questions, env={"IMG_ADVISOR_DB": str(tmp_path / "x.db")})
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["entry"] for r in lines] == ["observership-cost", None, "step1-pass-fail", None]
    assert set(lines[0]) == {"text", "entry", "entries", "kind", "score", "suggestions"}
    assert lines[0]["entries"] == ["observership-cost"]


def test_chat_reads_lines_and_presses_numbered_buttons(tmp_path: Path) -> None:
    done = run_cli("chat", stdin="/topics\n3\n/group\nhello there\n@advisor is step 1 pass fail\n/quit\n",
                   env={"IMG_ADVISOR_DB": str(tmp_path / "chat.db")})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[1] Kinds of USCE" in out
    assert "Costs and fees" in out  # button 3 opened that topic
    assert "now in a group chat" in out
    assert "pass/fail" in out
    assert (tmp_path / "chat.db").exists()


def test_a_bad_setting_is_reported_clearly() -> None:
    done = run_cli("ask", "hi", env={"IMG_ADVISOR_KB": "/no/such/dir"})
    assert done.returncode != 0
    assert "IMG_ADVISOR_KB" in done.stderr and "Traceback" not in done.stderr


def test_with_no_token_the_bot_starts_the_console_and_says_how_to_go_online(tmp_path: Path) -> None:
    env = {"IMG_ADVISOR_DB": str(tmp_path / "bot.db"), "TELEGRAM_BOT_TOKEN": "", "DISCORD_BOT_TOKEN": ""}
    for args in ([], ["run"]):
        done = run_cli(*args, stdin="obsership fees??\n/quit\n", env=env)
        assert done.returncode == 0, done.stderr
        assert "TELEGRAM_BOT_TOKEN" in done.stderr and "DISCORD_BOT_TOKEN" in done.stderr
        assert "Observership fees" in done.stdout


def test_piped_questions_all_get_answers_with_no_log_lines_between_them(tmp_path: Path) -> None:
    """The console is one local user: no flood limit, nothing dropped, logs only when asked for."""
    env = {k: v for k, v in os.environ.items() if k != "IMG_ADVISOR_LOG_LEVEL"}
    env["IMG_ADVISOR_DB"] = str(tmp_path / "chat.db")
    questions = "".join(f"is step 1 pass fail {n}\n" for n in range(30))
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "chat"], input=questions, capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("pass/fail") >= 30, done.stdout[-2000:]
    assert "faster than I can answer" not in done.stdout
    assert "is step 1 pass fail 29" in done.stdout  # piped lines are echoed after their prompt
    assert " INFO " not in done.stdout + done.stderr
    asked = run_cli("chat", stdin="hello\n", env={"IMG_ADVISOR_DB": str(tmp_path / "chat.db"),
                                                  "IMG_ADVISOR_LOG_LEVEL": "INFO"})
    assert " INFO " in asked.stderr and " INFO " not in asked.stdout
