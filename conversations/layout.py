"""Which items are visible for a given state, in questionnaire order.

The questionnaire is compiled once (conditions parsed, ids indexed) and the
result kept on the questionnaire object; a "slot" is one place the cursor can
stand: a visible item (at top level or in a repeat entry) or the menu that
closes a repeat group. Which slots are visible depends only on the answers
conditions read and on how many entries each group has, so the compiled
questionnaire keeps the layouts of the combinations it met last.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from conversations.effects import ItemRef
from conversations.expressions import Expression, parse_expression
from conversations.schema import Item, ItemType, Questionnaire, Repeat
from conversations.state import AnswerSet, Cursor, State


@dataclass(frozen=True, slots=True)
class Slot:
    cursor: Cursor
    item: Item | None  # None for a repeat menu
    repeat: Repeat | None
    section: int  # 0-based
    ref: ItemRef  # the same position as effects name it


@dataclass(frozen=True, slots=True)
class Located:
    item: Item
    repeat: Repeat | None
    section: int


@dataclass(frozen=True, slots=True)
class Layout:
    """The visible slots for one combination of the answers conditions read, and
    what follows from the slots alone. Shared by every state that has it."""

    slots: tuple[Slot, ...]
    index: dict[Cursor, int]  # slot position by cursor
    # Per slot, what its "answered" flag looks up: the item id (a menu: its repeat
    # id) and the answer set holding it: 0 the closed groups, 1 the top-level
    # answers, 2... the entries in `entries` order.
    keys: tuple[tuple[str, int], ...]
    entries: tuple[tuple[str, int], ...]  # (repeat id, entry number)
    positions: tuple[int, ...]  # per slot: its 1-based place among the questions (0: none)
    questions: tuple[int, ...]  # positions of the slots that ask something
    required: tuple[int, ...]  # those of required questions
    groups: tuple[tuple[str, int], ...]  # groups with a minimum of entries: (id, minimum)
    asks: tuple[bool, ...]  # per slot: a question (for itertools.compress)
    needs: tuple[bool, ...]  # per slot: a required question

    @classmethod
    def of(cls, slots: tuple[Slot, ...]) -> Layout:
        keys: list[tuple[str, int]] = []
        entries: dict[tuple[str, int], int] = {}
        positions: list[int] = []
        questions: list[int] = []
        required: list[int] = []
        groups: list[tuple[str, int]] = []
        for at, slot in enumerate(slots):
            item, repeat = slot.item, slot.repeat
            if item is None:
                assert repeat is not None
                keys.append((repeat.id, 0))
                if repeat.min_entries:
                    groups.append((repeat.id, repeat.min_entries))
            elif repeat is None:
                keys.append((item.id, 1))
            else:
                entry = (repeat.id, slot.cursor.entry or 0)
                keys.append((item.id, entries.setdefault(entry, len(entries) + 2)))
            if item is None or item.type is ItemType.NOTE:
                positions.append(0)
                continue
            questions.append(at)
            positions.append(len(questions))
            if item.required:
                required.append(at)
        asks, needs = [False] * len(slots), [False] * len(slots)
        for at in questions:
            asks[at] = True
        for at in required:
            needs[at] = True
        return cls(slots, {slot.cursor: at for at, slot in enumerate(slots)}, tuple(keys),
                   tuple(entries), tuple(positions), tuple(questions), tuple(required),
                   tuple(groups), tuple(asks), tuple(needs))


class Compiled:
    """A questionnaire with its conditions parsed and its ids indexed."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.q = questionnaire
        self.items: dict[str, Located] = {}
        self.repeats: dict[str, tuple[Repeat, int]] = {}
        self.conditions: dict[str, Expression] = {}
        self._slot_cache: dict[tuple[str | None, str | None, int | None], Slot] = {}
        for index, section in enumerate(questionnaire.sections):
            for element in section.items:
                if isinstance(element, Repeat):
                    self.repeats[element.id] = (element, index)
                    self._condition(element.id, element.when)
                    for item in element.items:
                        self.items[item.id] = Located(item, element, index)
                        self._condition(item.id, item.when)
                else:
                    self.items[element.id] = Located(element, None, index)
                    self._condition(element.id, element.when)
        # Cross-item checks and computed texts (`${...}`), parsed once.
        self.constraints: dict[str, Expression] = {}
        self.warnings: dict[str, Expression] = {}
        self.stops: dict[str, Expression] = {}
        self.computed: dict[str, list[tuple[str, Expression]]] = {}
        self.value_kinds: dict[str, str] = {}  # computed source -> the item type it shows
        self.choice_conditions: dict[str, list[Expression | None]] = {}
        for item_id, located in self.items.items():
            item = located.item
            if item.constraint:
                self.constraints[item_id] = parse_expression(item.constraint)
            if item.warn_if:
                self.warnings[item_id] = parse_expression(item.warn_if)
            if item.stop_if:
                self.stops[item_id] = parse_expression(item.stop_if)
            if any(choice.when for choice in item.choices):
                self.choice_conditions[item_id] = [
                    parse_expression(choice.when) if choice.when else None
                    for choice in item.choices
                ]
            sources = computed_sources(item)
            if sources:
                self.computed[item_id] = [(src, parse_expression(src.strip()))
                                          for src in sources]
        # A filter over today() makes what is offered depend on the day, not only on answers.
        self.filters_read_today = any(
            condition is not None and condition.reads_today
            for conditions in self.choice_conditions.values() for condition in conditions
        )
        for pairs in self.computed.values():
            for source, _ in pairs:
                self.value_kinds[source] = self._kind_of(source)
        # Item id -> the values of its "Altro, specificare" choices.
        self.other_values: dict[str, frozenset[str]] = {
            item_id: frozenset(c.value for c in located.item.choices if c.other)
            for item_id, located in self.items.items()
            if any(c.other for c in located.item.choices)
        }

        self._plan = [
            (element, index, self.conditions.get(element.id),
             self._slot(element, None, None, index) if isinstance(element, Item) else None)
            for index, section in enumerate(questionnaire.sections)
            for element in section.items
        ]
        self._entry_plans: dict[tuple[str, int], list[tuple[Item, Expression | None, Slot]]] = {}
        # Repeat items whose condition reads only top-level answers.
        self.top_only_conditions = frozenset(
            item_id for item_id, condition in self.conditions.items()
            if item_id in self.items and self.items[item_id].repeat is not None
            and all(ref in self.items and self.items[ref].repeat is None
                    for ref in condition.references())
        )
        # Only items some condition reads need their visibility remembered.
        self.referenced: frozenset[str] = frozenset().union(
            *(condition.references() for condition in self.conditions.values())
        )
        # What deciding visibility reads: these top-level answers, and per group
        # these answers of each entry (and how many entries there are).
        self._top_read = tuple(sorted(
            name for name in self.referenced
            if name in self.items and self.items[name].repeat is None))
        self._entry_read = tuple(
            (repeat_id, tuple(item.id for item in repeat.items if item.id in self.referenced))
            for repeat_id, (repeat, _) in self.repeats.items()
        )
        self._layouts: dict[tuple[Hashable, ...], Layout] = {}
        self._with_other = frozenset(self.other_values)
        self.top_notes = frozenset(
            item_id for item_id, located in self.items.items()
            if located.repeat is None and located.item.type is ItemType.NOTE)

    def _kind_of(self, source: str) -> str:
        """The item type a computed value is shown as: that of the items it reads,
        when they all have one (`${total - share}` of two amounts is an amount)."""
        kinds = {self.items[name].item.type.value
                 for name in parse_expression(source.strip()).references()
                 if name in self.items}
        return kinds.pop() if len(kinds) == 1 else ""

    def _condition(self, element_id: str, when: str | None) -> None:
        if when:
            self.conditions[element_id] = parse_expression(when)

    def slots(self, state: State) -> tuple[Slot, ...]:
        return self.layout(state).slots

    def view(self, state: State) -> tuple[tuple[Slot, ...], tuple[bool, ...]]:
        """Visible slots in order, and whether each one is answered."""
        layout = self.layout(state)
        return layout.slots, self.answered(state, layout)

    def layout(self, state: State) -> Layout:
        """The visible slots in order. They depend only on the answers conditions
        read and on the number of entries of each group, so they are kept by
        those (a bounded cache on this object, which lives on its questionnaire)."""
        key = self._visibility_key(state)
        if key is None:
            return Layout.of(self._visible(state))
        layout = self._layouts.get(key)
        if layout is None:
            layout = Layout.of(self._visible(state))
            if len(self._layouts) >= MAX_KEPT_LAYOUTS:
                self._layouts.pop(next(iter(self._layouts)), None)  # the oldest
            self._layouts[key] = layout
        return layout

    def _visibility_key(self, state: State) -> tuple[Hashable, ...] | None:
        """What `_visible` reads of a state, or None when an odd value cannot be a key."""
        top = state.top.values
        try:
            parts: list[Hashable] = [_frozen(top.get(name)) for name in self._top_read]
            for repeat_id, names in self._entry_read:
                parts.append(tuple(tuple(_frozen(entry.values.get(name)) for name in names)
                                   for entry in state.repeats.get(repeat_id, ())))
        except _Unkeyable:
            return None
        return tuple(parts)

    def answered(self, state: State, layout: Layout) -> tuple[bool, ...]:
        """Whether each slot counts as answered (a menu: whether its group was closed):
        the ids answered in each answer set, then one lookup per slot."""
        holders: list[AbstractSet[str]] = [
            state.closed_repeats, self.answered_ids(state.top, self.top_notes)]
        repeats = state.repeats
        holders.extend(self.answered_ids(repeats[repeat_id][entry], frozenset())
                       for repeat_id, entry in layout.entries)
        return tuple([key in holders[holder] for key, holder in layout.keys])

    def answered_ids(self, answers: AnswerSet, notes: frozenset[str]) -> set[str]:
        """The items of an answer set that count as answered: given (with the text
        of a chosen "Altro, specificare"), skipped or "non so"; `notes` only when
        acknowledged (skipped)."""
        values = answers.values
        ids = values.keys() | answers.skipped | answers.unknown
        for item_id in self._with_other.intersection(values):
            if item_id not in answers.other:
                others, value = self.other_values[item_id], values[item_id]
                if not (others.isdisjoint(value) if isinstance(value, list)
                        else value not in others):
                    ids.discard(item_id)  # "Altro" chosen, its text not given yet
        if notes:
            ids -= notes - answers.skipped
        return ids

    def _visible(self, state: State) -> tuple[Slot, ...]:
        """One pass over the questionnaire, evaluating conditions; slot objects are
        built once, visibility is kept only for items conditions read."""
        visible: dict[tuple[str, int | None], bool] = {}
        referenced = self.referenced
        out: list[Slot] = []
        top_ctx = _Context(self, state, visible, None, None)
        top_only = self.top_only_conditions
        top_results: dict[str, bool] = {}
        for element, index, condition, slot in self._plan:
            shown = condition is None or condition.evaluate(top_ctx)
            if element.id in referenced:
                visible[(element.id, None)] = shown
            if not shown:
                continue
            if slot is not None:  # a top-level item
                out.append(slot)
                continue
            assert isinstance(element, Repeat)
            for number in range(len(state.repeats.get(element.id, ()))):
                ctx = _Context(self, state, visible, element, number)
                for item, item_condition, item_slot in self._entry_plan(element, number):
                    item_id = item.id
                    if item_condition is not None:
                        if item_id in top_only:  # same answer for every entry
                            item_shown = top_results.get(item_id)
                            if item_shown is None:
                                item_shown = top_results[item_id] = item_condition.evaluate(ctx)
                        else:
                            item_shown = item_condition.evaluate(ctx)
                        if item_id in referenced:
                            visible[(item_id, number)] = item_shown
                        if not item_shown:
                            continue
                    elif item_id in referenced:
                        visible[(item_id, number)] = True
                    out.append(item_slot)
            out.append(self._slot(None, element, None, index))
        return tuple(out)

    def _entry_plan(
        self, repeat: Repeat, entry: int
    ) -> list[tuple[Item, Expression | None, Slot]]:
        key = (repeat.id, entry)
        plan = self._entry_plans.get(key)
        if plan is None:
            section = self.repeats[repeat.id][1]
            plan = self._entry_plans[key] = [
                (item, self.conditions.get(item.id), self._slot(item, repeat, entry, section))
                for item in repeat.items
            ]
        return plan

    def _slot(self, item: Item | None, repeat: Repeat | None, entry: int | None,
              section: int) -> Slot:
        """Slots are immutable and recur every step: build each once."""
        key = (item.id if item else None, repeat.id if repeat else None, entry)
        slot = self._slot_cache.get(key)
        if slot is None:
            if item is None:
                assert repeat is not None
                cursor = Cursor("repeat_menu", repeat.id)
                ref = ItemRef(repeat.id)
            else:
                cursor = Cursor("item", item.id, entry)
                ref = ItemRef(item.id, repeat.id if repeat else None, entry)
            slot = self._slot_cache[key] = Slot(cursor, item, repeat, section, ref)
        return slot

