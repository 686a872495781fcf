"""End to end: several officers of one municipality on one response (issue 11).

Two officers of Firenze drive the real Application through the Bot API double:
Mario (who writes his name in the questionnaire) and Anna (known by her
Telegram first name). Each story of the issue is replayed: no answer is ever
overwritten without the officer who overwrites it having seen what they replace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.telegram.test_e2e_officer import (
    FIRENZE,
    add_practice,
    answer_respondent,
    answers,
    no_internal_error,
    rows,
)
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

MARIO = 1001
ANNA = 1002
LUCA = 1003
OPERATOR = 9001
CONSENT = "Acconsenti alla pubblicazione"


@pytest.fixture
async def h(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    async with running(tmp_path, double, operators=[OPERATOR], coordinators=[]) as harness:
        yield harness


async def join(h: Harness, user: int, first_name: str) -> None:
    """Log in as an officer whose Telegram first name is `first_name`."""
    code = h.codes.get(FIRENZE) or await h.issue(FIRENZE)
    h.double.user_sends(user, "/start", first_name=first_name)
    await h.settle()
    await h.send(user, code)


async def mario_then_anna(h: Harness) -> None:
    """Mario confirms the municipality and gives his name; then Anna joins and gives the
    office (the next question)."""
    await join(h, MARIO, "Mario")
    await h.press(MARIO, "Sì")
    await h.send(MARIO, "Mario Rossi")
    await join(h, ANNA, "Anna")
    await h.send(ANNA, "Ufficio Famiglie")


async def changes_of(h: Harness, item_ref: str) -> list[tuple[Any, ...]]:
    return await rows(
        h, "SELECT new_json, user_id FROM answer_changes WHERE item_ref = ? ORDER BY id", item_ref
    )


async def test_typed_answer_on_a_stale_prompt_is_a_question_not_an_overwrite(h: Harness) -> None:
    await join(h, MARIO, "Mario")
    await h.press(MARIO, "Sì")
    await h.send(MARIO, "Mario Rossi")
    assert "ufficio o servizio" in h.last_text(MARIO)  # Mario's prompt is drawn now
    await join(h, ANNA, "Anna")
    assert "finora da parte di Mario Rossi: 2 risposte su 10" in h.screen(ANNA, 3)
    assert "ufficio o servizio" in h.last_text(ANNA)
    await h.send(ANNA, "Ufficio Famiglie")
    # Mario's screen is not redrawn by Anna's answer...
    assert "ufficio o servizio" in h.last_text(MARIO)
    # ...and his own text, typed on the prompt drawn before, is not applied.
    await h.send(MARIO, "Servizi Sociali, responsabile")
    question = h.expect_one_new_message(MARIO)["text"]
    assert "Nel frattempo Anna ha risposto «Ufficio Famiglie»" in question
    assert "Vuoi sostituirla con «Servizi Sociali, responsabile»?" in question
    assert (await answers(h))["respondent_role"] == "Ufficio Famiglie"
    await h.press(MARIO, "👌 Mantieni la sua")
    assert (await answers(h))["respondent_role"] == "Ufficio Famiglie"
    assert "indirizzo email" in h.last_text(MARIO)  # on to his next question
    assert await changes_of(h, "respondent_role") == [('"Ufficio Famiglie"', ANNA)]
    no_internal_error(h, MARIO)


async def test_replacing_after_the_question_records_who_replaced_what(h: Harness) -> None:
    await mario_then_anna(h)
    await h.send(MARIO, "Servizi Sociali")
    await h.press(MARIO, "🔁 Sostituisci")
    assert (await answers(h))["respondent_role"] == "Servizi Sociali"
    stored = await rows(
        h, "SELECT old_json, new_json, user_id FROM answer_changes WHERE item_ref = ? "
           "ORDER BY id", "respondent_role")
    assert stored == [("null", '"Ufficio Famiglie"', ANNA),
                      ('"Ufficio Famiglie"', '"Servizi Sociali"', MARIO)]
    # Alone, Mario's review names nobody; once two officers answered, it names who
    # gave each answer.
    await h.send(MARIO, "/riepilogo")
    assert "(Mario Rossi)" not in h.last_text(MARIO)
    await h.send(ANNA, "/riprendi")
    await h.send(ANNA, "anna@comune.fi.it")
    await h.send(ANNA, "/riepilogo")
    review = h.last_text(ANNA)
    assert "Servizi Sociali (Mario Rossi)" in review
    assert "anna@comune.fi.it (Anna)" in review


async def test_consent_story_kept_value_and_submission_lists_changes(h: Harness) -> None:
    await join(h, MARIO, "Mario")
    await answer_respondent(h, MARIO)
    await add_practice(h, MARIO, "Centro famiglie")
    await h.press(MARIO, "Ho finito, avanti ➡️")
    await h.press_key(MARIO, "⏭ Salta")  # notes
    assert CONSENT in h.last_text(MARIO)
    await join(h, ANNA, "Anna")
    assert CONSENT in h.last_text(ANNA)  # both prompts are live
    await h.press(MARIO, "Sì")
    assert "Riepilogo delle risposte" in h.screen(MARIO, 3)
    # Anna's consent prompt was drawn before Mario answered.
    await h.press(ANNA, "No")
    question = h.last_text(ANNA)
    assert "Nel frattempo Mario Rossi ha risposto «Sì»" in question
    assert "Vuoi sostituirla con «No»?" in question
    assert (await answers(h))["publish_consent"] is True
    await h.press(ANNA, "🔁 Sostituisci")
    assert (await answers(h))["publish_consent"] is False
    # Mario submits from the review he saw before: the confirmation tells him.
    await h.press(MARIO, "📨 Invia il questionario")
    await h.press(MARIO, "✅ Sì, invia")
    told = "\n".join(h.texts(MARIO)[-3:])
    assert "Risposte cambiate da altri referenti" in told
    assert f"«{CONSENT}" in told and "— Anna" in told
    # Anna hears about the submission, once.
    submitted = [t for t in h.texts(ANNA) if "ha inviato il questionario" in t]
    assert submitted == ["📨 Mario Rossi ha inviato il questionario del Comune di Firenze "
                         "(revisione 1)."]
    # Reopening is told to the other officer too.
    await h.send(ANNA, "/riepilogo")
    await h.press(ANNA, "🔓 Riapri per modificare")
    await h.press(ANNA, "🔓 Sì, riapri")  # reopening asks first
    assert "Anna ha riaperto il questionario del Comune di Firenze" in h.last_text(MARIO)
    no_internal_error(h, MARIO)
    no_internal_error(h, ANNA)


async def test_simultaneous_answers_exactly_one_applied(h: Harness) -> None:
    await join(h, MARIO, "Mario")
    await h.press(MARIO, "Sì")
    await h.send(MARIO, "Mario Rossi")
    await join(h, ANNA, "Anna")
    assert "ufficio o servizio" in h.last_text(MARIO)
    assert "ufficio o servizio" in h.last_text(ANNA)
    marks = {MARIO: h.mark(MARIO), ANNA: h.mark(ANNA)}
    # Both updates are in flight at once: the double hands them over in one batch.
    h.double.user_sends(MARIO, "Servizi Sociali")
    h.double.user_sends(ANNA, "Ufficio Famiglie")
    await h.settle()
    applied = await changes_of(h, "respondent_role")
    assert len(applied) == 1
    winner = applied[0][1]
    loser = ANNA if winner == MARIO else MARIO
    assert "Nel frattempo" in h.expect_one_new_message(loser, marks[loser])["text"]
    assert "indirizzo email" in h.expect_one_new_message(winner, marks[winner])["text"]


async def test_removed_entry_told_to_colleague_and_stale_remove_refused(h: Harness) -> None:
    await join(h, MARIO, "Mario")
    await answer_respondent(h, MARIO)
    await add_practice(h, MARIO, "Centro famiglie")
    await add_practice(h, MARIO, "Ludoteca")
    await join(h, ANNA, "Anna")
    assert "Hai inserito 2 buone pratiche" in h.last_text(ANNA)
    await h.press(MARIO, "🗑 Elimina 1")
    await h.press(MARIO, "🗑 Sì, elimina")
    assert [t for t in h.texts(ANNA) if "ha eliminato la voce" in t] == [
        "🗑 Mario Rossi ha eliminato la voce «Centro famiglie» di «Buona pratica»."]
    # Anna's menu still shows entry 1 as "Centro famiglie": it is gone, nothing else is.
    await h.press(ANNA, "🗑 Elimina 1")
    assert "Nel frattempo Mario Rossi ha eliminato questa voce" in h.screen(ANNA, 2)
    snapshot = await answers(h)
    assert [p["title"] for p in snapshot["practices"]] == ["Ludoteca"]


async def test_one_officer_alone_pays_no_extra_call(h: Harness) -> None:
    await join(h, MARIO, "Mario")
    before = len(h.double.requests)
    steps = 0
    await h.press(MARIO, "Sì")
    for text in ("Mario Rossi", "Servizi Sociali", "mario.rossi@comune.fi.it", "055 1234567"):
        await h.send(MARIO, text)
        h.expect_one_new_message(MARIO)
        steps += 1
    calls = Counter(method for method, _ in h.double.requests[before:])
    # Per typed answer: the next question; per press: one edit showing the answer,
    # the next question and the button's answer.
    assert calls == Counter({"sendMessage": steps + 1, "editMessageText": 1,
                             "answerCallbackQuery": 1, "getUpdates": calls["getUpdates"]})
    assert not any("Nel frattempo" in t or "👥" in t for t in h.texts(MARIO))


async def test_operator_unbinds_an_officer_others_are_refused(h: Harness) -> None:
    await join(h, MARIO, "Mario")
    await h.press(MARIO, "Sì")
    await h.send(MARIO, "Mario Rossi")
    await join(h, ANNA, "Anna")
    await h.send(OPERATOR, "/comune 048017")
    listing = h.last_text(OPERATOR)
    assert f"Mario Rossi (id {MARIO})" in listing and f"Anna (id {ANNA})" in listing
    assert "ultima attività: 01/07/2019" in listing
    # An officer cannot unbind a colleague.
    await h.send(MARIO, f"/scollega {ANNA}")
    assert "Non sei autorizzato" in h.last_text(MARIO)
    assert (await h.store.officer(ANNA)).istat == FIRENZE
    await h.send(OPERATOR, f"/scollega {ANNA}")
    assert "Anna è stato scollegato dal Comune di Firenze" in h.last_text(OPERATOR)
    assert "Non sei più collegato al Comune di Firenze" in h.last_text(ANNA)
    assert (await h.store.officer(ANNA)).istat is None
    audit = await rows(h, "SELECT actor_id, action, target FROM audit_log WHERE action = ?",
                       "officer.unbind")
    assert audit == [(OPERATOR, "officer.unbind", str(ANNA))]
    # Her next message asks for a code; her answers stayed in the response.
    await h.send(ANNA, "Ufficio Famiglie")
    assert "identificativo abilitante" in h.last_text(ANNA)
    assert (await answers(h))["respondent_name"] == "Mario Rossi"
    await h.send(OPERATOR, f"/scollega {ANNA}")
    assert "non è collegato" in h.last_text(OPERATOR)


async def test_a_third_officer_is_told_who_worked_before_in_their_language(h: Harness) -> None:
    await mario_then_anna(h)
    code = h.codes[FIRENZE]
    h.double.user_sends(LUCA, "/start", first_name="Luke", language_code="en")
    await h.settle()
    await h.send(LUCA, code)
    assert ("The questionnaire of the Municipality of Firenze is already being filled in, so far "
            "by Mario Rossi and Anna: 3 answers of 10. Answers are shared.") in h.screen(LUCA, 3)

