"""Broadcasts: the /annuncio dialogue, paced sending against a double that enforces
Telegram's limits, outcomes per recipient, and resuming after a crash (in-process
and with `python -m bot run` killed by SIGKILL)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import open_services
from bot.services.broadcasts import ALL, ANNOUNCEMENT
from bot.services.delivery import Pacer
from storage.municipalities import MunicipalityRegistry
from storage.store import Store
from tests.support.botapi_double import BotApiDouble
from tests.support.coordination_helpers import (
    FakeTransport,
    add_officer,
    one,
    plain_settings,
    set_response,
)
from tests.support.harness import TOKEN, Clock, Harness, running
from tests.support.tree_under_test import assert_child_imports_this_tree, child_env

COORDINATOR = 7001
STRANGER = 1001
TEXT = "Buongiorno, vi ricordiamo che la scadenza è il 31 luglio. Grazie!"


def istats(count: int) -> list[str]:
    return [m.istat for m in list(MunicipalityRegistry.load())[:count]]


@pytest.fixture
async def strict_double() -> AsyncIterator[BotApiDouble]:
    api = BotApiDouble(TOKEN, enforce_limits=True)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def desk(tmp_path: Path, strict_double: BotApiDouble) -> AsyncIterator[Harness]:
    async with running(tmp_path, strict_double, coordinators=[COORDINATOR]) as h:
        yield h


def announcements(double: BotApiDouble, user: int) -> list[str]:
    return [t for t in double.texts(user) if "vi ricordiamo che la scadenza" in t]


async def test_announcement_dialogue_pacing_and_report(desk: Harness) -> None:
    h, double = desk, desk.double
    assert h.services is not None
    store = h.services.store
    codes = istats(60)
    officers = {2000 + i: istat for i, istat in enumerate(codes)}
    for uid, istat in officers.items():
        await add_officer(store, uid, istat, name=f"Nome{uid}", username=f"u{uid}")
    await set_response(store, codes[0], "submitted", answered=40)
    await set_response(store, codes[1], "in_progress", answered=3)
    blocked = 2007
    double.block_user(blocked)
    already_gone = 2008  # blocked the bot earlier: left out and counted
    await store.mark_unreachable(already_gone, h.clock())

    # Only coordinators.
    await h.send(STRANGER, "/annuncio")
    assert "non sei autorizzato" in h.last_text(STRANGER).lower()
    row = await one(store, "SELECT action, target FROM audit_log WHERE actor_id = ?",
                               STRANGER)
    assert tuple(row) == ("coord.denied", "/annuncio")

    await h.send(COORDINATOR, "/annuncio")
    assert "Scrivi ora il messaggio" in h.last_text(COORDINATOR)
    draft = await one(store, "SELECT stage FROM broadcast_drafts WHERE coordinator_id = ?",
                                 COORDINATOR)
    assert draft[0] == "text"
    await asyncio.sleep(1.05)  # a person types: keeps the chat within 1 message/s
    await h.send(COORDINATOR, TEXT)
    labels = h.labels(COORDINATOR)
    assert labels[0] == "Tutti (59)"  # 60 bound, one already unreachable
    assert "Non iniziato (57)" in labels and "In compilazione (1)" in labels
    assert "Inviato (1)" in labels

    # A region, then back, then everyone.
    await h.press(COORDINATOR, "Una regione…")
    assert "Piemonte" in h.labels(COORDINATOR)
    await h.press(COORDINATOR, "Piemonte")
    preview = h.last_text(COORDINATOR)
    assert "Anteprima" in preview and TEXT in preview and "regione Piemonte" in preview
    await h.press(COORDINATOR, "« Indietro")
    await h.press(COORDINATOR, "Tutti (59)")
    preview = h.last_text(COORDINATOR)
    assert "Destinatari: 59 (Tutti)" in preview
    assert "Escluso 1 referente che ha bloccato il bot" in preview
    stage = await one(store,
        "SELECT stage, audience FROM broadcast_drafts WHERE coordinator_id = ?", COORDINATOR)
    assert tuple(stage) == ("preview", "all")

    # One 429 on the way: honoured, the recipient retried.
    double.set_rate_limited(retry_after=1, times=1, chat_id=2030)
    await h.press(COORDINATOR, "✅ Conferma e invia a 59")
    row = await one(store, "SELECT id FROM broadcasts")
    coord = h.services.coordination
    await coord.broadcasts.wait(int(row[0]))
    await h.settle()

    for uid in officers:
        got = announcements(double, uid)
        if uid in (blocked, already_gone):
            assert got == [], uid
        else:
            assert len(got) == 1, (uid, got)
    assert double.limit_breaches() == []
    assert double.violations == 1  # the injected 429 only
    officer = await store.officer(blocked)
    assert officer is not None and officer.unreachable
    counts = await coord.cstore.recipient_counts(int(row[0]))
    assert counts == {"sent": 58, "unreachable": 1}
    report = h.last_text(COORDINATOR)
    assert "Invio completato" in report
    assert "Inviati: 58" in report and "Non raggiungibili (hanno bloccato il bot): 1" in report
    municipality = MunicipalityRegistry.load().get(officers[blocked])
    assert municipality is not None
    assert f"{municipality.name} ({municipality.sigla}) — Nome{blocked} @u{blocked}" in report
    assert "Già non raggiungibili, quindi esclusi: 1" in report
    assert await store.fetchone("SELECT 1 FROM broadcast_drafts") is None
    audit = await one(store, "SELECT details FROM audit_log WHERE action = 'broadcast.create'")
    assert '"recipients":59' in audit[0]

    # A second press on the old preview does nothing.
    await h.press_data(COORDINATOR, double.sent(COORDINATOR)[-1]["message_id"], "co:ok")
    assert sum(len(announcements(double, uid)) for uid in officers) == 58


async def test_cancel_keeps_everyone_quiet(desk: Harness) -> None:
    h = desk
    assert h.services is not None
    await add_officer(h.services.store, 2001, "048017")
    await h.send(COORDINATOR, "/annuncio")
    await asyncio.sleep(1.05)
    await h.send(COORDINATOR, TEXT)
    await h.press(COORDINATOR, "Tutti (1)")
    await h.press(COORDINATOR, "✖️ Annulla")
    assert "annullato" in h.last_text(COORDINATOR)
    assert h.double.texts(2001) == []
    assert await h.services.store.fetchone("SELECT 1 FROM broadcasts") is None


async def test_cancel_command_while_drafting(desk: Harness) -> None:
    h = desk
    await h.send(COORDINATOR, "/annuncio")
    await asyncio.sleep(1.05)
    await h.send(COORDINATOR, "/annulla")
    assert "annullato" in h.last_text(COORDINATOR)
    await asyncio.sleep(1.05)
    # No draft any more: an ordinary message goes to the questionnaire flow.
    await h.send(COORDINATOR, "ciao")
    assert "identificativo" in h.last_text(COORDINATOR)


# --- resuming in-process ----------------------------------------------------------------------
async def test_resume_never_sends_twice(tmp_path: Path) -> None:
    clock = Clock(datetime(2019, 7, 1, 9, 30, tzinfo=UTC))
    transport = FakeTransport()
    services = await open_services(plain_settings(tmp_path), clock)
    coord = services.coordination
    coord.courier.transport = transport
    for index, istat in enumerate(istats(6)):
        await add_officer(services.store, 3000 + index, istat)
    broadcast_id = await coord.broadcasts.create(
        coordinator_id=COORDINATOR, kind=ANNOUNCEMENT, text="Ciao", audience=ALL, region=None,
        language="it", progress=(COORDINATOR, 1),
    )
    assert broadcast_id is not None
    # The crash: 3000 and 3001 served, 3002 being sent to.
    await coord.cstore.mark_recipient(broadcast_id, 3000, "sent", clock())
    await coord.cstore.mark_recipient(broadcast_id, 3001, "sent", clock())
    await coord.cstore.mark_recipient(broadcast_id, 3002, "sending", clock())
    await services.store.close()

    services = await open_services(plain_settings(tmp_path), clock)
    coord = services.coordination
    coord.courier.transport = transport
    await coord.recover()
    await coord.broadcasts.wait(broadcast_id)
    assert sorted(chat for chat, _, _ in transport.sent if chat != COORDINATOR) == [
        3003, 3004, 3005]
    counts = await coord.cstore.recipient_counts(broadcast_id)
    assert counts == {"sent": 5, "unknown": 1}
    report = transport.edits[-1][2]
    assert "Esito incerto" in report and "(id 3002)" in report
    broadcast = await coord.cstore.broadcast(broadcast_id)
    assert broadcast is not None and broadcast.status == "done" and broadcast.restarts == 1
    await coord.recover()  # a later start: nothing left to do
    assert len([c for c, _, _ in transport.sent if c != COORDINATOR]) == 3
    await services.store.close()


@dataclass
class FakeTime:
    """A clock that moves only when the pacer sleeps: pacing without real time."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still a suspension point, as for the real sleep


