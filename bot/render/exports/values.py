"""Answers as people read them, in Italian: labels, Sì/No, typed cells.

Cells keep their type (int, Decimal for amounts, date, datetime) so each
writer can format them its own way: numbers in XLSX, "1234,50" in CSV.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.render.i18n import translator
from bot.render.presenter import Presenter
from bot.render.text import shorten
from conversations.schema import CHOICE_TYPES, Item, ItemType, Questionnaire, short_text

Cell = str | int | Decimal | date | datetime | None

HEADER_CHARS = 60
CHOICE_SEPARATOR = "; "  # labels may contain commas ("Altro, specificare")
# Headers describe every municipality at once: no name to put in "{comune}".
_PLACEHOLDERS = {"comune": "…", "provincia": "…", "regione": "…"}


class ItalianValues:
    """Headers and cell values for one questionnaire, in Italian."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.q = questionnaire
        self.presenter = Presenter(questionnaire, translator("it"), _PLACEHOLDERS)
        self.t = self.presenter.t
        self.zone = ZoneInfo(questionnaire.timezone)

    def text(self, value: dict[str, str] | None) -> str:
        return self.presenter.text(value)

    def header(self, item: Item) -> str:
        """The question, shortened, with the item id to keep headers unique."""
        return f"{shorten(self.text(short_text(item)), HEADER_CHARS, one_line=True)} [{item.id}]"

    def yes_no(self, value: bool) -> str:
        return self.t("value.yes") if value else self.t("value.no")

    def choice_labels(
        self, item: Item, value: Any, other: str | None = None, *, other_alone: bool = False
    ) -> list[str]:
        """Labels of the chosen options; "Altro" with its text, or the text alone."""
        chosen = value if isinstance(value, list) else [value]
        labels = []
        for choice in item.choices:
            if choice.value in chosen:
                label = self.text(choice.label)
                if choice.other and other:
                    label = other if other_alone else f"{label}: {other}"
                labels.append(label)
        return labels

    def cell(self, item: Item, answers: dict[str, Any]) -> Cell:
        """One answer from an answers snapshot; None when not answered."""
        if item.id in answers.get("_unknown", ()):
            return self.t("value.unknown")
        value = answers.get(item.id)
        if value is None:
            return None
        if item.type is ItemType.YES_NO:
            return self.yes_no(bool(value))
        if item.type in CHOICE_TYPES:
            return CHOICE_SEPARATOR.join(
                self.choice_labels(item, value, answers.get(f"{item.id}_other")))
        try:
            if item.type is ItemType.AMOUNT:
                return amount(value) if amount(value) is not None else str(value)
            if item.type is ItemType.INTEGER:
                return int(value)
            if item.type is ItemType.DATE:
                return date.fromisoformat(str(value))
        except (TypeError, ValueError):
            pass  # an earlier version's answer of another type: shown as it was given
        return str(value)

    def moment(self, value: str | None) -> datetime | None:
        """An ISO timestamp as local wall-clock time (spreadsheets know no zones)."""
        if not value:
            return None
        return datetime.fromisoformat(value).astimezone(self.zone).replace(tzinfo=None)


def amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
