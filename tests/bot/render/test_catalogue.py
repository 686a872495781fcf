"""Our .po reader gives the bot the same translations Babel did: the lookup
table equals the one Babel's read_po -> write_mo -> gettext.GNUTranslations
builds, for the shipped catalogues and for a file with every construct a .po
may hold. Babel is a dev dependency for these comparisons only."""

from __future__ import annotations

import gettext
from importlib import resources
from io import BytesIO
from typing import Any

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.render.catalogue import Catalogue, PoError, read_catalogue
from bot.render.i18n import LANGUAGES, message_ids, translator

TRICKY = r'''# A translator's comment.
msgid ""
msgstr ""
"Language: xx\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && "
"(n%100<10 || n%100>=20) ? 1 : 2);\n"

#. An extracted comment.
#: bot/render/presenter.py:12
msgid "plain"
msgstr "semplice"

msgid "multi"
msgstr ""
"prima riga\n"
"seconda riga con \"virgolette\", una \\barra\\, un \ttab"

msgid ""
"a long "
"id"
msgstr "un id lungo"

msgid "unknown escape"
msgstr "resta \q così"

#, fuzzy
msgid "fuzzy one"
msgstr "da rivedere"

#, python-format, fuzzy
msgid "fuzzy two"
msgstr "anche questa"

#, python-format
msgid "flagged but fine"
msgstr "va bene %s"

msgid "untranslated"
msgstr ""

#| msgid "old id"
msgid "with previous"
msgstr "con precedente"

msgctxt "button"
msgid "open"
msgstr "apri"

msgctxt "verb"
msgid "open"
msgstr "aprire"

msgid "file"
msgid_plural "files"
msgstr[0] "plik"
msgstr[1] "pliki"
msgstr[2] "plików"

msgid "half done"
msgid_plural "half done many"
msgstr[0] "fatto"
msgstr[1] ""
msgstr[2] ""

msgctxt "ctx"
msgid "day"
msgid_plural "days"
msgstr[0] "dzień"
msgstr[1] "dni"
msgstr[2] "dni"
msgid "no blank line before me"
msgstr "attaccato"

#~ msgid "obsolete"
#~ msgstr "vecchio"

msgid "emoji ✅ and accents àèìòù"
msgstr "✅ perché"
'''


def babel_table(text: str, locale: str | None = None) -> dict[Any, str]:
    catalog = read_po(BytesIO(text.encode("utf-8")), locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    table: dict[Any, str] = gettext.GNUTranslations(buffer)._catalog  # type: ignore[attr-defined]
    # Babel writes a header of its own (generator, dates): the messages are what count.
    return {key: value for key, value in table.items() if key != ""}


def our_table(catalogue: Catalogue) -> dict[Any, str]:
    return {key: value for key, value in catalogue.messages.items() if key != ""}


def shipped(lang: str) -> str:
    path = resources.files("locales") / lang / "LC_MESSAGES" / "surveybot.po"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_shipped_catalogues_equal_babels(lang: str) -> None:
    ours = our_table(read_catalogue(shipped(lang)))
    assert ours == babel_table(shipped(lang), lang)
    assert len(ours) > 300


def test_every_construct_equals_babels() -> None:
    ours = our_table(read_catalogue(TRICKY))
    assert ours == babel_table(TRICKY)


def test_what_the_tricky_file_means() -> None:
    catalogue = read_catalogue(TRICKY)
    assert catalogue.gettext("plain") == "semplice"
    assert catalogue.gettext("multi") == (
        'prima riga\nseconda riga con "virgolette", una \\barra\\, un \ttab')
    assert catalogue.gettext("a long id") == "un id lungo"
    assert catalogue.gettext("unknown escape") == "resta \\q così"
    assert catalogue.gettext("fuzzy one") == "fuzzy one"  # left out: falls back to the id
    assert catalogue.gettext("fuzzy two") == "fuzzy two"
    assert catalogue.gettext("flagged but fine") == "va bene %s"
    assert catalogue.gettext("untranslated") == "untranslated"
    assert catalogue.gettext("obsolete") == "obsolete"
    assert catalogue.gettext("no blank line before me") == "attaccato"
    assert catalogue.messages["button\x04open"] == "apri"
    assert catalogue.messages["verb\x04open"] == "aprire"
    assert "fuzzy one" not in catalogue.message_ids()
    assert {"plain", "file", "with previous"} <= catalogue.message_ids()


@pytest.mark.parametrize(("count", "expected"), [(1, "plik"), (3, "pliki"), (5, "plików"),
                                                 (22, "pliki"), (112, "plików")])
def test_plural_rule_comes_from_the_header(count: int, expected: str) -> None:
    catalogue = read_catalogue(TRICKY)
    assert catalogue.nplurals == 3
    assert catalogue.ngettext("file", "files", count) == expected


def test_empty_plural_forms_fall_back_to_the_ids() -> None:
    catalogue = read_catalogue(TRICKY)
    assert catalogue.ngettext("half done", "half done many", 1) == "fatto"
    assert catalogue.ngettext("half done", "half done many", 3) == "half done many"
    assert catalogue.ngettext("missing", "missings", 1) == "missing"
    assert catalogue.ngettext("missing", "missings", 2) == "missings"


def test_a_file_without_plural_forms_uses_the_english_rule() -> None:
    catalogue = read_catalogue('msgid "a"\nmsgid_plural "as"\nmsgstr[0] "uno"\nmsgstr[1] "tanti"\n')
    assert catalogue.ngettext("a", "as", 1) == "uno"
    assert catalogue.ngettext("a", "as", 0) == "tanti"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('msgid "a"\nmsgstr "b\n', 2),  # unterminated string
        ('msgid "a"\nmsgstr b\n', 2),  # not quoted
        ('"stray"\n', 1),  # a string outside an entry
        ('msgid "a"\nmsgtxt "b"\n', 2),  # unknown keyword
        ('msgid "a"\nmsgid_plural "as"\nmsgstr "b"\n', 3),  # plural entry, singular msgstr
    ],
)
def test_a_broken_file_names_the_line(text: str, line: int) -> None:
    with pytest.raises(PoError, match=rf"^line {line}: "):
        read_catalogue(text)


def test_the_bot_translates_through_the_reader() -> None:
    it, en = translator("it"), translator("en")
    assert it("hint.single_choice") == "Scegli una risposta."
    assert en("hint.single_choice") != it("hint.single_choice")
    assert "Mancano 2 risposte" in it.plural("review_missing.one", "review_missing.other", 2,
                                             items="x")
    assert message_ids("it") == message_ids("en")
    assert {"welcome", "review_missing.one"} <= message_ids("it")
