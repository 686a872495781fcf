"""Tests of the Telegram Bot API test double (tests/botapi_double.py)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.support.botapi_double import BotApiDouble
from tests.support.harness import settle

USER = 42
LONG_POLL = 300  # seconds: far longer than any test, so only an update can end a poll
OTHER_USER = 43
GROUP = -1001234567890
REPORT_BYTES = b"comune;risposte\nBergamo;12\n"

App = Application[Any, Any, Any, Any, Any, Any]


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    api = BotApiDouble()
    await api.start()
    yield api
    await api.stop()


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Sì", callback_data="yes"),
                InlineKeyboardButton("No", callback_data="no"),
            ],
            [InlineKeyboardButton("Sito", url="https://example.org")],
        ]
    )
    await update.effective_message.reply_text(
        f"Ciao <b>{update.effective_user.first_name}</b>! Partecipi al questionario?",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )


async def _report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_document(
        io.BytesIO(REPORT_BYTES), filename="report.csv", caption="Il tuo report"
    )


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(
        f"Eco: {update.effective_message.text}",
        reply_markup=ReplyKeyboardMarkup([["A", "B"], ["Annulla"]]),
    )


async def _on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    telegram_file = await message.document.get_file()
    data = await telegram_file.download_as_bytearray()
    await message.reply_text(f"Ricevuti {len(data)} byte: {bytes(data[:8])!r}")


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Ricevuto")
    await query.edit_message_text(f"Hai scelto: {query.data}")


@pytest.fixture
async def app(double: BotApiDouble) -> AsyncIterator[App]:
    application = (
        ApplicationBuilder()
        .token(double.token)
        .base_url(double.root + "/bot")
        .base_file_url(double.root + "/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(CommandHandler("report", _report))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    application.add_handler(MessageHandler(filters.Document.ALL, _on_document))
    application.add_handler(CallbackQueryHandler(_on_button))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    yield application
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


def _seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 deprecates the int form of retry_after
        warnings.simplefilter("ignore")
        return _seconds(exc.retry_after)


# --------------------------------------------------------------------------------------------
# 1. Real python-telegram-bot Application round trip
# --------------------------------------------------------------------------------------------


async def test_application_round_trip(double: BotApiDouble, app: App) -> None:
    # Command -> message with inline keyboard (HTML parsed like Telegram does).
    double.user_sends(USER, "/start", first_name="Giulia")
    await settle(double, app)
    assert double.texts(USER) == ["Ciao Giulia! Partecipi al questionario?"]
    welcome = double.last(USER)
    assert welcome["entities"] == [{"type": "bold", "offset": 5, "length": 6}]
    assert double.buttons(welcome) == [[("Sì", "yes"), ("No", "no")], [("Sito", "https://example.org")]]

    # Plain text -> echo with a reply keyboard.
    double.user_sends(USER, "buongiorno")
    await settle(double, app)
    assert double.texts(USER)[-1] == "Eco: buongiorno"
    assert double.keyboard(USER) == [["A", "B"], ["Annulla"]]
    assert double.last(USER)["reply_keyboard"]["keyboard"][1] == [{"text": "Annulla"}]

    # Button press -> callback answer + edit (which drops the inline keyboard).
    query_id = double.user_presses(USER, welcome["message_id"], "yes")
    await settle(double, app)
    edited = double.sent(USER)[0]
    assert edited["message_id"] == welcome["message_id"]
    assert edited["text"] == "Hai scelto: yes"
    assert "edit_date" in edited
    assert double.buttons(edited) == []
    assert len(double.callback_answers) == 1
    assert double.callback_answers[0]["callback_query_id"] == query_id
    assert double.callback_answers[0]["text"] == "Ricevuto"
    assert double.texts(USER) == ["Hai scelto: yes", "Eco: buongiorno"]

    # Document upload (multipart) from the bot.
    double.user_sends(USER, "/report")
    await settle(double, app)
    report = double.last(USER)
    assert report["document"]["file_name"] == "report.csv"
    assert report["caption"] == "Il tuo report"
    assert double.document_bytes(report) == REPORT_BYTES

    # Document from the user, downloaded by the bot through getFile + base_file_url.
    double.user_sends_media(USER, "document", content=b"%PDF-1.7 hello")
    await settle(double, app)
    assert double.texts(USER)[-1] == "Ricevuti 14 byte: b'%PDF-1.7'"

    methods = [name for name, _ in double.requests]
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage", "answerCallbackQuery",
            "editMessageText", "sendDocument", "getFile"} <= set(methods)
    assert double.errors == []
    assert double.open_connections <= 4  # httpx keeps connections alive


async def test_group_commands_topics_and_copies(
    double: BotApiDouble, app: App
) -> None:
    async with double.make_bot() as bot:
        topic = await bot.create_forum_topic(GROUP, "Questionario")
        double.user_sends(
            USER, "/start@surveybot_test_bot", chat_id=GROUP, chat_type="supergroup",
            message_thread_id=topic.message_thread_id,
        )
        await settle(double, app)
        reply = double.last(GROUP)
        assert reply["message_thread_id"] == topic.message_thread_id
        assert reply["is_topic_message"] is True

        copied = await bot.copy_message(USER, GROUP, reply["message_id"])
        assert double.message(USER, copied.message_id)["text"] == reply["text"]
        forwarded = await bot.forward_message(OTHER_USER, GROUP, reply["message_id"])
        assert forwarded.forward_origin is not None
        assert double.texts(OTHER_USER) == [reply["text"]]

        await bot.close_forum_topic(GROUP, topic.message_thread_id)
        with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
            await bot.send_message(GROUP, "x", message_thread_id=topic.message_thread_id)
        await bot.reopen_forum_topic(GROUP, topic.message_thread_id)

        await bot.delete_message(USER, copied.message_id)
        assert double.sent(USER) == []


# --------------------------------------------------------------------------------------------
# 2. Errors with real HTTP statuses
# --------------------------------------------------------------------------------------------


async def test_errors_raise_the_right_ptb_exceptions(double: BotApiDouble) -> None:
    async with double.make_bot() as bot:
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(USER, "x" * 4097)
        await bot.send_message(USER, "<i>" + "x" * 4096 + "</i>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(USER, "  \n ")
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                USER, "ciao",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("a", callback_data="x" * 65)]]
                ),
            )
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(USER, "<b>grassetto", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)reserved and must be escaped"):
            await bot.send_message(USER, "Fine.", parse_mode=ParseMode.MARKDOWN_V2)

        message = await bot.send_message(USER, "ciao")
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("ciao", chat_id=USER, message_id=message.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=USER, message_id=9999)
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("12345")

        double.block_user(OTHER_USER)
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_message(OTHER_USER, "ciao")
        assert double.sent(OTHER_USER) == []
        assert double.texts(USER) == ["x" * 4096, "ciao"]


async def test_rate_limits_answer_429(double: BotApiDouble) -> None:
    async with (
        BotApiDouble(enforce_limits=True, group_per_minute=2) as limited,
        limited.make_bot() as bot,
    ):
        first = await bot.send_message(USER, "uno")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(USER, "due")
        assert _retry_after(info.value) >= 1
        assert limited.violations == 1
        assert limited.texts(USER) == ["uno"]  # the refused message was not delivered
        await bot.edit_message_text("uno!", chat_id=USER, message_id=first.message_id)  # edits ok
        await bot.send_message(OTHER_USER, "altra chat")  # other chats are independent

        await bot.send_message(GROUP, "g1")
        await bot.send_message(GROUP, "g2")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(GROUP, "g3")
        assert 1 <= _retry_after(info.value) <= 60
        assert limited.violations == 2
        assert len(limited.send_times[GROUP]) == 2

    # Forced 429 on the unlimited double.
    async with double.make_bot() as bot:
        double.set_rate_limited(7)
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(USER, "x")
        assert _retry_after(info.value) == 7
        await bot.send_message(USER, "y")
        assert double.texts(USER) == ["y"] and double.violations == 1


async def test_raw_http_error_bodies_and_encodings(double: BotApiDouble) -> None:
    async with httpx.AsyncClient(base_url=double.root) as client:
        response = await client.post("/bot999:WRONG/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

        response = await client.post(f"/bot{double.token}/noSuchMethod")
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}

        response = await client.post(
            f"/bot{double.token}/SENDMESSAGE", json={"chat_id": USER, "text": ""}
        )
        assert response.status_code == 400
        assert response.json() == {
            "ok": False, "error_code": 400, "description": "Bad Request: message text is empty"
        }

        response = await client.post(
            f"/bot{double.token}/sendMessage",
            data={
                "chat_id": str(USER),
                "text": "modulo",
                "reply_markup": '{"inline_keyboard": []}',
            },
        )
        assert response.status_code == 200 and response.json()["result"]["text"] == "modulo"

        response = await client.post(
            f"/bot{double.token}/sendDocument",
            data={"chat_id": str(USER), "caption": "<b>dati</b>", "parse_mode": "HTML"},
            files={"document": ("dati è.txt", b"abc", "text/plain")},
        )
        result = response.json()["result"]
        assert result["document"]["file_name"] == "dati è.txt"
        assert result["caption"] == "dati"
        assert double.files[result["document"]["file_id"]] == b"abc"
        assert double.requests[-1][0] == "sendDocument"
        assert double.requests[-1][1]["chat_id"] == USER

        double.set_rate_limited(3)
        response = await client.post(
            f"/bot{double.token}/sendMessage", json={"chat_id": 1, "text": "x"}
        )
        assert response.status_code == 429
        assert response.json() == {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }
        assert double.open_connections == 1  # keep-alive: one connection for all requests


# --------------------------------------------------------------------------------------------
# 3. Long polling
# --------------------------------------------------------------------------------------------


async def test_get_updates_long_poll_returns_early(double: BotApiDouble) -> None:
    url = f"/bot{double.token}/getUpdates"
    # A poll nobody wakes would be held for LONG_POLL seconds: the test would hang, not pass.
    async with httpx.AsyncClient(base_url=double.root, timeout=LONG_POLL + 30) as client:
        poll = asyncio.create_task(client.post(url, json={"timeout": LONG_POLL}))
        await double.wait_for(lambda: len(double.calls("getUpdates")) == 1)
        assert not poll.done()  # held open while there is nothing to deliver
        sent = double.user_sends(USER, "/start")
        response = await poll
        updates = response.json()["result"]
        assert [u["message"]["text"] for u in updates] == ["/start"]
        assert updates[0]["message"]["message_id"] == sent["message_id"]
        assert updates[0]["message"]["entities"] == [
            {"type": "bot_command", "offset": 0, "length": 6}
        ]

        # Not confirmed yet: delivered again; the offset confirms and drops it.
        again = (await client.post(url, json={"timeout": 0})).json()["result"]
        assert again == updates
        next_offset = updates[-1]["update_id"] + 1
        assert (await client.post(url, json={"offset": next_offset, "timeout": 0})).json() == {
            "ok": True, "result": []
        }

        # limit, and an empty long poll that times out.
        for text in ("a", "b", "c"):
            double.user_sends(USER, text)
        limited = (await client.post(url, json={"offset": next_offset, "limit": 2})).json()
        assert [u["message"]["text"] for u in limited["result"]] == ["a", "b"]
        last_id = double.user_presses(USER, 1, "yes")
        everything = (await client.post(url, json={"offset": next_offset})).json()["result"]
        assert everything[-1]["callback_query"]["id"] == last_id
        final_offset = everything[-1]["update_id"] + 1
        empty = await client.post(url, json={"offset": final_offset, "timeout": 0.2})
        assert empty.json() == {"ok": True, "result": []}


async def test_superseded_poll_gets_conflict(double: BotApiDouble) -> None:
    url = f"/bot{double.token}/getUpdates"
    timeout = LONG_POLL + 30
    async with httpx.AsyncClient(base_url=double.root, timeout=timeout) as first, \
            httpx.AsyncClient(base_url=double.root, timeout=timeout) as second:
        older = asyncio.create_task(first.post(url, json={"timeout": LONG_POLL}))
        await double.wait_for(lambda: len(double.calls("getUpdates")) == 1)  # parked first
        newer = asyncio.create_task(second.post(url, json={"timeout": LONG_POLL}))
        old_response = await older
        assert old_response.status_code == 409
        await double.wait_for(lambda: len(double.calls("getUpdates")) == 2)
        double.user_sends(USER, "ciao")
        new_response = await newer
        assert new_response.json()["result"][0]["message"]["text"] == "ciao"


async def test_bot_helpers_against_double(double: BotApiDouble) -> None:
    bot: Bot
    async with double.make_bot() as bot:
        me = await bot.get_me()
        assert me.username == "surveybot_test_bot" and me.id == 123456 and me.is_bot
        await bot.set_my_commands([("start", "Inizia"), ("report", "Report")], language_code="it")
        commands = await bot.get_my_commands(language_code="it")
        assert [c.command for c in commands] == ["start", "report"]
        assert double.my_commands(language_code="it")[1] == {
            "command": "report", "description": "Report"
        }
        chat = await bot.get_chat(USER)
        assert chat.type == "private"
        member = await bot.get_chat_member(GROUP, USER)
        assert member.status == "member"
        assert await bot.send_chat_action(USER, "typing")
        png_header = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8 + (1280).to_bytes(4) + (720).to_bytes(4)
        photo = await bot.send_photo(USER, io.BytesIO(png_header))
        assert photo.photo[-1].width == 1280 and photo.photo[-1].height == 720
        assert double.document_bytes(double.last(USER)).startswith(b"\x89PNG")


async def test_groups_are_set_up_with_or_without_topics(double: BotApiDouble) -> None:
    async with double.make_bot() as bot:
        double.set_group(GROUP, title="Assistenza", forum=True)
        chat = await bot.get_chat(GROUP)
        assert (chat.type, chat.title, chat.is_forum) == ("supergroup", "Assistenza", True)
        double.set_group(GROUP)
        chat = await bot.get_chat(GROUP)
        assert (chat.type, chat.title, bool(chat.is_forum)) == ("supergroup", "Assistenza", False)
