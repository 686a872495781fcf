"""The harness's own guarantees: `settle` waits for the bot (not for a quiet
moment), `press` takes exact labels only, and `expect_one_new_message` counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, settle

App = Application[Any, Any, Any, Any, Any, Any]
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
USER = 42
OFFICER = 1001


async def _running(double: BotApiDouble, handler: Handler, concurrent: int) -> App:
    app = double.application_builder().concurrent_updates(concurrent).build()
    app.add_handler(MessageHandler(filters.TEXT, handler))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return app


async def _stopped(app: App) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def _slow_echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Busy without a single request for longer than any quiet window (like a slow fsync),
    the later the shorter the text, so that concurrent updates finish out of order."""
    message = update.effective_message
    assert message is not None and message.text is not None
    await asyncio.sleep(0.3 / len(message.text))
    await message.reply_text(f"Eco: {message.text}")


@pytest.fixture
async def slow_app(double: BotApiDouble) -> AsyncIterator[App]:
    app = await _running(double, _slow_echo, concurrent=1)
    yield app
    await _stopped(app)


async def test_settle_waits_for_a_handler_that_is_busy_without_requests(
    double: BotApiDouble, slow_app: App
) -> None:
    double.user_sends(USER, "x")
    await settle(double, slow_app)
    assert double.texts(USER) == ["Eco: x"]


async def test_settle_waits_for_every_concurrent_update(double: BotApiDouble) -> None:
    app = await _running(double, _slow_echo, concurrent=16)
    try:
        words = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]
        for word in words:
            double.user_sends(USER, word)
        await settle(double, app)
        assert sorted(double.texts(USER)) == sorted(f"Eco: {w}" for w in words)
    finally:
        await _stopped(app)


async def test_settle_reports_updates_nobody_fetched(double: BotApiDouble) -> None:
    double.user_sends(USER, "anyone there?")
    assert not double.idle
    with pytest.raises(AssertionError, match="unconfirmed updates: 1"):
        await settle(double, None, timeout=0.2)


async def test_press_takes_the_exact_label_and_lists_the_labels_on_screen(
    harness: Harness,
) -> None:
    code = await harness.issue("048017")
    await harness.send(OFFICER, "/start")
    await harness.send(OFFICER, code)
    assert "Domanda 1 di" in harness.last_text(OFFICER)
    before = harness.double.requests[:]
    with pytest.raises(AssertionError) as failure:
        await harness.press(OFFICER, "S")  # a prefix of "Sì"
    assert "'S'" in str(failure.value) and "'Sì'" in str(failure.value)
    assert "'No'" in str(failure.value)
    assert harness.double.requests == before  # nothing was pressed
    await harness.press(OFFICER, "Sì")
    assert "nome e cognome" in harness.last_text(OFFICER)


async def test_expect_one_new_message_counts_the_messages_since_a_mark(
    harness: Harness,
) -> None:
    code = await harness.issue("048017")
    await harness.send(OFFICER, "/start")
    await harness.send(OFFICER, code)
    # Code recognised with the questionnaire's intro, first question: two since the last send.
    assert len(harness.new_messages(OFFICER)) == 2
    with pytest.raises(AssertionError, match="expected exactly one new message in 1001, got 2"):
        harness.expect_one_new_message(OFFICER)
    first = harness.mark(OFFICER)
    await harness.press(OFFICER, "Sì")
    second = harness.expect_one_new_message(OFFICER)  # since the press
    assert "nome e cognome" in second["text"]
    assert harness.new_messages(OFFICER, since=first) == [second]
    with pytest.raises(AssertionError, match="got 0"):
        harness.expect_one_new_message(OFFICER, since=harness.mark(OFFICER))


async def test_the_doubles_wait_idle_is_the_harness_settle_while_a_harness_drives_it(
    harness: Harness,
) -> None:
    assert harness.double.settle_with is not None
    await harness.issue("048017")
    harness.double.user_sends(OFFICER, "/start")
    await harness.double.wait_idle()
    assert "identificativo abilitante" in harness.last_text(OFFICER)
    await harness.stop()
    assert harness.double.settle_with is None
    harness.double.user_sends(OFFICER, "nobody polls now")
    with pytest.raises(AssertionError, match="condition not met"):
        await harness.double.wait_idle(timeout=0.2)
