"""Lint a questionnaire file beyond what the pydantic schema checks.

`lint(raw)` takes the parsed YAML and returns one line per problem, each
starting with where the problem is:

* ``questionnaire`` for file-level fields,
* ``section <id>`` for a section,
* ``<item>`` for a top-level item or repeat group, ``<repeat>.<item>`` for an
  item inside a repeat group,
* ``schema`` for pydantic errors (followed by the location path).

If the file does not pass the schema, only the schema problems are reported:
the other checks need a well-formed questionnaire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from conversations.expressions import (
    Expression,
    ExpressionError,
    _Arith,
    _Compare,
    _Const,
    _Count,
    _Empty,
    _Name,
    _Node,
    _Selected,
    _Sum,
    parse_expression,
)
from conversations.layout import computed_sources
from conversations.schema import (
    CHOICE_TYPES,
    Item,
    ItemType,
    Questionnaire,
    Repeat,
    Text,
    load_yaml,
)

# Telegram limits an inline keyboard, and each button's callback data is at most
# 64 bytes; the engine addresses choices by index, but a keyboard with more than
# this many buttons is neither usable nor safe to send.
MAX_CHOICES = 60

_TAGS = frozenset({"item", "repeat"})


# --- schema ------------------------------------------------------------------------


def _schema_problems(raw: object, error: ValidationError) -> list[str]:
    lines: list[str] = []
    for entry in error.errors():
        path, owner = _describe_location(raw, entry["loc"])
        where = f"schema error at {path or '(top level)'}"
        if owner:
            where += f" ({owner})"
        hint = ""
        if isinstance(entry.get("input"), bool) and any(
            key in ("value", "previous_values") for key in entry["loc"]
        ):
            hint = (" (YAML reads unquoted yes/no/on/off/true/false as a boolean: "
                    "quote the value, e.g. \"no\")")
        lines.append(f"{where}: {entry['msg']}{hint}")
    return lines


def _describe_location(raw: object, loc: tuple[int | str, ...]) -> tuple[str, str | None]:
    """The dotted path of a pydantic location (without union tags) and the
    id of the innermost element (section, item, repeat) it lies in."""
    parts: list[str] = []
    owner: str | None = None
    node: object = raw
    for key in loc:
        if isinstance(node, dict) and isinstance(key, str) and key not in node and key in _TAGS:
            continue  # the discriminator tag pydantic adds for item/repeat unions
        parts.append(str(key))
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            node = None
        if isinstance(key, int) and isinstance(node, dict) and isinstance(node.get("id"), str):
            owner = node["id"]
    return ".".join(parts), owner


# --- model walk ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Element:
    """An item or a repeat group, in questionnaire order."""

    order: int
    label: str  # how problems name it: "item" or "repeat.item"
    item: Item | None
    repeat: Repeat | None  # the repeat itself, or the repeat holding the item

    @property
    def id(self) -> str:
        if self.item is not None:
            return self.item.id
        assert self.repeat is not None
        return self.repeat.id

    @property
    def when(self) -> str | None:
        if self.item is not None:
            return self.item.when
        assert self.repeat is not None
        return self.repeat.when

    @property
    def scope(self) -> str | None:
        """The repeat whose entry the condition is evaluated in (None: top level)."""
        return self.repeat.id if self.item is not None and self.repeat is not None else None


def _elements(q: Questionnaire) -> list[_Element]:
    out: list[_Element] = []
    for section in q.sections:
        for element in section.items:
            if isinstance(element, Repeat):
                out.append(_Element(len(out), element.id, None, element))
                for item in element.items:
                    out.append(_Element(len(out), f"{element.id}.{item.id}", item, element))
            else:
                out.append(_Element(len(out), element.id, element, None))
    return out


class _Linter:
    def __init__(self, q: Questionnaire) -> None:
        self.q = q
        self.problems: list[str] = []
        self.elements = _elements(q)
        self.by_id: dict[str, _Element] = {}
        for element in self.elements:
            self.by_id.setdefault(element.id, element)
        self.conditions: dict[int, Expression] = {}
        self.what = "condition"

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def run(self) -> list[str]:
        self.check_ids()
        self.check_previous_ids()
        self.check_texts()
        for element in self.elements:
            if element.item is not None:
                self.check_item(element.label, element.item)
            else:
                assert element.repeat is not None
                self.check_repeat(element.repeat)
        self.parse_conditions()
        for element in self.elements:
            expression = self.conditions.get(element.order)
            if expression is not None:
                if expression.reads_current or expression.reads_today:
                    self.add(element.label, "condition uses '.' or today(), which only "
                                            "constraint and warn_if may use")
                self.check_references(element, expression)
            if element.item is not None:
                self.check_checks(element, element.item)
        self.check_reachability()
        self.check_map()
        self.check_respondent_name()
        return self.problems

    def check_respondent_name(self) -> None:
        name = self.q.respondent_name
        if name is None:
            return
        element = self.by_id.get(name)
        if element is None or element.item is None or element.scope is not None:
            self.add("respondent_name", f"'{name}' is not a top-level item")
        elif element.item.type not in (ItemType.TEXT, ItemType.LONG_TEXT):
            self.add("respondent_name", f"'{name}' must be a text item")

    # --- constraint, warn_if, computed texts --------------------------------------------
    def check_checks(self, element: _Element, item: Item) -> None:
        where = element.label
        for what, source, message in (("constraint", item.constraint, item.constraint_message),
                                      ("warn_if", item.warn_if, item.warn_message)):
            if message is not None and source is None:
                self.add(where, f"{what} message without a {what}")
            if source is None:
                continue
            if not item.asks:
                self.add(where, f"a note cannot have a {what}")
                continue
            try:
                expression = parse_expression(source)
            except ExpressionError as error:
                self.add(where, f"{what} {source!r} does not parse: {error}")
                continue
            self.check_references(element, expression, what)
            self.check_text(where, f"{what} message", message)
        for choice in item.choices:
            if choice.when is None:
                continue
            what = f"choice '{choice.value}' condition"
            try:
                expression = parse_expression(choice.when)
            except ExpressionError as error:
                self.add(where, f"{what} {choice.when!r} does not parse: {error}")
                continue
            if expression.reads_current or expression.reads_today:
                self.add(where, f"{what} uses '.' or today(), which only constraint and "
                                "warn_if may use")
            self.check_references(element, expression, what)
        for source in computed_sources(item):
            try:
                expression = parse_expression(source.strip())
            except ExpressionError as error:
                self.add(where, f"computed value ${{{source}}} does not parse: {error}")
                continue
            if expression.reads_current:
                self.add(where, f"computed value ${{{source}}} cannot use '.'")
            self.check_references(element, expression, f"computed value ${{{source}}}")

    # --- the map --------------------------------------------------------------------
    def check_map(self) -> None:
        spec = self.q.map
        if spec is None:
            return
        target = self.by_id.get(spec.repeat)
        if target is None or target.item is not None:
            self.add("map", f"repeat '{spec.repeat}' is not a repeat group of the questionnaire")
            return
        assert target.repeat is not None
        inside = {item.id: item for item in target.repeat.items}
        sources = [("name", spec.name), *(("description", f.item)
                                          for f in spec.description_fields())]
        for key, source in spec.properties.items():
            sources.append((f"property '{key}'", source.removeprefix("year(").rstrip(")")))
        for what, item_id in sources:
            if item_id not in inside:
                self.add("map", f"{what} refers to '{item_id}', not an item of '{spec.repeat}'")
        for key, source in spec.properties.items():
            named = inside.get(source.removeprefix("year(").rstrip(")"))
            if source.startswith("year(") and named is not None and named.type is not ItemType.DATE:
                self.add("map", f"property '{key}': year() needs a date item")
        if spec.consent is not None:
            consent = self.by_id.get(spec.consent)
            if consent is None or consent.item is None or consent.scope is not None:
                self.add("map", f"consent '{spec.consent}' is not a top-level item")
            elif consent.item.type is not ItemType.YES_NO:
                self.add("map", f"consent '{spec.consent}' must be a yes_no item")

    # --- ids ------------------------------------------------------------------------
    def check_previous_ids(self) -> None:
        """previous_id names an id this version no longer has, and only once."""
        claimed: dict[str, str] = {}
        for element in self.elements:
            node = element.item if element.item is not None else element.repeat
            previous = getattr(node, "previous_id", None)
            if previous is None:
                continue
            if previous in self.by_id:
                self.add(element.label, f"previous_id '{previous}' is still an id of this "
                                        "version")
            elif previous in claimed:
                self.add(element.label, f"previous_id '{previous}' is already claimed by "
                                        f"{claimed[previous]}")
            else:
                claimed[previous] = element.label

    def check_ids(self) -> None:
        seen: dict[str, _Element] = {}
        for element in self.elements:
            first = seen.get(element.id)
            if first is None:
                seen[element.id] = element
            else:
                self.add(
                    element.label, f"duplicate id '{element.id}' (already used by {first.label})"
                )
        sections: set[str] = set()
        for section in self.q.sections:
            if section.id in sections:
                self.add(f"section {section.id}", f"duplicate section id '{section.id}'")
            sections.add(section.id)

    # --- translations -------------------------------------------------------------------
    def check_text(self, where: str, what: str, text: Text | None) -> None:
        if text is None:
            return
        for language in self.q.languages:
            value = text.get(language)
            if value is None or not value.strip():
                self.add(where, f"{what} is missing the '{language}' translation")

    def check_texts(self) -> None:
        q = self.q
        self.check_text("questionnaire", "title", q.title)
        self.check_text("questionnaire", "intro", q.intro)
        self.check_text("questionnaire", "privacy", q.privacy)
        self.check_text("questionnaire", "privacy_short", q.privacy_short)
        self.check_text("questionnaire", "welcome", q.welcome)
        for number, contact in enumerate(q.contacts, start=1):
            self.check_text("questionnaire", f"contact {number} name", contact.name)
            self.check_text("questionnaire", f"contact {number} hours", contact.hours)
            if not (contact.phone or contact.email):
                self.add("questionnaire", f"contact {number} has neither phone nor email")
        if q.map is not None:
            for field in q.map.description_fields():
                self.check_text("map", f"label of '{field.item}'", field.label)
        for section in q.sections:
            where = f"section {section.id}"
            self.check_text(where, "title", section.title)
            self.check_text(where, "intro", section.intro)
        for element in self.elements:
            if element.item is not None:
                item = element.item
                self.check_text(element.label, "text", item.text)
                self.check_text(element.label, "help", item.help)
                self.check_text(element.label, "label", item.label)
                self.check_text(element.label, "stop message", item.stop_message)
                for choice in item.choices:
                    self.check_text(element.label, f"choice '{choice.value}' label", choice.label)
                if item.validation is not None:
                    self.check_text(element.label, "validation message", item.validation.message)
            else:
                assert element.repeat is not None
                self.check_text(element.label, "text", element.repeat.text)
                self.check_text(element.label, "add_prompt", element.repeat.add_prompt)
                names = element.repeat.entry_name
                if names is not None:
                    for language in self.q.languages:
                        if language not in names:
                            self.add(element.label,
                                     f"entry_name is missing the '{language}' translation")

    # --- items and repeats ----------------------------------------------------------------
    def check_item(self, where: str, item: Item) -> None:
        is_choice = item.type in CHOICE_TYPES
        if is_choice and not item.choices:
            self.add(where, f"{item.type.value} item has no choices")
        if not is_choice and item.choices:
            self.add(where, f"{item.type.value} item cannot have choices")
        if len(item.choices) > MAX_CHOICES:
            self.add(where, f"{len(item.choices)} choices, at most {MAX_CHOICES} are allowed")
        seen: set[str] = set()
        for choice in item.choices:
            if choice.value in seen:
                self.add(where, f"duplicate choice value '{choice.value}'")
            seen.add(choice.value)
        self.check_selections(where, item)
        self.check_validation(where, item)
        current = {choice.value for choice in item.choices}
        for choice in item.choices:
            for old in choice.previous_values:
                if old in current:
                    self.add(where, f"choice '{choice.value}': previous value '{old}' is still "
                                    "a choice of this item")
        if item.type is ItemType.NOTE and item.allow_unknown:
            self.add(where, "a note cannot allow a 'don't know' answer")

    def check_selections(self, where: str, item: Item) -> None:
        low, high = item.min_selections, item.max_selections
        if (low is not None or high is not None) and item.type is not ItemType.MULTIPLE_CHOICE:
            self.add(where, "min_selections/max_selections only apply to multiple_choice items")
            return
        if low is not None and high is not None and low > high:
            self.add(where, f"min_selections ({low}) is greater than max_selections ({high})")
        if low is not None and item.choices and low > len(item.choices):
            self.add(
                where,
                f"min_selections ({low}) is greater than the number of choices "
                f"({len(item.choices)})",
            )
        if low == 0 and item.required:
            self.add(where, "a required item needs min_selections of at least 1")

    def check_validation(self, where: str, item: Item) -> None:
        rule = item.validation
        if rule is None:
            return
        if rule.min is not None and rule.max is not None and rule.min > rule.max:
            self.add(where, f"validation min ({rule.min}) is greater than max ({rule.max})")
        if (
            rule.min_length is not None
            and rule.max_length is not None
            and rule.min_length > rule.max_length
        ):
            self.add(
                where,
                f"validation min_length ({rule.min_length}) is greater than "
                f"max_length ({rule.max_length})",
            )
        if rule.pattern is not None:
            try:
                re.compile(rule.pattern)
            except re.error as error:
                self.add(where, f"validation pattern does not compile: {error}")

    def check_repeat(self, repeat: Repeat) -> None:
        if not repeat.items:
            self.add(repeat.id, "repeat group has no items")
        if repeat.min_entries > repeat.max_entries:
            self.add(
                repeat.id,
                f"min_entries ({repeat.min_entries}) is greater than "
                f"max_entries ({repeat.max_entries})",
            )
        if repeat.label_item is not None and all(
            item.id != repeat.label_item for item in repeat.items
        ):
            self.add(repeat.id, f"label_item '{repeat.label_item}' is not an item of the repeat")

    # --- conditions -----------------------------------------------------------------------
    def parse_conditions(self) -> None:
        for element in self.elements:
            source = element.when
            if source is None:
                continue
            try:
                self.conditions[element.order] = parse_expression(source)
            except ExpressionError as error:
                self.add(element.label, f"condition {source!r} does not parse: {error}")

    def check_references(
        self, element: _Element, expression: Expression, what: str = "condition"
    ) -> None:
        self.what = what
        where = element.label
        values: set[str] = set()
        counts: set[str] = set()
        selections: list[tuple[str, _Node]] = []
        comparisons: list[tuple[str, object]] = []
        sums: list[str] = []
        _walk(expression._root, values, counts, selections, comparisons, sums)
        for part in sums:
            self.check_sum_reference(element, part)
        for name in sorted(values):
            self.check_value_reference(element, name)
        for name in sorted(counts):
            self.check_count_reference(element, name)
        for name, option in selections:
            target = self.by_id.get(name)
            if target is None or target.item is None:
                continue  # reported above
            if target.item.type not in CHOICE_TYPES:
                self.add(where, f"selected() needs a choice item, '{name}' is {target.item.type}")
            elif isinstance(option, _Const) and isinstance(option.value, str):
                self.check_choice_value(where, target.item, option.value)
        for name, constant in comparisons:
            target = self.by_id.get(name)
            if target is None or target.item is None:
                continue
            options = constant if isinstance(constant, tuple) else (constant,)
            for option in options:
                self.check_comparable(where, target.item, option)

    def check_comparable(self, where: str, item: Item, value: object) -> None:
        """A condition comparing an item with a value it can never take never holds."""
        if value is None:
            return  # `x == null`: unanswered
        kind = item.type
        shown = f"'{value}'" if isinstance(value, str) else repr(value).lower()
        if kind in CHOICE_TYPES:
            if isinstance(value, str):
                self.check_choice_value(where, item, value)
            else:
                self.add(where, f"{self.what} compares '{item.id}' with {shown}, but its values "
                                "are the choices' text values: it can never hold")
        elif kind is ItemType.YES_NO:
            if not isinstance(value, bool):
                self.add(where, f"{self.what} compares yes/no item '{item.id}' with {shown}, but "
                                f"it is true or false: write `{item.id}` or `not {item.id}`")
        elif kind in (ItemType.INTEGER, ItemType.AMOUNT):
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                self.add(where, f"{self.what} compares number item '{item.id}' with {shown}, which "
                                "is not a number: it can never hold")
        elif kind is ItemType.DATE:
            if not (isinstance(value, str) and _is_iso_date(value)):
                self.add(where, f"{self.what} compares date item '{item.id}' with {shown}; write "
                                "dates as 'YYYY-MM-DD'")
        elif kind is not ItemType.NOTE and not isinstance(value, str):
            self.add(where, f"{self.what} compares text item '{item.id}' with {shown}, which is "
                            "not text: it can never hold")

    def check_choice_value(self, where: str, item: Item, value: str) -> None:
        if all(choice.value != value for choice in item.choices):
            self.add(where, f"{self.what} uses '{value}', which is not a choice of '{item.id}'")

    def check_value_reference(self, element: _Element, name: str) -> None:
        where = element.label
        target = self.by_id.get(name)
        if target is None:
            self.add(where, f"{self.what} refers to unknown item '{name}'")
            return
        if target.item is None:
            self.add(where, f"{self.what} refers to repeat '{name}'; use count({name})")
            return
        if target.order == element.order:
            self.add(where, f"{self.what} refers to the item itself")
            return
        if target.scope is not None and target.scope != element.scope:
            self.add(
                where,
                f"{self.what} refers to item '{name}' of repeat '{target.scope}', "
                "which has no value outside its entries",
            )
            return
        if target.order > element.order:
            self.add(where, f"{self.what} refers to later item '{name}'")
            return
        if target.item.type is ItemType.NOTE:
            self.add(where, f"{self.what} refers to note '{name}', which has no answer")

    def check_sum_reference(self, element: _Element, part: str) -> None:
        """sum(repeat.item) adds an item over entries of an earlier repeat group."""
        repeat_id, _, item_id = part.rpartition(".")
        if not repeat_id:
            return  # a plain item: checked as a value reference
        target = self.by_id.get(repeat_id)
        if target is None or target.item is not None:
            self.add(element.label, f"{self.what}: sum({part}) needs a repeat group, "
                                    f"'{repeat_id}' is not one")
            return
        assert target.repeat is not None
        inner = next((i for i in target.repeat.items if i.id == item_id), None)
        if inner is None:
            self.add(element.label, f"{self.what}: sum({part}): '{item_id}' is not an item of "
                                    f"'{repeat_id}'")
        elif inner.type not in (ItemType.INTEGER, ItemType.AMOUNT):
            self.add(element.label, f"{self.what}: sum({part}) needs a number item")
        elif target.order >= element.order and element.scope != repeat_id:
            self.add(element.label, f"{self.what} refers to later repeat '{repeat_id}'")

    def check_count_reference(self, element: _Element, name: str) -> None:
        where = element.label
        target = self.by_id.get(name)
        if target is None:
            self.add(where, f"count() refers to unknown repeat '{name}'")
            return
        if target.item is not None:
            self.add(where, f"count() needs a repeat id, '{name}' is an item")
            return
        if element.scope == name:
            return  # an entry may look at how many entries its own repeat has
        if target.order >= element.order:
            self.add(where, f"{self.what} refers to later repeat '{name}'")

    # --- reachability -----------------------------------------------------------------------
    def check_reachability(self) -> None:
        never: set[str] = set()
        for element in self.elements:
            where = element.label
            if element.scope is not None and element.scope in never:
                never.add(element.id)  # inside a repeat group that is never shown
                continue
            expression = self.conditions.get(element.order)
            if expression is None:
                continue
            hidden_refs = sorted(expression.references() & never)
            for name in hidden_refs:
                self.add(where, f"condition refers to '{name}', which can never be shown")
            if _always_false(expression, never):
                never.add(element.id)
                if not hidden_refs:
                    self.add(where, f"condition {element.when!r} is always false: never shown")


def _walk(
    node: object,
    values: set[str],
    counts: set[str],
    selections: list[tuple[str, _Node]],
    comparisons: list[tuple[str, object]],
    sums: list[str] | None = None,
) -> None:
    """Sort the ids a condition reads by how it reads them."""
    if sums is None:
        sums = []
    if isinstance(node, _Sum):
        for part in node.parts:
            if "." in part:
                sums.append(part)
            else:
                values.add(part)
    elif isinstance(node, _Arith):
        _walk(node.left, values, counts, selections, comparisons, sums)
        _walk(node.right, values, counts, selections, comparisons, sums)
    elif isinstance(node, _Name):
        values.add(node.name)
    elif isinstance(node, _Count):
        counts.add(node.repeat)
    elif isinstance(node, _Empty):
        values.add(node.item)
    elif isinstance(node, _Selected):
        values.add(node.item)
        selections.append((node.item, node.option))
        _walk(node.option, values, counts, selections, comparisons, sums)
    elif isinstance(node, _Compare):
        # Any operator: a value the item can never take never compares.
        if isinstance(node.left, _Name) and isinstance(node.right, _Const):
            comparisons.append((node.left.name, node.right.value))
        elif isinstance(node.right, _Name) and isinstance(node.left, _Const):
            comparisons.append((node.right.name, node.left.value))
        _walk(node.left, values, counts, selections, comparisons, sums)
        _walk(node.right, values, counts, selections, comparisons, sums)
    elif isinstance(node, _Node):
        for child in _children(node):
            _walk(child, values, counts, selections, comparisons, sums)


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _children(node: _Node) -> tuple[_Node, ...]:
    for attribute in ("operands", "items"):
        children = getattr(node, attribute, None)
        if isinstance(children, tuple):
            return tuple(child for child in children if isinstance(child, _Node))
    operand = getattr(node, "operand", None)
    return (operand,) if isinstance(operand, _Node) else ()


class _Undecided(Exception):
    """The condition reads an answer that can vary."""


class _HiddenContext:
    """Evaluates a condition knowing only that some ids can never be shown."""

    def __init__(self, never: set[str]) -> None:
        self.never = never

    def value(self, item_id: str) -> object:
        if item_id in self.never:
            return None
        raise _Undecided

    def count(self, repeat_id: str) -> int:
        if repeat_id in self.never:
            return 0
        raise _Undecided


def _always_false(expression: Expression, never: set[str]) -> bool:
    try:
        return not expression.evaluate(_HiddenContext(never))
    except _Undecided:
        return False


# --- public API ----------------------------------------------------------------------------


def lint(raw: object) -> list[str]:
    """Every problem found in a parsed questionnaire file, one line each."""
    try:
        questionnaire = Questionnaire.model_validate(raw)
    except ValidationError as error:
        return _schema_problems(raw, error)
    return _Linter(questionnaire).run()


def lint_file(path: Path | str) -> list[str]:
    """Load a questionnaire file safely and lint it."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [f"{path}: cannot read file: {error}"]
    try:
        raw: Any = load_yaml(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if mark is not None:
            return [
                f"{path}: YAML syntax error at line {mark.line + 1}, "
                f"column {mark.column + 1}: {problem}"
            ]
        return [f"{path}: YAML syntax error: {problem}"]
    return lint(raw)
