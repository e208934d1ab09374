"""Settings read from environment variables, with documented defaults.

| variable              | default                                         | meaning                         |
|-----------------------|-------------------------------------------------|---------------------------------|
| IMG_ADVISOR_DB        | $XDG_DATA_HOME/img-advisor/img-advisor.db       | the SQLite database file        |
|                       | (~/.local/share/img-advisor/img-advisor.db)     |                                 |
| IMG_ADVISOR_KB        | the checkout's knowledge/ (when run inside one),| knowledge base to load          |
|                       | else the knowledge/ installed with the bot      |                                 |
| IMG_ADVISOR_LOG_LEVEL | INFO (console: WARNING)                         | DEBUG, INFO, WARNING or ERROR   |
| TELEGRAM_BOT_TOKEN    | (none)                                          | run the Telegram adapter        |
| TELEGRAM_API_URL      | https://api.telegram.org                        | Bot API base (self-hosted/test) |
| TELEGRAM_RATE_LIMITER | on                                              | off only against a local fake   |
| DISCORD_BOT_TOKEN     | (none)                                          | run the Discord adapter         |
| DISCORD_API_URL       | https://discord.com/api/v10                     | REST base (proxy/test)          |
| DISCORD_GATEWAY_URL   | (from Discord)                                  | gateway address (proxy/test)    |
| DISCORD_GUILD_ID      | (none)                                          | default guild of `discord sync` |
| IMG_ADVISOR_OWNERS    | (none)                                          | e.g. telegram:123,discord:456   |
| IMG_ADVISOR_LOG_TEXT  | off                                             | on: log message text (debugging)|
| IMG_ADVISOR_USER_RATE | 20/minute                                       | per-user limit (limits syntax)  |
| IMG_ADVISOR_CHAT_RATE | 30/minute                                       | per-group limit                 |
| IMG_ADVISOR_COOLDOWN_MINUTES | 10                                       | don't re-post an answer sooner  |
| IMG_ADVISOR_LOG_FORMAT| text                                            | text or json (one object a line)|
| IMG_ADVISOR_CONFIG    | (none)                                          | optional TOML file, see below   |
| TELEGRAM_WEBHOOK_URL  | (none: long polling)                            | public https URL for webhooks   |
| TELEGRAM_WEBHOOK_LISTEN | 0.0.0.0:8443                                  | address the webhook server binds|
| TELEGRAM_WEBHOOK_SECRET | (required with a webhook URL)                 | checked on every request        |

The optional config file (IMG_ADVISOR_CONFIG=/etc/img-advisor.toml) holds the same
names as TOML keys, e.g. `IMG_ADVISOR_DB = "/data/img-advisor.db"`; the environment
wins over the file. Tokens and the webhook secret are refused there: keep secrets in
the environment.

Tokens come from the environment only; they are kept out of `repr` and never logged.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import bot
from bot.groups.throttle import Limits

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SECRETS = ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
KNOWN = ("IMG_ADVISOR_DB", "IMG_ADVISOR_KB", "IMG_ADVISOR_LOG_LEVEL", "IMG_ADVISOR_LOG_FORMAT", "IMG_ADVISOR_OWNERS",
         "IMG_ADVISOR_LOG_TEXT", "IMG_ADVISOR_USER_RATE", "IMG_ADVISOR_CHAT_RATE", "IMG_ADVISOR_COOLDOWN_MINUTES",
         "TELEGRAM_API_URL", "TELEGRAM_RATE_LIMITER", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_LISTEN",
         "DISCORD_API_URL", "DISCORD_GATEWAY_URL", "DISCORD_GUILD_ID")


def read_config_file(path: Path) -> dict[str, str]:
    """Settings from a TOML file (same names as the environment variables), validated."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"IMG_ADVISOR_CONFIG: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, str] = {}
    for key, value in data.items():
        if key in SECRETS:
            raise SettingsError(f"{path}: {key} must not be in a file; set it in the environment")
        if key not in KNOWN:
            raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(KNOWN)})")
        if not isinstance(value, (str, int, float, bool)):
            raise SettingsError(f"{path}: {key} must be a single value")
        values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


class SettingsError(ValueError):
    """A setting has a value the bot cannot use; the message says which and why."""


