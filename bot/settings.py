"""One settings object, built once at start-up and passed down (never global).

`load_settings()` is what commands call: it reads `SURVEYBOT_*` from the
environment and from `.env` in the working directory (the environment wins),
every setting is checked at once, and a bad one becomes a `SettingsError`
whose message is the one line the command prints (the setting's name, what is
wrong, an example). `Settings(...)` itself takes only the values it is given.

Our own loader instead of pydantic-settings: the same names, precedence and
.env syntax, for about 5 MiB less resident memory in `surveybot run`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.envfile import EnvFileError, read_env_file
from conversations.parsing import InputError, parse_date

ENV_PREFIX = "SURVEYBOT_"
ENV_FILE = Path(".env")

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
# A deadline given as a day only ends that evening, like `/proroga 31/12/2099`.
END_OF_DAY = time(23, 59)

# What a good value looks like, for the one-line error.
EXAMPLES: dict[str, str] = {
    "deadline": "31/12/2099, 31/12/2099 23:59 or 2099-12-31T23:59:00+01:00",
    "timezone": "Europe/Rome",
    "operators": "12345678,87654321",
    "coordinators": "12345678,87654321",
    "sync_interval": "30",
    "reminder_days": "14,7,3,1,0",
    "reminder_interval": "60",
    "broadcast_rate": "29",
    "assistance_chat_id": "-1001234567890",
    "log_level": "INFO",
    "log_format": "text",
    "log_file": "/var/log/surveybot/bot.log",
    "log_max_bytes": "10000000",
    "wrong_codes_per_hour": "100",
    "startup_attempts": "6",
    "telegram_api_url": "https://api.telegram.org",
    "central_url": "https://db.example.it/rest/v1",
}
SECRET_FIELDS = frozenset({"token", "code_secret", "central_token", "webhook_secret"})


class SettingsError(Exception):
    """A setting that cannot be used; str() is the one line to print."""


def _id_list(value: object) -> object:
    if isinstance(value, str):
        ids = []
        for part in re.split(r"[,;\s]+", value):
            if not part:
                continue
            if not re.fullmatch(r"-?\d{1,20}", part):
                raise ValueError(f"{part!r} is not a Telegram user id")
            ids.append(int(part))
        return ids
    if isinstance(value, int):
        return [value]
    return value


def parse_deadline_setting(text: str) -> datetime:
    """The forms people use with `/proroga`: '31/12/2099', '31/12/2099 23:59',
    '31 dicembre 2099', ISO 8601 ('2099-12-31T23:59:00+01:00'). Naive results
    get the time zone setting later."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("empty")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    day_text, when = text, END_OF_DAY
    head, _, tail = text.rpartition(" ")
    if head and (match := _TIME.match(tail)):
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise ValueError(f"{tail!r} is not a time")
        day_text, when = head, time(hour, minute)
    try:
        day: date = parse_date(day_text)
    except InputError:
        raise ValueError("not a date") from None
    return datetime.combine(day, when)


class Settings(BaseModel):
    # Defaults are checked too, as pydantic-settings did; unknown names are ignored.
    model_config = ConfigDict(extra="ignore", validate_default=True)

    token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database: Path = Path("surveybot.sqlite3")
    questionnaire: Path | None = None
    deadline: datetime | None = None
    timezone: str = "Europe/Rome"
    code_secret: SecretStr = SecretStr("change-me-in-production")
    assistance_chat_id: int | None = None
    operators: list[int] = Field(default_factory=list)
    coordinators: list[int] = Field(default_factory=list)
    central_url: str | None = None
    central_token: SecretStr | None = None
    sync_interval: float = Field(default=30.0, gt=0)
    webhook_secret: SecretStr | None = None
    # Cap on all Bot API calls that carry a chat_id, across all chats together
    # (Telegram allows about 30 a second); 0 turns the limiter off, for a local
    # Bot API server or a load test.
    max_messages_per_second: float = Field(default=30.0, ge=0)

    # --- operations ---
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    log_file: Path | None = None
    # Size at which the log file rotates (five old files are kept).
    log_max_bytes: int = Field(default=10_000_000, ge=10_000)
    # Wrong access codes per hour across all users before new attempts wait.
    wrong_codes_per_hour: int = Field(default=100, ge=1)
    # Tries to reach Telegram at start (backoff 1, 2, 4... s, at most 30 s apart).
    startup_attempts: int = Field(default=6, ge=1, le=20)

    @field_validator("operators", "coordinators", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        return _id_list(value)

    @field_validator("telegram_api_url", "central_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("not an http(s) address")
        return value.rstrip("/")

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_deadline_setting(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known time zone") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("reminder_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError("must be whole days, comma-separated")
        return value

    @model_validator(mode="after")
    def _deadline_zone(self) -> Settings:
        if self.deadline is not None and self.deadline.tzinfo is None:
            self.deadline = self.deadline.replace(tzinfo=ZoneInfo(self.timezone))
        return self

    def require_token(self) -> str:
        """The bot token, or a one-line error for the command line."""
        if self.token is None or not self.token.get_secret_value().strip():
            raise SettingsError("SURVEYBOT_TOKEN is not set (get one from @BotFather)")
        token = self.token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise SettingsError("SURVEYBOT_TOKEN is malformed (expected 123456:ABC-...)")
        return token

    def lock_path(self) -> Path:
        """The file a running bot holds locked (restore refuses while it is held)."""
        return self.database.with_name(self.database.name + ".lock")

    # --- coordinators (reminders and broadcasts) ---
    # Days before the deadline a reminder goes out (0 = the morning of the last day).
    reminder_days: str = "14,7,3,1,0"
    # Seconds between two looks for due reminders.
    reminder_interval: float = Field(default=60.0, gt=0)
    # Messages per second of a broadcast (Telegram allows about 30 overall).
    broadcast_rate: float = Field(default=29.0, gt=0, le=30)


def load_settings(
    *, environ: Mapping[str, str] | None = None, env_file: Path | None = ENV_FILE,
    **overrides: Any,
) -> Settings:
    """Settings from `.env`, then the environment, then `overrides`, each over the
    one before (names are matched ignoring case); a bad one is a `SettingsError`.
    `environ` defaults to the process environment; `env_file=None` reads no file."""
    environ = os.environ if environ is None else environ
    try:
        from_file = read_env_file(env_file, environ) if env_file is not None else {}
    except EnvFileError as error:
        raise SettingsError(str(error)) from None
    values: dict[str, Any] = {**_ours(from_file), **_ours(environ), **overrides}
    try:
        return Settings(**values)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def _ours(variables: Mapping[str, str]) -> dict[str, str]:
    """Field name -> raw text of the SURVEYBOT_* variables naming a setting."""
    fields = Settings.model_fields
    found: dict[str, str] = {}
    for name, value in variables.items():
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and (field := upper[len(ENV_PREFIX):].lower()) in fields:
            found[field] = value
    return found


def describe(error: ValidationError) -> str:
    """The first problem as one line: the setting, what is wrong, an example."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    name = f"SURVEYBOT_{field.upper()}"
    reason = str(first.get("msg", "invalid"))
    reason = reason.removeprefix("Value error, ")
    reason = reason[0].lower() + reason[1:] if reason else "invalid"
    shown = "" if field in SECRET_FIELDS else first.get("input")
    value = f"={shown!r}" if isinstance(shown, str) else ""
    example = EXAMPLES.get(field)
    hint = f" (expected e.g. {example})" if example else ""
    more = len(error.errors()) - 1
    others = f"; {more} more bad setting{'s' if more > 1 else ''}" if more > 0 else ""
    return f"{name}{value}: {reason}{hint}{others}"
