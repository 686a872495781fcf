"""What the XLSForm reader and writer share: sheet rows, language columns."""

from __future__ import annotations

import re

Row = dict[str, str]
LANGUAGE_NAMES = {"it": "Italiano", "en": "English", "de": "Deutsch", "fr": "Français"}
YES_NO_LIST = "yes_no"
# "label::Italiano (it)" (a language code in brackets) or "label::Italiano".
LANG_COLUMN = re.compile(r"^(?P<base>[a-z_]+)::(?:(?P<name>[^()]*?)\s*\((?P<code>[a-z]{2,3})\)"
                         r"|(?P<bare>[^()]+))$")
TRUE_WORDS = frozenset({"yes", "true", "true()", "1", "y", "sì", "si"})


def language_column(base: str, lang: str) -> str:
    return f"{base}::{LANGUAGE_NAMES.get(lang, lang)} ({lang})"