def bundled_knowledge_dir() -> Path:
    """The knowledge/ directory installed beside the `bot` package."""
    return Path(bot.__file__).resolve().parent.parent / "knowledge"


def checkout_knowledge_dir(start: Path | None = None) -> Path | None:
    """The knowledge/ of the img-advisor checkout the command runs in (this directory or a parent), if any.

    A maintainer edits `knowledge/` in a checkout; `kb check`, the bot and /reload must see
    that copy, not the one installed in site-packages.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        project = folder / "pyproject.toml"
        if (folder / "knowledge" / "topics.yaml").is_file() and project.is_file():
            try:
                if 'name = "img-advisor"' in project.read_text(encoding="utf-8"):
                    return folder / "knowledge"
            except OSError:
                return None
    return None


def default_knowledge_dir() -> Path:
    """IMG_ADVISOR_KB unset: the checkout's knowledge/ when run inside one, else the installed copy."""
    return checkout_knowledge_dir() or bundled_knowledge_dir()


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
    log_level_set: bool = False  # IMG_ADVISOR_LOG_LEVEL was given (the console logs only warnings otherwise)
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
    log_format: str = "text"
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: tuple[str, int] = ("0.0.0.0", 8443)
    telegram_webhook_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read settings from `env` (default: the process environment) and validate them."""
        env = dict(os.environ if env is None else env)
        if env.get("IMG_ADVISOR_CONFIG", "").strip():
            env = {**read_config_file(Path(env["IMG_ADVISOR_CONFIG"].strip()).expanduser()), **env}
        db = Path(env["IMG_ADVISOR_DB"]).expanduser() if env.get("IMG_ADVISOR_DB") else default_db_path()
        kb = Path(env["IMG_ADVISOR_KB"]).expanduser() if env.get("IMG_ADVISOR_KB") else default_knowledge_dir()
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
                if value != default:  # the defaults are valid; `limits` is imported only to read another value
                    from limits import parse as parse_rate

                    parse_rate(value)
            except ValueError:
                raise SettingsError(f"{name}={value!r}: write it like 20/minute") from None
            rates[name] = value
        cooldown = env.get("IMG_ADVISOR_COOLDOWN_MINUTES", "").strip() or str(Limits.cooldown_minutes)
        if not cooldown.isdigit():
            raise SettingsError("IMG_ADVISOR_COOLDOWN_MINUTES must be a whole number of minutes")
        log_format = env.get("IMG_ADVISOR_LOG_FORMAT", "text").strip().lower() or "text"
        if log_format not in ("text", "json"):
            raise SettingsError("IMG_ADVISOR_LOG_FORMAT: use text or json")
        webhook = env.get("TELEGRAM_WEBHOOK_URL", "").strip() or None
        secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
        if webhook and not webhook.startswith("https://"):
            raise SettingsError("TELEGRAM_WEBHOOK_URL must be an https:// URL that Telegram can reach")
        if webhook and not (secret and re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret)):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET is required with a webhook: 16-256 letters, digits, _ or -")
        listen = env.get("TELEGRAM_WEBHOOK_LISTEN", "").strip() or "0.0.0.0:8443"
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError("TELEGRAM_WEBHOOK_LISTEN must look like 0.0.0.0:8443")
        return cls(
            log_format=log_format, telegram_webhook_url=webhook, telegram_webhook_secret=secret,
            telegram_webhook_listen=(host, int(port)),
            owners=owners, log_text=log_text == "on",
            limits=Limits(rates["IMG_ADVISOR_USER_RATE"], rates["IMG_ADVISOR_CHAT_RATE"], int(cooldown)),
            db_path=db, knowledge_dir=kb, log_level=level,
            log_level_set=bool(env.get("IMG_ADVISOR_LOG_LEVEL", "").strip()),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN", "").strip() or None,
            telegram_api_url=env.get("TELEGRAM_API_URL", "").strip() or None,
            telegram_rate_limiter=limiter == "on",
            discord_token=env.get("DISCORD_BOT_TOKEN", "").strip() or None,
            discord_api_url=env.get("DISCORD_API_URL", "").strip() or None,
            discord_gateway_url=env.get("DISCORD_GATEWAY_URL", "").strip() or None,
            discord_guild_id=int(guild) if guild else None,
        )
