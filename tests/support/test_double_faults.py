"""The double's injected faults and its strictness on reply keyboards, seen by PTB."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, ReplyKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest

from tests.support.botapi_double import BotApiDouble

CHAT = 77


@pytest.fixture
async def bot(double: BotApiDouble) -> AsyncIterator[Bot]:
    double.user_sends(CHAT, "ciao")
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(double.token, base_url=double.root + "/bot", request=request) as client:
        yield client


async def test_each_fault_raises_what_telegram_would_and_changes_nothing(
    double: BotApiDouble, bot: Bot
) -> None:
    double.inject_timeout("sendMessage", delay=0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "a")
    double.inject_disconnect("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "b")
    double.inject_server_error("sendMessage", status=503)
    with pytest.raises(NetworkError, match="Service Unavailable"):
        await bot.send_message(CHAT, "c")
    double.inject_retry_after("sendMessage", 3)
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "d")
    double.inject_malformed("sendMessage", body=b"<html>")
    with pytest.raises(TelegramError):
        await bot.send_message(CHAT, "e")
    double.inject_malformed("sendMessage")
    with pytest.raises(KeyError):  # {"ok": true} without "result"
        await bot.send_message(CHAT, "f")
    assert double.texts(CHAT) == []
    await bot.send_message(CHAT, "g")  # the faults are used up
    assert double.texts(CHAT) == ["g"]


async def test_faults_apply_to_the_chosen_method_and_chat_only(
    double: BotApiDouble, bot: Bot
) -> None:
    double.inject_server_error("editMessageText", times=2, chat_id=CHAT + 1)
    message = await bot.send_message(CHAT, "a")
    await bot.edit_message_text("b", CHAT, message.message_id)
    assert double.pending_faults() == 2
    double.clear_faults()
    assert double.pending_faults() == 0


async def test_reply_keyboards_are_checked_like_telegram(double: BotApiDouble, bot: Bot) -> None:
    for markup in (
        {"keyboard": [[{"text": ""}]]},
        {"keyboard": [[{"label": "x"}]]},
        {"keyboard": [["ok"]], "is_persistent": "yes"},
        {"remove_keyboard": False},
    ):
        with pytest.raises(BadRequest), pytest.warns(UserWarning):  # a raw call, on purpose
            await bot.do_api_request(
                "sendMessage", api_kwargs={"chat_id": CHAT, "text": "x", "reply_markup": markup}
            )
    keys = ReplyKeyboardMarkup([["⬅️ Indietro"]], is_persistent=True, resize_keyboard=True)
    await bot.send_message(CHAT, "x", reply_markup=keys)
    assert double.keyboard(CHAT) == [["⬅️ Indietro"]]


async def test_chat_calls_count_what_telegram_limits(double: BotApiDouble, bot: Bot) -> None:
    message = await bot.send_message(CHAT, "a")
    await bot.edit_message_text("b", CHAT, message.message_id)
    await bot.get_me()
    assert double.calls_in_chat(CHAT) == ["sendMessage", "editMessageText"]