# Layouts kept per questionnaire: distinct combinations of the answers conditions read
# (a layout of the shipped questionnaire with three practices is about 5-10 KiB).
MAX_KEPT_LAYOUTS = 128


class _Unkeyable(Exception):
    """A value of a kind answers never have (the layout is then not kept)."""


def _frozen(value: object) -> Hashable:
    """An answer as a key that tells apart what conditions tell apart (True, 1, 1.0)."""
    kind = type(value)
    if value is None or kind is str:
        return value
    if kind is bool or kind is int or kind is float:
        return (kind, value)
    if isinstance(value, list | tuple):
        return (kind, tuple(_frozen(v) for v in value))
    raise _Unkeyable


def needs_other_text(item: Item, answers: AnswerSet) -> bool:
    """An "Altro, specificare" choice is selected but its text is not given yet."""
    if item.id in answers.other or not any(c.other for c in item.choices):
        return False
    value = answers.values.get(item.id)
    chosen = value if isinstance(value, list) else [value]
    return any(c.other and c.value in chosen for c in item.choices)


def typed_value(item: Item, answers: AnswerSet) -> Any:
    """The stored value as a comparable Python value (None when unanswered)."""
    return typed(item, answers.values.get(item.id))


def typed(item: Item, raw: Any) -> Any:
    """A stored (JSON) value as a comparable Python value."""
    if raw is None:
        return None
    if item.type is ItemType.AMOUNT:
        return Decimal(raw)
    if item.type is ItemType.DATE:
        return date.fromisoformat(raw)
    return raw


