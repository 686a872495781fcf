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


def column_language(column: str) -> tuple[str, str | None] | None:
    """("label", "it") for "label::Italiano (it)", "label::Italiano" or "label::it";
    ("label", None) for a language we cannot tell; None for a plain column."""
    match = LANG_COLUMN.match(column)
    if match is None:
        return None
    if match.group("code"):
        return match.group("base"), match.group("code")
    bare = match.group("bare").strip()
    by_name = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
    if bare.lower() in by_name:
        return match.group("base"), by_name[bare.lower()]
    if re.fullmatch(r"[a-z]{2,3}", bare):
        return match.group("base"), bare
    return match.group("base"), None
