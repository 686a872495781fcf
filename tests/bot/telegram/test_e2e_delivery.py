"""Delivery survives the Bot API: faults injected at the double, end to end.

Edits and keyboard removals are cosmetic (tried once, any failure ignored); the
next question is retried through transient failures, and what could not be
sent is drawn again by /riprendi or at the next start-up. Every assertion is on
what the officer sees and what is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.bot.telegram.test_e2e_officer import answer_respondent, answers, login, to_review
from tests.support.botapi_double import (
    MESSAGE_CANT_BE_EDITED,
    MESSAGE_TO_EDIT_NOT_FOUND,
    NOT_MODIFIED,
    BotApiDouble,
)
from tests.support.harness import Clock, Harness, make_settings

OFFICER = 1001
NAME_QUESTION = "Scrivi il tuo nome e cognome"
READ_TIMEOUT = 0.5  # the client's, so that an injected 1 s delay is a real timeout

Inject = Callable[[BotApiDouble, str], None]

# Every way a Bot API call can fail once, as the double injects it.
FAULTS: dict[str, Inject] = {
    "timeout": lambda d, m: d.inject_timeout(m, delay=READ_TIMEOUT * 2),
    "dropped connection": lambda d, m: d.inject_disconnect(m),
    "http 500": lambda d, m: d.inject_server_error(m),
    "http 502": lambda d, m: d.inject_server_error(m, status=502),
    "429 retry_after": lambda d, m: d.inject_retry_after(m, 1),
    "200 without result": lambda d, m: d.inject_malformed(m),
    "200 not json": lambda d, m: d.inject_malformed(m, body=b"<html>bad gateway</html>"),
    "400 not found": lambda d, m: d.inject_error(m, 400, MESSAGE_TO_EDIT_NOT_FOUND),
    "400 can't be edited": lambda d, m: d.inject_error(m, 400, MESSAGE_CANT_BE_EDITED),
    "400 not modified": lambda d, m: d.inject_error(m, 400, NOT_MODIFIED),
}
# Failures a retry can overcome (Telegram's 400 refusals are not retried).
TRANSIENT = [k for k in FAULTS if not k.startswith("400")]


@pytest.fixture
async def harness(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    h = Harness(double, make_settings(tmp_path, double), Clock(), read_timeout=READ_TIMEOUT)
    await h.start()
    yield h
    await h.stop()


def count(h: Harness, text: str) -> int:
    return sum(text in t for t in h.texts(OFFICER))


def buttons_of(h: Harness, message_id: int) -> list[list[tuple[str, str]]]:
    return h.double.buttons(h.double.message(OFFICER, message_id))


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_failed_edit_of_the_pressed_question_never_costs_the_next(
    harness: Harness, fault: str
) -> None:
    h = harness
    await login(h, OFFICER)
    pressed = h.double.last(OFFICER)["message_id"]
    FAULTS[fault](h.double, "editMessageText")
    await h.press(OFFICER, "Sì")
    assert h.double.pending_faults() == 0  # the edit was tried and failed
    assert count(h, NAME_QUESTION) == 1, h.screen(OFFICER, 3)
    assert NAME_QUESTION in h.last_text(OFFICER)
    assert (await answers(h))["municipality_confirmed"] is True
    if fault != "400 not modified":  # (Telegram's word that it already shows that)
        # The edit that would have shown the answer failed: the buttons still go.
        assert buttons_of(h, pressed) == []
    await h.send(OFFICER, "Mario Rossi")
    assert (await answers(h))["respondent_name"] == "Mario Rossi"
    assert not h.double.errors


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_failed_keyboard_removal_never_costs_the_next_question(
    harness: Harness, fault: str
) -> None:
    h = harness
    await login(h, OFFICER)
    FAULTS[fault](h.double, "editMessageReplyMarkup")
    await h.send(OFFICER, "sì")  # typed: the question's buttons are taken away by a removal
    assert h.double.pending_faults() == 0
    assert count(h, NAME_QUESTION) == 1, h.screen(OFFICER, 3)
    assert h.last_text(OFFICER).startswith("✓ Sì\n")
    assert (await answers(h))["municipality_confirmed"] is True


# One of each family ("not modified" cannot answer a toggle: its buttons' data changes).
@pytest.mark.parametrize(
    "fault", ["timeout", "http 500", "429 retry_after", "200 not json", "400 not found"]
)
async def test_a_toggle_whose_edit_fails_is_drawn_anew(harness: Harness, fault: str) -> None:
    h = harness
    await login(h, OFFICER)
    await answer_respondent(h, OFFICER)
    await h.press(OFFICER, "➕ Aggiungi")
    await h.send(OFFICER, "Ludoteca")
    question = h.double.last(OFFICER)["message_id"]
    FAULTS[fault](h.double, "editMessageText")
    await h.press(OFFICER, "▫️ Infanzia")
    newest = h.double.last(OFFICER)
    if fault == "429 retry_after":
        # python-telegram-bot's rate limiter waits and tries again: edited in place.
        assert newest["message_id"] == question
    else:
        assert newest["message_id"] != question
    assert "✅ Infanzia" in [b for row in h.double.buttons(newest) for b, _ in row]
    await h.press(OFFICER, "✔️ Conferma")
    assert (await answers(h))["practices"][0]["areas"] == ["infanzia"]


@pytest.mark.parametrize("fault", TRANSIENT)
async def test_the_next_question_arrives_through_transient_failures(
    harness: Harness, fault: str
) -> None:
    h = harness
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")
    FAULTS[fault](h.double, "sendMessage")
    FAULTS[fault](h.double, "sendMessage")  # twice in a row
    await h.send(OFFICER, "Mario Rossi")
    assert h.double.pending_faults() == 0
    assert count(h, "Indica l'ufficio o servizio") == 1, h.screen(OFFICER, 3)
    assert h.last_text(OFFICER).startswith("✓ Mario Rossi\n")
    assert (await answers(h))["respondent_name"] == "Mario Rossi"


async def answer_during_an_outage(h: Harness) -> None:
    """The officer's name is committed while no message can reach the officer."""
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")
    h.double.inject_server_error("sendMessage", times=10)
    await h.send(OFFICER, "Mario Rossi")
    assert count(h, "Indica l'ufficio o servizio") == 0  # never arrived
    assert (await answers(h))["respondent_name"] == "Mario Rossi"  # but stored
    h.double.clear_faults()  # the outage ends


