"""Typed effects the engine returns. The bot and the terminal preview render
them; the engine itself never sends anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from conversations.state import Cursor


class Progress(NamedTuple):
    position: int  # 1-based among visible questions
    total: int
    section: int  # 1-based
    sections: int
    answered: int
    required: int = 0  # visible required items (and repeat groups short of entries)
    required_done: int = 0

    @property
    def percent(self) -> int:
        """The share of required items answered, rounded down (100 with none)."""
        return 100 if not self.required else self.required_done * 100 // self.required


@dataclass(frozen=True, slots=True)
class Computed:
    """A `${...}` of the item's text, with its value now."""

    source: str
    value: Any
    kind: str | None = None  # the item type whose format suits it ("amount"...)


@dataclass(frozen=True, slots=True)
class AskItem:
    item: str
    repeat: str | None
    entry: int | None
    progress: Progress
    seq: int
    current: Any = None  # stored value when the item was answered before
    current_unknown: bool = False
    pending: tuple[str, ...] | None = None  # multiple-choice selection so far
    editing: bool = False
    can_back: bool = True
    entry_label: str | None = None
    computed: tuple[Computed, ...] = ()
    offered: tuple[int, ...] | None = None  # choices a filter offers (None: all)


@dataclass(frozen=True, slots=True)
class AskOtherText:
    item: str
    repeat: str | None
    entry: int | None
    seq: int


@dataclass(frozen=True, slots=True)
class EntrySummary:
    index: int
    label: str | None
    complete: bool


@dataclass(frozen=True, slots=True)
class AskRepeatMenu:
    repeat: str
    entries: tuple[EntrySummary, ...]
    can_add: bool
    can_finish: bool
    seq: int
    progress: Progress | None = None
    from_review: bool = False  # opened from the review: it returns there


@dataclass(frozen=True, slots=True)
class AskConfirmSubmit:
    revision: int  # the revision the submission will create
    seq: int


@dataclass(frozen=True, slots=True)
class AskConfirmWarning:
    """A `warn_if` holds: confirm the answer or change it."""

    item: str
    repeat: str | None
    entry: int | None
    value: Any
    seq: int


@dataclass(frozen=True, slots=True)
class AskConfirmRemove:
    repeat: str
    entry: int
    label: str | None
    seq: int
    # Another officer changed the entry after this officer's menu was drawn.
    changed_by: int | None = None
    changed_at: str | None = None


@dataclass(frozen=True, slots=True)
class ItemRef:
    item: str
    repeat: str | None = None
    entry: int | None = None


class ReviewLine(NamedTuple):  # a tuple: a review builds dozens of them per step
    ref: ItemRef
    value: Any
    unknown: bool
    skipped: bool
    other: str | None


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A visible repeat group in the review: its entries and whether one more fits."""

    repeat: str
    count: int
    can_add: bool


@dataclass(frozen=True, slots=True)
class ShowReview:
    lines: tuple[ReviewLine, ...]
    missing: tuple[ItemRef, ...]
    status: str
    seq: int
    flagged: frozenset[ItemRef] = frozenset()  # to look at again after an update
    # Who gave each answer (author ids), only when more than one officer answered.
    authors: dict[ItemRef, int] = field(default_factory=dict)
    groups: tuple[GroupLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Conflict:
    """The answer was changed by someone else after the prompt was drawn: the
    officer's answer is not applied. `replaceable`: buttons to replace or keep
    follow (Confirm yes/no); otherwise the question is simply asked again."""

    ref: ItemRef
    current: Any  # public form of the stored answer (see AnswerSaved)
    proposed: Any
    by: int | None
    at: str | None
    seq: int
    replaceable: bool = True


class ChangedAnswer(NamedTuple):
    ref: ItemRef
    by: int | None
    at: str | None


@dataclass(frozen=True, slots=True)
class ChangedByOthers:
    """Answers other officers changed since this one last saw the review."""

    changes: tuple[ChangedAnswer, ...]


@dataclass(frozen=True, slots=True)
class Intro:
    """The text a section (or a repeat group, before its first entry) opens with."""

    section: int  # 0-based
    repeat: str | None = None


@dataclass(frozen=True, slots=True)
class MissingItems:
    refs: tuple[ItemRef, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnswerSaved:
    ref: ItemRef
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class EntryRemoved:
    repeat: str
    entry: int
    old: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resumed:
    answered: int
    total: int
    percent: int = 0  # of the required answers (the total may still grow)


@dataclass(frozen=True, slots=True)
class Completed:
    revision: int
    submitted_at: str


@dataclass(frozen=True, slots=True)
class Reopened:
    revision: int


@dataclass(frozen=True, slots=True)
class AlreadySubmitted:
    revision: int
    submitted_at: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    key: str
    params: dict[str, Any] = field(default_factory=dict)


Effect = (
    AskItem | AskOtherText | AskRepeatMenu | AskConfirmSubmit | AskConfirmRemove
    | AskConfirmWarning | ShowReview | Conflict | ChangedByOthers | Intro
    | MissingItems | Rejected | AnswerSaved | EntryRemoved | Resumed | Completed | Reopened
    | AlreadySubmitted | Notice
)

__all__ = ["Cursor"]
