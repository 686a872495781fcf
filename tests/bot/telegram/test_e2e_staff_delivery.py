"""The staff side commits first, then sends, and its messages survive the Bot API:
ticket cards and relayed replies go out once their chat works again, never twice,
and one a crash may have sent is shown to the team as uncertain. Through the real
Application and the Bot API double, with faults injected on chosen chats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from storage.store import Store
from tests.bot.telegram.test_e2e_officer import to_review
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

GROUP = -1001234567890
OPERATOR = 9001
OFFICER = 1001
REQUEST = "Non riesco a inserire il numero di telefono del servizio"


@pytest.fixture
async def desk(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    double.set_group(GROUP, title="Assistenza")  # an ordinary supergroup
    async with running(
        tmp_path, double, assistance_chat_id=GROUP, operators=[OPERATOR], coordinators=[]
    ) as h:
        yield h


async def operator_says(h: Harness, text: str, reply_to: int | None = None) -> None:
    h.double.user_sends(OPERATOR, text, chat_id=GROUP, chat_type="supergroup",
                        reply_to_message_id=reply_to, first_name="Operatrice",
                        chat_title="Assistenza")
    await h.settle()


async def login(h: Harness) -> None:
    code = h.codes.get("048017") or await h.issue("048017")
    await h.send(OFFICER, "/start")
    await h.send(OFFICER, code)


async def flush_later(h: Harness, seconds: float) -> None:
    """Time passes (the injected clock) and the courier makes its round."""
    assert h.services is not None
    h.clock.now += timedelta(seconds=seconds)
    await h.services.staff_courier.flush()
    await h.settle()


def cards(h: Harness) -> list[str]:
    return [t for t in h.double.texts(GROUP) if "Ticket n. 1</b>\n🏛" in t or
            t.startswith("🆕 Ticket n. 1")]


def in_group(h: Harness, fragment: str) -> list[str]:
    return [t for t in h.double.texts(GROUP) if fragment in t]


def relays(h: Harness, fragment: str) -> list[str]:
    return [t for t in h.double.texts(OFFICER) if fragment in t]


async def open_ticket(h: Harness) -> int:
    """A ticket whose card is in the group; the card's message id."""
    await login(h)
    await h.send(OFFICER, "/aiuto")
    await h.send(OFFICER, REQUEST)
    card = next(m for m in h.double.sent(GROUP) if "Ticket n. 1" in (m.get("text") or ""))
    return int(card["message_id"])


async def test_help_request_is_kept_while_the_group_fails_and_posted_once_it_works(
    desk: Harness,
) -> None:
    h = desk
    await login(h)
    await h.send(OFFICER, "/aiuto")
    h.double.inject_error("sendMessage", 500, "Internal Server Error", chat_id=GROUP)
    await h.send(OFFICER, REQUEST)

    # The officer is told at once; nothing reached the group, nothing is lost.
    assert "ticket n. 1" in h.last_text(OFFICER)
    assert in_group(h, "Ticket n. 1") == []
    stored = await h.store.fetchone("SELECT direction, text FROM ticket_messages")
    assert tuple(stored) == ("officer", REQUEST)
    waiting = await h.store.fetchall("SELECT kind, status, attempts FROM outgoing ORDER BY id")
    assert [tuple(r) for r in waiting] == [("card", "pending", 1), ("to_group", "pending", 0)]

    # Not due yet: the courier waits for its backoff.
    await flush_later(h, 1)
    assert in_group(h, "Ticket n. 1") == []

    await flush_later(h, 60)
    card = next(m for m in h.double.sent(GROUP) if "🆕" in (m.get("text") or ""))
    assert "Ticket n. 1" in card["text"] and "Firenze (048017)" in card["text"]
    posted = in_group(h, REQUEST)
    assert len(posted) == 1
    post = next(m for m in h.double.sent(GROUP) if REQUEST in (m.get("text") or ""))
    assert post["reply_to_message"]["message_id"] == card["message_id"]  # under its card

    await flush_later(h, 600)  # another round sends nothing again
    assert len(in_group(h, "🆕")) == 1 and len(in_group(h, REQUEST)) == 1

    # The operator answers the card as usual.
    await operator_says(h, "Lo inserisca senza prefisso.", reply_to=card["message_id"])
    assert len(relays(h, "senza prefisso")) == 1