_COMPUTED = re.compile(r"\$\{([^}]{1,200})\}")


def computed_sources(item: Item) -> list[str]:
    """The `${...}` expressions in an item's text and help, in order, once each."""
    texts = [*item.text.values(), *(item.help or {}).values()]
    # Kept as written (spaces included) so the presenter finds them in the text.
    return list(dict.fromkeys(m.group(1) for t in texts for m in _COMPUTED.finditer(t)))


_UNSEEN = object()


class _Context:
    """EvalContext: an entry's own items first, then the top-level answers."""

    __slots__ = ("compiled", "entry", "repeat", "seen", "state", "visible")

    def __init__(
        self,
        compiled: Compiled,
        state: State,
        visible: dict[tuple[str, int | None], bool],
        repeat: Repeat | None,
        entry: int | None,
    ) -> None:
        self.compiled = compiled
        self.state = state
        self.visible = visible
        self.repeat = repeat
        self.entry = entry
        # Values already read in this view (several conditions read the same answer,
        # e.g. each funding amount's `selected(funding_sources, ...)`). Only values
        # whose visibility is already decided are kept: that decision is final.
        self.seen: dict[str, object] = {}

    def value(self, item_id: str) -> object:
        seen = self.seen.get(item_id, _UNSEEN)
        if seen is not _UNSEEN:
            return seen
        located = self.compiled.items.get(item_id)
        if located is None:
            return None
        if located.repeat is None:
            key: tuple[str, int | None] = (item_id, None)
            answers = self.state.top
        elif self.repeat is not None and located.repeat.id == self.repeat.id:
            key = (item_id, self.entry)
            answers = self.state.repeats[self.repeat.id][self.entry or 0]
        else:
            return None  # another repeat's items have no single value
        shown = self.visible.get(key)
        if shown is None:
            return None  # not decided yet in this view: not kept
        value = typed_value(located.item, answers) if shown else None
        self.seen[item_id] = value
        return value

    def count(self, repeat_id: str) -> int:
        if not self.visible.get((repeat_id, None), False):
            return 0
        return len(self.state.repeats.get(repeat_id, ()))


def compiled(questionnaire: Questionnaire) -> Compiled:
    """Compile once per questionnaire object (they are immutable); the result is
    kept on the questionnaire itself."""
    return questionnaire.derived(Compiled)
