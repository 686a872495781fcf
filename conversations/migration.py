"""Bring stored answers from one questionnaire version to the next (pure).

A new version may drop items, add items, rename an item (`previous_id: old`),
rename choice values (`previous_values: [old, ...]`) or change an item's type
or rules. `plan(old, new)` says item by item what that does to stored answers
(for `surveybot validate NEW --against OLD` and the log); `migrate(old, new,
shared)` applies it to one response's shared state:

* an answer whose item is gone leaves the response (the caller keeps it in
  the history: every move is returned);
* a renamed item keeps its answer under the new id, an old choice value takes
  its new one;
* an answer that does not validate under the new definition is cleared and
  flagged, so the officer is asked again and the review marks it;
* new required items that are visible are flagged too.

Nothing here reads the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from conversations.answer_parsing import parse_text_answer
from conversations.engine import missing_refs
from conversations.parsing import InputError
from conversations.schema import CHOICE_TYPES, Item, ItemType, Questionnaire, Repeat
from conversations.state import AnswerSet, State

Kind = Literal["kept", "renamed", "value_mapped", "reask", "dropped", "new"]


@dataclass(frozen=True, slots=True)
class PlanLine:
    """What a version change does to the answers of one item."""

    item: str  # "item" or "repeat.item", in the new version (old one when dropped)
    kind: Kind
    detail: str = ""

    def __str__(self) -> str:
        words = {
            "kept": "kept", "renamed": "renamed", "value_mapped": "values mapped",
            "reask": "to be asked again", "dropped": "dropped", "new": "new",
        }
        return f"{self.item}: {words[self.kind]}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class Move:
    """One stored answer touched by the migration (for the answer history)."""

    ref: str  # "item" or "repeat[entry].item"
    kind: Kind
    old: Any
    new: Any


@dataclass(slots=True)
class Migration:
    state: dict[str, Any]  # the shared state under the new version
    moves: list[Move] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # refs the officer must review

    @property
    def to_review(self) -> int:
        return len(self.flagged)


class _Misfit(Exception):
    """A stored value the new definition does not accept."""


# --- the questionnaire pair --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    item: Item
    repeat: Repeat | None

    @property
    def label(self) -> str:
        return f"{self.repeat.id}.{self.item.id}" if self.repeat else self.item.id


def _places(q: Questionnaire) -> dict[str, _Place]:
    out: dict[str, _Place] = {}
    for section in q.sections:
        for element in section.items:
            if isinstance(element, Repeat):
                for item in element.items:
                    out[item.id] = _Place(item, element)
            else:
                out[element.id] = _Place(element, None)
    return out


def _repeats(q: Questionnaire) -> dict[str, Repeat]:
    return {e.id: e for s in q.sections for e in s.items if isinstance(e, Repeat)}


class _Pair:
    """Which new item each old item id becomes."""

    def __init__(self, old: Questionnaire | None, new: Questionnaire) -> None:
        self.old = _places(old) if old is not None else None
        self.new = _places(new)
        self.new_repeats = _repeats(new)
        # Old id -> new id: every current id stays itself; a declared previous_id
        # that is no current id moves to the item declaring it.
        self.successor: dict[str, str] = {new_id: new_id for new_id in self.new}
        for new_id, place in self.new.items():
            previous = place.item.previous_id
            if previous and previous not in self.new:
                self.successor[previous] = new_id
        self.repeat_successor = {repeat_id: repeat_id for repeat_id in self.new_repeats}
        for repeat in self.new_repeats.values():
            if repeat.previous_id and repeat.previous_id not in self.new_repeats:
                self.repeat_successor[repeat.previous_id] = repeat.id

    def target(self, old_id: str, old_repeat: str | None) -> Item | None:
        """The new item answers to `old_id` move to (None: dropped)."""
        new_id = self.successor.get(old_id)
        if new_id is None:
            return None
        place = self.new[new_id]
        new_repeat = place.repeat.id if place.repeat else None
        wanted = self.repeat_successor.get(old_repeat) if old_repeat else None
        return place.item if new_repeat == wanted else None  # moving in or out: dropped


def _value_map(item: Item) -> dict[str, str]:
    current = {choice.value for choice in item.choices}
    return {
        old: choice.value
        for choice in item.choices
        for old in choice.previous_values
        if old not in current
    }


def _carry_value(item: Item, value: Any) -> Any:
    """The stored value with old choice values renamed (not yet validated)."""
    mapping = _value_map(item)
    if not mapping:
        return value
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        renamed = [mapping.get(v, v) if isinstance(v, str) else v for v in value]
        return list(dict.fromkeys(renamed))
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool | list | dict) or value is None:
        raise _Misfit
    return str(value)


def fit(item: Item, value: Any) -> Any:
    """The value as the new item stores it; _Misfit when it does not validate."""
    kind = item.type
    if kind is ItemType.NOTE:
        raise _Misfit
    if kind is ItemType.YES_NO:
        if isinstance(value, bool):
            return value
        raise _Misfit
    values = [choice.value for choice in item.choices]
    if kind is ItemType.SINGLE_CHOICE:
        if isinstance(value, str) and value in values:
            return value
        raise _Misfit
    if kind is ItemType.MULTIPLE_CHOICE:
        if isinstance(value, str):
            value = [value]  # a single choice becoming multiple
        if not isinstance(value, list) or not all(v in values for v in value):
            raise _Misfit
        least = item.min_selections if item.min_selections is not None else int(item.required)
        if len(value) < least or (item.max_selections and len(value) > item.max_selections):
            raise _Misfit
        return [v for v in values if v in value]
    text = _as_text(value)
    if kind is ItemType.DATE:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    try:
        return parse_text_answer(item, text)
    except InputError as error:
        raise _Misfit from error


def _keeps_other(item: Item, value: Any) -> bool:
    chosen = value if isinstance(value, list) else [value]
    return any(choice.other and choice.value in chosen for choice in item.choices)


# --- one response ----------------------------------------------------------------------


def _ref(repeat: str | None, entry: int | None, item: str) -> str:
    return item if repeat is None else f"{repeat}[{entry}].{item}"


def flag_ref(repeat: str | None, entry_key: str | None, item: str) -> str:
    """How a flagged item is named in the state: entry keys survive removals."""
    return item if repeat is None else f"{repeat}#{entry_key}.{item}"


class _Mover:
    def __init__(self, pair: _Pair, out: Migration) -> None:
        self.pair = pair
        self.out = out

    def answers(
        self, old: AnswerSet, old_repeat: str | None, new_repeat: str | None, entry: int | None
    ) -> AnswerSet:
        new = AnswerSet(key=old.key)
        ids = dict.fromkeys([*old.values, *sorted(old.skipped), *sorted(old.unknown)])
        for old_id in ids:
            self.one(old, old_id, new, old_repeat, new_repeat, entry)
        return new

    def one(
        self, old: AnswerSet, old_id: str, new: AnswerSet, old_repeat: str | None,
        new_repeat: str | None, entry: int | None,
    ) -> None:
        item = self.pair.target(old_id, old_repeat)
        before: Any = (
            {"unknown": True} if old_id in old.unknown
            else None if old_id in old.skipped else old.values.get(old_id)
        )
        if item is None:
            self.out.moves.append(Move(_ref(old_repeat, entry, old_id), "dropped", before, None))
            return
        new_ref = _ref(new_repeat, entry, item.id)
        renamed = item.id != old_id
        if old_id in old.unknown or old_id in old.skipped:
            allowed = item.allow_unknown if old_id in old.unknown else not item.required
            if allowed and item.asks:
                (new.unknown if old_id in old.unknown else new.skipped).add(item.id)
                if renamed:
                    self.out.moves.append(Move(new_ref, "renamed", before, before))
                return
            self.clear(new_ref, item, new_repeat, new.key, before)
            return
        carried = _carry_value(item, old.values[old_id])
        try:
            value = fit(item, carried)
        except _Misfit:
            self.clear(new_ref, item, new_repeat, new.key, before)
            return
        new.values[item.id] = value
        other = old.other.get(old_id)
        if other is not None and _keeps_other(item, value):
            new.other[item.id] = other
        if value != before:
            self.out.moves.append(Move(new_ref, "value_mapped", before, value))
        elif renamed:
            self.out.moves.append(Move(new_ref, "renamed", before, value))

    def clear(self, ref: str, item: Item, repeat: str | None, key: str, before: Any) -> None:
        self.out.moves.append(Move(ref, "reask", before, None))
        self.out.flagged.append(flag_ref(repeat, key, item.id))


def migrate(old: Questionnaire | None, new: Questionnaire, shared: dict[str, Any]) -> Migration:
    """One response's shared state under `new`. `old` None: the old file is not
    known, so items are matched by id and by the new file's declarations only."""
    state = State.join(shared, None)
    pair = _Pair(old, new)
    out = Migration(state={})
    mover = _Mover(pair, out)
    state.top = mover.answers(state.top, None, None, None)
    repeats: dict[str, list[AnswerSet]] = {}
    for old_repeat, entries in state.repeats.items():
        new_repeat = pair.repeat_successor.get(old_repeat)
        moved = [mover.answers(e, old_repeat, new_repeat, i) for i, e in enumerate(entries)]
        if new_repeat is not None:
            repeats[new_repeat] = moved
    state.repeats = repeats
    state.closed_repeats = {
        pair.repeat_successor[r] for r in state.closed_repeats if r in pair.repeat_successor
    }
    state.questionnaire_version = new.version
    state.flagged = list(dict.fromkeys([*_kept_flags(state, new), *out.flagged]))
    known_before = set(pair.successor) if pair.old is None else set(pair.old)
    for ref in missing_refs(new, state):
        place = pair.new.get(ref.item)
        if place is None or (place.item.previous_id or ref.item) in known_before:
            continue  # a repeat's entries, or an item the officer had not reached yet
        key = state.repeats[ref.repeat][ref.entry].key if ref.repeat and ref.entry is not None \
            else None
        flag = flag_ref(ref.repeat, key, ref.item)
        if flag not in state.flagged:
            state.flagged.append(flag)
            out.moves.append(Move(_ref(ref.repeat, ref.entry, ref.item), "new", None, None))
    out.flagged = state.flagged
    out.state, _ = state.split()
    return out


