"""Tests for conversations/validator.py: one broken questionnaire per problem kind."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conversations.schema import shipped_questionnaire_path
from conversations.validator import MAX_CHOICES, lint, lint_file

VALID = """
id: mini
version: "1"
languages: [it, en]
title: {it: "Mini", en: "Mini"}
intro: {it: "Introduzione", en: "Introduction"}
privacy: {it: "Privacy", en: "Privacy"}
deadline: 2019-07-31T23:59:00+02:00
sections:
  - id: first
    title: {it: "Primo", en: "First"}
    intro: {it: "Introduzione", en: "Introduction"}
    items:
      - id: name
        type: text
        text: {it: "Nome?", en: "Name?"}
        help: {it: "Nome e cognome", en: "First name and surname"}
        validation:
          max_length: 50
          message: {it: "Troppo lungo", en: "Too long"}
      - id: kind
        type: single_choice
        text: {it: "Tipo?", en: "Kind?"}
        choices:
          - {value: a, label: {it: "A", en: "A"}}
          - {value: b, label: {it: "B", en: "B"}}
      - id: detail
        type: text
        when: "kind == 'b'"
        text: {it: "Dettaglio?", en: "Detail?"}
  - id: second
    title: {it: "Secondo", en: "Second"}
    items:
      - kind: repeat
        id: things
        text: {it: "Cosa", en: "Thing"}
        add_prompt: {it: "Un'altra?", en: "Another one?"}
        min_entries: 1
        label_item: thing_name
        items:
          - id: thing_name
            type: text
            text: {it: "Nome della cosa?", en: "Name of the thing?"}
          - id: tags
            type: multiple_choice
            min_selections: 1
            max_selections: 2
            text: {it: "Etichette?", en: "Tags?"}
            choices:
              - {value: x, label: {it: "X", en: "X"}}
              - {value: y, label: {it: "Y", en: "Y"}}
              - {value: z, other: true, label: {it: "Altro", en: "Other"}}
          - id: tag_note
            type: text
            required: false
            when: "selected(tags, 'z') and kind == 'a'"
            text: {it: "Nota?", en: "Note?"}
      - id: total
        type: integer
        when: "count(things) > 1"
        text: {it: "Totale?", en: "Total?"}
