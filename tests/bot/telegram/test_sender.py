"""The one sender against the Bot API double over HTTP: retries for what matters,
cosmetic calls that never raise, no empty and no unbalanced message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.render.presenter import Button, Screen, split_text
from bot.telegram.sender import (
    RetryPolicy,
    cosmetic,
    delete_message,
    edit_screen,
    merge,
    remove_keyboard,
    send_screen,
)
from tests.support.botapi_double import NOT_MODIFIED, BotApiDouble

CHAT = 4242


@pytest.fixture
async def bot(double: BotApiDouble) -> AsyncIterator[Bot]:
    double.user_sends(CHAT, "ciao")  # the chat exists
    async with double.make_bot() as client:
        yield client


class Pauses:
    """An injected sleep: records the pauses instead of waiting them."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)


def policy(pauses: Pauses, attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, backoff=0.25, max_pause=30.0, sleep=pauses)


@pytest.mark.parametrize(
    "inject",
    [
        lambda d: d.inject_server_error("sendMessage", times=2),
        lambda d: d.inject_disconnect("sendMessage", times=2),
        lambda d: d.inject_malformed("sendMessage", times=2),
        lambda d: d.inject_malformed("sendMessage", times=2, body=b"not json"),
    ],
    ids=["500", "dropped", "no result", "not json"],
)
async def test_what_matters_is_retried_with_growing_pauses(
    double: BotApiDouble, bot: Bot, inject: Callable[[BotApiDouble], None]
) -> None:
    inject(double)
    pauses = Pauses()
    message = await send_screen(bot, CHAT, Screen("Domanda"), policy=policy(pauses))
    assert message.text == "Domanda"
    assert pauses.seen == [0.25, 0.5]
    assert double.texts(CHAT) == ["Domanda"]


async def test_retry_after_is_honoured(double: BotApiDouble, bot: Bot) -> None:
    double.inject_retry_after("sendMessage", 7)
    pauses = Pauses()
    await send_screen(bot, CHAT, Screen("Domanda"), policy=policy(pauses))
    assert pauses.seen == [pytest.approx(7.1)]  # retry_after and a little more


async def test_retries_are_bounded(double: BotApiDouble, bot: Bot) -> None:
    double.inject_server_error("sendMessage", times=10)
    pauses = Pauses()
    with pytest.raises(NetworkError):
        await send_screen(bot, CHAT, Screen("Domanda"), policy=policy(pauses, attempts=3))
    assert len(pauses.seen) == 2
    assert double.pending_faults() == 7
    assert double.texts(CHAT) == []


async def test_a_too_long_retry_after_gives_up(double: BotApiDouble, bot: Bot) -> None:
    double.inject_retry_after("sendMessage", 3600)
    with pytest.raises(RetryAfter):
        await send_screen(bot, CHAT, Screen("Domanda"), policy=policy(Pauses()))


async def test_telegram_refusals_are_not_retried(double: BotApiDouble, bot: Bot) -> None:
    double.inject_error("sendMessage", 400, "Bad Request: chat not found", times=3)
    pauses = Pauses()
    with pytest.raises(BadRequest):
        await send_screen(bot, CHAT, Screen("Domanda"), policy=policy(pauses))
    assert pauses.seen == []


async def test_no_message_is_ever_sent_empty(double: BotApiDouble, bot: Bot) -> None:
    for text in ("", "   ", "<b> </b>\n<i></i>"):
        await send_screen(bot, CHAT, Screen(text), fallback="Scrivi /riprendi")
    assert double.texts(CHAT) == ["Scrivi /riprendi"] * 3


async def test_long_html_is_split_with_balanced_tags(double: BotApiDouble, bot: Bot) -> None:
    lines = "\n".join(f"{n}. risposta &amp; nota" for n in range(900))
    screen = Screen(f"<b>Riepilogo</b>\n<i>{lines}</i>", [[Button("✏️ 1", "1:j:x")]])
    await send_screen(bot, CHAT, screen)  # the double refuses unbalanced HTML
    sent = double.sent(CHAT)
    assert len(sent) == len(split_text(screen.text)) > 2
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert all(m["entities"][0]["type"] == "italic" for m in sent[1:])
    assert [bool(double.buttons(m)) for m in sent] == [False] * (len(sent) - 1) + [True]
    assert "899. risposta & nota" in sent[-1]["text"]


@pytest.mark.parametrize(
    "inject",
    [
        lambda d, m: d.inject_timeout(m, delay=0.05),
        lambda d, m: d.inject_disconnect(m),
        lambda d, m: d.inject_server_error(m),
        lambda d, m: d.inject_retry_after(m, 30),
        lambda d, m: d.inject_malformed(m),
        lambda d, m: d.inject_error(m, 400, "Bad Request: message to edit not found"),
        lambda d, m: d.inject_error(m, 403, "Forbidden: bot was blocked by the user"),
    ],
    ids=["timeout", "dropped", "500", "429", "malformed", "400", "403"],
)
async def test_cosmetic_calls_never_raise(
    double: BotApiDouble, bot: Bot, inject: Callable[[BotApiDouble, str], None]
) -> None:
    message = await send_screen(bot, CHAT, Screen("Domanda", [[Button("Sì", "1:c:0")]]))
    inject(double, "editMessageText")
    inject(double, "editMessageReplyMarkup")
    inject(double, "deleteMessage")
    assert await edit_screen(bot, CHAT, message.message_id, Screen("Nuova")) is False
    assert await remove_keyboard(bot, CHAT, message.message_id) is False
    assert await delete_message(bot, CHAT, message.message_id) is False
    assert double.pending_faults() == 0
    assert double.texts(CHAT) == ["Domanda"]


async def test_not_modified_counts_as_done(double: BotApiDouble, bot: Bot) -> None:
    message = await send_screen(bot, CHAT, Screen("Domanda"))
    double.inject_error("editMessageText", 400, NOT_MODIFIED)
    assert await edit_screen(bot, CHAT, message.message_id, Screen("Domanda")) is True
    assert await cosmetic(bot.delete_message(CHAT, message.message_id), "delete") is True
    assert double.texts(CHAT) == []


def test_notices_merge_into_the_next_message_when_one_markup_fits() -> None:
    keys = [["⬅️ Indietro"]]
    welcome = Screen("Benvenuto")
    back = Screen("Bentornato", keyboard=keys)
    question = Screen("Domanda", [[Button("Sì", "1:c:0")]], is_prompt=True)
    typed = Screen("Scrivi il nome", is_prompt=True)
    merged = merge([welcome, back, question])
    assert [s.text for s in merged] == ["Benvenuto\n\nBentornato", "Domanda"]
    assert merged[0].keyboard == keys and merged[1].is_prompt
    (one,) = merge([back, typed])  # a question without buttons takes the keyboard along
    assert one.text == "Bentornato\n\nScrivi il nome" and one.keyboard == keys and one.is_prompt
    assert len(merge([question, typed])) == 2  # inline buttons end a message
    assert len(merge([Screen("x" * 3000), Screen("y" * 3000)])) == 2  # too long together
    # A notice's button (not a question's) takes a plain notice under its text.
    notice = Screen("Informativa in breve", [[Button("📄 Informativa completa", "x:privacy")]])
    (both,) = merge([notice, Screen("Scrivi il codice")])
    assert both.text == "Informativa in breve\n\nScrivi il codice" and both.buttons
    assert len(merge([question, Screen("Nota")])) == 2
