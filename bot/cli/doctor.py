"""`surveybot doctor`: is this set-up ready to run? One line per check.

✓ passed, ✗ failed (with what to do), ⚠ works but worth a look, – skipped
(not configured). Exit 0 only when nothing failed. Read-only: it creates,
migrates and sends nothing (the central database gets an empty upsert).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.services.sync_loop import central_from_settings
from bot.settings import Settings, SettingsError
from conversations.schema import shipped_questionnaire_path
from conversations.validator import lint_file
from storage import db
from storage.sync import central_client

OK, FAIL, WARN, SKIP = "✓", "✗", "⚠", "–"
DEFAULT_SECRET = "change-me-in-production"
TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Check:
    mark: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.mark} {self.name}: {self.detail}"


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check settings, questionnaire, database, Telegram, assistance chat, "
                       "central database")
    parser.set_defaults(handler=lambda settings, _args: asyncio.run(run_doctor(settings)))


async def run_doctor(settings: Settings, out: TextIO = sys.stdout) -> int:
    failed = False
    for check in await diagnose(settings):
        print(check.line(), file=out)
        failed = failed or check.mark == FAIL
    return 1 if failed else 0


async def diagnose(settings: Settings) -> list[Check]:
    checks = [check_settings(settings), check_questionnaire(settings), check_database(settings)]
    checks.extend(await check_telegram(settings))
    checks.append(await check_central(settings))
    return checks


def check_settings(settings: Settings) -> Check:
    try:
        settings.require_token()
    except SettingsError as error:
        return Check(FAIL, "settings", str(error))
    if settings.code_secret.get_secret_value() == DEFAULT_SECRET:
        return Check(WARN, "settings", "SURVEYBOT_CODE_SECRET is the default: set a long random "
                     "value before issuing codes (changing it later invalidates them)")
    return Check(OK, "settings", "all valid")


def check_questionnaire(settings: Settings) -> Check:
    path = settings.questionnaire or shipped_questionnaire_path()
    problems = lint_file(path)
    if problems:
        return Check(FAIL, "questionnaire", f"{len(problems)} problems, the first: {problems[0]} "
                     f"(see `surveybot validate {path}`)")
    return Check(OK, "questionnaire", f"{path.name} is sound")


def check_database(settings: Settings) -> Check:
    path = settings.database
    latest = len(db.migrations())
    if not path.exists():
        if not path.parent.is_dir():
            return Check(FAIL, "database", f"{path}: its directory does not exist")
        return Check(WARN, "database", f"{path} does not exist yet: `run` creates it")
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return Check(FAIL, "database", f"{path}: the file or its directory is not writable")
    try:
        problems = db.integrity_problems(path)
        version = db.schema_version(path)
    except Exception as error:  # not SQLite, locked, unreadable
        return Check(FAIL, "database", f"{path}: {error} (restore a backup?)")
    if problems:
        return Check(FAIL, "database", f"{path}: integrity check failed ({problems[0]}): "
                     "restore a backup")
    if version > latest:
        return Check(FAIL, "database", f"{path}: schema {version} is newer than this "
                     f"surveybot's ({latest}): upgrade surveybot")
    if version < latest:
        return Check(WARN, "database", f"{path}: {latest - version} migrations pending (schema "
                     f"{version} of {latest}): `run` applies them; take a backup first")
    return Check(OK, "database", f"{path}: integrity ok, schema {version} (up to date)")


async def check_telegram(settings: Settings) -> list[Check]:
    if settings.token is None:
        return [Check(SKIP, "telegram", "no SURVEYBOT_TOKEN"),
                Check(SKIP, "assistance chat", "no SURVEYBOT_TOKEN")]
    try:
        token = settings.require_token()
    except SettingsError as error:
        return [Check(FAIL, "telegram", str(error)),
                Check(SKIP, "assistance chat", "Telegram not checked")]
    root = settings.telegram_api_url
    bot = Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
    try:
        await _timed(bot.initialize())  # getMe
    except InvalidToken:
        return [Check(FAIL, "telegram", "the token was refused: check it with @BotFather"),
                Check(SKIP, "assistance chat", "Telegram not checked")]
    except (NetworkError, TimeoutError) as error:
        return [Check(FAIL, "telegram", f"{root} is not reachable ({_why(error)})"),
                Check(SKIP, "assistance chat", "Telegram not checked")]
    try:
        checks = [Check(OK, "telegram", f"@{bot.username} answers at {root}")]
        checks.append(await _webhook(bot))
        checks.append(await check_assistance(bot, settings, bot.id))
    finally:
        await bot.shutdown()
    return checks


async def _webhook(bot: Bot) -> Check:
    try:
        info = await _timed(bot.get_webhook_info())
    except (TelegramError, TimeoutError) as error:
        return Check(FAIL, "webhook", f"getWebhookInfo failed ({_why(error)})")
    if not info.url:
        return Check(OK, "webhook", "none set: `run` uses long polling")
    if info.last_error_message:
        return Check(WARN, "webhook", f"{info.url}: Telegram's last error: "
                     f"{info.last_error_message} ({info.pending_update_count} updates waiting)")
    return Check(OK, "webhook", f"{info.url} ({info.pending_update_count} updates waiting)")


async def check_assistance(bot: Bot, settings: Settings, bot_id: int) -> Check:
    chat_id = settings.assistance_chat_id
    name = "assistance chat"
    if chat_id is None:
        return Check(SKIP, name, "SURVEYBOT_ASSISTANCE_CHAT_ID not set (/aiuto shows the phone "
                     "numbers)")
    try:
        chat = await _timed(bot.get_chat(chat_id))
        member = await _timed(bot.get_chat_member(chat_id, bot_id))
    except (TelegramError, TimeoutError) as error:
        return Check(FAIL, name, f"{chat_id}: {_why(error)} (add the bot to the group, then "
                     "check SURVEYBOT_ASSISTANCE_CHAT_ID)")
    if member.status not in ("member", "administrator", "creator"):
        return Check(FAIL, name, f"{chat.title or chat_id}: the bot is {member.status}, not a "
                     "member: add it to the group")
    if not chat.is_forum:
        return Check(WARN, name, f"{chat.title or chat_id}: not a forum: tickets come as cards in "
                     "one thread (turn on topics to give each ticket its own)")
    can_topics = isinstance(member, ChatMemberOwner) or (
        isinstance(member, ChatMemberAdministrator) and bool(member.can_manage_topics))
    if not can_topics:
        return Check(FAIL, name, f"{chat.title or chat_id}: a forum, but the bot cannot manage "
                     "topics: make it an administrator with 'Manage topics'")
    return Check(OK, name, f"{chat.title or chat_id}: forum, the bot manages topics")


async def check_central(settings: Settings) -> Check:
    name = "central database"
    central = central_from_settings(settings)
    if central is None:
        return Check(SKIP, name, "SURVEYBOT_CENTRAL_URL not set (no sync)")
    try:
        async with central_client(central) as client:
            # An upsert of no rows: the route, the table and the token are checked,
            # nothing is written.
            response = await client.post(central.endpoint, params={"on_conflict": "response_id"},
                                         content=b"[]", timeout=TIMEOUT)
    except httpx.HTTPError as error:
        return Check(FAIL, name, f"{settings.central_url} is not reachable ({_why(error)})")
    if response.is_success:
        return Check(OK, name, f"{central.endpoint} accepts upserts")
    if response.status_code in (401, 403):
        return Check(FAIL, name, f"{central.endpoint} refused the token (HTTP "
                     f"{response.status_code}): check SURVEYBOT_CENTRAL_TOKEN")
    if response.status_code == 404:
        return Check(FAIL, name, f"{central.endpoint}: no such table (HTTP 404): create it with "
                     "docs/central.sql or check SURVEYBOT_CENTRAL_URL")
    return Check(FAIL, name, f"{central.endpoint} answered HTTP {response.status_code}")


async def _timed(call: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(call, TIMEOUT)


def _why(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(text)

