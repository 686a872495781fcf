"""`surveybot doctor` against the Bot API double and the central double: a healthy
set-up, then each part broken in turn."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.cli.doctor import run_doctor
from bot.settings import Settings
from storage.store import Store
from tests.support.botapi_double import BotApiDouble
from tests.support.central_double import CentralDouble, Fault
from tests.support.harness import TOKEN

GROUP = -1001234567890
BOT_ID = int(TOKEN.split(":")[0])
CENTRAL_TOKEN = "central-secret-token"
ADMIN_WITH_TOPICS = {"status": "administrator", "can_be_edited": False, "is_anonymous": False,
                     "can_manage_chat": True, "can_delete_messages": True,
                     "can_manage_video_chats": True, "can_restrict_members": True,
                     "can_promote_members": False, "can_change_info": True,
                     "can_invite_users": True, "can_post_stories": False,
                     "can_edit_stories": False, "can_delete_stories": False,
                     "can_manage_topics": True}


@pytest.fixture
async def central() -> AsyncIterator[CentralDouble]:
    server = CentralDouble(token=CENTRAL_TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def healthy(tmp_path: Path, double: BotApiDouble, central: CentralDouble) -> Settings:
    database = tmp_path / "bot.sqlite3"
    await (await Store.open(database)).close()
    double.set_group(GROUP, title="Assistenza", forum=True)
    double.chat_members[(GROUP, BOT_ID)] = dict(ADMIN_WITH_TOPICS)
    return settings_for(tmp_path, double, central)


def settings_for(tmp_path: Path, double: BotApiDouble, central: CentralDouble,
                 **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": SecretStr(TOKEN), "telegram_api_url": double.root,
        "database": tmp_path / "bot.sqlite3", "code_secret": SecretStr("a-long-random-secret"),
        "assistance_chat_id": GROUP, "central_url": central.url,
        "central_token": SecretStr(CENTRAL_TOKEN),
    }
    values.update(overrides)
    return Settings(**values)


async def doctor(settings: Settings) -> tuple[int, dict[str, str]]:
    out = io.StringIO()
    status = await run_doctor(settings, out)
    lines = out.getvalue().splitlines()
    by_name = {line[2:].split(":", 1)[0]: line for line in lines}
    return status, by_name


async def test_a_healthy_set_up_passes_every_check(healthy: Settings) -> None:
    status, lines = await doctor(healthy)
    assert status == 0
    assert list(lines) == ["settings", "questionnaire", "database", "telegram", "webhook",
                           "assistance chat", "central database"]
    assert all(line.startswith("✓") for line in lines.values()), lines
    assert "@surveybot_test_bot" in lines["telegram"]
    assert "forum" in lines["assistance chat"]


async def test_parts_not_configured_are_skipped_not_failed(
        tmp_path: Path, healthy: Settings) -> None:
    settings = healthy.model_copy(update={"assistance_chat_id": None, "central_url": None})
    status, lines = await doctor(settings)
    assert status == 0
    assert lines["assistance chat"].startswith("– ")
    assert lines["central database"].startswith("– ")


async def test_a_plain_group_is_a_warning(healthy: Settings, double: BotApiDouble) -> None:
    double.set_group(GROUP, title="Assistenza", forum=False)
    double.chat_members[(GROUP, BOT_ID)] = {"status": "member"}
    status, lines = await doctor(healthy)
    assert status == 0
    assert lines["assistance chat"].startswith("⚠ ") and "not a forum" in lines["assistance chat"]


@pytest.mark.parametrize(("member", "says"), [
    ({"status": "left"}, "add it to the group"),
    ({"status": "member"}, "cannot manage topics"),
    ({**ADMIN_WITH_TOPICS, "can_manage_topics": False}, "cannot manage topics"),
])
async def test_a_bot_that_cannot_work_in_the_assistance_chat_fails(
        healthy: Settings, double: BotApiDouble, member: dict[str, Any], says: str) -> None:
    double.chat_members[(GROUP, BOT_ID)] = member
    status, lines = await doctor(healthy)
    assert status == 1
    assert lines["assistance chat"].startswith("✗ ") and says in lines["assistance chat"]


async def test_an_unknown_assistance_chat_fails(healthy: Settings, double: BotApiDouble) -> None:
    double.inject_error("getChat", 400, "Bad Request: chat not found")
    status, lines = await doctor(healthy)
    assert status == 1
    assert "Chat not found" in lines["assistance chat"]


async def test_a_refused_token_fails(healthy: Settings, double: BotApiDouble) -> None:
    double.inject_error("getMe", 401, "Unauthorized")
    status, lines = await doctor(healthy)
    assert status == 1
    assert lines["telegram"].startswith("✗ ") and "refused" in lines["telegram"]
    assert lines["assistance chat"].startswith("– ")


async def test_an_unreachable_telegram_fails(tmp_path: Path, healthy: Settings) -> None:
    settings = healthy.model_copy(update={"telegram_api_url": "http://127.0.0.1:9"})
    status, lines = await doctor(settings)
    assert status == 1
    assert lines["telegram"].startswith("✗ ") and "not reachable" in lines["telegram"]


async def test_a_set_webhook_is_reported(healthy: Settings, double: BotApiDouble) -> None:
    double.webhook_url = "https://bot.example.it/telegram"
    status, lines = await doctor(healthy)
    assert status == 0
    assert lines["webhook"].startswith("✓ ") and "bot.example.it" in lines["webhook"]


@pytest.mark.parametrize(("fault", "says"), [
    (Fault(status=401, body='{"message": "JWT invalid"}'), "SURVEYBOT_CENTRAL_TOKEN"),
    (Fault(status=404, body='{"message": "no table"}'), "no such table"),
    (Fault(status=503), "HTTP 503"),
])
async def test_a_central_database_that_refuses_fails(
        healthy: Settings, central: CentralDouble, fault: Fault, says: str) -> None:
    central.faults.append(fault)
    status, lines = await doctor(healthy)
    assert status == 1
    assert lines["central database"].startswith("✗ ") and says in lines["central database"]
    assert central.rows == {}  # the dry request wrote nothing


async def test_a_central_database_that_is_down_fails(
        healthy: Settings, central: CentralDouble) -> None:
    await central.go_down()
    status, lines = await doctor(healthy)
    assert status == 1
    assert "not reachable" in lines["central database"]


async def test_a_damaged_database_fails(healthy: Settings) -> None:
    healthy.database.write_bytes(b"garbage" * 1000)
    status, lines = await doctor(healthy)
    assert status == 1
    assert lines["database"].startswith("✗ ")


async def test_pending_migrations_are_a_warning(healthy: Settings) -> None:
    with sqlite3.connect(healthy.database) as db:
        db.execute("PRAGMA user_version = 1")
    db.close()
    status, lines = await doctor(healthy)
    assert status == 0
    assert lines["database"].startswith("⚠ ") and "migrations pending" in lines["database"]


async def test_a_bad_questionnaire_fails(tmp_path: Path, healthy: Settings) -> None:
    bad = tmp_path / "q.yaml"
    bad.write_text("id: broken\nitems: [\n")
    status, lines = await doctor(healthy.model_copy(update={"questionnaire": bad}))
    assert status == 1
    assert lines["questionnaire"].startswith("✗ ")
    assert "surveybot validate" in lines["questionnaire"]


async def test_a_default_code_secret_is_a_warning(healthy: Settings) -> None:
    settings = healthy.model_copy(update={"code_secret": SecretStr("change-me-in-production")})
    status, lines = await doctor(settings)
    assert status == 0
    assert lines["settings"].startswith("⚠ ")
