"""Settings read from environment variables, with documented defaults.

| variable              | default                                         | meaning                         |
|-----------------------|-------------------------------------------------|---------------------------------|
| IMG_ADVISOR_DB        | $XDG_DATA_HOME/img-advisor/img-advisor.db       | the SQLite database file        |
|                       | (~/.local/share/img-advisor/img-advisor.db)     |                                 |
| IMG_ADVISOR_KB        | the knowledge/ directory shipped with the bot   | knowledge base to load          |
| IMG_ADVISOR_LOG_LEVEL | INFO                                            | DEBUG, INFO, WARNING or ERROR   |

Tokens for the platforms are read by the adapters themselves, from the environment
only, and are never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import bot

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """A setting has a value the bot cannot use; the message says which and why."""


def bundled_knowledge_dir() -> Path:
    """The knowledge/ directory installed beside the `bot` package."""
    return Path(bot.__file__).resolve().parent.parent / "knowledge"


def default_db_path() -> Path:
    """Where the database lives unless IMG_ADVISOR_DB says otherwise."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "img-advisor" / "img-advisor.db"


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to start."""

    db_path: Path
    knowledge_dir: Path
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Read settings from `env` (default: the process environment) and validate them."""
        env = dict(os.environ if env is None else env)
        db = Path(env["IMG_ADVISOR_DB"]).expanduser() if env.get("IMG_ADVISOR_DB") else default_db_path()
        kb = Path(env["IMG_ADVISOR_KB"]).expanduser() if env.get("IMG_ADVISOR_KB") else bundled_knowledge_dir()
        level = env.get("IMG_ADVISOR_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in LOG_LEVELS:
            raise SettingsError(f"IMG_ADVISOR_LOG_LEVEL={level!r}: use one of {', '.join(LOG_LEVELS)}")
        if not kb.is_dir():
            raise SettingsError(f"IMG_ADVISOR_KB={str(kb)!r} is not a directory")
        return cls(db_path=db, knowledge_dir=kb, log_level=level)