def _kept_flags(state: State, new: Questionnaire) -> list[str]:
    """Flags of an earlier update still open, for items and entries that still exist."""
    places = _places(new)
    keys = {(repeat_id, entry.key) for repeat_id, entries in state.repeats.items()
            for entry in entries}
    kept = []
    for flag in state.flagged:
        where, _, item_id = flag.rpartition(".")
        if item_id not in places:
            continue
        if where and tuple(where.split("#", 1)) not in keys:
            continue  # the entry was removed since
        kept.append(flag)
    return kept


# --- what an update does, item by item ----------------------------------------------------


def plan(old: Questionnaire, new: Questionnaire) -> list[PlanLine]:
    """For `validate --against` and the log: every old item's fate, then new items."""
    pair = _Pair(old, new)
    assert pair.old is not None
    lines: list[PlanLine] = []
    reached: set[str] = set()
    for old_id, old_place in pair.old.items():
        old_repeat = old_place.repeat.id if old_place.repeat else None
        item = pair.target(old_id, old_repeat)
        if item is None:
            lines.append(PlanLine(old_place.label, "dropped", _dropped_hint(pair, old_place)))
            continue
        reached.add(item.id)
        label = pair.new[item.id].label
        lines.append(_item_line(old_place.item, item, label))
    for new_id, place in pair.new.items():
        if new_id in reached or not place.item.asks:
            continue
        detail = "required, will be asked" if place.item.required else "optional"
        lines.append(PlanLine(place.label, "new", detail))
    return lines


