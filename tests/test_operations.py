"""Running the bot for months: settings file, JSON logs, health, stats, backup, and the deploy files."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.logs import RedactSecrets, setup_logging
from bot.config import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60)


def test_a_settings_file_is_read_validated_and_overridden_by_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "advisor.toml"
    config.write_text('IMG_ADVISOR_DB = "/srv/a.db"\nIMG_ADVISOR_COOLDOWN_MINUTES = 5\nIMG_ADVISOR_LOG_FORMAT = "json"\n')
    settings = Settings.from_env({"IMG_ADVISOR_CONFIG": str(config), "IMG_ADVISOR_COOLDOWN_MINUTES": "7"})
    assert settings.db_path == Path("/srv/a.db") and settings.limits.cooldown_minutes == 7
    assert settings.log_format == "json"


@pytest.mark.parametrize("content, message", [
    ('TELEGRAM_BOT_TOKEN = "123:abc"\n', "must not be in a file"),
    ('IMG_ADVISOR_DBB = "x"\n', "unknown setting 'IMG_ADVISOR_DBB'"),
    ("IMG_ADVISOR_DB = [\n", "not valid TOML"),
    ('IMG_ADVISOR_USER_RATE = "lots"\n', "write it like 20/minute"),
])
def test_bad_settings_files_get_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "advisor.toml"
    config.write_text(content)
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({"IMG_ADVISOR_CONFIG": str(config)})


@pytest.mark.parametrize("env, message", [
    ({"TELEGRAM_WEBHOOK_URL": "http://bot.example.org/tg"}, "https://"),
    ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.org/tg"}, "TELEGRAM_WEBHOOK_SECRET is required"),
    ({"TELEGRAM_WEBHOOK_LISTEN": "nowhere"}, "0.0.0.0:8443"),
    ({"DISCORD_GUILD_ID": "abc"}, "DISCORD_GUILD_ID"),
    ({"IMG_ADVISOR_LOG_FORMAT": "xml"}, "text or json"),
])
def test_bad_environment_values_get_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_a_bad_setting_stops_the_command_with_its_name_not_a_traceback() -> None:
    done = cli("run", env={"IMG_ADVISOR_LOG_FORMAT": "xml"})
    assert done.returncode != 0 and "IMG_ADVISOR_LOG_FORMAT" in done.stderr and "Traceback" not in done.stderr


def test_json_logs_are_one_object_per_line_with_secrets_redacted(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    setup_logging("INFO", secrets=["123456:SECRET-TOKEN-VALUE"], fmt="json")
    logging.getLogger("test").info("calling https://api.telegram.org/bot123456:SECRET-TOKEN-VALUE/getMe")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["level"] == "INFO" and "SECRET-TOKEN-VALUE" not in line and "[redacted]" in record["message"]
    logging.getLogger().handlers.clear()


def test_an_uncaught_traceback_has_the_token_redacted(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram.error import InvalidToken

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    setup_logging("INFO", secrets=["123456:SECRET-TOKEN-VALUE"])
    try:
        raise InvalidToken("The token `123456:SECRET-TOKEN-VALUE` was rejected by the server.")  # as PTB words it
    except InvalidToken as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    printed = capsys.readouterr().err
    assert "Traceback" in printed and "SECRET-TOKEN-VALUE" not in printed and "[redacted]" in printed
    logging.getLogger().handlers.clear()


def test_the_secret_half_of_a_telegram_token_is_redacted_too() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token part %s", ("SECRET-TOKEN-VALUE",), None)
    RedactSecrets(["123456:SECRET-TOKEN-VALUE"]).filter(record)
    assert record.getMessage() == "token part [redacted]"


def test_health_stats_and_backup(tmp_path: Path) -> None:
    env = {"IMG_ADVISOR_DB": str(tmp_path / "bot.db")}
    done = cli("health", env=env)
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "ok"
    assert cli("health", "--require-running", env=env).returncode == 1  # no heartbeat: not running
    stats = json.loads(cli("stats", env=env).stdout)
    assert {"users", "chats", "questions_answered", "reminders_pending"} <= set(stats)
    done = cli("backup", str(tmp_path / "copy.db"), env=env)
    assert done.returncode == 0
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("select count(*) from _sqlite_migrations").fetchone()[0] >= 4


def test_the_dockerfile_installs_as_the_readme_does_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "pip install ." in readme and "RUN pip install ." in dockerfile
    assert "USER advisor" in dockerfile and 'VOLUME ["/data"]' in dockerfile
    assert "IMG_ADVISOR_DB=/data/img-advisor.db" in dockerfile
    for path in ("pyproject.toml", "README.md", "bot", "adapters", "knowledge"):
        assert f"COPY {path}" in dockerfile or f" {path} " in dockerfile.split("COPY", 1)[1]
    unit = (ROOT / "deploy" / "img-advisor.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit and "KillSignal=SIGTERM" in unit