def fake_pacer(clock: FakeTime, **kwargs: Any) -> Pacer:
    return Pacer(monotonic=clock.monotonic, sleep=clock.sleep, margin=0.0, **kwargs)


async def test_pacer_window_and_spacing_on_a_fake_clock() -> None:
    clock = FakeTime()
    pacer = fake_pacer(clock, rate=200.0, burst=5, window=0.2, per_chat_interval=0.1)
    starts: list[float] = []
    for chat in range(12):
        permit = await pacer.acquire(chat)
        starts.append(clock.now)
        clock.now += 0.01  # the request takes 10 ms
        pacer.release(permit)
    # A new pacer assumes every slot was just used: nothing before one window.
    assert starts[0] == pytest.approx(1000.2)
    # No more than `burst` starts in any window, and starts at least 1/rate apart.
    for a, b in itertools.pairwise(starts):
        assert b - a >= 1 / 200 - 1e-9
    for a, b in zip(starts, starts[5:], strict=False):
        assert b - a >= 0.2 + 0.01 - 1e-9  # a slot frees a window after its request ended
    # And no slower than that: the 6th start is the 1st slot coming free again.
    assert starts[5] - starts[0] == pytest.approx(0.21)


async def test_pacer_keeps_a_chat_apart_and_honours_a_429_pause() -> None:
    clock = FakeTime()
    pacer = fake_pacer(clock, rate=100.0, burst=30, window=1.0, per_chat_interval=1.0)
    first = await pacer.acquire(99)
    pacer.release(first)
    released = clock.now
    other = await pacer.acquire(98)  # another chat: only the spacing between starts
    assert clock.now - released == pytest.approx(0.01)
    pacer.release(other)
    second = await pacer.acquire(99)  # same chat: its own interval after the release
    assert clock.now - released == pytest.approx(1.0)
    pacer.release(second)
    edit = await pacer.acquire(99, counted=False)  # an edit waits for the chat too
    assert clock.now - released == pytest.approx(2.0)
    pacer.release(edit)
    pacer.pause(5.0)  # Telegram said 429: nobody sends
    paused_at = clock.now
    third = await pacer.acquire(97)
    assert clock.now - paused_at == pytest.approx(5.0)
    pacer.release(third)
    assert max(clock.slept) <= 0.05  # waits in short steps, so a 429 pause is noticed


