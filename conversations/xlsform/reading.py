"""An XLSForm's rows (survey, choices, settings) -> our questionnaire (as YAML data),
with what cannot be converted listed by row number."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conversations.schema import CHOICE_TYPES, ItemType
from conversations.xlsform.common import TRUE_WORDS, Row, column_language
from conversations.xlsform.expressions import Names, Unconvertible, from_xlsform_expression


@dataclass
class Imported:
    raw: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _languages(rows: list[Row], settings: Row) -> tuple[list[str], str]:
    found: list[str] = []
    for row in rows:
        for column in row:
            known = column_language(column)
            if known and known[1] and known[1] not in found:
                found.append(known[1])
    default = settings.get("default_language", "")
    code = column_language(f"x::{default}") if default else None
    default_code = (code[1] if code else None) or ""
    if not found:
        found = [default_code if len(default_code) in (2, 3) else "it"]
    if default_code in found:
        found.remove(default_code)
        found.insert(0, default_code)
    return found, found[0]


def _text(row: Row, base: str, languages: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for column, value in row.items():
        known = column_language(column)
        if known and known[0] == base and known[1] and value:
            out[known[1]] = value
    if row.get(base) and languages[0] not in out:
        for lang in languages:  # a plain column serves every language without its own
            out.setdefault(lang, row[base])
    return out or None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


def _number(value: str | None) -> int | float | None:
    if not value:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def from_xlsform(
    survey: list[Row], choices: list[Row], settings: list[Row], deadline: str | None = None
) -> Imported:
    """Rows of the three sheets (row 1 = headers, so data starts at row 2)."""
    setting = settings[0] if settings else {}
    languages, default = _languages([*survey, *choices, setting], setting)
    warnings: list[str] = []
    unknown = sorted({column for row in [*survey, *choices, setting] for column in row
                      if (known := column_language(column)) and known[1] is None})
    for column in unknown:
        warnings.append(f"column {column!r}: no language code (write it like "
                        "'label::Italiano (it)'): left out")
    lists: dict[str, list[tuple[int, Row]]] = {}
    for number, row in enumerate(choices, start=2):
        if row.get("list_name") and row.get("name"):
            lists.setdefault(row["list_name"], []).append((number, row))
    names = _names_of(survey, lists)
    title = _text({k.replace("form_title", "label"): v for k, v in setting.items()}, "label",
                  languages) or {default: setting.get("form_id", "questionnaire")}
    raw: dict[str, Any] = {
        "id": setting.get("form_id") or "questionnaire",
        "version": str(setting.get("version") or "1"),
        "languages": languages,
        "title": title,
    }
    for key in ("intro", "welcome", "privacy", "privacy_short"):
        text = _text(setting, key, languages)
        if text:
            raw[key] = text
    if setting.get("contacts_json"):
        raw["contacts"] = json.loads(setting["contacts_json"])
    if setting.get("map_json"):
        raw["map"] = json.loads(setting["map_json"])
    raw["deadline"] = deadline or setting.get("deadline") or None
    if not raw["deadline"]:
        warnings.append("settings: no deadline (give a `deadline` column or --deadline)")
    if setting.get("timezone"):
        raw["timezone"] = setting["timezone"]
    if setting.get("respondent_name"):
        raw["respondent_name"] = setting["respondent_name"]

    sections: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []  # open section / repeat
    for number, row in enumerate(survey, start=2):
        kind = (row.get("type") or "").strip()
        if not kind:
            continue
        where = f"survey row {number}"
        head, _, rest = kind.partition(" ")
        if head in ("begin_group", "begin group"):
            if stack:
                warnings.append(f"{where}: a group inside a group or repeat is not supported; "
                                "its items join the enclosing one")
                stack.append({"kind": "flat"})
                continue
            section = {"id": row.get("name") or f"section_{len(sections) + 1}",
                       "title": _text(row, "label", languages) or {default: row.get("name", "")},
                       "items": []}
            intro = _text(row, "hint", languages)
            if intro:
                section["intro"] = intro
            stack.append(section)
            sections.append(section)
            continue
        if head in ("end_group", "end group", "end_repeat", "end repeat"):
            if stack:
                stack.pop()
            continue
        if head in ("begin_repeat", "begin repeat"):
            repeat = _repeat(row, languages, default, names, where, warnings)
            _items_of(stack, sections, title).append(repeat)
            stack.append(repeat)
            continue
        item = _item(row, head, rest, lists, languages, default, names, where, warnings)
        if item is not None:
            _items_of(stack, sections, title).append(item)
    for section in sections:
        section.pop("_implicit", None)
    raw["sections"] = sections
    return Imported(raw, warnings)


def _items_of(stack: list[dict[str, Any]], sections: list[dict[str, Any]],
              title: dict[str, str]) -> list[dict[str, Any]]:
    """Where the next row goes: the open group or repeat, else a section of its own
    for rows outside any group (named after the form)."""
    for open_one in reversed(stack):
        if open_one.get("kind") != "flat":
            items: list[dict[str, Any]] = open_one["items"]
            return items
    if not sections or not sections[-1].get("_implicit"):
        sections.append({"id": f"section_{len(sections) + 1}", "title": title, "items": [],
                         "_implicit": True})
    implicit: list[dict[str, Any]] = sections[-1]["items"]
    return implicit


def _names_of(survey: list[Row], lists: dict[str, list[tuple[int, Row]]]) -> Names:
    names = Names()
    repeat: str | None = None
    for row in survey:
        kind = (row.get("type") or "").strip()
        name = row.get("name") or ""
        head, _, rest = kind.partition(" ")
        if head in ("begin_repeat", "begin repeat"):
            repeat = name
            names.repeats.add(name)
        elif head in ("end_repeat", "end repeat"):
            repeat = None
        elif name:
            if repeat:
                names.repeat_of[name] = repeat
            if row.get("surveybot_type") == "yes_no" or (
                head == "select_one" and not _choice_list(rest)[1]
                and _is_yes_no(lists.get(_choice_list(rest)[0], []))
            ):
                names.yes_no.add(name)
    return names


# `select_one list or_other`: ODK adds an "Other" choice whose text is asked next.
OTHER_VALUE = "other"
OTHER_LABELS = {"it": "Altro", "en": "Other"}


def _choice_list(rest: str) -> tuple[str, bool]:
    """The list name of a select type, and whether it ends in `or_other`."""
    words = rest.split()
    if len(words) == 2 and words[1] == "or_other":
        return words[0], True
    return rest.strip(), False


def _is_yes_no(options: list[tuple[int, Row]]) -> bool:
    return sorted(row["name"] for _, row in options) == ["no", "yes"]


def _repeat(row: Row, languages: list[str], default: str, names: Names, where: str,
            warnings: list[str]) -> dict[str, Any]:
    name = row.get("name") or "entries"
    label = _text(row, "label", languages) or {default: name}
    repeat: dict[str, Any] = {"kind": "repeat", "id": name, "text": label,
                              "add_prompt": _text(row, "add_prompt", languages) or label}
    words = {lang: {"one": one, "other": other}
             for lang in languages
             if (one := (_text(row, "entry_name_one", languages) or {}).get(lang))
             and (other := (_text(row, "entry_name_other", languages) or {}).get(lang))}
    if words:
        repeat["entry_name"] = words
    intro = _text(row, "hint", languages)
    if intro:
        repeat["intro"] = intro
    for key in ("previous_id", "label_item"):
        if row.get(key):
            repeat[key] = row[key]
    if row.get("min_entries"):
        repeat["min_entries"] = int(float(row["min_entries"]))
    count = (row.get("repeat_count") or "").strip()
    if count:
        if re.fullmatch(r"\d+", count):
            repeat["max_entries"] = int(count)
        else:
            warnings.append(f"{where}: repeat_count {count!r} is not a number: not converted")
    if row.get("relevant"):
        try:
            repeat["when"] = from_xlsform_expression(row["relevant"], names)
        except Unconvertible as error:
            warnings.append(f"{where}: relevant {row['relevant']!r} of '{name}' cannot be "
                            f"converted ({error}): left out")
    repeat["items"] = []
    return repeat


_TYPES = {"text": ItemType.TEXT, "integer": ItemType.INTEGER, "decimal": ItemType.AMOUNT,
          "date": ItemType.DATE, "note": ItemType.NOTE, "select_one": ItemType.SINGLE_CHOICE,
          "select_multiple": ItemType.MULTIPLE_CHOICE}


def _item(
    row: Row, head: str, rest: str, lists: dict[str, list[tuple[int, Row]]],
    languages: list[str], default: str, names: Names, where: str, warnings: list[str],
) -> dict[str, Any] | None:
    name = row.get("name") or ""
    kind = _TYPES.get(head)
    if kind is None:
        warnings.append(f"{where}: type {row.get('type')!r} ({name}) cannot be converted: "
                        "left out")
        return None
    own = row.get("surveybot_type")
    if own:
        kind = ItemType(own)
    elif kind is ItemType.TEXT and (row.get("appearance") or "").strip() == "multiline":
        kind = ItemType.LONG_TEXT
    elif name in names.yes_no:
        kind = ItemType.YES_NO
    item: dict[str, Any] = {"id": name, "type": kind.value,
                            "text": _text(row, "label", languages) or {default: name}}
    help_text = _text(row, "hint", languages)
    if help_text:
        item["help"] = help_text
    short = _text(row, "short_label", languages)
    if short:
        item["label"] = short
    if kind is not ItemType.NOTE:
        item["required"] = _flag(row.get("required"))
    if _flag(row.get("allow_unknown")):
        item["allow_unknown"] = True
    if row.get("previous_id"):
        item["previous_id"] = row["previous_id"]
    if kind in CHOICE_TYPES:
        list_name, or_other = _choice_list(rest)
        options = lists.get(list_name)
        if not options:
            warnings.append(f"{where}: list {list_name!r} of '{name}' has no choices")
        item["choices"] = [_choice(r, languages, default) for _, r in options or []]
        if or_other:
            if any(choice["value"] == OTHER_VALUE for choice in item["choices"]):
                warnings.append(f"{where}: list {list_name!r} of '{name}' has its own "
                                f"'{OTHER_VALUE}': or_other adds nothing")
            else:  # ODK's "Other", with the text it asks for
                item["choices"].append({"value": OTHER_VALUE, "other": True, "label": {
                    lang: OTHER_LABELS.get(lang, OTHER_LABELS["en"]) for lang in languages}})
        for key in ("min_selections", "max_selections"):
            if row.get(key):
                item[key] = int(float(row[key]))
        if row.get("choice_filter"):
            whens = _choice_filter(row["choice_filter"], [r for _, r in options or []], names)
            if whens is None:
                warnings.append(f"{where}: choice_filter {row['choice_filter']!r} of '{name}' "
                                "is not of the form column = ${field}: every choice is offered")
            else:
                for choice, when in zip(item["choices"], whens, strict=True):
                    choice["when"] = when
    validation: dict[str, Any] = {}
    for key in ("min", "max", "min_length", "max_length"):
        value = _number(row.get(key))
        if value is not None:
            validation[key] = value
    if row.get("pattern"):
        validation["pattern"] = row["pattern"]
    message = _text(row, "validation_message", languages)
    if message:
        validation["message"] = message
    if validation:
        item["validation"] = validation
    for column, key in (("relevant", "when"), ("constraint", "constraint"),
                        ("warn_if", "warn_if"), ("stop_if", "stop_if")):
        source = (row.get(column) or "").strip()
        if not source:
            continue
        try:
            item[key] = from_xlsform_expression(source, names)
        except Unconvertible as error:
            warnings.append(f"{where}: {column} {source!r} of '{name}' cannot be converted "
                            f"({error}): left out")
    for column, owner in (("constraint_message", "constraint"), ("warn_message", "warn_if"),
                          ("stop_message", "stop_if")):
        text = _text(row, column, languages)
        if text and owner in item:
            item[column] = text
    return item


_FILTER = re.compile(r"^\s*(?:(?P<col>[a-z_][a-z0-9_]*)\s*=\s*\$\{(?P<ref>[a-z][a-z0-9_]*)\}"
                     r"|\$\{(?P<ref2>[a-z][a-z0-9_]*)\}\s*=\s*(?P<col2>[a-z_][a-z0-9_]*))\s*$")


def _choice_filter(source: str, options: list[Row], names: Names) -> list[str] | None:
    """`region = ${region}`: each choice offered when the field equals its column."""
    match = _FILTER.match(source)
    if match is None:
        return None
    column = match.group("col") or match.group("col2")
    ref = match.group("ref") or match.group("ref2")
    whens = []
    for option in options:
        value = option.get(column, "")
        if not value:
            whens.append(f"empty({ref})")
        elif ref in names.yes_no and value in ("yes", "no"):
            whens.append(ref if value == "yes" else f"not {ref}")
        else:
            quoted = value.replace("\\", "\\\\").replace("'", "\\'")
            whens.append(f"{ref} == '{quoted}'")
    return whens


def _choice(row: Row, languages: list[str], default: str) -> dict[str, Any]:
    choice: dict[str, Any] = {"value": row["name"],
                              "label": _text(row, "label", languages) or {default: row["name"]}}
    if _flag(row.get("other")):
        choice["other"] = True
    if row.get("previous_values"):
        choice["previous_values"] = row["previous_values"].split()
    if row.get("surveybot_when"):
        choice["when"] = row["surveybot_when"]
    return choice


