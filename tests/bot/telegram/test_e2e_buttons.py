"""End to end: button presses count only when drawn for that officer, updates the
bot cannot read are skipped, edited commands are ignored.

The real Application polls the Bot API double over HTTP; storage is real."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.render import callbacks as cb
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Clock, Harness, make_settings

OFFICER = 2001
OTHER = 2002
FIRENZE = "048017"
PRATO = "100005"
UNRECOGNISED = "Pulsante non riconosciuto"
STALE = "non è più valido"


async def login(h: Harness, user: int, istat: str) -> None:
    code = h.codes.get(istat) or await h.issue(istat)
    await h.send(user, "/start")
    await h.send(user, code)
    assert "Domanda 1 di" in h.last_text(user)


async def snapshot(h: Harness) -> list[tuple[Any, ...]]:
    """Everything an officer's press could change: responses, places, history."""
    rows: list[tuple[Any, ...]] = []
    for table in ("responses", "navigation", "answer_changes", "submissions"):
        async with h.store.db.execute(f"SELECT * FROM {table} ORDER BY 1") as cursor:
            rows.extend(tuple(row) for row in await cursor.fetchall())
    return rows


def live_button(h: Harness, user: int, label: str) -> tuple[int, str]:
    message = h.live_keyboards(user)[-1]
    for row in h.double.buttons(message):
        for text, data in row:
            if text.startswith(label):
                return message["message_id"], data
    raise AssertionError(f"no {label!r} button for {user}")


async def test_payloads_not_drawn_for_this_officer_change_nothing(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER, FIRENZE)
    await login(h, OTHER, PRATO)
    mine_id, mine_yes = live_button(h, OFFICER, "Sì")
    _, their_yes = live_button(h, OTHER, "Sì")
    assert mine_yes != their_yes  # same button, same counter, another officer's mac
    assert len(mine_yes.encode()) <= 64
    before = await snapshot(h)
    sent = len(h.double.sent(OFFICER))

    payload = mine_yes.rpartition(cb.MAC_SEPARATOR)[0]  # e.g. "1:c:0"
    seq = payload.split(":")[0]
    presses = [
        their_yes,  # copied from another officer's screen
        payload,  # the right counter, no mac
        f"{payload}{cb.MAC_SEPARATOR}AAAAAAAA",  # the right counter, a made-up mac
        f"{seq}:c:1{cb.MAC_SEPARATOR}{mine_yes[-cb.MAC_CHARS:]}",  # mac of another button
        f"{seq}:S",  # never drawn here: submit without the confirmation screen
        f"{seq}:j:respondent_name",  # never drawn: a jump
    ]
    for data in presses:
        await h.press_data(OFFICER, mine_id, data)
        assert UNRECOGNISED in h.toasts()[-1], data

    assert await snapshot(h) == before
    assert len(h.double.sent(OFFICER)) == sent  # no new screen either
    # The real button still works afterwards.
    await h.press_data(OFFICER, mine_id, mine_yes)
    assert "Domanda 2 di" in h.last_text(OFFICER)


async def test_a_replayed_old_button_is_stale(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER, FIRENZE)
    old_id, old_yes = live_button(h, OFFICER, "Sì")
    await h.press_data(OFFICER, old_id, old_yes)
    assert "Domanda 2 di" in h.last_text(OFFICER)
    before = await snapshot(h)

    await h.press_data(OFFICER, old_id, old_yes)  # replayed: signed, but no longer current

    assert STALE in h.toasts()[-1]
    assert await snapshot(h) == before
    questions = [text for text in h.texts(OFFICER) if "Domanda " in text]
    assert "Domanda 2 di" in questions[-1]


async def test_an_unreadable_update_is_logged_once_and_skipped(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO)
    h.double.enqueue_raw({
        "message": {"message_id": 7, "date": 1, "chat": "Mario Rossi, via Roma 1",
                    "from": {"id": OFFICER, "is_bot": False, "first_name": "Mario"}},
    })
    await h.send(OFFICER, "/start")
    await h.send(OTHER, "/start")

    assert "identificativo" in h.last_text(OFFICER)
    assert "identificativo" in h.last_text(OTHER)
    skipped = [r for r in caplog.records if r.name == "bot.telegram.updates"]
    assert len(skipped) == 1
    assert "could not be read" in skipped[0].getMessage()
    assert "message" in skipped[0].getMessage()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Mario" not in logged and "via Roma" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_edited_commands_are_ignored(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER, FIRENZE)
    await h.send(OFFICER, "prima")  # a message the officer then edits into commands
    message_id = h.double.history(OFFICER)[-2]["message_id"]
    before = await snapshot(h)
    sent_before = len(h.double.sent(OFFICER))
    for command in ("/salta", "/invia", "/ticket", "/chiudi"):
        h.double.user_edits(OFFICER, message_id, command)
        await h.double.wait_idle()
    after = h.double.sent(OFFICER)[sent_before:]
    # One notice per edit and nothing else: no skip, no submission, no staff reply.
    assert len(after) == 4
    assert all("hai modificato un messaggio" in m["text"] for m in after)
    assert await snapshot(h) == before


GROUP = -1001234567890
OPERATOR = 9001


@pytest.fixture
async def desk(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    settings = make_settings(
        tmp_path, double, assistance_chat_id=GROUP, operators=[OPERATOR], coordinators=[]
    )
    h = Harness(double, settings, Clock())
    await h.start()
    yield h
    await h.stop()


async def test_ticket_buttons_count_only_on_their_own_card(desk: Harness) -> None:
    h = desk
    other = h.double.user_sends(OPERATOR, "Buongiorno", chat_id=GROUP, chat_type="supergroup")
    await h.double.wait_idle()
    await login(h, OFFICER, FIRENZE)
    await h.send(OFFICER, "/aiuto")
    await h.send(OFFICER, "Non trovo la domanda sui fondi")
    cards = [m for m in h.double.sent(GROUP) if h.double.buttons(m)]
    assert len(cards) == 1
    card = cards[0]
    assert other["message_id"] != card["message_id"]

    # The card's own payload pressed on another message, and in a private chat.
    h.double.user_presses(OPERATOR, other["message_id"], "tk:close:1", chat_id=GROUP)
    await h.double.wait_idle()
    assert UNRECOGNISED in h.toasts()[-1]
    await h.press_data(OPERATOR, card["message_id"], "tk:close:1")
    assert UNRECOGNISED in h.toasts()[-1]
    async with h.store.db.execute("SELECT status FROM tickets WHERE id = 1") as cursor:
        assert tuple(await cursor.fetchone()) == ("open",)

    h.double.user_presses(OPERATOR, card["message_id"], "tk:close:1", chat_id=GROUP)
    await h.double.wait_idle()
    async with h.store.db.execute("SELECT status FROM tickets WHERE id = 1") as cursor:
        assert tuple(await cursor.fetchone()) == ("closed",)
