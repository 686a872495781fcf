"""Questionnaire format: versioned data, validated by pydantic.

A questionnaire is a YAML file: file-level metadata, then sections holding
items and repeat groups. Item ids are stable across versions; text is given
per language. See conversations/data/family_policies.yaml for the shipped one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
)

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
    # Values this choice had in earlier versions: stored answers move to this one.
    previous_values: tuple[str, ...] = ()
    # Offered only when this holds (over earlier answers), like XLSForm's choice_filter.
    when: str | None = None


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
    # A short name ("Nome e cognome") for the review, the receipt, export headers, the map.
    label: Text | None = None
    help: Text | None = None
    required: bool = True
    # Offers a "non so / non applicabile" answer.
    allow_unknown: bool = False
    when: str | None = None
    choices: tuple[Choice, ...] = ()
    min_selections: int | None = Field(default=None, ge=0)
    max_selections: int | None = Field(default=None, ge=1)
    validation: Validation | None = None
    # The id this item had in the previous version: its answers carry over.
    previous_id: ItemId | None = None
    # Cross-item checks over `.` (the value being given) and earlier answers.
    constraint: str | None = None
    constraint_message: Text | None = None
    # The soft form: the officer is warned and may confirm or change.
    warn_if: str | None = None
    warn_message: Text | None = None
    # An answer that stops the officer ("not my municipality"): it is not saved,
    # the message is shown and the assistance team gets a ticket.
    stop_if: str | None = None
    stop_message: Text | None = None

    @property
    def asks(self) -> bool:
        return self.type is not ItemType.NOTE

    @property
    def max_length(self) -> int | None:
        if self.validation and self.validation.max_length:
            return self.validation.max_length
        return DEFAULT_MAX_LENGTH.get(self.type)


class PluralForms(_Model):
    one: str
    other: str


class Repeat(_Model):
    """Items asked once per entry ("add another entry?")."""

    kind: Literal["repeat"] = "repeat"
    id: ItemId
    text: Text  # what an entry is, e.g. "Centro"
    # Words for entries with plural forms, per language ("1 Centro", "3 Centri").
    entry_name: dict[str, PluralForms] | None = None
    previous_id: ItemId | None = None
    add_prompt: Text  # the question shown between entries
    intro: Text | None = None  # shown before the first entry
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


class Contact(_Model):
    """Whom officers call or write to for help (shown by /aiuto)."""

    name: Text | None = None
    phone: tuple[str, ...] = ()
    email: str | None = None
    hours: Text | None = None


class MapField(_Model):
    item: ItemId
    label: Text | None = None  # default: the item's own text


PropertySource = Annotated[str, Field(pattern=r"^([a-z][a-z0-9_]*|year\([a-z][a-z0-9_]*\))$")]


class MapSpec(_Model):
    """How the GeoJSON export draws a repeat group's entries as map features."""

    repeat: ItemId
    name: ItemId  # the item that names a feature
    # A yes/no item outside the repeat: only responses answering yes are published.
    consent: ItemId | None = None
    description: tuple[ItemId | MapField, ...] = ()
    # Flat feature property -> item id, or `year(date_item)` (uMap's filters and table).
    properties: dict[str, PropertySource] = Field(default_factory=dict)

    def description_fields(self) -> tuple[MapField, ...]:
        return tuple(f if isinstance(f, MapField) else MapField(item=f) for f in self.description)


T = TypeVar("T")


class _Derived:
    """What the engine derives from one questionnaire object (its compiled form),
    kept on that object so it lives and dies with it and another questionnaire
    (another edition) never sees it. Not part of the questionnaire's value: equal
    to any other holder, and a copy starts empty."""

    __slots__ = ("owner", "values")

    def __init__(self, owner: Questionnaire | None = None) -> None:
        self.owner = weakref.ref(owner) if owner is not None else None
        self.values: dict[Callable[[Any], Any], Any] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Derived)

    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> _Derived:
        return _Derived()

    def __deepcopy__(self, memo: dict[int, object]) -> _Derived:
        return _Derived()


class Questionnaire(_Model):
    id: ItemId
    version: Annotated[str, Field(min_length=1, max_length=20)]
    languages: tuple[str, ...] = ("it", "en")
    title: Text
    intro: Text | None = None
    welcome: Text | None = None  # shown by /start under the title
    privacy: Text | None = None  # the full information notice (GDPR art. 13), /privacy
    privacy_short: Text | None = None  # its summary, shown by /start
    contacts: tuple[Contact, ...] = ()
    map: MapSpec | None = None
    # The top-level text item where an officer writes their name: officers of one
    # municipality are named by it to each other.
    respondent_name: ItemId | None = None
    deadline: datetime
    timezone: str = "Europe/Rome"
    sections: tuple[Section, ...]
    _derived: _Derived = PrivateAttr(default_factory=_Derived)

    def derived(self, build: Callable[[Questionnaire], T]) -> T:
        """`build(self)`, computed once per questionnaire object. Pydantic's
        `model_copy` shares private attributes, hence the owner check: a copy
        (maybe with other fields) builds its own."""
        # Read past pydantic's __getattr__: this runs on every engine step.
        private = self.__pydantic_private__
        holder = private.get("_derived") if private else None
        if holder is None or holder.owner is None or holder.owner() is not self:
            holder = self._derived = _Derived(self)
        if build not in holder.values:
            holder.values[build] = build(self)
        value: T = holder.values[build]
        return value

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
    return parse_questionnaire(Path(path).read_text(encoding="utf-8"))


def parse_questionnaire(source: str) -> Questionnaire:
    return Questionnaire.model_validate(load_yaml(source))


def load_yaml(source: str) -> Any:
    """`yaml.safe_load` through libyaml when PyYAML has it: about 15 times faster and
    half the transient memory on the shipped file. A file libyaml refuses is read
    again by the pure-Python loader, whose error messages are the ones shown."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(source, Loader=fast)  # a safe loader: no arbitrary objects
        except yaml.YAMLError:
            pass
    return yaml.safe_load(source)


def shipped_questionnaire_path() -> Path:
    return Path(__file__).parent / "data" / "family_policies.yaml"


def short_text(item: Item) -> Text:
    """An item's short label, falling back to its question."""
    return item.label or item.text


def text_for(text: Text | None, lang: str, default_lang: str = "it") -> str:
    """The text in `lang`, falling back to the default language."""
    if not text:
        return ""
    return text.get(lang) or text.get(default_lang) or next(iter(text.values()))


def plural_for(
    forms: dict[str, PluralForms] | None, count: int, lang: str, default_lang: str = "it"
) -> str | None:
    """The entry word for `count` entries in `lang` (Italian and English: one vs other)."""
    if not forms:
        return None
    chosen = forms.get(lang) or forms.get(default_lang) or next(iter(forms.values()))
    return chosen.one if count == 1 else chosen.other
