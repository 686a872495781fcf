"""A questionnaire changed while officers answer (v1 -> v2, tests/support/editions.py).

Officers work on v1 through the real Application and the Bot API double; the
bot is restarted on v2; each resumes, is told about the update, completes and
submits. The submissions, the central rows and the exports must be exactly
right under v2, while the v1 submission still reads back as v1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.render.exports import export
from storage.municipalities import MunicipalityRegistry
from tests.support.botapi_double import BotApiDouble
from tests.support.editions import CHECKS, V1, V2
from tests.support.harness import Harness, running

FIRENZE, MILANO, ROMA = "048017", "015146", "058091"
SUBMITTER, RENAMER, RETYPER = 2001, 2002, 2003
INTERNAL_ERROR = "problema tecnico"


@pytest.fixture
async def editions(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    path = tmp_path / "questionnaire.yaml"
    path.write_text(V1, encoding="utf-8")
    async with running(tmp_path, double, questionnaire=path) as h:
        yield h


async def login(h: Harness, user: int, istat: str) -> None:
    code = await h.issue(istat)
    await h.send(user, "/start")
    await h.send(user, code)


async def answer_top_v1(h: Harness, user: int, staff: str, kind: str) -> None:
    await h.send(user, "Il Melograno")
    await h.send(user, staff)
    await h.press(user, kind)
    await h.send(user, "Anna Neri")
    await h.send(user, "055 123")  # fax
    await h.press(user, "Sì")


async def add_service(h: Harness, user: int, name: str, kind: str) -> None:
    await h.press(user, "➕ Aggiungi")
    await h.send(user, name)
    await h.press(user, kind)


async def submit(h: Harness, user: int) -> None:
    await h.send(user, "/invia")
    await h.press(user, "✅ Sì, invia")


async def rows(h: Harness, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await h.store.fetchall(sql, *params)]


async def payload(h: Harness, istat: str, revision: int = 1) -> dict[str, Any]:
    [(raw,)] = await rows(h, "SELECT payload_json FROM outbox WHERE response_id = ? AND "
                             "revision = ?", f"centres:{istat}", revision)
    data: dict[str, Any] = json.loads(raw)
    return data


async def test_officers_carry_on_across_a_questionnaire_update(
    editions: Harness, tmp_path: Path
) -> None:
    h = editions
    # --- v1: one municipality submits, two stop half way -------------------------------
    await login(h, SUBMITTER, FIRENZE)
    await answer_top_v1(h, SUBMITTER, "8", "Pubblica")
    await add_service(h, SUBMITTER, "Sportello famiglie", "Consulenza")
    await h.press(SUBMITTER, "Ho finito, avanti ➡️")
    await submit(h, SUBMITTER)
    assert (await payload(h, FIRENZE))["questionnaire_version"] == "1"

    await login(h, RENAMER, MILANO)
    await answer_top_v1(h, RENAMER, "12", "Pubblica")
    await add_service(h, RENAMER, "Laboratorio genitori", "Altro")

    await login(h, RETYPER, ROMA)
    await h.send(RETYPER, "Centro Aurora")
    await h.send(RETYPER, "dodici")  # text in v1, a number in v2
    await h.press(RETYPER, "Privata")

    # --- the file becomes v2 and the bot restarts ---------------------------------------
    Path(h.settings.questionnaire or "").write_text(V2, encoding="utf-8")
    await h.restart()
    [(version,)] = await rows(h, "SELECT DISTINCT questionnaire_version FROM responses")
    assert version == "2"  # every response, the submitted one's working copy too
    assert await rows(h, "SELECT version FROM questionnaire_versions ORDER BY version") == [
        ("1",), ("2",)]

    # --- Milano: renamed item, mapped value, a cleared choice, a new question ----------
    await h.send(RENAMER, "ciao")
    # The notice, where the officer stands and a question without buttons: one message.
    texts = [m["text"] for m in h.new_messages(RENAMER)]
    assert texts[0].startswith("🔄 Il questionario è stato aggiornato: 2 risposte da rivedere. "
                               "Nel riepilogo sono segnate con 🔄.\n")
    assert "Bilancio annuo, in euro?" in texts[-1]  # the new required question, not "ciao"
    assert not any(INTERNAL_ERROR in t for t in h.texts(RENAMER))
    await h.send(RENAMER, "/riepilogo")
    review = "\n".join(h.texts(RENAMER)[-2:])
    assert "🔄 ⚠️ 5. Bilancio annuo, in euro?" in review
    assert "🔄 ⚠️ 8. Tipo di servizio?" in review
    assert "Nome del referente?\n   ➜ Anna Neri" in review
    assert "Gestione?\n   ➜ Comunale" in review
    await h.send(RENAMER, "/riprendi")
    assert "Bilancio annuo, in euro?" in h.last_text(RENAMER)
    await h.send(RENAMER, "10.000")
    assert "Tipo di servizio?" in h.last_text(RENAMER)
    await h.press(RENAMER, "Laboratorio")
    await h.press(RENAMER, "Ho finito, avanti ➡️")
    await submit(h, RENAMER)

    # --- Roma: an answer that no longer validates is asked again ------------------------
    await h.send(RETYPER, "/riprendi")
    notice = h.new_messages(RETYPER)[0]["text"]
    assert notice.startswith("🔄 Il questionario è stato aggiornato: 2 risposte da rivedere.")
    assert "Quante persone ci lavorano?" in h.last_text(RETYPER)
    await h.send(RETYPER, "dodici")
    assert "numero intero" in h.last_text(RETYPER)
    await h.send(RETYPER, "12")
    await h.send(RETYPER, "Luca Bianchi")
    await h.send(RETYPER, "5.000,50")
    await h.press(RETYPER, "No")
    await h.press(RETYPER, "Ho finito, avanti ➡️")
    await submit(h, RETYPER)
    await h.send(RETYPER, "/riprendi")  # a notice is told once
    assert not any("aggiornato" in t for t in h.texts(RETYPER)[-2:])

    # --- what was stored and pushed ------------------------------------------------------
    milano = await payload(h, MILANO)
    assert milano["questionnaire_version"] == "2"
    assert milano["answers"] == {
        "name": "Il Melograno", "staff": 12, "kind": "comunale", "contact_name": "Anna Neri",
        "budget": "10000.00", "open_saturday": True,
        "services": [{"service_name": "Laboratorio genitori", "service_kind": "laboratorio"}],
    }
    roma = await payload(h, ROMA)
    assert roma["questionnaire_version"] == "2"
    assert roma["answers"] == {
        "name": "Centro Aurora", "staff": 12, "kind": "privato", "contact_name": "Luca Bianchi",
        "budget": "5000.50", "open_saturday": False, "services": [],
    }
    firenze = await payload(h, FIRENZE)  # the v1 submission is never rewritten
    assert firenze["questionnaire_version"] == "1"
    assert firenze["answers"] == {
        "name": "Il Melograno", "staff": "8", "kind": "pubblico", "referente": "Anna Neri",
        "fax": "055 123", "open_saturday": True,
        "services": [{"service_name": "Sportello famiglie", "service_kind": "consulenza"}],
    }
    assert await rows(h, "SELECT response_id, questionnaire_version FROM submissions "
                         "ORDER BY response_id") == [
        (f"centres:{MILANO}", "2"), (f"centres:{FIRENZE}", "1"), (f"centres:{ROMA}", "2")]
    # The dropped and cleared answers stay in the history, written by the update.
    history = await rows(h, "SELECT response_id, item_ref, old_json, new_json, user_id, "
                            "questionnaire_version FROM answer_changes WHERE user_id = 0 "
                            "ORDER BY id")
    assert (f"centres:{MILANO}", "fax", '"055 123"', "null", 0, "2") in history
    assert (f"centres:{MILANO}", "services[0].service_kind", '"altro"', "null", 0, "2") in history
    assert (f"centres:{ROMA}", "staff", '"dodici"', "null", 0, "2") in history

    # --- exports under v2 ---------------------------------------------------------------
    services = h.services
    assert services is not None
    q = services.flow.q
    out = tmp_path / "rows.json"
    await export(h.store, q, MunicipalityRegistry.load(), "json", out)
    central = {row["istat"]: row for row in json.loads(out.read_text(encoding="utf-8"))}
    assert central[MILANO] == milano and central[ROMA] == roma and central[FIRENZE] == firenze

    out = tmp_path / "rows.csv"
    await export(h.store, q, MunicipalityRegistry.load(), "csv", out)
    table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    header, body = table[0], {row[0]: row for row in table[1:]}

    def cell(istat: str, item: str) -> str:
        [index] = [i for i, h in enumerate(header) if h.endswith(f"[{item}]")]
        return body[istat][index]

    version = header.index("Versione")
    assert [body[i][version] for i in (FIRENZE, MILANO, ROMA)] == ["1", "2", "2"]
    assert cell(MILANO, "kind") == "Comunale" and cell(MILANO, "budget") == "10000,00"
    assert cell(ROMA, "staff") == "12" and cell(ROMA, "contact_name") == "Luca Bianchi"
    # The v1 row under today's columns: renamed item and value carried, no v2-only answer.
    assert cell(FIRENZE, "contact_name") == "Anna Neri" and cell(FIRENZE, "kind") == "Comunale"
    assert cell(FIRENZE, "budget") == ""
    assert not any(h.endswith("[fax]") for h in header)


@pytest.fixture
async def checks(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    path = tmp_path / "funding.yaml"
    path.write_text(CHECKS, encoding="utf-8")
    async with running(tmp_path, double, questionnaire=path) as h:
        yield h


async def test_the_file_speaks_and_checks_across_items(checks: Harness) -> None:
    h, user = checks, 2101
    await h.send(user, "/start")
    welcome = h.texts(user)[0]
    assert welcome.startswith("👋 Benvenuto! Questo è il servizio per il questionario "
                              "Finanziamenti 2030.\n\nRilevazione di prova.")
    assert "Monitoraggio" not in welcome
    await h.send(user, "/aiuto")
    assert h.last_text(user).endswith(
        "• Ufficio prove – 011 7654321, prove@example.it (orari: lun-ven 9-13)")
    await h.send(user, await h.issue(FIRENZE))

    await h.send(user, "02/07/2019")  # the clock says 1 July 2019
    assert h.last_text(user) == "⚠️ La data di inizio non può essere nel futuro."
    await h.send(user, "30/06/2019")
    await h.send(user, "2.000.000")
    assert h.last_text(user) == ("⚠️ Più di 1.000.000 €: è corretto?\n"
                                 "Risposta data: 2.000.000,00\xa0€")
    assert h.labels(user) == ["✅ Confermo", "✏️ Modifico"]
    await h.press(user, "✏️ Modifico")
    assert "Importo totale?" in h.last_text(user)
    await h.send(user, "1.500.000")
    await h.press(user, "✅ Confermo")
    assert "Di cui dal fondo nazionale?" in h.last_text(user)
    await h.send(user, "1.500.000,01")
    assert h.last_text(user) == "⚠️ La quota non può superare il totale."
    await h.send(user, "500.000")
    assert "Restano 1.000.000,00\xa0€ da altri fondi." in h.last_text(user)
    no_errors = [t for t in h.texts(user) if INTERNAL_ERROR in t]
    assert no_errors == []
    [(state,)] = await rows(h, "SELECT state_json FROM responses")
    assert json.loads(state)["top"]["values"] == {
        "started": "2019-06-30", "total": "1500000.00", "share": "500000.00"}
