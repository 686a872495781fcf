"""Presenter texts that come from the questionnaire file, or generic ones without it."""

from __future__ import annotations

from bot.render.i18n import translator
from bot.render.presenter import Presenter
from conversations.schema import parse_questionnaire
from tests.support.editions import CHECKS, V2

BARE = parse_questionnaire(V2)  # no welcome, no contacts, no privacy
FULL = parse_questionnaire(CHECKS)


def test_a_file_without_welcome_or_contacts_gets_generic_texts() -> None:
    it = Presenter(BARE, translator("it"))
    assert it.welcome() == (
        "👋 Benvenuto! Questo è il servizio per il questionario <b>Centri per le famiglie</b>."
        "\n\nRispondi a una domanda alla volta: ogni risposta viene salvata subito, puoi "
        "interrompere e riprendere quando vuoi.")
    assert it.help_text().endswith("Rivolgiti al gruppo di assistenza che ti ha comunicato "
                                   "l'identificativo abilitante.")
    assert "Innocenti" not in it.help_text() and "Monitoraggio" not in it.welcome()


def test_the_files_words_in_each_language() -> None:
    en = Presenter(FULL, translator("en"))
    assert en.welcome().startswith("👋 Welcome! This is the service for the questionnaire "
                                   "<b>Funding 2030</b>.\n\nA test survey.")
    assert en.help_text().endswith("• Test office – 011 7654321, prove@example.it "
                                   "(hours: Mon-Fri 9-13)")


def test_update_notices_count_with_plural_forms() -> None:
    it, en = Presenter(BARE, translator("it")), Presenter(BARE, translator("en"))
    assert it.edition_notice(1).startswith("🔄 Il questionario è stato aggiornato: "
                                           "1 risposta da rivedere.")
    assert it.edition_notice(3).startswith("🔄 Il questionario è stato aggiornato: "
                                           "3 risposte da rivedere.")
    assert en.edition_notice(1).startswith("🔄 The questionnaire has been updated: "
                                           "1 answer to review.")
    assert it.edition_notice(0) == ("🔄 Il questionario è stato aggiornato: le tue risposte "
                                    "sono tutte al loro posto.")


def test_an_answer_of_another_type_shows_as_given() -> None:
    presenter = Presenter(BARE, translator("it"))
    staff = presenter.item("staff")  # an integer in v2, text in v1
    assert presenter.value(staff, "dodici") == "dodici"
    assert presenter.value(staff, 12) == "12"
