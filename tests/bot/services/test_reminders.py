"""Reminders: the schedule (working hours, weekends, downtime, extensions), their
delivery recorded in SQLite across restarts, and one through the real Application."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.render.presenter import Button
from bot.runtime import open_services
from bot.services.coordination import CoordinationService
from bot.telegram.app import Services
from conversations.reminder_schedule import slot_key
from storage.store import Store
from tests.support.botapi_double import BotApiDouble
from tests.support.coordination_helpers import (
    FakeTransport,
    add_officer,
    one,
    plain_settings,
    reminder_counts,
    set_response,
)
from tests.support.harness import Clock, Harness, running

TZ = "Europe/Rome"
ROME = ZoneInfo(TZ)
DEADLINE = datetime(2019, 7, 31, 23, 59, tzinfo=ROME)  # the shipped questionnaire's (Wednesday)


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
         ) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ROME)


# --- the service with an injected clock ----------------------------------------------------
@dataclass
class Rig:
    services: Services
    coord: CoordinationService
    transport: FakeTransport
    clock: Clock

    @property
    def store(self) -> Store:
        return self.services.store

    async def tick(self) -> int:
        return await self.coord.reminders.tick()

    async def close(self) -> None:
        await self.services.store.close()


async def open_rig(tmp_path: Path, clock: Clock, transport: FakeTransport, **settings: object
                   ) -> Rig:
    """Services as `surveybot run` builds them, with the fake transport; then what a start
    does before the loop (recovery, planning)."""
    services = await open_services(plain_settings(tmp_path, **settings), clock)
    coord = services.coordination
    coord.courier.transport = transport
    await coord.recover()
    return Rig(services, coord, transport, clock)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    # The bot was first started on 1 July: slots from then on are planned.
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 1, 11, 30)), FakeTransport())
    yield r
    await r.close()


FIRENZE, ROMA, MILANO, NAPOLI, TORINO = "048017", "058091", "015146", "063049", "001272"


async def populate(r: Rig) -> None:
    store = r.store
    await add_officer(store, 11, FIRENZE)  # not started
    await add_officer(store, 12, FIRENZE)  # a colleague, same municipality
    await add_officer(store, 21, ROMA)
    await set_response(store, ROMA, "in_progress", answered=28, total=40)
    await add_officer(store, 31, MILANO)
    await set_response(store, MILANO, "submitted", answered=40, total=40)
    await add_officer(store, 41, NAPOLI)
    await store.mark_unreachable(41, r.clock())
    await add_officer(store, 51, TORINO, language="en")
    await set_response(store, TORINO, "in_progress", answered=39, total=40)


async def test_reminders_go_to_who_has_not_submitted_in_working_hours(rig: Rig) -> None:
    await populate(rig)
    rig.clock.now = rome(2019, 7, 17, 8, 59)  # the first slot is at 09:00
    assert await rig.tick() == 0
    rig.clock.now = rome(2019, 7, 17, 9, 0, 30)
    assert await rig.tick() == 4
    sent = {chat: text for chat, text, _ in rig.transport.sent}
    assert set(sent) == {11, 12, 21, 51}  # not Milano (submitted) nor Napoli (blocked)
    assert "Non hai ancora iniziato" in sent[11]
    assert "Firenze" in sent[11] and "31/07/2019 alle 23:59" in sent[11]
    assert "Ti mancano 12 domande" in sent[21]
    assert "You have 1 question left" in sent[51]
    for _, _, buttons in rig.transport.sent:
        assert buttons == [[Button("▶️ Riprendi il questionario", "x:resume")]] or buttons == [
            [Button("▶️ Resume the questionnaire", "x:resume")]]
    # The loop comes back a minute later: nothing twice.
    rig.clock.now = rome(2019, 7, 17, 9, 1, 30)
    assert await rig.tick() == 0
    assert len(rig.transport.sent) == 4
    assert await rig.coord.cstore.slots() == [(slot_key(rome(2019, 7, 17, 9, 0)), "done")]


async def test_a_slot_missed_after_hours_waits_for_the_next_opening(tmp_path: Path) -> None:
    # With a reminder 5 days before, the slot is Friday 26 July at 09:00.
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 1, 11, 30)), FakeTransport(),
                       reminder_days="5")
    try:
        await add_officer(r.store, 11, FIRENZE)
        r.clock.now = rome(2019, 7, 26, 19, 5)  # the bot was down all Friday
        assert await r.tick() == 0
        r.clock.now = rome(2019, 7, 27, 10, 0)  # Saturday
        assert await r.tick() == 0
        r.clock.now = rome(2019, 7, 29, 8, 59)
        assert await r.tick() == 0
        r.clock.now = rome(2019, 7, 29, 9, 0)  # Monday's opening
        assert await r.tick() == 1
        assert r.transport.to(11)[0].startswith("⏰")
    finally:
        await r.close()


async def test_after_downtime_only_the_latest_missed_slot_goes_out_once(
    tmp_path: Path,
) -> None:
    transport = FakeTransport()
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 1, 11, 30)), transport)
    await add_officer(r.store, 11, FIRENZE)
    await r.close()
    # Down from 1 July to 30 July at 10:00: the slots of 17, 24, 29 and 30 July are due.
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 30, 10, 0)), transport)
    try:
        assert await r.tick() == 1
        assert await r.tick() == 0
        slots = dict(await r.coord.cstore.slots())
        assert slots == {
            slot_key(rome(2019, 7, 17, 9, 0)): "superseded",
            slot_key(rome(2019, 7, 24, 9, 0)): "superseded",
            slot_key(rome(2019, 7, 29, 9, 0)): "superseded",
            slot_key(rome(2019, 7, 30, 9, 0)): "done",
        }
        r.clock.now = rome(2019, 7, 31, 9, 0)  # the next slot is an ordinary one
        assert await r.tick() == 1
        assert len(transport.to(11)) == 2
    finally:
        await r.close()


async def test_restart_neither_repeats_nor_loses_a_reminder(tmp_path: Path) -> None:
    transport = FakeTransport()
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 1, 11, 30)), transport)
    for uid, istat in ((11, FIRENZE), (21, ROMA), (31, MILANO), (61, NAPOLI)):
        await add_officer(r.store, uid, istat)
    # The slot of 17 July was opened and the bot crashed while sending: 11 had its
    # reminder, 21 was being sent to, 31 and 61 were still pending.
    slot = slot_key(rome(2019, 7, 17, 9, 0))
    now = rome(2019, 7, 17, 9, 0, 5)
    cstore = r.coord.cstore
    await cstore.open_slot(slot, DEADLINE, [], [(11, FIRENZE), (21, ROMA), (31, MILANO),
                                                (61, NAPOLI)], now)
    await cstore.mark_reminder(slot, 11, "sent", now)
    await cstore.mark_reminder(slot, 21, "sending", now)
    await r.close()
    # Meanwhile Milano submitted.
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 17, 9, 5)), transport)
    try:
        await set_response(r.store, MILANO, "submitted", answered=40)
        assert await r.tick() == 1
        assert [chat for chat, _, _ in transport.sent] == [61]
        counts = await reminder_counts(r.store, slot)
        assert counts == {"sent": 2, "unknown": 1, "skipped": 1}
        row = await one(r.store,
            "SELECT detail FROM reminders WHERE slot = ? AND user_id = 31", slot)
        assert row[0] == "submitted"
        assert await r.tick() == 0
    finally:
        await r.close()
    # A third start changes nothing either.
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 17, 10, 0)), transport)
    try:
        assert await r.tick() == 0
        assert len(transport.sent) == 1
    finally:
        await r.close()


async def test_blocked_officer_is_marked_unreachable(rig: Rig) -> None:
    await add_officer(rig.store, 11, FIRENZE)
    await add_officer(rig.store, 12, FIRENZE)
    rig.transport.blocked.add(12)
    rig.clock.now = rome(2019, 7, 17, 9, 30)
    assert await rig.tick() == 1
    officer = await rig.store.officer(12)
    assert officer is not None and officer.unreachable
    counts = await reminder_counts(rig.store, slot_key(rome(2019, 7, 17, 9, 0)))
    assert counts == {"sent": 1, "unreachable": 1}


async def test_a_deadline_extension_replans_the_slots(rig: Rig) -> None:
    await add_officer(rig.store, 11, FIRENZE)
    rig.clock.now = rome(2019, 7, 29, 10, 0)
    assert await rig.tick() == 1  # the slot of Monday 29 July
    # Extended to Friday 9 August: that schedule's slot of 26 July is in the past and
    # the old plan's 30 and 31 July are gone.
    rig.clock.now = rome(2019, 7, 29, 10, 5)
    await rig.store.set_setting("deadline", rome(2019, 8, 9, 23, 59).isoformat())
    await rig.coord.reminders.replan()
    for moment in (rome(2019, 7, 29, 10, 10), rome(2019, 7, 30, 10, 0),
                   rome(2019, 7, 31, 10, 0), rome(2019, 8, 1, 18, 0)):
        rig.clock.now = moment
        assert await rig.tick() == 0, moment
    rig.clock.now = rome(2019, 8, 2, 9, 0)  # 7 days before the new deadline
    assert await rig.tick() == 1
    assert "09/08/2019 alle 23:59" in rig.transport.to(11)[-1]
    rig.clock.now = rome(2019, 8, 9, 9, 0)
    assert await rig.tick() == 1
    rig.clock.now = rome(2019, 8, 10, 10, 0)  # after the deadline: nothing
    assert await rig.tick() == 0


async def test_a_changed_deadline_setting_also_replans(tmp_path: Path) -> None:
    transport = FakeTransport()
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 1, 11, 30)), transport)
    await add_officer(r.store, 11, FIRENZE)
    await r.close()
    # Restarted on 20 July with SURVEYBOT_DEADLINE moved to 1 August: the new schedule's
    # 18 July slot must not go out as a "missed" one.
    r = await open_rig(tmp_path, Clock(rome(2019, 7, 20, 10, 0)), transport,
                       deadline=rome(2019, 8, 1, 23, 59))
    try:
        r.clock.now = rome(2019, 7, 22, 10, 0)
        assert await r.tick() == 0
        r.clock.now = rome(2019, 7, 25, 9, 0)
        assert await r.tick() == 1
    finally:
        await r.close()


# --- end to end --------------------------------------------------------------------------------
OFFICER = 1001
COORDINATOR = 7001


async def test_reminder_through_the_application_resumes_the_questionnaire(
    harness: Harness,
) -> None:
    code = await harness.issue(FIRENZE)
    await harness.send(OFFICER, "/start")
    await harness.send(OFFICER, code)
    await harness.press(OFFICER, "Sì")
    assert "Domanda 2 di" in harness.last_text(OFFICER)
    await harness.send(OFFICER, "/aiuto")  # something else happens in the chat meanwhile
    assert harness.services is not None
    coord = harness.services.coordination
    harness.clock.now = rome(2019, 7, 17, 9, 15)
    assert await coord.reminders.tick() == 1
    await harness.settle()
    reminder = harness.double.last(OFFICER)
    text = reminder["text"]
    assert text.startswith("⏰ Promemoria") and "Firenze" in text
    assert "Ti mancano" in text and "domande" in text
    assert harness.double.buttons(reminder) == [[("▶️ Riprendi il questionario", "x:resume")]]
    await harness.press(OFFICER, "▶️ Riprendi il questionario")
    assert "Domanda 2 di" in harness.last_text(OFFICER)
    assert await coord.reminders.tick() == 0


async def test_extension_by_a_coordinator(tmp_path: Path, double: BotApiDouble) -> None:
    async with running(tmp_path, double, coordinators=[COORDINATOR]) as h:
        assert h.services is not None
        store = h.services.store
        await add_officer(store, 11, FIRENZE)
        await add_officer(store, 21, ROMA)
        await set_response(store, ROMA, "submitted", answered=40)
        # Not a coordinator: refused, nothing changes, the attempt is audited.
        await h.send(OFFICER, "/proroga 15/09/2019")
        assert "non sei autorizzato" in h.last_text(OFFICER).lower()
        assert await store.setting("deadline") is None
        row = await one(store,
            "SELECT action, target FROM audit_log WHERE actor_id = ?", OFFICER)
        assert tuple(row) == ("coord.denied", "/proroga")
        # Malformed and past dates.
        await h.send(COORDINATOR, "/proroga")
        assert "Uso:" in h.last_text(COORDINATOR)
        await h.send(COORDINATOR, "/proroga domani")
        assert "Non riconosco una data" in h.last_text(COORDINATOR)
        await h.send(COORDINATOR, "/proroga 30/06/2019")
        assert "già passata" in h.last_text(COORDINATOR)
        # The extension.
        await h.send(COORDINATOR, "/proroga 15/09/2019")
        coord = h.services.coordination
        broadcasts = await coord.cstore.unfinished_broadcasts()
        for broadcast_id in broadcasts:
            await coord.broadcasts.wait(broadcast_id)
        await h.settle()
        assert await store.setting("deadline") == "2019-09-15T23:59:00+02:00"
        assert await h.services.flow.deadline() == rome(2019, 9, 15, 23, 59)
        notice = h.texts(11)
        assert len(notice) == 1 and "15/09/2019 alle 23:59" in notice[0]
        assert h.texts(21) == []  # Roma has submitted
        report = h.last_text(COORDINATOR)
        assert "Proroga della scadenza al 15/09/2019 alle 23:59" in report
        assert "Invio completato" in report and "Inviati: 1" in report
        row = await one(store,
            "SELECT details FROM audit_log WHERE action = 'deadline.extend'")
        assert json.loads(row[0])["new"] == "2019-09-15T23:59:00+02:00"
        plan = await coord.cstore.plan()
        assert plan is not None and plan.deadline == rome(2019, 9, 15, 23, 59)
        row = await one(store, "SELECT kind, audience, total FROM broadcasts")
        assert tuple(row) == ("extension", "not_submitted", 1)


async def test_a_reopened_municipality_is_told_its_changes_are_not_sent_yet(rig: Rig) -> None:
    await populate(rig)
    # Rome submitted revision 2, then reopened it: in progress again.
    async with rig.store.transaction() as db:
        await db.execute("UPDATE responses SET revision = 2 WHERE istat = ?", (ROMA,))
    rig.clock.now = rome(2019, 7, 17, 9, 0, 30)
    assert await rig.tick() == 4
    sent = {chat: text for chat, text, _ in rig.transport.sent}
    assert "già inviato (revisione 2), è stato riaperto" in sent[21]
    assert "le modifiche non vengono trasmesse finché non lo invii di nuovo" in sent[21]
    assert "riaperto" not in sent[11]  # never submitted: nothing to say about it
