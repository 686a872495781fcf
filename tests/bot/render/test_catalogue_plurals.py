"""Counts read well: a message that puts a count before the word it counts must be
a plural entry (ngettext) in both catalogues, so "1 domande" cannot come back."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.render.i18n import LANGUAGES, translator

# A counting placeholder followed by the noun it counts ("{count} risposte"), not by
# "su"/"di"/"of" ("{answered} su {total}" reads right for any number).
COUNTED = re.compile(r"\{(count|answered|left|min|max|length|limit)\} (?!su\b|di\b|of\b)\w")


def catalogue(lang: str) -> Catalog:
    path = resources.files("locales") / lang / "LC_MESSAGES" / "surveybot.po"
    with path.open("rb") as source:
        return read_po(source, locale=lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_counted_messages_are_plural_entries(lang: str) -> None:
    offending = [
        str(message.id)
        for message in catalogue(lang)
        if message.id and not message.pluralizable and COUNTED.search(str(message.string))
    ]
    assert offending == [], f"{lang}: counts outside ngettext: {offending}"


def test_plural_entries_are_plural_in_both_languages() -> None:
    forms = {
        lang: {m.id[0]: m.id[1] for m in catalogue(lang) if m.pluralizable}
        for lang in LANGUAGES
    }
    assert forms["it"] == forms["en"]
    assert len(forms["it"]) >= 15


def test_the_rule_catches_a_count_before_its_noun() -> None:
    assert COUNTED.search("Mancano {count} risposte obbligatorie")
    assert COUNTED.search("Seleziona almeno {min} opzioni")
    assert not COUNTED.search("Risposte date: {answered} su {total}")


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [
        ("it", 1, "Manca 1 risposta obbligatoria"),
        ("it", 2, "Mancano 2 risposte obbligatorie"),
        ("en", 1, "1 required answer is missing"),
        ("en", 3, "3 required answers are missing"),
    ],
)
def test_plural_forms_follow_the_count(lang: str, count: int, expected: str) -> None:
    t = translator(lang)
    assert expected in t.plural("review_missing.one", "review_missing.other", count, items="x")


def test_shipped_helps_use_the_examples_of_the_error_messages() -> None:
    """One example per type: a help and the error after it never disagree."""
    from conversations.parsing import _AMOUNT_EXAMPLE, _DATE_EXAMPLE, _INTEGER_EXAMPLE
    from conversations.schema import (
        ItemType,
        Repeat,
        load_questionnaire,
        shipped_questionnaire_path,
    )

    examples = {ItemType.AMOUNT: _AMOUNT_EXAMPLE, ItemType.DATE: _DATE_EXAMPLE,
                ItemType.INTEGER: _INTEGER_EXAMPLE}
    q = load_questionnaire(shipped_questionnaire_path())
    items = [item for section in q.sections for element in section.items
             for item in (element.items if isinstance(element, Repeat) else (element,))]
    checked = 0
    for item in items:
        if item.type in examples and item.help:
            for text in item.help.values():
                found = re.findall(r"\d[\d./,]*\d", text)
                assert found == [examples[item.type]], (item.id, text)
                checked += 1
    assert checked >= 8
