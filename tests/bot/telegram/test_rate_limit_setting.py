"""SURVEYBOT_MAX_MESSAGES_PER_SECOND: the Bot API limiter is a setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from telegram.ext import AIORateLimiter

from bot.runtime import open_services
from bot.settings import Settings, SettingsError, load_settings
from bot.telegram.app import build_application
from tests.support.harness import TOKEN


def test_default_is_telegrams_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SURVEYBOT_MAX_MESSAGES_PER_SECOND", raising=False)
    assert load_settings(env_file=None).max_messages_per_second == 30


@pytest.mark.parametrize(("raw", "expected"), [("0", 0.0), ("12.5", 12.5), ("100", 100.0)])
def test_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: float
) -> None:
    monkeypatch.setenv("SURVEYBOT_MAX_MESSAGES_PER_SECOND", raw)
    assert load_settings(env_file=None).max_messages_per_second == expected


def test_negative_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEYBOT_MAX_MESSAGES_PER_SECOND", "-1")
    with pytest.raises(SettingsError, match=r"^SURVEYBOT_MAX_MESSAGES_PER_SECOND='-1': "):
        load_settings(env_file=None)


@pytest.mark.parametrize(("rate", "limited"), [(0, False), (30, True), (5, True)])
async def test_the_application_gets_a_limiter_unless_zero(
    tmp_path: Path, rate: float, limited: bool
) -> None:
    settings = Settings(
        token=SecretStr(TOKEN), database=tmp_path / "bot.sqlite3",
        max_messages_per_second=rate,
    )
    services = await open_services(settings)
    try:
        app = build_application(services, token=TOKEN)
        limiter = app.bot.rate_limiter
        assert isinstance(limiter, AIORateLimiter) is limited
        assert (limiter is None) is not limited
    finally:
        await services.store.close()
