"""Conversation state: plain, JSON-serialisable, cheap to copy.

Values are stored as JSON scalars so that a state round-trips through SQLite
unchanged: amounts as strings ("1234.50"), dates as ISO strings, integers as
int, yes/no as bool, single choice as the choice value, multiple choice as a
list of values. Lists are never mutated in place, only replaced, so a shallow
copy of the dicts is a safe copy of the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from conversations.views import View

CursorKind = Literal[
    "item", "other_text", "repeat_menu", "review", "confirm_submit", "confirm_remove",
    "confirm_warning", "confirm_conflict", "done",
    "group",  # a repeat group's menu opened from the review (the hub)
]
Status = Literal["in_progress", "submitted"]


@dataclass(slots=True)
class AnswerSet:
    values: dict[str, Any] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    other: dict[str, str] = field(default_factory=dict)
    key: str = ""  # stable id of a repeat entry: positions survive removals

    def has(self, item_id: str) -> bool:
        return item_id in self.values or item_id in self.skipped or item_id in self.unknown

    def is_empty(self) -> bool:
        return not (self.values or self.skipped or self.unknown)

    def copy(self) -> AnswerSet:
        return AnswerSet(
            dict(self.values), set(self.skipped), set(self.unknown), dict(self.other), self.key
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "skipped": sorted(self.skipped),
            "unknown": sorted(self.unknown),
            "other": self.other,
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerSet:
        return cls(
            dict(data.get("values", {})),
            set(data.get("skipped", ())),
            set(data.get("unknown", ())),
            dict(data.get("other", {})),
            data.get("key", ""),
        )


class Cursor(NamedTuple):
    """A position; a tuple so that hashing and comparing (on every step) are fast."""

    kind: CursorKind
    item: str | None = None  # item id, or repeat id for menus and removals
    entry: int | None = None  # repeat entry index, for items inside a repeat

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "item": self.item, "entry": self.entry}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cursor:
        return cls(data["kind"], data.get("item"), data.get("entry"))


# Per-officer part of the state; the rest is shared by the municipality.
NAV_KEYS = (
    "cursor", "history", "pending", "walk", "return_to", "seq", "anchors", "held", "drawn",
    "menu", "seen",
)
# Tombstones kept for entries other officers removed (who, when), newest last.
MAX_REMOVED = 50

# How the engine picks the next item after an answer.
WalkMode = Literal["next_unanswered", "followups", "entry", "sequential"]


@dataclass(slots=True)
class State:
    questionnaire_id: str
    questionnaire_version: str
    cursor: Cursor
    top: AnswerSet = field(default_factory=AnswerSet)
    repeats: dict[str, list[AnswerSet]] = field(default_factory=dict)
    closed_repeats: set[str] = field(default_factory=set)
    history: list[Cursor] = field(default_factory=list)
    pending: list[str] | None = None  # multiple-choice selection being built
    held: Any = None  # an answer a warning asks to confirm (stored JSON form)
    walk: WalkMode = "next_unanswered"
    return_to: Cursor | None = None
    seq: int = 0  # bumped on every accepted input; buttons carry it
    # Entry keys of `cursor` and `return_to`: another officer may remove an
    # entry before this one, shifting entry numbers under this officer's feet.
    anchors: dict[str, str] = field(default_factory=dict)
    entry_serial: int = 0  # shared: the next entry key
    status: Status = "in_progress"
    revision: int = 0
    submitted_at: str | None = None
    # Items a questionnaire update asks the officers to look at again
    # ("item" or "repeat#entrykey.item"); answering one clears its flag.
    flagged: list[str] = field(default_factory=list)
    # Shared: the version of each answer ("item" or "repeat#entrykey.item") as
    # [serial, author, ISO time]; `change_serial` is the last serial handed out.
    versions: dict[str, list[Any]] = field(default_factory=dict)
    change_serial: int = 0
    removed: dict[str, list[Any]] = field(default_factory=dict)  # entry key -> [author, time]
    # This officer's: [answer key, serial] of the answer the prompt on screen was
    # drawn on; [repeat, serial, entry keys] of the last repeat menu drawn; the
    # serial when this officer last saw the review.
    drawn: list[Any] | None = None
    menu: list[Any] | None = None
    seen: int = 0
    # Not part of the state's value: the layout derived from its answers, which
    # the engine reuses while they stay the same (see conversations/views.py).
    view_cache: View | None = field(default=None, compare=False, repr=False)

    def copy(self) -> State:
        # Positional (in field order): the engine copies the state on every step.
        return State(
            self.questionnaire_id,
            self.questionnaire_version,
            self.cursor,
            self.top.copy(),
            {rid: [e.copy() for e in entries] for rid, entries in self.repeats.items()},
            set(self.closed_repeats),
            list(self.history),
            self.pending,
            self.held,
            self.walk,
            self.return_to,
            self.seq,
            dict(self.anchors),
            self.entry_serial,
            self.status,
            self.revision,
            self.submitted_at,
            list(self.flagged),
            dict(self.versions),
            self.change_serial,
            dict(self.removed),
            self.drawn,
            self.menu,
            self.seen,
            self.view_cache,
        )

    def answers_for(self, repeat_id: str | None, entry: int | None) -> AnswerSet:
        if repeat_id is None or entry is None:
            return self.top
        return self.repeats[repeat_id][entry]

    def to_json(self) -> dict[str, Any]:
        return {
            "questionnaire_id": self.questionnaire_id,
            "questionnaire_version": self.questionnaire_version,
            "cursor": self.cursor.to_json(),
            "top": self.top.to_json(),
            "repeats": {rid: [e.to_json() for e in es] for rid, es in self.repeats.items()},
            "closed_repeats": sorted(self.closed_repeats),
            "history": [c.to_json() for c in self.history],
            "pending": self.pending,
            "held": self.held,
            "walk": self.walk,
            "return_to": self.return_to.to_json() if self.return_to else None,
            "seq": self.seq,
            "anchors": self.anchors,
            "entry_serial": self.entry_serial,
            "status": self.status,
            "revision": self.revision,
            "submitted_at": self.submitted_at,
            "flagged": self.flagged,
            "versions": self.versions,
            "change_serial": self.change_serial,
            "removed": self.removed,
            "drawn": self.drawn,
            "menu": self.menu,
            "seen": self.seen,
        }

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(answers shared by the municipality's officers, this officer's navigation)."""
        data = self.to_json()
        return {k: v for k, v in data.items() if k not in NAV_KEYS}, {k: data[k] for k in NAV_KEYS}

    @classmethod
    def join(cls, shared: dict[str, Any], nav: dict[str, Any] | None) -> State:
        data = dict(shared)
        data.update(nav or {"cursor": {"kind": "review"}})
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(
            questionnaire_id=data["questionnaire_id"],
            questionnaire_version=data["questionnaire_version"],
            cursor=Cursor.from_json(data["cursor"]),
            top=AnswerSet.from_json(data.get("top", {})),
            repeats={
                rid: [AnswerSet.from_json(e) for e in es]
                for rid, es in data.get("repeats", {}).items()
            },
            closed_repeats=set(data.get("closed_repeats", ())),
            history=[Cursor.from_json(c) for c in data.get("history", ())],
            pending=data.get("pending"),
            held=data.get("held"),
            walk=data.get("walk", "next_unanswered"),
            return_to=Cursor.from_json(data["return_to"]) if data.get("return_to") else None,
            seq=data.get("seq", 0),
            anchors=dict(data.get("anchors", {})),
            entry_serial=data.get("entry_serial", 0),
            status=data.get("status", "in_progress"),
            revision=data.get("revision", 0),
            submitted_at=data.get("submitted_at"),
            flagged=list(data.get("flagged", ())),
            versions=dict(data.get("versions", {})),
            change_serial=data.get("change_serial", 0),
            removed=dict(data.get("removed", {})),
            drawn=data.get("drawn"),
            menu=data.get("menu"),
            seen=data.get("seen", 0),
        )
