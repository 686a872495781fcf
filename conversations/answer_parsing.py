"""Turn a typed text into the stored JSON value of an item, or an InputError."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Any

from conversations import parsing
from conversations.parsing import InputError
from conversations.schema import CHOICE_TYPES, Item, ItemType

MAX_CHOICE_TEXT = 200
YES_WORDS = frozenset({"si", "sì", "s", "yes", "y"})
NO_WORDS = frozenset({"no", "n"})
# Typed instead of pressing "Non so" (accepted only where the item allows it).
UNKNOWN_WORDS = frozenset({
    "non so", "non lo so", "non saprei", "non applicabile", "n/a", "na", "n.a.", "n.d.",
    "nd", "don't know", "dont know", "do not know", "not applicable", "unknown",
})


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _check_bounds(item: Item, number: Decimal | int) -> None:
    rule = item.validation
    if rule is None:
        return
    if rule.min is not None and number < rule.min:
        raise InputError("too_small", min=rule.min, item=item.id)
    if rule.max is not None and number > rule.max:
        raise InputError("too_large", max=rule.max, item=item.id)


def _check_text(item: Item, text: str) -> str:
    if not text:
        raise InputError("empty_text")
    limit = item.max_length
    if limit is not None and len(text) > limit:
        raise InputError("too_long", max=limit, length=len(text))
    rule = item.validation
    if rule is not None:
        if rule.min_length is not None and len(text) < rule.min_length:
            raise InputError("too_short", min=rule.min_length)
        if rule.pattern is not None and not _compiled(rule.pattern).fullmatch(text):
            raise InputError("pattern_mismatch", item=item.id)
    return text


def is_unknown_word(text: str) -> bool:
    folded = _fold(text)
    return folded in UNKNOWN_WORDS or " ".join(folded.rstrip(".!").split()) in UNKNOWN_WORDS


def choice_indexes(item: Item, text: str, offered: tuple[int, ...] | None = None) -> list[int]:
    """Map typed text to choice positions: numbers ("2", "1,3") or labels.

    With `offered` (a choice filter), numbers count the offered choices only and
    labels match only those."""
    if offered is not None and item.type in CHOICE_TYPES:
        picked = choice_indexes(_only(item, offered), text)
        return [offered[i] for i in picked]
    options = len(item.choices) if item.type in CHOICE_TYPES else 2
    if len(text) > MAX_CHOICE_TEXT:
        raise InputError("invalid_choice", options=options)
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    # ASCII digits only: "²" or "١" pass str.isdigit() but are no option numbers.
    if parts and all(p.isascii() and p.isdigit() and len(p) <= 3 for p in parts):
        picked = [int(p) - 1 for p in parts]
        if all(0 <= i < options for i in picked):
            return list(dict.fromkeys(picked))
        raise InputError("invalid_choice", options=options)
    folded = _fold(text)
    if item.type is ItemType.YES_NO:
        if folded in YES_WORDS:
            return [0]
        if folded in NO_WORDS:
            return [1]
        raise InputError("invalid_yes_no")
    for index, choice in enumerate(item.choices):
        if any(_fold(label) == folded for label in choice.label.values()):
            return [index]
    raise InputError("invalid_choice", options=options)


def _only(item: Item, offered: tuple[int, ...]) -> Item:
    return item.model_copy(update={"choices": tuple(item.choices[i] for i in offered)})


def parse_text_answer(item: Item, text: str) -> Any:
    """The JSON value for a free-text item. Raises InputError with a reason key."""
    text = text.strip()
    kind = item.type
    if kind in (ItemType.TEXT, ItemType.LONG_TEXT):
        return _check_text(item, text)
    if kind is ItemType.INTEGER:
        number = parsing.parse_integer(text)
        _check_bounds(item, number)
        return number
    if kind is ItemType.AMOUNT:
        amount = parsing.parse_amount(text)
        _check_bounds(item, amount)
        return str(amount)
    if kind is ItemType.DATE:
        return parsing.parse_date(text).isoformat()
    if kind is ItemType.EMAIL:
        return _check_text(item, parsing.parse_email(text))
    if kind is ItemType.PHONE:
        return parsing.parse_phone(text)
    if kind is ItemType.URL:
        return _check_text(item, parsing.parse_url(text))
    raise InputError("use_buttons")
