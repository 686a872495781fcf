"""End-to-end: the review is the hub (issue 10).

Good practices are added, edited and removed from the review before and after
a reopen; a municipality with none submits; section intros show on entering a
section; the progress percentage never falls on an answer; the entries menu
reads right for 0, 1 and 2 entries; a reopened response is reported as such.
Everything goes through the real Application and the Bot API double.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path

from bot.cli import status as status_cli
from tests.bot.telegram.test_e2e_officer import (
    FIRENZE,
    NATIONAL_FUND,
    answer_respondent,
    answers,
    login,
    no_internal_error,
    rows,
)
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

OFFICER = 1001
GROUP_BUTTON = re.compile(r"^✏️ Buone pratiche \((\d+)\)$")


async def fill_practice(h: Harness, user: int, title: str) -> None:
    """The items of a new practice (the title question is on screen); the shortest
    valid path: one area, one beneficiary, municipal funds only."""
    assert "Scrivi il titolo della buona pratica" in h.last_text(user), h.screen(user, 2)
    await h.send(user, title)
    await h.press(user, "▫️ Infanzia")
    await h.press(user, "✔️ Conferma")
    await h.send(user, f"Descrizione di {title}.")
    await h.press(user, "▫️ Genitori")
    await h.press(user, "✔️ Conferma")
    await h.press(user, "Comunale")  # level: the lead municipality reports Ambito practices
    await h.send(user, "01/09/2018")
    await h.press(user, "Sì")  # ongoing
    await h.press(user, "▫️ Fondi comunali")
    await h.press(user, "✔️ Conferma")
    await h.send(user, "1.000")
    await h.send(user, "1.000")  # of which from municipal funds
    await h.press_key(user, "⏭ Salta")  # partners
    await h.send(user, "40")
    await h.press_key(user, "⏭ Salta")  # results
    await h.press_key(user, "⏭ Salta")  # website


def group_button(h: Harness, user: int) -> tuple[str, int]:
    for label in h.labels(user):
        match = GROUP_BUTTON.match(label)
        if match:
            return label, int(match.group(1))
    raise AssertionError(f"no group button among {h.labels(user)}")


async def submitted_titles(h: Harness, revision: int) -> list[str]:
    found = await rows(h, "SELECT answers_json FROM submissions WHERE revision = ?", revision)
    assert len(found) == 1, found
    payload = found[0][0]
    return [p["title"] for p in json.loads(payload).get("practices", [])]


async def to_practices_menu(h: Harness) -> None:
    await login(h, OFFICER)
    await answer_respondent(h, OFFICER)


async def test_practices_added_edited_removed_from_the_review_before_and_after_a_reopen(
    harness: Harness,
) -> None:
    h = harness
    await to_practices_menu(h)
    menu = h.last_text(OFFICER)
    # 0 entries: no "un'altra", no way to finish yet, a way to add.
    assert "Non hai ancora inserito buone pratiche." in menu
    assert "un'altra" not in menu
    assert "➕ Aggiungi" in h.labels(OFFICER) and "Ho finito, avanti ➡️" not in h.labels(OFFICER)
    await h.press(OFFICER, "➕ Aggiungi")
    await fill_practice(h, OFFICER, "Primo")
    menu = h.last_text(OFFICER)
    assert "Hai inserito 1 buona pratica:" in menu and "1. Primo" in menu
    assert "Vuoi aggiungere un'altra buona pratica?" in menu
    await h.press(OFFICER, "Ho finito, avanti ➡️")
    await h.press_key(OFFICER, "⏭ Salta")  # notes
    await h.press(OFFICER, "Sì")  # publish consent
    review = h.screen(OFFICER, 2)
    assert "Buone pratiche: 1 buona pratica." in h.double.sent(OFFICER)[-1]["text"]
    assert group_button(h, OFFICER) == ("✏️ Buone pratiche (1)", 1)
    assert "📨 Invia il questionario" in h.labels(OFFICER)
    assert "Vai alla risposta mancante" not in review

    # Add from the review: the new practice's questions, then the review again.
    await h.press(OFFICER, "✏️ Buone pratiche (1)")
    hub = h.last_text(OFFICER)
    assert "Hai inserito 1 buona pratica:" in hub
    assert h.labels(OFFICER)[:3] == ["✏️ 1. Primo", "🗑 Elimina 1", "➕ Aggiungi"]
    assert "Ho finito, avanti ➡️" not in h.labels(OFFICER)
    await h.press(OFFICER, "➕ Aggiungi")
    await fill_practice(h, OFFICER, "Secondo")
    assert "Riepilogo delle risposte" in h.screen(OFFICER, 3)
    assert group_button(h, OFFICER)[1] == 2
    assert "2 buone pratiche." in h.double.sent(OFFICER)[-1]["text"]

    # Edit one from the review's group menu: its questions, then the menu again.
    await h.press(OFFICER, "✏️ Buone pratiche (2)")
    assert "Hai inserito 2 buone pratiche:" in h.last_text(OFFICER)
    await h.press(OFFICER, "✏️ 2. Secondo")
    assert "Buona pratica 2 — Secondo" in h.last_text(OFFICER)
    await h.send(OFFICER, "Secondo bis")
    await h.keep_until(OFFICER, "Hai inserito")
    assert "2. Secondo bis" in h.last_text(OFFICER)

    # Remove one (asks first), then submit: exactly what is left goes.
    await h.press(OFFICER, "🗑 Elimina 1")
    assert "Eliminare «Primo»?" in h.last_text(OFFICER)
    await h.press(OFFICER, "🗑 Sì, elimina")
    assert "Hai inserito 1 buona pratica:" in h.last_text(OFFICER)
    await h.press_key(OFFICER, "📋 Riepilogo")
    await h.press(OFFICER, "📨 Invia il questionario")
    await h.press(OFFICER, "✅ Sì, invia")
    assert await submitted_titles(h, 1) == ["Secondo bis"]

    # Reopen (asks first), add one and remove the old one, submit again.
    await h.send(OFFICER, "/riepilogo")
    await h.press(OFFICER, "🔓 Riapri per modificare")
    assert "non saranno trasmesse finché non lo invierai di nuovo" in h.last_text(OFFICER)
    assert await rows(h, "SELECT status FROM responses") == [("submitted",)]
    await h.press(OFFICER, "🔓 Sì, riapri")
    assert await rows(h, "SELECT status, revision FROM responses") == [("in_progress", 1)]
    await h.press(OFFICER, "✏️ Buone pratiche (1)")
    await h.press(OFFICER, "➕ Aggiungi")
    await fill_practice(h, OFFICER, "Terzo")
    await h.press(OFFICER, "✏️ Buone pratiche (2)")
    await h.press(OFFICER, "🗑 Elimina 1")
    await h.press(OFFICER, "🗑 Sì, elimina")
    await h.press_key(OFFICER, "📋 Riepilogo")
    # /indietro from the review is the last question, not "already at the first".
    await h.send(OFFICER, "/indietro")
    assert "Acconsenti alla pubblicazione" in h.last_text(OFFICER)
    await h.send(OFFICER, "/riepilogo")
    await h.press(OFFICER, "📨 Invia il questionario")
    await h.press(OFFICER, "✅ Sì, invia")
    assert await submitted_titles(h, 2) == ["Terzo"]
    assert [p["title"] for p in (await answers(h))["practices"]] == ["Terzo"]
    no_internal_error(h, OFFICER)


async def test_municipality_with_no_practice_submits(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")
    for text in ("Mario Rossi", "Servizi Sociali", "m@comune.fi.it", "055 1234567"):
        await h.send(OFFICER, text)
    await h.press(OFFICER, "No")  # not capofila
    await h.send(OFFICER, "Zona Fiorentina")  # the Ambito it belongs to
    gate = h.last_text(OFFICER)
    assert "Il Comune ha buone pratiche per le famiglie da segnalare" in gate
    # Typed text at a yes/no names the buttons; a typed command is never a "stale button".
    await h.send(OFFICER, "boh")
    assert "Sì" in h.last_text(OFFICER) and "No" in h.last_text(OFFICER)
    await h.press(OFFICER, "No")
    assert "Vuoi aggiungere osservazioni" in h.last_text(OFFICER)
    await h.press_key(OFFICER, "⏭ Salta")
    await h.press(OFFICER, "No")  # publish consent
    review = h.double.sent(OFFICER)[-1]["text"]
    assert "Tutte le risposte obbligatorie sono state date" in review
    assert not any(label.startswith("✏️ Buone pratiche") for label in h.labels(OFFICER))
    assert "Buone pratiche: " not in review  # the group is hidden
    await h.send(OFFICER, "/salta")
    assert "non è più valido" not in h.last_text(OFFICER)
    assert "«📨 Invia il questionario»" in h.last_text(OFFICER)
    await h.press(OFFICER, "📨 Invia il questionario")
    await h.press(OFFICER, "✅ Sì, invia")
    assert await rows(h, "SELECT revision FROM submissions") == [(1,)]
    receipt = h.double.last(OFFICER)
    code = re.fullmatch(r"ricevuta_048017_rev1_([0-9a-f]+)\.pdf", receipt["document"]["file_name"])
    assert code is not None
    assert code.group(1).encode() in h.double.document_bytes(receipt)  # the same code inside
    submitted = json.loads((await rows(h, "SELECT answers_json FROM submissions"))[0][0])
    assert submitted["has_practices"] is False and submitted.get("practices", []) == []
    # The central row (what the sync pushes, and `export --format json`) has no practice.
    (payload,) = (await rows(h, "SELECT payload_json FROM outbox"))[0]
    assert json.loads(payload)["answers"].get("practices", []) == []
    no_internal_error(h, OFFICER)


async def test_missing_answer_button_and_submit_only_when_complete(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")
    await h.send(OFFICER, "/riepilogo")
    labels = h.labels(OFFICER)
    assert "➡️ Vai alla risposta mancante" in labels
    assert "📨 Invia il questionario" not in labels
    assert re.search(r"Mancano \d+ risposte obbligatorie", h.double.sent(OFFICER)[-1]["text"])
    await h.press(OFFICER, "➡️ Vai alla risposta mancante")
    assert "Scrivi il tuo nome e cognome" in h.last_text(OFFICER)


async def test_section_intros_show_on_entering_and_on_resume(harness: Harness) -> None:
    h = harness
    await login(h, OFFICER)
    first = h.last_text(OFFICER)
    assert "Sezione 1 di 5 — Comune" in first
    assert "Per prima cosa verifichiamo" in first
    greeting = h.texts(OFFICER)[-2]
    assert "Codice riconosciuto" in greeting and "terza edizione" in greeting  # file's intro
    await h.press(OFFICER, "Sì")
    entering = h.expect_one_new_message(OFFICER)["text"]  # intro and question: one message
    assert "Indica chi compila il questionario" in entering and "nome e cognome" in entering
    await h.send(OFFICER, "Mario Rossi")
    assert "Indica chi compila" not in h.last_text(OFFICER)  # once per walk
    await h.send(OFFICER, "/riprendi")
    assert "Indica chi compila il questionario" in h.last_text(OFFICER)  # again on resume
    for text in ("Servizi Sociali", "m@comune.fi.it", "055 1234567"):
        await h.send(OFFICER, text)
    assert "I Comuni capofila di un Ambito o Distretto" in h.last_text(OFFICER)
    await h.press(OFFICER, "Sì")
    await h.send(OFFICER, "Ambito Fiorentino")
    await h.press(OFFICER, "Sì")
    await h.press(OFFICER, "Sì")  # has practices
    await h.press(OFFICER, "➕ Aggiungi")
    assert "Descrivi una alla volta le buone pratiche" in h.last_text(OFFICER)  # group intro
    no_internal_error(h, OFFICER)


async def test_percentage_never_falls_on_an_answer(harness: Harness) -> None:
    h = harness
    pattern = re.compile(r"Domanda (\d+) di (\d+) · Sezione \d+ di \d+ · (\d+)% completato")
    seen: list[tuple[int, int]] = []

    def note() -> None:
        match = pattern.search(h.last_text(OFFICER))
        if match:
            seen.append((int(match.group(2)), int(match.group(3))))

    await login(h, OFFICER)
    note()
    steps = [("press", "Sì"), ("send", "Mario Rossi"), ("send", "Servizi Sociali"),
             ("send", "m@comune.fi.it"), ("send", "055 1234567"), ("press", "Sì"),
             ("send", "Ambito Fiorentino"), ("press", "Sì"), ("press", "Sì"),
             ("press", "➕ Aggiungi"), ("send", "Centro"), ("press", "▫️ Infanzia"),
             ("press", "✔️ Conferma"), ("send", "Descrizione."), ("press", "▫️ Genitori"),
             ("press", "✔️ Conferma"), ("press", "Comunale"), ("send", "01/09/2018"),
             ("press", "Sì"), ("press", NATIONAL_FUND), ("press", "✔️ Conferma"),
             ("send", "500")]
    for kind, value in steps:
        await (h.press(OFFICER, value) if kind == "press" else h.send(OFFICER, value))
        note()
    assert len(seen) >= 15
    for (total_before, before), (total_after, after) in itertools.pairwise(seen):
        # Only an answer that opens questions (a gate, a new entry) may lower it.
        assert after >= before or total_after > total_before, seen
    assert seen[-1][1] > seen[0][1]


async def test_reopen_shows_in_status_and_in_surveybot_status(
    tmp_path: Path, double: BotApiDouble
) -> None:
    group, operator, coordinator = -1001234567890, 9001, 9002
    async with running(tmp_path, double, assistance_chat_id=group, operators=[operator],
                       coordinators=[coordinator]) as h:
        await _reopen_and_check_status(h, group, operator, coordinator)


async def _reopen_and_check_status(h: Harness, group: int, operator: int,
                                   coordinator: int) -> None:
    await login(h, OFFICER)
    await h.press(OFFICER, "Sì")
    for text in ("Mario Rossi", "Servizi Sociali", "m@comune.fi.it", "055 1234567"):
        await h.send(OFFICER, text)
    await h.press(OFFICER, "No")
    await h.send(OFFICER, "Zona Fiorentina")
    await h.press(OFFICER, "No")  # no practices
    await h.press_key(OFFICER, "⏭ Salta")
    await h.press(OFFICER, "Sì")
    await h.press(OFFICER, "📨 Invia il questionario")
    await h.press(OFFICER, "✅ Sì, invia")
    await h.send(OFFICER, "/riepilogo")
    await h.press(OFFICER, "🔓 Riapri per modificare")
    await h.press(OFFICER, "🔓 Sì, riapri")
    await h.send(OFFICER, "/stato")
    assert "Stato: inviato (revisione 1), riaperto" in h.last_text(OFFICER)

    parser = argparse.ArgumentParser(prog="surveybot")
    status_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["status", "--no-list"])
    out = await status_cli.status_text(h.settings, args)
    lines = out.splitlines()
    in_progress = next(line for line in lines if "In compilazione" in line)
    assert in_progress.split()[2] == "1"
    assert any("di cui riaperti dopo l'invio: 1" in line for line in lines), out
    assert await rows(h, "SELECT istat, status FROM responses") == [(FIRENZE, "in_progress")]
    # The assistance team's /comune and the coordinators' /avanzamento say it too.
    h.double.user_sends(operator, "/comune 048017", chat_id=group, chat_type="supergroup",
                        first_name="Operatrice", chat_title="Assistenza")
    await h.settle()
    assert "inviato (revisione 1), riaperto" in h.double.last(group)["text"]
    await h.send(coordinator, "/avanzamento")
    summary = h.double.sent(coordinator)[0]["text"]
    assert "di cui riaperti dopo l'invio: 1" in summary


async def test_one_hint_a_month_without_day_and_a_typed_non_so(harness: Harness) -> None:
    h = harness
    await to_practices_menu(h)
    await h.press(OFFICER, "➕ Aggiungi")
    title = h.last_text(OFFICER)
    # The item's own help, and not the type's hint as well.
    assert "Un titolo breve e riconoscibile" in title and "Scrivi la risposta." not in title
    await h.send(OFFICER, "Centro")
    await h.press(OFFICER, "▫️ Infanzia")
    await h.press(OFFICER, "✔️ Conferma")
    description = h.last_text(OFFICER)
    assert "Massimo 1500 caratteri" in description and "al massimo 1500" not in description
    await h.send(OFFICER, "Descrizione.")
    await h.press(OFFICER, "▫️ Genitori")
    await h.press(OFFICER, "✔️ Conferma")
    await h.press(OFFICER, "Comunale")
    await h.send(OFFICER, "marzo 2018")
    assert "Manca il giorno" in h.last_text(OFFICER) and "01/03/2018" in h.last_text(OFFICER)
    await h.send(OFFICER, "non so")
    assert "È ancora in corso?" in h.last_text(OFFICER)
    practice = (await answers(h))["practices"][0]
    assert practice["start_date"] is None and practice["_unknown"] == ["start_date"]


async def test_not_my_municipality_stops_and_opens_a_ticket(
    tmp_path: Path, double: BotApiDouble
) -> None:
    group = -1001234567890
    async with running(tmp_path, double, assistance_chat_id=group, operators=[9001],
                       coordinators=[]) as h:
        await login(h, OFFICER)
        await h.press(OFFICER, "No")
        stopped = h.last_text(OFFICER)
        assert "non può essere compilato per un Comune che non è il tuo" in stopped
        # The officer stays on the question: nothing saved, no next question.
        assert "Il questionario è per il Comune di Firenze" in h.screen(OFFICER, 2)
        assert "nome e cognome" not in h.last_text(OFFICER)
        row = await h.store.response("family_policies", FIRENZE)
        assert row is None or "municipality_confirmed" not in row.state["top"]["values"]
        # A ticket with the context for the assistance team.
        card = next(t for t in h.double.texts(group) if "Ticket n. 1" in t)
        assert "Firenze" in card and "non è il tuo" in card
        assert await rows(h, "SELECT user_id, istat, status FROM tickets") == [
            (OFFICER, FIRENZE, "open")]
        await h.press(OFFICER, "No")  # pressing No again opens no second ticket
        assert len(await rows(h, "SELECT id FROM tickets")) == 1
        await h.press(OFFICER, "Sì")
        assert "nome e cognome" in h.last_text(OFFICER)
        no_internal_error(h, OFFICER)