async def test_operator_reply_arrives_once_after_the_officer_chat_failed(desk: Harness) -> None:
    h = desk
    card_id = await open_ticket(h)
    h.double.inject_error("sendMessage", 502, "Bad Gateway", times=2, chat_id=OFFICER)
    await operator_says(h, "Provi con 055 2037349.", reply_to=card_id)

    # Recorded before anything was sent, then tried: the chat failed.
    row = await h.store.fetchone(
        "SELECT direction, text, group_message_id, officer_message_id FROM ticket_messages "
        "WHERE direction = 'operator'")
    assert tuple(row)[:2] == ("operator", "Provi con 055 2037349.")
    assert row[2] is not None and row[3] is None
    assert relays(h, "055 2037349") == []

    await flush_later(h, 6)  # the second failure
    assert relays(h, "055 2037349") == []
    await flush_later(h, 60)
    assert len(relays(h, "055 2037349")) == 1
    await flush_later(h, 600)
    assert len(relays(h, "055 2037349")) == 1
    status = await h.store.fetchone(
        "SELECT status, attempts FROM outgoing WHERE kind = 'to_officer'")
    assert tuple(status) == ("sent", 3)

    # Where it landed was recorded: the officer's reply to it joins the same ticket.
    relayed = next(m for m in h.double.sent(OFFICER) if "055 2037349" in (m.get("text") or ""))
    h.double.user_sends(OFFICER, "Funziona, grazie!", reply_to_message_id=relayed["message_id"])
    await h.settle()
    assert "aggiunto al ticket n. 1" in h.last_text(OFFICER)
    assert len(in_group(h, "Funziona, grazie!")) == 1


async def test_a_send_interrupted_by_a_crash_is_never_repeated_and_shown_uncertain(
    desk: Harness,
) -> None:
    h = desk
    card_id = await open_ticket(h)
    # The first reply fails (and waits); the second queues behind it, in order.
    h.double.inject_error("sendMessage", 500, "Internal Server Error", chat_id=OFFICER)
    await operator_says(h, "Prima risposta", reply_to=card_id)
    await operator_says(h, "Seconda risposta", reply_to=card_id)
    assert relays(h, "Prima risposta") == relays(h, "Seconda risposta") == []

    # The crash: the first reply had been marked 'sending' when the process died.
    await h.stop()
    store = await Store.open(h.settings.database)
    async with store.transaction() as db:
        await db.execute("UPDATE outgoing SET status = 'sending' WHERE text LIKE '%Prima%'")
    await store.close()
    await h.start()
    await h.settle()

    # The interrupted one is not sent again; the one committed and not sent goes out.
    assert relays(h, "Prima risposta") == []
    assert len(relays(h, "Seconda risposta")) == 1
    statuses = await h.store.fetchall(
        "SELECT text LIKE '%Prima%', status FROM outgoing WHERE kind = 'to_officer' ORDER BY id")
    assert [tuple(r) for r in statuses] == [(1, "unknown"), (0, "sent")]
    notice = in_group(h, "potrebbe non essere arrivato")
    assert len(notice) == 1 and "Ticket n. 1" in notice[0]
    assert "il messaggio al referente" in notice[0]
    await operator_says(h, "/ticket")
    assert "consegna incerta" in h.double.last(GROUP)["text"]

    await h.restart()  # a later start has nothing left to settle
    await h.settle()
    assert relays(h, "Prima risposta") == [] and len(relays(h, "Seconda risposta")) == 1
    assert len(in_group(h, "potrebbe non essere arrivato")) == 1


