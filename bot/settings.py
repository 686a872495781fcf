"""One settings object, built once at start-up and passed down (never global)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")


def _id_list(value: object) -> object:
    if isinstance(value, str):
        return [int(part) for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SURVEYBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database: Path = Path("surveybot.sqlite3")
    questionnaire: Path | None = None
    deadline: datetime | None = None
    timezone: str = "Europe/Rome"
    code_secret: SecretStr = SecretStr("change-me-in-production")
    assistance_chat_id: int | None = None
    operators: Annotated[list[int], NoDecode] = Field(default_factory=list)
    coordinators: Annotated[list[int], NoDecode] = Field(default_factory=list)
    central_url: str | None = None
    central_token: SecretStr | None = None
    sync_interval: float = Field(default=30.0, gt=0)
    webhook_secret: SecretStr | None = None
    # Cap on all Bot API calls that carry a chat_id, across all chats together
    # (Telegram allows about 30 a second); 0 turns the limiter off, for a local
    # Bot API server or a load test.
    max_messages_per_second: float = Field(default=30.0, ge=0)

    @field_validator("operators", "coordinators", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        return _id_list(value)

    @field_validator("telegram_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def require_token(self) -> str:
        """The bot token, or a one-line error for the command line."""
        if self.token is None or not self.token.get_secret_value().strip():
            raise SystemExit("error: SURVEYBOT_TOKEN is not set (get one from @BotFather)")
        token = self.token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise SystemExit("error: SURVEYBOT_TOKEN is malformed (expected 123456:ABC-...)")
        return token

    # --- coordinators (reminders and broadcasts) ---
    # Days before the deadline a reminder goes out (0 = the morning of the last day).
    reminder_days: str = "14,7,3,1,0"
    # Seconds between two looks for due reminders.
    reminder_interval: float = 60.0
    # Messages per second of a broadcast (Telegram allows about 30 overall).
    broadcast_rate: float = 29.0