def _item_line(old: Item, new: Item, label: str) -> PlanLine:
    renamed = f"from '{old.id}'" if old.id != new.id else ""
    if not old.asks:
        return PlanLine(label, "renamed" if renamed else "kept", renamed)
    if old.type != new.type and not _convertible(old, new):
        return PlanLine(label, "reask", f"type {old.type.value} -> {new.type.value}"
                        + (f", {renamed}" if renamed else ""))
    if old.type != new.type:
        detail = f"type {old.type.value} -> {new.type.value}: answers that do not convert " \
                 "are asked again"
        return PlanLine(label, "reask", detail + (f", {renamed}" if renamed else ""))
    if new.type in CHOICE_TYPES:
        current = {c.value for c in new.choices}
        mapping = _value_map(new)
        lost = sorted(c.value for c in old.choices if c.value not in current
                      and c.value not in mapping)
        if lost:
            return PlanLine(label, "reask", "choice values " + ", ".join(f"'{v}'" for v in lost)
                            + " removed without previous_values")
        mapped = [f"'{o}' -> '{n}'" for o, n in mapping.items()
                  if o in {c.value for c in old.choices}]
        if mapped:
            return PlanLine(label, "value_mapped", ", ".join(mapped)
                            + (f"; {renamed}" if renamed else ""))
    if old.required != new.required and new.required and old.asks:
        return PlanLine(label, "reask", "now required: skipped answers are asked again")
    if old.validation != new.validation:
        return PlanLine(label, "reask", "rules changed: answers that break them are asked again")
    if old.allow_unknown and not new.allow_unknown:
        return PlanLine(label, "reask", "'non so' no longer allowed: those answers are asked again")
    return PlanLine(label, "renamed" if renamed else "kept", renamed)