"""


def _valid() -> dict[str, Any]:
    data = yaml.safe_load(VALID)
    assert isinstance(data, dict)
    return data


def _item(data: dict[str, Any], item_id: str) -> dict[str, Any]:
    for section in data["sections"]:
        for element in section["items"]:
            if element["id"] == item_id:
                return element  # type: ignore[no-any-return]
            for inner in element.get("items", ()):
                if inner["id"] == item_id:
                    return inner  # type: ignore[no-any-return]
    raise KeyError(item_id)


def _broken(change: Callable[[dict[str, Any]], None]) -> list[str]:
    data = copy.deepcopy(_valid())
    change(data)
    return lint(data)


def _set(item_id: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        item = _item(data, item_id)
        for key, value in fields.items():
            if value is None:
                item.pop(key, None)
            else:
                item[key] = value

    return change


# --- clean files -------------------------------------------------------------------------


def test_small_questionnaire_is_clean() -> None:
    assert lint(_valid()) == []


def test_shipped_questionnaire_is_clean() -> None:
    assert lint_file(shipped_questionnaire_path()) == []


def test_condition_on_earlier_top_level_and_same_entry_items_is_fine() -> None:
    assert _broken(_set("tag_note", when="not empty(thing_name) and count(things) > 0")) == []


# --- schema ------------------------------------------------------------------------------


def test_schema_error_names_the_path_and_item() -> None:
    problems = _broken(_set("name", type="colour"))
    assert len(problems) == 1
    assert problems[0].startswith(
        "schema error at sections.0.items.0.type (name): Input should be 'single_choice'"
    )


def test_schema_error_inside_a_repeat() -> None:
    assert _broken(_set("tags", text=None)) == [
        "schema error at sections.1.items.0.items.1.text (tags): Field required"
    ]


def test_schema_error_unknown_field_and_bad_id() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "kind")["colour"] = "red"
        _item(data, "detail")["id"] = "Detail"

    assert _broken(change) == [
        "schema error at sections.0.items.1.colour (kind): Extra inputs are not permitted",
        "schema error at sections.0.items.2.id (Detail): "
        "String should match pattern '^[a-z][a-z0-9_]{0,39}$'",
    ]


def test_schema_error_at_top_level() -> None:
    assert lint(["not", "a", "mapping"]) == [
        "schema error at (top level): Input should be a valid dictionary or instance of "
        "Questionnaire"
    ]


# --- ids ---------------------------------------------------------------------------------


def test_duplicate_id_across_repeat_and_top_level() -> None:
    assert _broken(_set("tag_note", id="name")) == [
        "things.name: duplicate id 'name' (already used by name)"
    ]


def test_duplicate_repeat_id() -> None:
    assert _broken(_set("total", id="things", when=None)) == [
        "things: duplicate id 'things' (already used by things)"
    ]


def test_duplicate_section_id() -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][1]["id"] = "first"

    assert _broken(change) == ["section first: duplicate section id 'first'"]


# --- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item_id", "when", "problem"),
    [
        (
            "detail",
            "kind = 'b'",
            "detail: condition \"kind = 'b'\" does not parse: "
            "unexpected character '=' (use '==' to compare) at column 6",
        ),
        ("detail", "knd == 'b'", "detail: condition refers to unknown item 'knd'"),
        ("name", "kind == 'a'", "name: condition refers to later item 'kind'"),
        ("detail", "not empty(detail)", "detail: condition refers to the item itself"),
        (
            "thing_name",
            "empty(tag_note)",
            "things.thing_name: condition refers to later item 'tag_note'",
        ),
        (
            "detail",
            "kind == 'b' and empty(total)",
            "detail: condition refers to later item 'total'",
        ),
        (
            "total",
            "selected(tags, 'x')",
            "total: condition refers to item 'tags' of repeat 'things', "
            "which has no value outside its entries",
        ),
        ("total", "things > 1", "total: condition refers to repeat 'things'; use count(things)"),
        ("detail", "count(things) > 0", "detail: condition refers to later repeat 'things'"),
        ("total", "count(name) > 1", "total: count() needs a repeat id, 'name' is an item"),
        ("total", "count(stuff) > 1", "total: count() refers to unknown repeat 'stuff'"),
        (
            "tag_note",
            "selected(tags, 'w')",
            "things.tag_note: condition uses 'w', which is not a choice of 'tags'",
        ),
        ("detail", "kind == 'c'", "detail: condition uses 'c', which is not a choice of 'kind'"),
        (
            "detail",
            "kind in ['a', 'q']",
            "detail: condition uses 'q', which is not a choice of 'kind'",
        ),
        ("detail", "selected(name, 'a')", "detail: selected() needs a choice item, 'name' is text"),
    ],
)
def test_condition_problem(item_id: str, when: str, problem: str) -> None:
    problems = _broken(_set(item_id, when=when))
    assert problems == [problem]
    assert problem.split(":")[0].split(".")[-1] == item_id


def test_repeat_condition_cannot_read_its_own_items() -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][1]["items"][0]["when"] = "not empty(thing_name)"

    assert _broken(change) == [
        "things: condition refers to item 'thing_name' of repeat 'things', "
        "which has no value outside its entries"
    ]


def test_condition_on_a_note() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "name")["type"] = "note"
        _item(data, "name").pop("validation")
        _item(data, "detail")["when"] = "empty(name)"

    assert _broken(change) == ["detail: condition refers to note 'name', which has no answer"]


# --- never shown ---------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["false", "1 == 2", "not true", "null", "'a' in ['b', 'c']"])
def test_constant_false_condition(when: str) -> None:
    assert _broken(_set("detail", when=when)) == [
        f"detail: condition {when!r} is always false: never shown"
    ]


def test_condition_on_an_item_that_is_never_shown() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "detail")["when"] = "1 == 2"
        _item(data, "total")["when"] = "detail == 'x' or count(things) > 1"

    assert _broken(change) == [
        "detail: condition '1 == 2' is always false: never shown",
        "total: condition refers to 'detail', which can never be shown",
    ]


def test_never_shown_propagates_through_repeats_and_conditions() -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][1]["items"][0]["when"] = "false"
        _item(data, "total")["when"] = "count(things) > 1"

    # total can never be shown either, but it is named once, for its cause.
    assert _broken(change) == [
        "things: condition 'false' is always false: never shown",
        "total: condition refers to 'things', which can never be shown",
    ]


def test_condition_always_false_because_of_a_hidden_item() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "detail")["when"] = "false"
        _item(data, "total")["when"] = "not empty(detail) and count(things) > 1"
        data["sections"][1]["items"].append(
            {"id": "after", "type": "text", "when": "total > 3", "text": {"it": "?", "en": "?"}}
        )

    assert _broken(change) == [
        "detail: condition 'false' is always false: never shown",
        "total: condition refers to 'detail', which can never be shown",
        "after: condition refers to 'total', which can never be shown",
    ]


# --- choices -------------------------------------------------------------------------------


def test_duplicate_choice_value() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "kind")["choices"].append({"value": "a", "label": {"it": "A2", "en": "A2"}})

    assert _broken(change) == ["kind: duplicate choice value 'a'"]


def test_choices_on_a_text_item() -> None:
    choices = [{"value": "a", "label": {"it": "A", "en": "A"}}]
    assert _broken(_set("name", choices=choices)) == ["name: text item cannot have choices"]


def test_choice_item_without_choices() -> None:
    assert _broken(_set("kind", choices=None)) == [
        "kind: single_choice item has no choices",
        "detail: condition uses 'b', which is not a choice of 'kind'",
        "things.tag_note: condition uses 'a', which is not a choice of 'kind'",
    ]


def test_too_many_choices_for_a_keyboard() -> None:
    many = [{"value": f"v{i}", "label": {"it": f"{i}", "en": f"{i}"}} for i in range(61)]
    many[0]["value"], many[1]["value"] = "a", "b"
    assert _broken(_set("kind", choices=many)) == [
        f"kind: 61 choices, at most {MAX_CHOICES} are allowed"
    ]
    assert _broken(_set("kind", choices=many[:MAX_CHOICES])) == []


def test_min_selections_greater_than_max() -> None:
    assert _broken(_set("tags", min_selections=3, max_selections=2)) == [
        "things.tags: min_selections (3) is greater than max_selections (2)"
    ]


def test_min_selections_greater_than_number_of_choices() -> None:
    assert _broken(_set("tags", min_selections=4, max_selections=None)) == [
        "things.tags: min_selections (4) is greater than the number of choices (3)"
    ]


def test_selection_bounds_on_a_single_choice_item() -> None:
    assert _broken(_set("kind", max_selections=2)) == [
        "kind: min_selections/max_selections only apply to multiple_choice items"
    ]


def test_required_item_allowing_an_empty_selection() -> None:
    assert _broken(_set("tags", min_selections=0)) == [
        "things.tags: a required item needs min_selections of at least 1"
    ]


# --- translations ----------------------------------------------------------------------------


def _drop_en(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        first, *rest = path
        node: Any = data[first] if first in data else _item(data, str(first))
        for key in rest:
            node = node[key]
        del node["en"]

    return change


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (("title",), "questionnaire: title is missing the 'en' translation"),
        (("intro",), "questionnaire: intro is missing the 'en' translation"),
        (("privacy",), "questionnaire: privacy is missing the 'en' translation"),
        (("sections", 0, "title"), "section first: title is missing the 'en' translation"),
        (("sections", 0, "intro"), "section first: intro is missing the 'en' translation"),
        (("name", "text"), "name: text is missing the 'en' translation"),
        (("name", "help"), "name: help is missing the 'en' translation"),
        (
            ("name", "validation", "message"),
            "name: validation message is missing the 'en' translation",
        ),
        (
            ("tags", "choices", 2, "label"),
            "things.tags: choice 'z' label is missing the 'en' translation",
        ),
        (("things", "text"), "things: text is missing the 'en' translation"),
        (("things", "add_prompt"), "things: add_prompt is missing the 'en' translation"),
    ],
)
def test_missing_translation(path: tuple[str | int, ...], problem: str) -> None:
    assert _broken(_drop_en(*path)) == [problem]


def test_blank_translation_counts_as_missing() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "kind")["text"]["it"] = "  "

    assert _broken(change) == ["kind: text is missing the 'it' translation"]


def test_undeclared_language_is_required_when_declared() -> None:
    def change(data: dict[str, Any]) -> None:
        data["languages"] = ["it"]

    assert _broken(change) == []
    data = _valid()
    data["languages"] = ["it", "en", "de"]
    assert "name: text is missing the 'de' translation" in lint(data)


# --- repeats, validation ----------------------------------------------------------------------


def test_label_item_not_in_the_repeat() -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][1]["items"][0]["label_item"] = "name"

    assert _broken(change) == ["things: label_item 'name' is not an item of the repeat"]


def test_min_entries_above_max_entries() -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][1]["items"][0]["min_entries"] = 5
        data["sections"][1]["items"][0]["max_entries"] = 3

    assert _broken(change) == ["things: min_entries (5) is greater than max_entries (3)"]


def test_validation_pattern_that_does_not_compile() -> None:
    problems = _broken(_set("name", validation={"pattern": "[a-"}))
    assert problems == [
        "name: validation pattern does not compile: unterminated character set at position 0"
    ]


def test_validation_bounds_reversed() -> None:
    assert _broken(_set("total", validation={"min": 10, "max": 1})) == [
        "total: validation min (10) is greater than max (1)"
    ]


# --- files -----------------------------------------------------------------------------------


def test_yaml_syntax_error_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text('id: mini\ntitle: {it: "Mini"\nversion: "1"\n', encoding="utf-8")
    problems = lint_file(path)
    assert problems == [
        f"{path}: YAML syntax error at line 3, column 1: expected ',' or '}}', but got '<scalar>'"
    ]


def test_lint_file_reports_problems(tmp_path: Path) -> None:
    data = _valid()
    _item(data, "detail")["when"] = "knd == 'b'"
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert lint_file(path) == ["detail: condition refers to unknown item 'knd'"]


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    problems = lint_file(tmp_path / "nope.yaml")
    assert len(problems) == 1
    assert "cannot read file" in problems[0]


# --- conditions that can never hold (editions) -------------------------------------------


def _with_flag(data: dict[str, Any]) -> None:
    """Add a yes/no item `flag` and a number `size` before `detail`."""
    items = data["sections"][0]["items"]
    items.insert(2, {"id": "flag", "type": "yes_no", "text": {"it": "Sì?", "en": "Yes?"}})
    items.insert(3, {"id": "size", "type": "integer", "text": {"it": "Quanti?", "en": "How many?"}})
    items.insert(4, {"id": "when_day", "type": "date", "text": {"it": "Quando?", "en": "When?"}})


def _condition(when: str) -> list[str]:
    def change(data: dict[str, Any]) -> None:
        _with_flag(data)
        _item(data, "detail")["when"] = when

    return _broken(change)


def test_typed_comparisons_that_can_hold_are_clean() -> None:
    when = ("flag == true and size > 3 and when_day >= '2019-01-01' and kind in ['a', 'b'] "
            "and name != 'x' and size != null")
    assert _condition(when) == []


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("flag == 'si'", "detail: condition compares yes/no item 'flag' with 'si', but it is "
                         "true or false: write `flag` or `not flag`"),
        ("kind == 'c'", "detail: condition uses 'c', which is not a choice of 'kind'"),
        ("kind in ['a', 'zz']", "detail: condition uses 'zz', which is not a choice of 'kind'"),
        ("kind == false", "detail: condition compares 'kind' with false, but its values are the "
                          "choices' text values: it can never hold"),
        ("size > '3'", "detail: condition compares number item 'size' with '3', which is not a "
                       "number: it can never hold"),
        ("name == 3", "detail: condition compares text item 'name' with 3, which is not text: "
                      "it can never hold"),
        ("when_day < '31/12/2019'", "detail: condition compares date item 'when_day' with "
                                    "'31/12/2019'; write dates as 'YYYY-MM-DD'"),
    ],
)
def test_comparisons_that_can_never_hold(when: str, expected: str) -> None:
    assert _condition(when) == [expected]


def test_unquoted_yaml_no_in_a_choice_value_gets_a_hint() -> None:
    source = VALID.replace("{value: b, label", "{value: no, label")
    problems = lint(yaml.safe_load(source))
    assert problems == [
        "schema error at sections.0.items.1.choices.1.value (kind): Input should be a valid "
        "string (YAML reads unquoted yes/no/on/off/true/false as a boolean: quote the value, "
        'e.g. "no")'
    ]


# --- file-level fields -------------------------------------------------------------------


def test_contacts_welcome_and_entry_words_need_every_language() -> None:
    def change(data: dict[str, Any]) -> None:
        data["welcome"] = {"it": "Ciao"}
        data["contacts"] = [{"name": {"it": "Ufficio", "en": "Office"}, "hours": {"it": "9-13"}},
                            {"phone": ["055 123456"]}]
        _item(data, "things")["entry_name"] = {"it": {"one": "cosa", "other": "cose"}}

    assert _broken(change) == [
        "questionnaire: welcome is missing the 'en' translation",
        "questionnaire: contact 1 hours is missing the 'en' translation",
        "questionnaire: contact 1 has neither phone nor email",
        "things: entry_name is missing the 'en' translation",
    ]


def test_map_must_name_items_of_its_repeat_and_a_yes_no_consent() -> None:
    def change(data: dict[str, Any]) -> None:
        data["map"] = {"repeat": "things", "name": "thing_name", "consent": "kind",
                       "description": ["tags", {"item": "name", "label": {"it": "N", "en": "N"}}],
                       "properties": {"y": "year(thing_name)", "t": "tags"}}

    assert _broken(change) == [
        "map: description refers to 'name', not an item of 'things'",
        "map: property 'y': year() needs a date item",
        "map: consent 'kind' must be a yes_no item",
    ]
    assert _broken(lambda d: d.update(map={"repeat": "kind", "name": "x"})) == [
        "map: repeat 'kind' is not a repeat group of the questionnaire"
    ]


# --- constraint, warn_if, computed texts -------------------------------------------------


def test_checks_and_computed_texts_that_are_sound() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "total").update(
            constraint=". >= count(things) and . <= 100",
            constraint_message={"it": "Troppi", "en": "Too many"},
            warn_if=". > 50", text={"it": "Totale (${count(things)})?", "en": "Total?"})
        _item(data, "thing_name")["constraint"] = ". != name"

    assert _broken(change) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"constraint": ". <= later"}, "name: constraint refers to unknown item 'later'"),
        ({"constraint": ". <= kind"},
         "name: constraint refers to later item 'kind'"),
        ({"constraint": ". >"}, "name: constraint '. >' does not parse: expected a value but "
                                "found end of expression at column 4"),
        ({"warn_if": ". > 3", "warn_message": {"it": "Sicuro?"}},
         "name: warn_if message is missing the 'en' translation"),
        ({"constraint_message": {"it": "No", "en": "No"}},
         "name: constraint message without a constraint"),
        ({"when": ". == 'x'"},
         "name: condition uses '.' or today(), which only constraint and warn_if may use"),
        ({"text": {"it": "Nome (${kind})?", "en": "Name?"}},
         "name: computed value ${kind} refers to later item 'kind'"),
        ({"text": {"it": "Nome (${sum(things.tags)})?", "en": "Name?"}},
         "name: computed value ${sum(things.tags)}: sum(things.tags) needs a number item"),
    ],
)
def test_unsound_checks(fields: dict[str, Any], expected: str) -> None:
    assert expected in _broken(_set("name", **fields))


def test_choice_conditions_are_checked_like_item_conditions() -> None:
    def change(data: dict[str, Any]) -> None:
        kind = _item(data, "kind")
        kind["choices"][0]["when"] = "name != 'x'"
        kind["choices"][1]["when"] = "detail == 'y'"

    assert _broken(change) == ["kind: choice 'b' condition refers to later item 'detail'"]


def test_previous_ids_and_values_must_name_what_this_version_dropped() -> None:
    def change(data: dict[str, Any]) -> None:
        _item(data, "detail")["previous_id"] = "name"
        _item(data, "total")["previous_id"] = "old_total"
        _item(data, "thing_name")["previous_id"] = "old_total"
        _item(data, "kind")["choices"][0]["previous_values"] = ["b", "old"]

    assert _broken(change) == [
        "detail: previous_id 'name' is still an id of this version",
        "total: previous_id 'old_total' is already claimed by things.thing_name",
        "kind: choice 'a': previous value 'b' is still a choice of this item",
    ]


def test_respondent_name_must_be_a_top_level_text_item() -> None:
    assert _broken(lambda d: d.update(respondent_name="name")) == []
    assert _broken(lambda d: d.update(respondent_name="thing_name")) == [
        "respondent_name: 'thing_name' is not a top-level item"
    ]
    assert _broken(lambda d: d.update(respondent_name="total")) == [
        "respondent_name: 'total' must be a text item"
    ]
    assert _broken(lambda d: d.update(respondent_name="nobody")) == [
        "respondent_name: 'nobody' is not a top-level item"
    ]