async def test_a_question_that_cannot_be_sent_is_kept_and_redrawn_by_riprendi(
    harness: Harness,
) -> None:
    h = harness
    await answer_during_an_outage(h)
    await h.send(OFFICER, "/riprendi")
    assert "Indica l'ufficio o servizio" in h.last_text(OFFICER)
    assert "Bentornato! Hai risposto a 2 domande" in h.screen(OFFICER, 1)


async def test_restart_draws_the_question_that_was_committed_but_never_sent(
    harness: Harness,
) -> None:
    h = harness
    await answer_during_an_outage(h)
    await h.restart()
    await h.double.wait_for(lambda: count(h, "Indica l'ufficio o servizio") == 1)
    # Drawn again as it was: no step was taken, the answer is the officer's.
    assert (await answers(h))["respondent_name"] == "Mario Rossi"
    await h.send(OFFICER, "Servizi Sociali")
    assert "indirizzo email" in h.last_text(OFFICER)
    # Delivered now: a further restart draws nothing again.
    sent = len(h.double.sent(OFFICER))
    await h.restart()
    await h.send(OFFICER, "m@comune.it")
    assert len(h.double.sent(OFFICER)) == sent + 1


async def test_the_buttons_of_a_redrawn_question_work(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER)
    first = h.double.last(OFFICER)["message_id"]
    h.double.inject_server_error("sendMessage", times=10)
    await h.send(OFFICER, "/riprendi")  # committed, never shown
    h.double.clear_faults()
    await h.restart()
    await h.double.wait_for(lambda: h.double.last(OFFICER)["message_id"] != first)
    redrawn = h.double.last(OFFICER)
    assert "Domanda 1 di" in redrawn["text"]
    await h.press(OFFICER, "Sì", message_id=redrawn["message_id"])
    assert (await answers(h))["municipality_confirmed"] is True
    assert NAME_QUESTION in h.last_text(OFFICER)


async def test_a_blocked_officer_is_marked_unreachable_and_not_redrawn(
    harness: Harness,
) -> None:
    h = harness
    await login(h, OFFICER)
    h.double.block_user(OFFICER)
    await h.press(OFFICER, "Sì")
    assert await h.store.fetchall("SELECT 1 FROM officers WHERE unreachable_at IS NOT NULL")
    assert (await answers(h))["municipality_confirmed"] is True
    h.double.unblock_user(OFFICER)
    sent = len(h.double.sent(OFFICER))
    await h.restart()
    await h.settle()
    assert len(h.double.sent(OFFICER)) == sent  # no redraw for an unreachable officer
    await h.send(OFFICER, "/riprendi")  # coming back makes the officer reachable again
    assert len(h.double.sent(OFFICER)) > sent
    assert NAME_QUESTION in h.last_text(OFFICER)


async def test_a_receipt_that_could_not_be_sent_comes_after_the_restart(
    harness: Harness,
) -> None:
    h = harness
    await to_review(h, OFFICER)
    await h.press(OFFICER, "📨 Invia il questionario")
    h.double.inject_server_error("sendDocument", times=10)
    await h.press(OFFICER, "✅ Sì, invia")
    assert not [m for m in h.double.sent(OFFICER) if "document" in m]
    assert await h.store.fetchall("SELECT revision FROM submissions")  # submitted all the same
    h.double.clear_faults()
    await h.restart()
    await h.double.wait_for(lambda: any("document" in m for m in h.double.sent(OFFICER)))
    receipt = h.double.last(OFFICER)
    assert receipt["caption"] == "Ricevuta di invio – Firenze, revisione 1"
    assert h.double.document_bytes(receipt).startswith(b"%PDF")
