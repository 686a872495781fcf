"""The one error handler: log, alert the assistance chat (rate-limited), tell the
officer only a friendly line, never leak a secret."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import CommandHandler, ContextTypes

from bot.logs import redact
from bot.services.sync_loop import sync_forever
from bot.telegram.errors import ErrorReporter
from conversations import access_codes
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import TOKEN, Clock, Harness, make_settings

OFFICER = 1001
GROUP = -1001234567890
CODE_SECRET = "test-secret-of-the-codes"
FRIENDLY = "Si è verificato un problema tecnico: la tua ultima risposta salvata è al sicuro"


@pytest.fixture
async def harness(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, double, assistance_chat_id=GROUP,
                             code_secret=CODE_SECRET)
    h = Harness(double, settings, Clock())
    await h.start()
    yield h
    await h.stop()


def alerts(h: Harness) -> list[str]:
    return [t for t in h.double.texts(GROUP) if "Errore interno" in t]


async def test_a_failing_handler_alerts_once_and_tells_the_officer_a_friendly_line(
    harness: Harness,
) -> None:
    h = harness
    code = await h.issue("048017")

    async def boom(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError(f"boom with {TOKEN}, {CODE_SECRET} and {code}")

    h.app.add_handler(CommandHandler("boom", boom), group=-1)
    await h.send(OFFICER, "/boom")
    (alert,) = alerts(h)
    assert "RuntimeError" in alert and "boom with" in alert and "Traceback" in alert
    for secret in (TOKEN, TOKEN.split(":")[1], CODE_SECRET, code):
        assert secret not in alert
    assert "[redacted]" in alert
    assert sum(t.startswith(FRIENDLY) for t in h.texts(OFFICER)) == 1
    assert "RuntimeError" not in "".join(h.texts(OFFICER))  # the officer sees no details
    # The same error again within the minute: logged, the officer told, no new alert.
    await h.send(OFFICER, "/boom")
    await h.send(OFFICER, "/boom")
    assert len(alerts(h)) == 1
    assert sum(t.startswith(FRIENDLY) for t in h.texts(OFFICER)) == 3


async def test_background_loops_report_through_the_same_handler(harness: Harness) -> None:
    h = harness
    assert h.services is not None
    await h.services.report_error(ValueError(f"sync failed with {CODE_SECRET}"), "sync")
    (alert,) = alerts(h)
    assert "(sync)" in alert and "ValueError" in alert and CODE_SECRET not in alert


async def test_alerts_are_rate_limited_per_kind_with_a_count_of_the_quiet_ones(
    tmp_path: Path, double: BotApiDouble
) -> None:
    settings = make_settings(tmp_path, double, assistance_chat_id=GROUP)
    now = [1000.0]
    reporter = ErrorReporter(settings, store=None, clock=lambda: now[0])  # type: ignore[arg-type]
    async with double.make_bot() as bot:
        reporter.bot = bot
        for _ in range(3):
            await reporter.report(TimeoutError("slow"), "reminders")
        await reporter.report(KeyError("other kind"), "reminders")
        assert len(double.texts(GROUP)) == 2  # one per kind
        now[0] += 61
        await reporter.report(TimeoutError("slow"), "reminders")
    texts = double.texts(GROUP)
    assert len(texts) == 3
    assert "Altri errori dello stesso tipo non segnalati nell'ultimo minuto: 2." in texts[-1]


def test_redaction_blanks_secrets_and_access_codes_only() -> None:
    text = "token 123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw code k7mq-x9pr-4t id 048017"
    cleaned = redact(text, ["123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"])
    assert "AAHdq" not in cleaned
    assert "048017" in cleaned  # an ISTAT code is no secret
    valid = access_codes.generate()
    assert valid not in redact(f"typed {valid}.", [])
    bare = valid.lower().replace("-", "")
    assert bare not in redact(f"typed {bare}", [])


async def test_a_failing_sync_pass_reaches_the_error_handler(harness: Harness) -> None:
    h = harness
    assert h.services is not None

    class BrokenPusher:
        async def push_due(self) -> int:
            raise sqlite3.OperationalError(f"database is locked ({CODE_SECRET})")

    async def one_pass(_: float) -> None:
        raise asyncio.CancelledError  # stop after the first pass

    with pytest.raises(asyncio.CancelledError):
        await sync_forever(BrokenPusher(), 30.0, one_pass,  # type: ignore[arg-type]
                           h.services.report_error)
    (alert,) = alerts(h)
    assert "(sync)" in alert and "database is locked" in alert and CODE_SECRET not in alert
