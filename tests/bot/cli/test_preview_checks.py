"""`surveybot preview` shows the file's welcome and the checks across items, as the bot."""

from __future__ import annotations

import io

from bot.cli.preview import run_preview
from conversations.schema import parse_questionnaire
from tests.support.editions import CHECKS


def test_preview_walks_constraints_warnings_and_computed_notes() -> None:
    answers = "\n".join(["31/12/2099", "01/01/2020", "2.000.000", "1", "3.000.000", "500.000"])
    out = io.StringIO()
    run_preview(parse_questionnaire(CHECKS), stdin=io.StringIO(answers + "\n"), stdout=out)
    text = out.getvalue()
    assert text.startswith("👋 Benvenuto! Questo è il servizio per il questionario "
                           "Finanziamenti 2030.\n\nRilevazione di prova.")
    assert "⚠️ La data di inizio non può essere nel futuro." in text
    assert "⚠️ Più di 1.000.000 €: è corretto?\nRisposta data: 2.000.000,00\xa0€" in text
    assert "[1] ✅ Confermo\n  [2] ✏️ Modifico" in text
    assert "⚠️ La quota non può superare il totale." in text
    assert "Restano 1.500.000,00\xa0€ da altri fondi." in text
