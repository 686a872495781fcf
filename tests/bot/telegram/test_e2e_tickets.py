"""Assistance team end to end: officer, operator and the team's group, through
the real Application and the Bot API double."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

GROUP = -1001234567890
OPERATOR = 9001
OFFICER = 1001
NEW_OFFICER = 1002
STRANGER = 5555


@pytest.fixture
async def desk(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    async with running(
        tmp_path, double, assistance_chat_id=GROUP, operators=[OPERATOR], coordinators=[]
    ) as h:
        yield h


def group_texts(h: Harness) -> list[str]:
    return h.double.texts(GROUP)


async def operator_says(
    h: Harness,
    text: str,
    reply_to: int | None = None,
    thread: int | None = None,
    user: int = OPERATOR,
) -> None:
    h.double.user_sends(
        user,
        text,
        chat_id=GROUP,
        chat_type="supergroup",
        reply_to_message_id=reply_to,
        message_thread_id=thread,
        first_name="Operatrice",
        chat_title="Assistenza",
    )
    await h.settle()


async def login(h: Harness, user: int, istat: str = "048017") -> None:
    code = h.codes.get(istat) or await h.issue(istat)
    await h.send(user, "/start")
    await h.send(user, code)


async def test_ticket_raised_answered_followed_up_closed(desk: Harness) -> None:
    h = desk
    # An operator has written in the group before: it is an ordinary supergroup.
    await operator_says(h, "Buongiorno a tutti")
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")  # municipality confirmed
    await h.send(OFFICER, "Mario Rossi")
    await h.send(OFFICER, "Servizi sociali")
    await h.send(OFFICER, "non-una-email")  # a validation error the operator should see
    position_before = h.last_text(OFFICER)
    assert "email" in position_before.lower()

    await h.press_key(OFFICER, "🆘 Aiuto")  # the reply keyboard's help key
    assert "richiesta" in h.last_text(OFFICER).lower()
    await h.send(OFFICER, "Non so quale email indicare, quella del servizio va bene?")
    assert "ticket n. 1" in h.last_text(OFFICER)

    card = next(m for m in h.double.sent(GROUP) if "Ticket n. 1" in (m.get("text") or ""))
    text = card["text"]
    assert "Firenze (048017)" in text
    assert "Mario" in text and f"id {OFFICER}" in text
    assert "Domanda 4 di" in text  # the item the officer is on
    assert "email" in text.lower()  # its question text
    assert "Ultimo errore: Indirizzo email non valido" in text
    assert [label for row in h.double.buttons(card) for label, _ in row] == [
        "🙋 Prendo io",
        "✅ Risolto",
    ]
    assert any("quale email" in t for t in group_texts(h))

    # The operator takes it, then answers by replying to the card.
    h.double.user_presses(OPERATOR, card["message_id"], "tk:take:1", chat_id=GROUP)
    await h.double.wait_idle()
    card = h.double.message(GROUP, card["message_id"])
    assert "Preso in carico da" in card["text"]
    h.clock.now += timedelta(minutes=7)
    await operator_says(h, "Sì, va benissimo l'email del servizio.", reply_to=card["message_id"])
    relayed = h.double.last(OFFICER)
    assert "Assistenza" in relayed["text"] and "va benissimo" in relayed["text"]

    # The officer replies to the relayed message: it goes to the same ticket.
    h.double.user_sends(
        OFFICER, "Grazie! E il telefono?", reply_to_message_id=relayed["message_id"]
    )
    await h.settle()
    assert "aggiunto al ticket n. 1" in h.last_text(OFFICER)
    assert any("E il telefono?" in t for t in group_texts(h))

    # Closing tells the officer; the questionnaire position was kept throughout.
    h.double.user_presses(OPERATOR, card["message_id"], "tk:close:1", chat_id=GROUP)
    await h.double.wait_idle()
    assert "chiuso" in h.last_text(OFFICER)
    assert "Risolto" not in str(h.double.buttons(h.double.message(GROUP, card["message_id"])))
    await h.send(OFFICER, "/riprendi")
    assert "Domanda 4 di" in h.last_text(OFFICER)
    await h.send(OFFICER, "mario.rossi@comune.firenze.it")
    assert "Domanda 5 di" in h.last_text(OFFICER)

    row = await h.store.fetchone("SELECT status, first_reply_at, created_at, taken_by FROM tickets")
    assert row[0] == "closed" and row[3] == OPERATOR
    assert row[1] > row[2]  # time to first reply recorded
    actions = [r[0] for r in await h.store.fetchall("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["ticket.take", "ticket.close"]
    # The help message itself never became an answer.
    answers = json.loads((await h.store.fetchone("SELECT state_json FROM responses"))[0])
    assert "quale email" not in json.dumps(answers)


async def test_tickets_survive_restart_and_are_listed(desk: Harness) -> None:
    h = desk
    await operator_says(h, "ciao")
    await login(h, OFFICER)
    await h.send(OFFICER, "/aiuto")
    h.double.user_sends_media(OFFICER, "photo", caption="Vedete l'errore?")
    await h.settle()
    assert "ticket n. 1" in h.last_text(OFFICER)
    assert any(m.get("photo") for m in h.double.sent(GROUP))  # the photo reached the group
    await h.restart()
    h.clock.now += timedelta(hours=2)
    await operator_says(h, "/ticket")
    listing = h.double.last(GROUP)["text"]
    assert "Ticket aperti: 1" in listing and "n. 1 · Firenze" in listing
    assert "2 h 0 min" in listing and "da assegnare" in listing
    card = next(m for m in h.double.sent(GROUP) if "Ticket n. 1" in (m.get("text") or ""))
    await operator_says(h, "Ricevuto, vi richiamiamo.", reply_to=card["message_id"])
    assert "vi richiamiamo" in h.last_text(OFFICER)


async def test_forum_group_gets_a_topic_per_ticket(desk: Harness) -> None:
    h = desk
    await operator_says(h, "Benvenuti", thread=1)  # messages in threads: a forum supergroup
    await login(h, OFFICER)
    await h.send(OFFICER, "/aiuto")
    await h.send(OFFICER, "Il codice non funziona per il secondo referente")
    topics = h.double.calls("createForumTopic")
    assert len(topics) == 1 and "#1" in str(topics[0]["name"])
    thread = (await h.store.fetchone("SELECT thread_id FROM tickets"))[0]
    assert thread is not None
    await operator_says(h, "Le mandiamo un nuovo codice.", thread=thread)
    assert "nuovo codice" in h.last_text(OFFICER)
    await operator_says(h, "/chiudi", thread=thread)
    assert "chiuso" in h.last_text(OFFICER)
    assert h.double.calls("closeForumTopic")


async def test_operator_codes_work_for_a_new_officer(desk: Harness) -> None:
    h = desk
    # "forli" matches Forlì, Forlì del Sannio, Forlimpopoli: the exact name wins.
    await h.send(OPERATOR, "/start")  # the operator opens a private chat with the bot
    await operator_says(h, "/codice forli")
    assert "inviato in privato" in h.double.last(GROUP)["text"]
    private = h.double.last(OPERATOR)["text"]
    assert "Forlì" in private and "040012" in private
    code = private.split("\n")[1]
    await h.send(NEW_OFFICER, "/start")
    await h.send(NEW_OFFICER, code)
    assert any("Forlì" in t for t in h.texts(NEW_OFFICER))
    assert "Domanda 1 di" in h.last_text(NEW_OFFICER)
    # Stored only as a keyed hash.
    hashes = [r[0] for r in await h.store.fetchall("SELECT code_hash FROM access_codes")]
    assert code not in hashes and code.replace("-", "") not in hashes

    await operator_says(h, "/comune Forlì")
    status = h.double.last(GROUP)["text"]
    assert "Forlì" in status and "040012" in status and "Mario" in status
    await operator_says(h, "/comune san giovanni")
    assert "Più Comuni" in h.double.last(GROUP)["text"]

    await operator_says(h, "/revoca 40012")
    assert "revocato" in h.double.last(GROUP)["text"]
    await h.send(NEW_OFFICER, "Mario")
    assert "identificativo" in h.last_text(NEW_OFFICER)

    actions = [r[0] for r in await h.store.fetchall("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["code.issue", "municipality.view", "code.revoke"]


async def test_unlock_and_reopen(desk: Harness) -> None:
    h = desk
    await h.issue("048017")
    await h.send(NEW_OFFICER, "/start")
    for _ in range(5):
        await h.send(NEW_OFFICER, "2222-2222-22")
    locked = h.last_text(NEW_OFFICER)
    assert "Troppi tentativi" in locked
    await h.send(OPERATOR, "/start")
    await h.send(OPERATOR, f"/sblocca {NEW_OFFICER}")
    assert "sbloccato" in h.last_text(OPERATOR)
    await h.send(NEW_OFFICER, h.codes["048017"])
    assert any("Firenze" in t for t in h.texts(NEW_OFFICER))

    await h.send(OPERATOR, "/riapri 048017")
    assert "non risulta inviato" in h.last_text(OPERATOR)
    actions = [r[0] for r in await h.store.fetchall("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["login.unlock"]


async def test_unauthorised_users_are_refused(desk: Harness) -> None:
    h = desk
    await login(h, OFFICER)
    for command in (
        "/codice 048017",
        "/revoca 048017",
        "/comune 048017",
        "/sblocca 1",
        "/riapri 048017",
    ):
        await h.send(OFFICER, command)
        assert "Non sei autorizzato" in h.last_text(OFFICER)
        await operator_says(h, command, user=STRANGER)
        assert "Non sei autorizzato" in h.double.last(GROUP)["text"]
    await operator_says(h, "/ticket", user=STRANGER)
    assert "Non sei autorizzato" in h.double.last(GROUP)["text"]
    # Chatter from non-operators in the group is ignored.
    before = len(h.double.sent(GROUP))
    await operator_says(h, "chi è di turno oggi?", user=STRANGER)
    assert len(h.double.sent(GROUP)) == before
    assert (await h.store.fetchone("SELECT COUNT(*) FROM audit_log"))[0] == 0
    assert await h.store.has_active_code("048017")


async def test_a_navigation_key_while_the_desk_waits_is_never_the_request(
    desk: Harness,
) -> None:
    h = desk
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")
    await h.send(OFFICER, "Mario Rossi")
    await h.press_key(OFFICER, "🆘 Aiuto")
    assert "richiesta" in h.last_text(OFFICER).lower()

    # The officer changes their mind and looks at the review instead.
    before = h.mark(OFFICER)
    await h.press_key(OFFICER, "📋 Riepilogo")
    shown = "\n".join(m.get("text") or "" for m in h.new_messages(OFFICER, before))
    assert "non è stata inviata" in shown  # told the request was dropped
    assert "Mario Rossi" in shown  # and the key did what it says: the review
    assert not any("Ticket n." in text for text in group_texts(h))

    # What they type next is an answer again, not a request.
    await h.send(OFFICER, "/riprendi")
    await h.send(OFFICER, "Servizi sociali")
    assert not any("Ticket n." in text for text in group_texts(h))
    assert "✓ Servizi sociali" in h.last_text(OFFICER)

    # The help key while the desk waits asks again; the text after it is the request.
    await h.press_key(OFFICER, "🆘 Aiuto")
    await h.press_key(OFFICER, "🆘 Aiuto")
    assert "richiesta" in h.last_text(OFFICER).lower()
    assert not any("Ticket n." in text for text in group_texts(h))
    await h.send(OFFICER, "Come indico un secondo ufficio?")
    assert "ticket n. 1" in h.last_text(OFFICER)
    card = next(m for m in h.double.sent(GROUP) if "Ticket n. 1" in (m.get("text") or ""))
    assert "Aiuto" not in card["text"].split("\n")[0]
    assert any("Come indico un secondo ufficio?" in text for text in group_texts(h))
    assert not any("🆘" in text for text in group_texts(h))
