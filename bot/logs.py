"""Logging for operations: level, text or JSON lines, a size-capped file,
no secret or access code at any level, and no flood of identical errors.

Filters sit on the handler, so they see every record that reaches it,
whichever library logged it (httpx logs request URLs, which carry the token).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.settings import Settings
from conversations import access_codes

REDACTED = "[redacted]"
BACKUP_FILES = 5
# Anything shaped like a bot token, even one we were not given.
_TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}")
# Access codes as typed: K7MQ-X9PR-4T, k7mqx9pr4t, "K7MQ X9PR 4T".
_CODE_SHAPE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{4}[- .]?[A-Za-z0-9]{4}[- .]?[A-Za-z0-9]{2}"
                         r"(?![A-Za-z0-9])")
_RAW_DATA = "Received data was"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text without the given secrets, token-shaped strings or access codes."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _TOKEN_SHAPE.sub(REDACTED, text)
    return _CODE_SHAPE.sub(_code_or_not, text)


def _code_or_not(match: re.Match[str]) -> str:
    word = match.group(0)
    form = access_codes.check(word)
    has_digit = any(ch.isdigit() for ch in word)
    has_letter = any(ch.isalpha() for ch in word)
    # A mistyped code is one character off a real one: as secret as the code.
    # Plain words (no digit) are only taken for a code when they check out.
    if form is access_codes.CodeCheck.VALID_FORM and has_letter:
        return REDACTED
    if form is access_codes.CodeCheck.MISTYPED and has_digit and has_letter:
        return REDACTED
    return word


class RedactingFilter(logging.Filter):
    """Renders each record's message (and traceback) once, redacted."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.name.startswith("telegram") and _RAW_DATA in message:
            # PTB logs a whole update it could not read: personal data.
            message = message.split(_RAW_DATA)[0] + "(the update is not logged)"
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        record.exc_info = None  # the formatter must not render the raw one again
        return True


class RepeatFilter(logging.Filter):
    """At most `burst` identical warnings or errors per `window` seconds; the
    next one let through says how many were left out."""

    def __init__(self, burst: int = 3, window: float = 60.0) -> None:
        super().__init__()
        self.burst, self.window = burst, window
        self._seen: dict[tuple[str, int, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.levelno, f"{record.msg!s:.200}{kind}")
        now = time.monotonic()
        start, shown, dropped = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window:
            start, shown = now, 0
        if shown >= self.burst:
            self._seen[key] = (start, shown, dropped + 1)
            return False
        if dropped:
            record.msg = f"{record.msg} ({dropped} identical messages left out)"
        self._seen[key] = (start, shown + 1, 0)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.token, settings.code_secret, settings.central_token,
              settings.webhook_secret]
    return [value.get_secret_value() for value in values if value is not None]


def handler_for(settings: Settings) -> logging.Handler:
    handler: logging.Handler
    if settings.log_file is not None:
        handler = logging.handlers.RotatingFileHandler(
            settings.log_file, maxBytes=settings.log_max_bytes, backupCount=BACKUP_FILES,
            encoding="utf-8",
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json"
                         else logging.Formatter(_TEXT_FORMAT))
    handler.addFilter(RepeatFilter())
    handler.addFilter(RedactingFilter(secrets_of(settings)))
    return handler


def configure(settings: Settings) -> None:
    """Replace the root logger's handlers with one built from the settings."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler_for(settings))
    root.setLevel(settings.log_level)
    # httpx logs every request at INFO: noise, and the URL carries the token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpcore").setLevel(max(logging.WARNING, root.level))
