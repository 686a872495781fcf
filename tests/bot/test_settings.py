"""`load_settings`: SURVEYBOT_* from the environment and `.env`, every value
checked, a bad one a single line naming the setting (never showing a secret)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from bot.settings import Settings, SettingsError, load_settings

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def load(env: dict[str, str], file: Path | None = None) -> Settings:
    return load_settings(environ=env, env_file=file)


def test_defaults_without_any_variable() -> None:
    settings = load({"PATH": "/bin", "TOKEN": "not ours"})
    assert settings.token is None
    assert settings.database == Path("surveybot.sqlite3")
    assert settings.timezone == "Europe/Rome"
    assert settings.operators == []
    assert settings.max_messages_per_second == 30
    assert settings.code_secret.get_secret_value() == "change-me-in-production"


def test_every_kind_of_value_from_the_environment() -> None:
    settings = load({
        "SURVEYBOT_TOKEN": TOKEN,
        "SURVEYBOT_DATABASE": "/srv/bot.sqlite3",
        "SURVEYBOT_DEADLINE": "31/12/2099",
        "SURVEYBOT_TIMEZONE": "Europe/Rome",
        "SURVEYBOT_OPERATORS": "12, 34;56",
        "SURVEYBOT_COORDINATORS": "78",
        "SURVEYBOT_ASSISTANCE_CHAT_ID": "-1001234567890",
        "SURVEYBOT_SYNC_INTERVAL": "2.5",
        "SURVEYBOT_CENTRAL_URL": "https://db.example.it/rest/v1/",
        "SURVEYBOT_LOG_LEVEL": "debug",
        "SURVEYBOT_LOG_FORMAT": " JSON ",
        "SURVEYBOT_STARTUP_ATTEMPTS": "3",
    })
    assert isinstance(settings.token, SecretStr)
    assert settings.require_token() == TOKEN
    assert settings.database == Path("/srv/bot.sqlite3")
    assert settings.deadline == datetime(2099, 12, 31, 23, 59, tzinfo=ZoneInfo("Europe/Rome"))
    assert settings.operators == [12, 34, 56]
    assert settings.coordinators == [78]
    assert settings.assistance_chat_id == -1001234567890
    assert settings.sync_interval == 2.5
    assert settings.central_url == "https://db.example.it/rest/v1"
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.startup_attempts == 3


def test_names_are_matched_ignoring_case_as_pydantic_settings_did() -> None:
    assert load({"surveybot_timezone": "Europe/London"}).timezone == "Europe/London"


def test_the_env_file_under_the_environment_under_overrides(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# production\n"
        "export SURVEYBOT_TIMEZONE=Europe/London\n"
        "SURVEYBOT_OPERATORS='1,2'\n"
        'SURVEYBOT_CENTRAL_TOKEN="s3cr3t"  # the central token\n'
        "SURVEYBOT_SYNC_INTERVAL=10\n"
        "OTHER_APP=ignored\n",
        encoding="utf-8",
    )
    settings = load_settings(environ={"SURVEYBOT_OPERATORS": "3"}, env_file=env_file,
                             sync_interval=99)
    assert settings.timezone == "Europe/London"  # from the file
    assert settings.operators == [3]  # the environment wins over the file
    assert settings.sync_interval == 99  # an override wins over both
    assert settings.central_token is not None
    assert settings.central_token.get_secret_value() == "s3cr3t"


def test_a_missing_env_file_is_no_error(tmp_path: Path) -> None:
    assert load({}, tmp_path / "absent.env").timezone == "Europe/Rome"


def test_the_working_directory_env_file_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("SURVEYBOT_LOG_LEVEL=WARNING\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SURVEYBOT_LOG_LEVEL", raising=False)
    assert load_settings().log_level == "WARNING"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SURVEYBOT_DEADLINE", "tomorrow",
         "SURVEYBOT_DEADLINE='tomorrow': not a date (expected e.g. 31/12/2099, "),
        ("SURVEYBOT_OPERATORS", "12,abc",
         "SURVEYBOT_OPERATORS='12,abc': 'abc' is not a Telegram user id (expected e.g. "
         "12345678,87654321)"),
        ("SURVEYBOT_SYNC_INTERVAL", "soon", "SURVEYBOT_SYNC_INTERVAL='soon': input should be a "
         "valid number"),
        ("SURVEYBOT_SYNC_INTERVAL", "0", "SURVEYBOT_SYNC_INTERVAL='0': input should be greater "
         "than 0 (expected e.g. 30)"),
        ("SURVEYBOT_ASSISTANCE_CHAT_ID", "group", "SURVEYBOT_ASSISTANCE_CHAT_ID='group': input "
         "should be a valid integer"),
        ("SURVEYBOT_TIMEZONE", "Mars/Base", "SURVEYBOT_TIMEZONE='Mars/Base': not a known time "
         "zone"),
        ("SURVEYBOT_LOG_FORMAT", "xml", "SURVEYBOT_LOG_FORMAT='xml': input should be 'text' or "
         "'json'"),
        ("SURVEYBOT_CENTRAL_URL", "db.example.it", "SURVEYBOT_CENTRAL_URL='db.example.it': not "
         "an http(s) address"),
        ("SURVEYBOT_REMINDER_DAYS", "7,tre", "SURVEYBOT_REMINDER_DAYS='7,tre': must be whole "
         "days"),
        ("SURVEYBOT_STARTUP_ATTEMPTS", "50", "SURVEYBOT_STARTUP_ATTEMPTS='50': input should be "
         "less than or equal to 20"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(name: str, value: str,
                                                     expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load({name: value})
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_a_bad_secret_is_named_but_not_shown() -> None:
    with pytest.raises(SettingsError) as caught:
        load({"SURVEYBOT_WEBHOOK_SECRET": "", "SURVEYBOT_CODE_SECRET": "x" * 5,
              "SURVEYBOT_SYNC_INTERVAL": "-1"})
    assert str(caught.value).startswith("SURVEYBOT_SYNC_INTERVAL='-1'")
    with pytest.raises(SettingsError) as secret:
        load_settings(environ={}, env_file=None, central_token=12)
    assert str(secret.value).startswith("SURVEYBOT_CENTRAL_TOKEN")
    assert "12" not in str(secret.value)


def test_several_bad_values_are_counted() -> None:
    with pytest.raises(SettingsError, match=r"; 2 more bad settings$"):
        load({"SURVEYBOT_TIMEZONE": "x", "SURVEYBOT_SYNC_INTERVAL": "y",
              "SURVEYBOT_LOG_LEVEL": "z"})


def test_a_broken_env_file_line_is_named_without_its_text(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SURVEYBOT_TIMEZONE=Europe/Rome\nSURVEYBOT_TOKEN " + TOKEN + "\n",
                        encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load({}, env_file)
    assert str(caught.value) == f"{env_file}: line 2: expected NAME=value"


def test_settings_built_directly_take_only_their_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SURVEYBOT_TIMEZONE", "Europe/London")
    assert Settings().timezone == "Europe/Rome"
    assert Settings(timezone="Europe/Paris").timezone == "Europe/Paris"
