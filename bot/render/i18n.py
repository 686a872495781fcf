"""Interface text through gettext catalogues, compiled in memory at start-up.

The .po files in locales/ are the source; Babel turns them into GNU
translations in a few milliseconds, so there is no separate build step.
Italian is the default; a key missing from a catalogue falls back to Italian.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("it", "en")
DEFAULT_LANGUAGE = "it"
DOMAIN = "surveybot"


@cache
def _catalogue(lang: str) -> gettext.GNUTranslations:
    po_file = resources.files("locales") / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def message_ids(lang: str) -> set[str]:
    po_file = resources.files("locales") / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    return {str(m.id) for m in catalog if m.id and m.string}


def normalize_language(code: str | None) -> str:
    """Telegram's language_code ("en-GB") to one of ours."""
    short = (code or "").split("-")[0].lower()
    return short if short in LANGUAGES else DEFAULT_LANGUAGE


class Translator:
    """gettext for one language with str.format parameters."""

    def __init__(self, lang: str) -> None:
        self.lang = normalize_language(lang)
        self._own = _catalogue(self.lang)
        self._default = _catalogue(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **params: Any) -> str:
        text = self._own.gettext(key)
        if text == key:
            text = self._default.gettext(key)
        return text.format(**params) if params else text

    def plural(self, key: str, plural_key: str, count: int, **params: Any) -> str:
        """ngettext: the catalogue's plural form for `count` (passed as {count} too)."""
        text = self._own.ngettext(key, plural_key, count)
        if text in (key, plural_key):
            text = self._default.ngettext(key, plural_key, count)
        return text.format(count=count, **params)


@cache
def translator(lang: str) -> Translator:
    return Translator(lang)
