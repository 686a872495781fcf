"""Questionnaire format: versioned data, validated by pydantic.

A questionnaire is a YAML file: file-level metadata, then sections holding
items and repeat groups. Item ids are stable across versions; text is given
per language. See conversations/data/family_policies.yaml for the shipped one.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

ID_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ItemId = Annotated[str, Field(pattern=ID_PATTERN)]
# Language code -> text. The first declared language of the file is the default.
Text = dict[str, str]


class ItemType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"
    TEXT = "text"
    LONG_TEXT = "long_text"
    INTEGER = "integer"
    AMOUNT = "amount"
    DATE = "date"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    NOTE = "note"


CHOICE_TYPES = frozenset({ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE})
# Default length caps keep answers within one Telegram message with room to spare.
DEFAULT_MAX_LENGTH = {ItemType.TEXT: 200, ItemType.LONG_TEXT: 3000}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Model):
    value: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,30}$")]
    label: Text
    # "Altro, specificare": choosing it asks for a free text as well.
    other: bool = False


class Validation(_Model):
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    # Per-language message shown when the pattern or a bound is not met.
    message: Text | None = None


class Item(_Model):
    kind: Literal["item"] = "item"
    id: ItemId
    type: ItemType
    text: Text
    help: Text | None = None
    required: bool = True
    # Offers a "non so / non applicabile" answer.
    allow_unknown: bool = False
    when: str | None = None
    choices: tuple[Choice, ...] = ()
    min_selections: int | None = Field(default=None, ge=0)
    max_selections: int | None = Field(default=None, ge=1)
    validation: Validation | None = None

    @property
    def asks(self) -> bool:
        return self.type is not ItemType.NOTE

    @property
    def max_length(self) -> int | None:
        if self.validation and self.validation.max_length:
            return self.validation.max_length
        return DEFAULT_MAX_LENGTH.get(self.type)


class Repeat(_Model):
    """Items asked once per entry ("add another good practice?")."""

    kind: Literal["repeat"] = "repeat"
    id: ItemId
    text: Text  # what an entry is, e.g. "Buona pratica"
    add_prompt: Text  # the question shown between entries
    items: tuple[Item, ...]
    min_entries: int = Field(default=0, ge=0)
    max_entries: int = Field(default=10, ge=1, le=50)
    # Item whose answer names an entry in lists (e.g. the practice title).
    label_item: ItemId | None = None
    when: str | None = None


def _element_kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "item"))
    return str(getattr(value, "kind", "item"))


# `kind` may be left out for plain items; repeat groups say `kind: repeat`.
Element = Annotated[
    Annotated[Item, Tag("item")] | Annotated[Repeat, Tag("repeat")], Discriminator(_element_kind)
]


class Section(_Model):
    id: ItemId
    title: Text
    intro: Text | None = None
    items: tuple[Element, ...]


class Questionnaire(_Model):
    id: ItemId
    version: Annotated[str, Field(min_length=1, max_length=20)]
    languages: tuple[str, ...] = ("it", "en")
    title: Text
    intro: Text | None = None
    privacy: Text | None = None
    deadline: datetime
    timezone: str = "Europe/Rome"
    sections: tuple[Section, ...]

    @field_validator("languages")
    @classmethod
    def _languages_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one language is required")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def aware_deadline(self) -> datetime:
        if self.deadline.tzinfo is None:
            return self.deadline.replace(tzinfo=ZoneInfo(self.timezone))
        return self.deadline


def load_questionnaire(path: Path | str) -> Questionnaire:
    """Parse and validate a questionnaire file (schema only; see validator.lint)."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return Questionnaire.model_validate(raw)


def shipped_questionnaire_path() -> Path:
    return Path(__file__).parent / "data" / "family_policies.yaml"


def text_for(text: Text | None, lang: str, default_lang: str = "it") -> str:
    """The text in `lang`, falling back to the default language."""
    if not text:
        return ""
    return text.get(lang) or text.get(default_lang) or next(iter(text.values()))
