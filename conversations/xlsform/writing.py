"""Our questionnaire -> XLSForm rows (survey, choices, settings), so it can be edited
in a spreadsheet and imported back unchanged."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from conversations.schema import CHOICE_TYPES, Item, ItemType, Questionnaire, Repeat
from conversations.xlsform.common import LANGUAGE_NAMES, YES_NO_LIST, Row, language_column
from conversations.xlsform.expressions import Names, to_xlsform_expression


@dataclass
class Sheets:
    survey: list[Row]
    choices: list[Row]
    settings: list[Row]


_XLS_TYPE = {ItemType.TEXT: "text", ItemType.LONG_TEXT: "text", ItemType.INTEGER: "integer",
             ItemType.AMOUNT: "decimal", ItemType.DATE: "date", ItemType.EMAIL: "text",
             ItemType.PHONE: "text", ItemType.URL: "text", ItemType.NOTE: "note"}
_OWN_TYPES = frozenset({ItemType.EMAIL, ItemType.PHONE, ItemType.URL, ItemType.YES_NO})


def to_xlsform(q: Questionnaire) -> Sheets:
    names = Names()
    for section in q.sections:
        for element in section.items:
            inner = element.items if isinstance(element, Repeat) else (element,)
            if isinstance(element, Repeat):
                names.repeats.add(element.id)
            for item in inner:
                if item.type is ItemType.YES_NO:
                    names.yes_no.add(item.id)
                if item.type is ItemType.MULTIPLE_CHOICE:
                    names.multiple.add(item.id)
                if isinstance(element, Repeat):
                    names.repeat_of[item.id] = element.id
    sheets = Sheets([], [], [])
    langs = q.languages

    def put(row: Row, base: str, text: dict[str, str] | None) -> None:
        for lang in langs:
            if text and text.get(lang):
                row[language_column(base, lang)] = text[lang]

    def expression(source: str | None) -> str:
        return to_xlsform_expression(source, names) if source else ""

    yes_no_written = False
    for section in q.sections:
        row: Row = {"type": "begin_group", "name": section.id}
        put(row, "label", section.title)
        put(row, "hint", section.intro)
        sheets.survey.append(row)
        for element in section.items:
            if isinstance(element, Repeat):
                sheets.survey.append(_repeat_row(element, put, expression))
                for item in element.items:
                    yes_no_written |= _item_rows(item, sheets, put, expression)
                sheets.survey.append({"type": "end_repeat", "name": element.id})
            else:
                yes_no_written |= _item_rows(element, sheets, put, expression)
        sheets.survey.append({"type": "end_group", "name": section.id})
    if yes_no_written:
        for value, it, en in (("yes", "Sì", "Yes"), ("no", "No", "No")):
            choice: Row = {"list_name": YES_NO_LIST, "name": value}
            put(choice, "label", {"it": it, "en": en})
            for lang in langs:
                choice.setdefault(language_column("label", lang), en if lang != "it" else it)
            sheets.choices.append(choice)
    setting: Row = {"form_title": q.title.get(q.default_language, ""), "form_id": q.id,
                    "version": q.version,
                    "default_language": f"{LANGUAGE_NAMES.get(q.default_language, '')} "
                                        f"({q.default_language})".strip(),
                    "deadline": q.deadline.isoformat(), "timezone": q.timezone}
    put(setting, "form_title", q.title)
    put(setting, "intro", q.intro)
    put(setting, "welcome", q.welcome)
    put(setting, "privacy", q.privacy)
    put(setting, "privacy_short", q.privacy_short)
    if q.contacts:
        setting["contacts_json"] = json.dumps(
            [c.model_dump(exclude_defaults=True, mode="json") for c in q.contacts],
            ensure_ascii=False)
    if q.map is not None:
        setting["map_json"] = json.dumps(q.map.model_dump(exclude_defaults=True, mode="json"),
                                         ensure_ascii=False)
    if q.respondent_name is not None:
        setting["respondent_name"] = q.respondent_name
    sheets.settings.append(setting)
    return sheets


def _repeat_row(repeat: Repeat, put: Any, expression: Any) -> Row:
    row: Row = {"type": "begin_repeat", "name": repeat.id,
                "repeat_count": str(repeat.max_entries)}
    put(row, "label", repeat.text)
    put(row, "add_prompt", repeat.add_prompt)
    put(row, "hint", repeat.intro)  # like a group's hint: the text before its first entry
    if repeat.entry_name:
        put(row, "entry_name_one", {k: v.one for k, v in repeat.entry_name.items()})
        put(row, "entry_name_other", {k: v.other for k, v in repeat.entry_name.items()})
    if repeat.min_entries:
        row["min_entries"] = str(repeat.min_entries)
    for key in ("label_item", "previous_id"):
        value = getattr(repeat, key)
        if value:
            row[key] = value
    if repeat.when:
        row["relevant"] = expression(repeat.when)
    return row


_SIMPLE_WHEN = re.compile(r"^(?:(?P<ref>[a-z][a-z0-9_]*) == '(?P<value>[^'\\]*)'"
                          r"|empty\((?P<empty>[a-z][a-z0-9_]*)\))$")


def _simple_filter(item: Item) -> str | None:
    """The field a choice filter compares, when every choice says `field == 'v'`."""
    refs = set()
    for choice in item.choices:
        match = _SIMPLE_WHEN.match(choice.when or "")
        if match is None:
            return None
        refs.add(match.group("ref") or match.group("empty"))
    return refs.pop() if len(refs) == 1 else None


def _filter_value(when: str) -> str:
    match = _SIMPLE_WHEN.match(when)
    return match.group("value") or "" if match else ""


def _item_rows(item: Item, sheets: Sheets, put: Any, expression: Any) -> bool:
    """The item's survey row (and its choices); True when it uses the yes/no list."""
    if item.type in CHOICE_TYPES:
        kind = "select_one" if item.type is ItemType.SINGLE_CHOICE else "select_multiple"
        row: Row = {"type": f"{kind} {item.id}", "name": item.id}
        simple = _simple_filter(item)
        if simple is not None:
            row["choice_filter"] = f"filter_{simple} = ${{{simple}}}"
        for choice in item.choices:
            option: Row = {"list_name": item.id, "name": choice.value}
            put(option, "label", choice.label)
            if simple is not None and choice.when:
                option[f"filter_{simple}"] = _filter_value(choice.when)
            elif choice.when:
                option["surveybot_when"] = choice.when
            if choice.other:
                option["other"] = "yes"
            if choice.previous_values:
                option["previous_values"] = " ".join(choice.previous_values)
            sheets.choices.append(option)
    elif item.type is ItemType.YES_NO:
        row = {"type": f"select_one {YES_NO_LIST}", "name": item.id}
    else:
        row = {"type": _XLS_TYPE[item.type], "name": item.id}
    if item.type in _OWN_TYPES:
        row["surveybot_type"] = item.type.value
    if item.type is ItemType.LONG_TEXT:
        row["appearance"] = "multiline"
    put(row, "label", item.text)
    put(row, "hint", item.help)
    put(row, "short_label", item.label)
    if item.asks and item.required:
        row["required"] = "yes"
    if item.allow_unknown:
        row["allow_unknown"] = "yes"
    if item.previous_id:
        row["previous_id"] = item.previous_id
    for key in ("min_selections", "max_selections"):
        value = getattr(item, key)
        if value is not None:
            row[key] = str(value)
    rule = item.validation
    if rule is not None:
        for key in ("min", "max", "min_length", "max_length", "pattern"):
            value = getattr(rule, key)
            if value is not None:
                row[key] = str(value)
        put(row, "validation_message", rule.message)
    row["relevant"] = expression(item.when)
    row["constraint"] = expression(item.constraint)
    row["warn_if"] = expression(item.warn_if)
    row["stop_if"] = expression(item.stop_if)
    put(row, "constraint_message", item.constraint_message)
    put(row, "warn_message", item.warn_message)
    put(row, "stop_message", item.stop_message)
    sheets.survey.append({k: v for k, v in row.items() if v})
    return item.type is ItemType.YES_NO