_FIXED = CHOICE_TYPES | {ItemType.YES_NO}


def _convertible(old: Item, new: Item) -> bool:
    """A type change some answers survive (they are re-read under the new type)."""
    if old.type is ItemType.SINGLE_CHOICE and new.type is ItemType.MULTIPLE_CHOICE:
        return True
    return old.type not in _FIXED and new.type not in _FIXED


def _dropped_hint(pair: _Pair, old: _Place) -> str:
    """An item removed while a new one of the same type appears looks like a rename."""
    for new_id, place in pair.new.items():
        fresh = pair.old is not None and new_id not in pair.old and not place.item.previous_id
        same_scope = (place.repeat.id if place.repeat else None) == (
            old.repeat.id if old.repeat else None)
        if fresh and same_scope and place.item.type is old.item.type and old.item.asks:
            return f"answers stay in the history; if '{new_id}' is its new name, declare " \
                   f"previous_id: {old.item.id}"
    return "answers stay in the history"


def needs_reask(lines: list[PlanLine]) -> list[PlanLine]:
    """Lines where answers would be cleared without a declared mapping."""
    return [line for line in lines if line.kind == "reask"]


def carry_snapshot(new: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """An older version's submission read under `new` for display only (exports):
    renamed items under their new id, old choice values under their new value."""
    places = _places(new)
    renames = {p.item.previous_id: item_id for item_id, p in places.items() if p.item.previous_id}

    def carry(values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            base, suffix = (key[:-6], "_other") if key.endswith("_other") else (key, "")
            new_id = renames.get(base, base) if base not in places else base
            place = places.get(new_id)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                out[new_id] = [carry(entry) for entry in value]
            elif place is not None and not suffix:
                out[new_id] = _carry_value(place.item, value)
            elif key == "_unknown" and isinstance(value, list):
                out[key] = [renames.get(v, v) for v in value]
            else:
                out[new_id + suffix] = value
        return out

    return carry(answers)
