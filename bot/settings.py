"""Settings read from environment variables, with documented defaults.

| variable              | default                                         | meaning                         |
|-----------------------|-------------------------------------------------|---------------------------------|
| IMG_ADVISOR_DB        | $XDG_DATA_HOME/img-advisor/img-advisor.db       | the SQLite database file        |
|                       | (~/.local/share/img-advisor/img-advisor.db)     |                                 |
| IMG_ADVISOR_KB        | the knowledge/ directory shipped with the bot   | knowledge base to load          |
| IMG_ADVISOR_LOG_LEVEL | INFO                                            | DEBUG, INFO, WARNING or ERROR   |
| TELEGRAM_BOT_TOKEN    | (none)                                          | run the Telegram adapter        |
| TELEGRAM_API_URL      | https://api.telegram.org                        | Bot API base (self-hosted/test) |
| TELEGRAM_RATE_LIMITER | on                                              | off only against a local fake   |
| DISCORD_BOT_TOKEN     | (none)                                          | run the Discord adapter         |
| DISCORD_API_URL       | https://discord.com/api/v10                     | REST base (proxy/test)          |
| DISCORD_GATEWAY_URL   | (from Discord)                                  | gateway address (proxy/test)    |
| DISCORD_GUILD_ID      | (none)                                          | sync slash commands to one guild|
| IMG_ADVISOR_OWNERS    | (none)                                          | e.g. telegram:123,discord:456   |
| IMG_ADVISOR_LOG_TEXT  | off                                             | on: log message text (debugging)|
| IMG_ADVISOR_USER_RATE | 20/minute                                       | per-user limit (limits syntax)  |
| IMG_ADVISOR_CHAT_RATE | 30/minute                                       | per-group limit                 |
| IMG_ADVISOR_COOLDOWN_MINUTES | 10                                       | don't re-post an answer sooner  |

Tokens come from the environment only; they are kept out of `repr` and never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from limits import parse as parse_rate

import bot
from bot.community import Limits

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
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str | None = None
    telegram_rate_limiter: bool = True
    discord_token: str | None = field(default=None, repr=False)
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    discord_guild_id: int | None = None
    owners: frozenset[str] = frozenset()
    log_text: bool = False
    limits: Limits = field(default_factory=Limits)

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
        limiter = env.get("TELEGRAM_RATE_LIMITER", "on").strip().lower()
        if limiter not in ("on", "off"):
            raise SettingsError(f"TELEGRAM_RATE_LIMITER={limiter!r}: use on or off")
        guild = env.get("DISCORD_GUILD_ID", "").strip()
        if guild and not guild.isdigit():
            raise SettingsError("DISCORD_GUILD_ID must be a number (the server's id)")
        for name in ("TELEGRAM_API_URL", "DISCORD_API_URL", "DISCORD_GATEWAY_URL"):
            value = env.get(name, "").strip()
            if value and not value.startswith(("http://", "https://", "ws://", "wss://")):
                raise SettingsError(f"{name} must be a URL starting with http(s):// or ws(s)://")
        owners = frozenset(o.strip() for o in env.get("IMG_ADVISOR_OWNERS", "").split(",") if o.strip())
        for owner in owners:
            if ":" not in owner:
                raise SettingsError(f"IMG_ADVISOR_OWNERS: {owner!r} should look like telegram:123456")
        log_text = env.get("IMG_ADVISOR_LOG_TEXT", "off").strip().lower()
        if log_text not in ("on", "off"):
            raise SettingsError("IMG_ADVISOR_LOG_TEXT: use on or off")
        rates = {}
        for name, default in (("IMG_ADVISOR_USER_RATE", Limits.per_user), ("IMG_ADVISOR_CHAT_RATE", Limits.per_chat)):
            value = env.get(name, "").strip() or default
            try:
                parse_rate(value)
            except ValueError:
                raise SettingsError(f"{name}={value!r}: write it like 20/minute") from None
            rates[name] = value
        cooldown = env.get("IMG_ADVISOR_COOLDOWN_MINUTES", "").strip() or str(Limits.cooldown_minutes)
        if not cooldown.isdigit():
            raise SettingsError("IMG_ADVISOR_COOLDOWN_MINUTES must be a whole number of minutes")
        return cls(
            owners=owners, log_text=log_text == "on",
            limits=Limits(rates["IMG_ADVISOR_USER_RATE"], rates["IMG_ADVISOR_CHAT_RATE"], int(cooldown)),
            db_path=db, knowledge_dir=kb, log_level=level,
            telegram_token=env.get("TELEGRAM_BOT_TOKEN", "").strip() or None,
            telegram_api_url=env.get("TELEGRAM_API_URL", "").strip() or None,
            telegram_rate_limiter=limiter == "on",
            discord_token=env.get("DISCORD_BOT_TOKEN", "").strip() or None,
            discord_api_url=env.get("DISCORD_API_URL", "").strip() or None,
            discord_gateway_url=env.get("DISCORD_GATEWAY_URL", "").strip() or None,
            discord_guild_id=int(guild) if guild else None,
        )