# --- killed with SIGKILL and started again ----------------------------------------------------
def _env(tmp_path: Path, double: BotApiDouble) -> dict[str, str]:
    return child_env(
        SURVEYBOT_TOKEN=TOKEN,
        SURVEYBOT_TELEGRAM_API_URL=double.root,
        SURVEYBOT_DATABASE=str(tmp_path / "bot.sqlite3"),
        SURVEYBOT_CODE_SECRET="kill-test-secret",
        SURVEYBOT_COORDINATORS=str(COORDINATOR),
        SURVEYBOT_DEADLINE="2099-01-01T00:00:00+01:00",
    )


def _spawn(tmp_path: Path, env: dict[str, str], run: int) -> subprocess.Popen[bytes]:
    assert_child_imports_this_tree(env, tmp_path)
    log = (tmp_path / f"bot-{run}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT)


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("*.log")))


async def _until(double: BotApiDouble, predicate: Any, tmp_path: Path, timeout: float) -> None:
    try:
        await double.wait_for(predicate, timeout=timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- bot logs ---\n{_logs(tmp_path)}") from None


async def test_killed_mid_broadcast_resumes_without_repeating(
    tmp_path: Path, strict_double: BotApiDouble
) -> None:
    double = strict_double
    recipients = {4000 + i: istat for i, istat in enumerate(istats(90))}
    store = await Store.open(tmp_path / "bot.sqlite3")
    for uid, istat in recipients.items():
        await add_officer(store, uid, istat)
    await store.close()

    # Kill the bot from inside the double right after it stored the 40th message.
    proc: subprocess.Popen[bytes] | None = None
    delivered = 0

    def kill_after_the_40th(params: dict[str, Any], result: Any) -> None:
        nonlocal delivered
        if "vi ricordiamo" in str(params.get("text", "")):
            delivered += 1
            if delivered == 40 and proc is not None:
                os.kill(proc.pid, signal.SIGKILL)

    double.observe("sendMessage", kill_after_the_40th)
    env = _env(tmp_path, double)
    proc = _spawn(tmp_path, env, 1)
    second: subprocess.Popen[bytes] | None = None
    try:
        await _until(double, lambda: bool(double.calls("getUpdates")), tmp_path, 30)
        double.user_sends(COORDINATOR, "/annuncio")
        await _until(double, lambda: any("Scrivi ora" in t for t in double.texts(COORDINATOR)),
                     tmp_path, 15)
        await asyncio.sleep(1.05)
        double.user_sends(COORDINATOR, TEXT)
        await _until(double, lambda: any(double.buttons(m) for m in double.sent(COORDINATOR)),
                     tmp_path, 15)
        keyboard = [m for m in double.sent(COORDINATOR) if double.buttons(m)][-1]
        double.user_presses(COORDINATOR, keyboard["message_id"], "co:a:all")
        await _until(double, lambda: "Destinatari: 90" in double.texts(COORDINATOR)[-1],
                     tmp_path, 15)
        double.user_presses(COORDINATOR, keyboard["message_id"], "co:ok")
        await asyncio.wait_for(asyncio.to_thread(proc.wait), 30)
        assert proc.returncode == -signal.SIGKILL
        served = {uid for uid in recipients if announcements(double, uid)}
        assert len(served) == 40, "killed mid-broadcast"

        second = _spawn(tmp_path, env, 2)
        await _until(double, lambda: "Invio completato" in double.texts(COORDINATOR)[-1],
                     tmp_path, 60)
        for uid in recipients:
            assert len(announcements(double, uid)) == 1, uid
        assert double.limit_breaches() == []
        assert double.violations == 0
        report = double.texts(COORDINATOR)[-1]
        assert "ripreso" not in report  # the report replaces the progress line
        # The 40th was in flight when the bot died: it got its message, but the bot
        # cannot know, so it is reported as uncertain and not sent again.
        assert "Inviati: 89" in report
        assert "Esito incerto (invio interrotto da un riavvio e non ripetuto): 1" in report
    finally:
        for p in (proc, second):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(asyncio.to_thread(p.wait), 15)
                except TimeoutError:
                    p.kill()
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        rows = await store.fetchall(
            "SELECT status, COUNT(*) FROM broadcast_recipients GROUP BY status")
        counts = {str(r[0]): int(r[1]) for r in rows}
        assert counts == {"sent": 89, "unknown": 1}
        status = await one(store, "SELECT status, restarts FROM broadcasts")
        assert tuple(status) == ("done", 1)
    finally:
        await store.close()