async def test_reopen_by_staff_goes_through_the_engine(desk: Harness) -> None:
    h = desk
    await to_review(h, OFFICER)
    await h.send(OFFICER, "/invia")
    await h.press(OFFICER, "✅ Sì, invia")
    assert tuple(await h.store.fetchone("SELECT status, revision FROM responses")) == (
        "submitted", 1)

    await h.send(OPERATOR, "/start")
    await h.send(OPERATOR, "/riapri 048017")
    assert "riaperto (revisione 1)" in h.last_text(OPERATOR)
    assert "riaperto il questionario" in h.last_text(OFFICER)  # the officer is told
    row = await h.store.fetchone("SELECT status, revision FROM responses")
    assert tuple(row) == ("in_progress", 1)
    change = await h.store.fetchone(
        "SELECT item_ref, user_id FROM answer_changes WHERE item_ref = '_status'")
    assert tuple(change) == ("_status", OPERATOR)
    audit = await h.store.fetchone("SELECT action, target FROM audit_log")
    assert tuple(audit) == ("response.reopen", "048017")

    # The officer picks up where the response stands and submits again: revision 2.
    await h.send(OFFICER, "/invia")
    await h.press(OFFICER, "✅ Sì, invia")
    receipt = h.double.last(OFFICER)
    assert receipt["caption"] == "Ricevuta di invio – Firenze, revisione 2"
    revisions = await h.store.fetchall("SELECT revision FROM submissions ORDER BY revision")
    assert [r[0] for r in revisions] == [1, 2]

    # Reopened again, then once more: the engine refuses what is not submitted.
    await h.send(OPERATOR, "/riapri 048017")
    assert "riaperto (revisione 2)" in h.last_text(OPERATOR)
    await h.send(OPERATOR, "/riapri firenze")
    assert "non risulta inviato" in h.last_text(OPERATOR)
    assert tuple(await h.store.fetchone("SELECT status, revision FROM responses")) == (
        "in_progress", 2)
    reopenings = await h.store.fetchone(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'response.reopen'")
    assert reopenings[0] == 2


async def test_a_failed_button_answer_never_costs_the_step(desk: Harness) -> None:
    h = desk
    await login(h)
    await h.press_key(OFFICER, "🆘 Aiuto")  # help is a reply-keyboard key: no query
    assert "Scrivi qui la tua richiesta" in h.last_text(OFFICER)
    await h.send(OFFICER, REQUEST)
    card = next(m for m in h.double.sent(GROUP) if "Ticket n. 1" in (m.get("text") or ""))
    h.double.inject_error("answerCallbackQuery", 500, "Internal Server Error", times=2)
    await h.press_data(OPERATOR, card["message_id"], "tk:take:1", chat_id=GROUP)
    assert "Preso in carico da" in h.double.message(GROUP, card["message_id"])["text"]
    taken = await h.store.fetchone("SELECT taken_by FROM tickets WHERE id = 1")
    assert taken[0] == OPERATOR


async def test_a_long_reply_arrives_whole_in_several_messages(desk: Harness) -> None:
    h = desk
    card_id = await open_ticket(h)
    # Within Telegram's 4,096 characters as typed, past them once escaped and headed.
    lines = [f"Passo {n}: apra il menu & scelga «Servizi» <poi> Conferma." for n in range(64)]
    assert len("\n".join(lines)) < 4096
    mark = h.mark(OFFICER)
    await operator_says(h, "\n".join(lines), reply_to=card_id)
    parts = h.new_messages(OFFICER, since=mark)
    assert len(parts) == 2
    text = "\n".join(m["text"] for m in parts)
    assert all(line in text for line in lines)
    assert "Assistenza" in parts[0]["text"] and h.double.buttons(parts[-1])  # resume button
    # A reply to the last part joins the ticket.
    h.double.user_sends(OFFICER, "Fatto!", reply_to_message_id=parts[-1]["message_id"])
    await h.settle()
    assert "aggiunto al ticket n. 1" in h.last_text(OFFICER)


async def test_staff_reopen_and_its_audit_are_one_transaction(desk: Harness) -> None:
    h = desk
    await to_review(h, OFFICER)
    await h.send(OFFICER, "/invia")
    await h.press(OFFICER, "✅ Sì, invia")
    # A real SQLite failure on the audit row, the last write of the reopen.
    async with h.store.transaction() as db:
        await db.execute("CREATE TRIGGER fail BEFORE INSERT ON audit_log "
                         "WHEN NEW.action = 'response.reopen' "
                         "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    await h.send(OPERATOR, "/start")
    await h.send(OPERATOR, "/riapri 048017")
    row = await h.store.fetchone("SELECT status, revision FROM responses")
    assert tuple(row) == ("submitted", 1)  # nothing reopened without its audit row
    assert await h.store.fetchone(
        "SELECT 1 FROM answer_changes WHERE item_ref = '_status'") is None
    assert "riaperto il questionario" not in h.last_text(OFFICER)

    async with h.store.transaction() as db:
        await db.execute("DROP TRIGGER fail")
    await h.send(OPERATOR, "/riapri 048017")
    assert "riaperto (revisione 1)" in h.last_text(OPERATOR)
    audit = await h.store.fetchone("SELECT action FROM audit_log WHERE action LIKE 'response%'")
    assert tuple(audit) == ("response.reopen",)
