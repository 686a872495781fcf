"""Which items are visible for a given state, in questionnaire order.

The questionnaire is compiled once (conditions parsed, ids indexed); a
"slot" is one place the cursor can stand: a visible item (at top level or in
a repeat entry) or the menu that closes a repeat group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from conversations.expressions import Expression, parse_expression
from conversations.schema import Item, ItemType, Questionnaire, Repeat
from conversations.state import AnswerSet, Cursor, State


@dataclass(frozen=True, slots=True)
class Slot:
    cursor: Cursor
    item: Item | None  # None for a repeat menu
    repeat: Repeat | None
    section: int  # 0-based


@dataclass(frozen=True, slots=True)
class Located:
    item: Item
    repeat: Repeat | None
    section: int


class Compiled:
    """A questionnaire with its conditions parsed and its ids indexed."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.q = questionnaire
        self.items: dict[str, Located] = {}
        self.repeats: dict[str, tuple[Repeat, int]] = {}
        self.conditions: dict[str, Expression] = {}
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

    def _condition(self, element_id: str, when: str | None) -> None:
        if when:
            self.conditions[element_id] = parse_expression(when)

    def slots(self, state: State) -> list[Slot]:
        visible: dict[tuple[str, int | None], bool] = {}
        out: list[Slot] = []
        top_ctx = _Context(self, state, visible, None, None)
        for index, section in enumerate(self.q.sections):
            for element in section.items:
                shown = self._shown(element.id, top_ctx)
                visible[(element.id, None)] = shown
                if not shown:
                    continue
                if isinstance(element, Item):
                    out.append(Slot(Cursor("item", element.id), element, None, index))
                    continue
                for number, _entry in enumerate(state.repeats.get(element.id, ())):
                    ctx = _Context(self, state, visible, element, number)
                    for item in element.items:
                        item_shown = self._shown(item.id, ctx)
                        visible[(item.id, number)] = item_shown
                        if item_shown:
                            cursor = Cursor("item", item.id, number)
                            out.append(Slot(cursor, item, element, index))
                out.append(Slot(Cursor("repeat_menu", element.id), None, element, index))
        return out

    def _shown(self, element_id: str, ctx: _Context) -> bool:
        condition = self.conditions.get(element_id)
        return condition is None or condition.evaluate(ctx)


def typed_value(item: Item, answers: AnswerSet) -> Any:
    """The stored value as a comparable Python value (None when unanswered)."""
    raw = answers.values.get(item.id)
    if raw is None:
        return None
    if item.type is ItemType.AMOUNT:
        return Decimal(raw)
    if item.type is ItemType.DATE:
        return date.fromisoformat(raw)
    return raw


class _Context:
    """EvalContext: an entry's own items first, then the top-level answers."""

    __slots__ = ("compiled", "entry", "repeat", "state", "visible")

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

    def value(self, item_id: str) -> object:
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
        if not self.visible.get(key, False):
            return None
        return typed_value(located.item, answers)

    def count(self, repeat_id: str) -> int:
        if not self.visible.get((repeat_id, None), False):
            return 0
        return len(self.state.repeats.get(repeat_id, ()))


_cache: dict[int, tuple[Questionnaire, Compiled]] = {}


def compiled(questionnaire: Questionnaire) -> Compiled:
    """Compile once per questionnaire object (they are immutable)."""
    hit = _cache.get(id(questionnaire))
    if hit is not None and hit[0] is questionnaire:
        return hit[1]
    result = Compiled(questionnaire)
    _cache[id(questionnaire)] = (questionnaire, result)
    return result
