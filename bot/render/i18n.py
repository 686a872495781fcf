"""Interface text through gettext catalogues, compiled in memory at start-up.

The .po files in locales/ are the source; `bot.render.catalogue` reads them
at start-up in a few milliseconds, so there is no separate build step (and no
Babel, whose locale data would cost the running bot about 4 MiB).
Italian is the default; a key missing from a catalogue falls back to Italian.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from bot.render.catalogue import Catalogue, read_catalogue

LANGUAGES = ("it", "en")
DEFAULT_LANGUAGE = "it"
DOMAIN = "surveybot"


@cache
def _catalogue(lang: str) -> Catalogue:
    po_file = resources.files("locales") / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    return read_catalogue(po_file.read_text(encoding="utf-8"))


def message_ids(lang: str) -> set[str]:
    """The ids the language's catalogue translates (a plural entry by its msgid)."""
    return _catalogue(lang).message_ids()


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
