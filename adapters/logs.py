"""Logging for the img-advisor process: one line per event, secrets redacted everywhere.

Platform libraries log URLs that contain the bot token (python-telegram-bot at DEBUG
level puts it in its base URL). `RedactSecrets` is installed on every root handler and
replaces each configured secret in every record, whatever logger or level it came from.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from types import TracebackType

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replace secrets (tokens) in log messages and tracebacks."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        parts: set[str] = set()
        for secret in secrets:
            if secret:
                parts.add(secret)
                # Telegram tokens are "<bot id>:<secret>": the secret half alone must not leak either
                if ":" in secret:
                    parts.add(secret.split(":", 1)[1])
        self.secrets = sorted((p for p in parts if len(p) >= 8), key=len, reverse=True)

    def clean(self, text: str) -> str:
        """`text` with every secret replaced by [redacted]."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            cleaned = self.clean(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.clean(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, secrets: Iterable[str] = (), fmt: str = "text") -> None:
    """Log to stderr at `level`, one line per event (JSON if asked), secrets redacted everywhere."""
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
    # httpx logs every request URL at INFO, and Telegram's URLs contain the token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if redact.secrets:
        sys.excepthook = _redacting_hook(redact)


def _redacting_hook(redact: RedactSecrets) -> Callable[[type[BaseException], BaseException, TracebackType | None], None]:
    """An uncaught exception's traceback, printed with secrets redacted (python-telegram-bot puts the token
    in `InvalidToken` messages)."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(redact.clean("".join(traceback.format_exception(kind, error, tb))))

    return hook
