"""XLSForm (the spreadsheet format of ODK and Kobo) to and from our format (pure).

Sheets are lists of rows, each a dict column -> cell text; reading and writing
the .xlsx file is the command line's job (`bot/cli/xlsform.py`).

Standard columns: `type`, `name`, `label`, `hint`, `required`, `relevant`,
`constraint`, `constraint_message`, `repeat_count`, `appearance` (`multiline`
for long text), with `::Italiano (it)`-style language suffixes. What XLSForm
has no column for gets a column of its own that ODK ignores (`allow_unknown`,
`min`, `max`, `min_length`, `max_length`, `pattern`, `validation_message`,
`min_selections`, `max_selections`, `previous_id`, `warn_if`, `warn_message`,
`surveybot_type` for email/phone/url/yes_no, `min_entries`, `label_item`,
`add_prompt`, `entry_name_one`, `entry_name_other`; in `choices`: `other`,
`previous_values`; in `settings`: `deadline`, `timezone`, `intro`, `welcome`,
`privacy`, `contacts_json`, `map_json`), so a questionnaire exported and
imported back is the same questionnaire.

Expressions: XLSForm's `${x} = 'v'`, `selected(${x}, 'v')`, `and`/`or`/
`not(...)`, comparisons, arithmetic (`div`), `today()`, `count(${repeat})`,
`sum(${item})` convert to ours and back; a yes/no item is `${x} = 'yes'`.
What does not convert is reported with its row number, never dropped silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conversations.schema import CHOICE_TYPES, Item, ItemType, Questionnaire, Repeat

Row = dict[str, str]
LANGUAGE_NAMES = {"it": "Italiano", "en": "English", "de": "Deutsch", "fr": "Français"}
YES_NO_LIST = "yes_no"
_LANG_COLUMN = re.compile(r"^(?P<base>[a-z_]+)::(?:(?P<name>[^()]*?)\s*\((?P<code>[a-z]{2,3})\)"
                          r"|(?P<bare>[^()]+))$")
_TRUE = frozenset({"yes", "true", "true()", "1", "y", "sì", "si"})


def language_column(base: str, lang: str) -> str:
    return f"{base}::{LANGUAGE_NAMES.get(lang, lang)} ({lang})"


# --- expressions ------------------------------------------------------------------------

_X_TOKEN = re.compile(
    r"\s*(?:(?P<ref>\$\{[a-z][a-z0-9_]*\})|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<num>\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>|\(|\)|,|\+|-|\*|\.)"
    r"|(?P<word>[a-z][a-z0-9_-]*))"
)


class Unconvertible(ValueError):
    """An expression outside the subset both formats share."""


@dataclass
class _Names:
    """What the converter needs to know about items."""

    yes_no: set[str] = field(default_factory=set)
    multiple: set[str] = field(default_factory=set)  # select_multiple items
    repeat_of: dict[str, str] = field(default_factory=dict)  # item -> its repeat
    repeats: set[str] = field(default_factory=set)


def _x_tokens(source: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    source = source.strip()
    while pos < len(source):
        match = _X_TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise Unconvertible(f"cannot read {source[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(source) and source[pos].isspace():
            pos += 1
    return out


def from_xlsform_expression(source: str, names: _Names) -> str:
    """XLSForm `relevant`/`constraint` text -> our expression language."""
    tokens = _x_tokens(source)
    out: list[str] = []
    i = 0

    def ref(token: str) -> str:
        return token[2:-1]

    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        after = tokens[i + 2] if i + 2 < len(tokens) else ("", "")
        if kind == "ref":
            name = ref(text)
            # ${x} = 'yes' / 'no' on a yes/no item; ${x} = '' is empty(x)
            if nxt[1] in ("=", "!=") and after[0] == "str":
                literal = after[1][1:-1]
                negate = nxt[1] == "!="
                if name in names.yes_no and literal in ("yes", "no"):
                    truth = (literal == "yes") != negate
                    out.append(name if truth else f"not {name}")
                    i += 3
                    continue
                if literal == "":
                    out.append(f"not empty({name})" if negate else f"empty({name})")
                    i += 3
                    continue
            out.append(name)
        elif kind == "op":
            out.append({"=": "==", ".": "."}.get(text, text))
        elif kind in ("str", "num"):
            out.append(text)
        else:  # words: and, or, not(, div, mod, functions
            if text in ("and", "or"):
                out.append(text)
            elif text == "div":
                out.append("/")
            elif text == "not" and nxt[1] == "(":
                out.append("not")
            elif text in ("true", "false") and nxt[1] == "(" and after[1] == ")":
                out.append(text)
                i += 3
                continue
            elif text == "today" and nxt[1] == "(" and after[1] == ")":
                out.append("today()")
                i += 3
                continue
            elif text in ("count", "sum") and nxt[1] == "(" and after[0] == "ref":
                closing = tokens[i + 3] if i + 3 < len(tokens) else ("", "")
                if closing[1] != ")":
                    raise Unconvertible(f"{text}() takes one ${{field}}")
                name = ref(after[1])
                if text == "sum" and name in names.repeat_of:
                    name = f"{names.repeat_of[name]}.{name}"
                out.append(f"{text}({name})")
                i += 4
                continue
            elif text == "selected" and nxt[1] == "(" and after[0] == "ref":
                comma, value, closing = (tokens[i + k] if i + k < len(tokens) else ("", "")
                                         for k in (3, 4, 5))
                if comma[1] != "," or value[0] != "str" or closing[1] != ")":
                    raise Unconvertible("selected() takes ${field} and a quoted value")
                name, literal = ref(after[1]), value[1][1:-1]
                if name in names.yes_no and literal in ("yes", "no"):
                    out.append(name if literal == "yes" else f"not {name}")
                else:
                    out.append(f"selected({name}, '{literal}')")
                i += 6
                continue
            else:
                raise Unconvertible(f"'{text}' has no equivalent")
        i += 1
    # not(${x} = '') reads back as "not (empty(x))": drop parentheses around one term.
    return re.sub(r"\bnot \(([^()\s]+(?:\([^()]*\))?)\)", r"not \1", _join(out))


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if not text or text.endswith("(") or part in (")", ","):
            text += part
        else:
            text += " " + part
    return text.replace(" ,", ",").replace(",", ", ").replace(",  ", ", ")


_OUR_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\+|-|\*|/|\.(?![a-z_]))"
    r"|(?P<word>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?))"
)


def to_xlsform_expression(source: str, names: _Names) -> str:
    """Our expression -> XLSForm text (the subset from_xlsform_expression reads back)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(source.rstrip()):
        match = _OUR_TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise Unconvertible(f"cannot write {source[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    out: list[str] = []
    i = 0
    depth_not: list[int] = []  # paren depth where a `not(` must close
    depth = 0

    def close_nots() -> None:
        while depth_not and depth_not[-1] == depth:
            depth_not.pop()
            out.append(")")

    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "word" and text == "not" and nxt[0] == "word" and nxt[1] in names.yes_no \
                and _bare(tokens, i + 1):
            out.append(f"${{{nxt[1]}}} = 'no'")
            i += 2
            close_nots()
            continue
        membership = _membership(tokens, i, names)
        if membership is not None:
            written, i = membership
            out.append(written)
            close_nots()
            continue
        if kind == "word" and text == "not" and nxt[1] == "empty":
            out.append(f"${{{tokens[i + 3][1]}}} != ''")
            i += 5
            close_nots()
            continue
        if kind == "word" and text == "not" and nxt[1] == "(":
            out.append("not")  # its own parentheses follow
            i += 1
            continue
        if kind == "word" and text == "not":
            out.append("not(")
            depth_not.append(depth)
            i += 1
            continue
        if kind == "word" and text in ("and", "or"):
            close_nots()
            out.append(text)
        elif kind == "word" and text in ("true", "false"):
            out.append(f"{text}()")
        elif kind == "word" and text == "null":
            out.append("''")
        elif kind == "word" and nxt[1] == "(":
            if text == "empty":
                out.append(f"${{{tokens[i + 2][1]}}} = ''")
                i += 4
                close_nots()
                continue
            if text == "today":
                out.append("today()")
                i += 3
                continue
            if text in ("count", "sum"):
                argument = tokens[i + 2][1].rsplit(".", 1)[-1]
                out.append(f"{text}(${{{argument}}})")
                i += 4
                continue
            if text == "selected":
                out.append(f"selected(${{{tokens[i + 2][1]}}}, {tokens[i + 4][1]})")
                i += 6
                continue
            raise Unconvertible(f"{text}() has no XLSForm equivalent")
        elif kind == "word":
            if text in names.yes_no and _bare(tokens, i):
                out.append(f"${{{text}}} = 'yes'")
            else:
                out.append(f"${{{text}}}")
        elif kind == "op":
            if text == "(":
                depth += 1
            elif text == ")":
                close_nots()
                depth -= 1
            elif text in ("[", "]"):
                raise Unconvertible("lists have no XLSForm equivalent")
            out.append({"==": "=", "/": "div"}.get(text, text))
        else:
            out.append(text)
        i += 1
    depth = 0
    close_nots()
    while depth_not:
        depth_not.pop()
        out.append(")")
    return re.sub(r"\bnot \(", "not(", _join(out))


def _membership(
    tokens: list[tuple[str, str]], i: int, names: _Names
) -> tuple[str, int] | None:
    """`x in ['a', 'b']` / `x not in [...]` as XLSForm comparisons (None: not here)."""
    kind, name = tokens[i]
    if kind != "word" or name in ("not", "and", "or", "in"):
        return None
    ahead = [t[1] for t in tokens[i + 1:i + 3]]
    negated = ahead[:2] == ["not", "in"]
    if not (ahead[:1] == ["in"] or negated):
        return None
    j = i + (3 if negated else 2)
    if j >= len(tokens) or tokens[j][1] != "[":
        raise Unconvertible("'in' needs a list of values")
    values: list[str] = []
    j += 1
    while j < len(tokens) and tokens[j][1] != "]":
        if tokens[j][0] in ("str", "num"):
            values.append(tokens[j][1])
        elif tokens[j][1] != ",":
            raise Unconvertible("'in' needs a list of plain values")
        j += 1
    if name in names.multiple:
        parts = [f"selected(${{{name}}}, {v})" for v in values]
    else:
        parts = [f"${{{name}}} {'!=' if negated else '='} {v}" for v in values]
    if not parts:
        return ("false()" if not negated else "true()"), j + 1
    if name in names.multiple and negated:
        return "not(" + " or ".join(parts) + ")", j + 1
    joined = (" and " if negated else " or ").join(parts)
    return (f"({joined})" if len(parts) > 1 else joined), j + 1


def _bare(tokens: list[tuple[str, str]], index: int) -> bool:
    """A name used as a truth value (not compared): `x`, `not x`, `x and y`."""
    before = tokens[index - 1][1] if index > 0 else ""
    after = tokens[index + 1][1] if index + 1 < len(tokens) else ""
    compare = {"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "in"}
    return before not in compare and after not in compare and after != "("


# --- reading an XLSForm --------------------------------------------------------------------


@dataclass
class Imported:
    raw: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _languages(rows: list[Row], settings: Row) -> tuple[list[str], str]:
    found: list[str] = []
    for row in rows:
        for column in row:
            match = _LANG_COLUMN.match(column)
            if match and match.group("code") and match.group("code") not in found:
                found.append(match.group("code"))
    default = settings.get("default_language", "")
    code = _LANG_COLUMN.match(f"x::{default}") if default else None
    default_code = code.group("code") if code and code.group("code") else (default or "")
    if not found:
        found = [default_code if len(default_code) in (2, 3) else "it"]
    if default_code in found:
        found.remove(default_code)
        found.insert(0, default_code)
    return found, found[0]


def _text(row: Row, base: str, languages: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for column, value in row.items():
        match = _LANG_COLUMN.match(column)
        if match and match.group("base") == base and match.group("code") and value:
            out[match.group("code")] = value
    if row.get(base) and languages[0] not in out:
        for lang in languages:  # a plain column serves every language without its own
            out.setdefault(lang, row[base])
    return out or None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


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
    for key in ("intro", "welcome", "privacy"):
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


def _names_of(survey: list[Row], lists: dict[str, list[tuple[int, Row]]]) -> _Names:
    names = _Names()
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
                head == "select_one" and _is_yes_no(lists.get(rest.strip(), []))
            ):
                names.yes_no.add(name)
    return names


def _is_yes_no(options: list[tuple[int, Row]]) -> bool:
    return sorted(row["name"] for _, row in options) == ["no", "yes"]


def _repeat(row: Row, languages: list[str], default: str, names: _Names, where: str,
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
    languages: list[str], default: str, names: _Names, where: str, warnings: list[str],
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
    if kind is not ItemType.NOTE:
        item["required"] = _flag(row.get("required"))
    if _flag(row.get("allow_unknown")):
        item["allow_unknown"] = True
    if row.get("previous_id"):
        item["previous_id"] = row["previous_id"]
    if kind in CHOICE_TYPES:
        options = lists.get(rest.strip())
        if not options:
            warnings.append(f"{where}: list {rest.strip()!r} of '{name}' has no choices")
        item["choices"] = [_choice(r, languages, default) for _, r in options or []]
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
                        ("warn_if", "warn_if")):
        source = (row.get(column) or "").strip()
        if not source:
            continue
        try:
            item[key] = from_xlsform_expression(source, names)
        except Unconvertible as error:
            warnings.append(f"{where}: {column} {source!r} of '{name}' cannot be converted "
                            f"({error}): left out")
    for column, owner in (("constraint_message", "constraint"), ("warn_message", "warn_if")):
        text = _text(row, column, languages)
        if text and owner in item:
            item[column] = text
    return item


_FILTER = re.compile(r"^\s*(?:(?P<col>[a-z_][a-z0-9_]*)\s*=\s*\$\{(?P<ref>[a-z][a-z0-9_]*)\}"
                     r"|\$\{(?P<ref2>[a-z][a-z0-9_]*)\}\s*=\s*(?P<col2>[a-z_][a-z0-9_]*))\s*$")


def _choice_filter(source: str, options: list[Row], names: _Names) -> list[str] | None:
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


# --- writing an XLSForm -------------------------------------------------------------------------


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
    names = _Names()
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
    if q.contacts:
        setting["contacts_json"] = json.dumps(
            [c.model_dump(exclude_defaults=True, mode="json") for c in q.contacts],
            ensure_ascii=False)
    if q.map is not None:
        setting["map_json"] = json.dumps(q.map.model_dump(exclude_defaults=True, mode="json"),
                                         ensure_ascii=False)
    sheets.settings.append(setting)
    return sheets


def _repeat_row(repeat: Repeat, put: Any, expression: Any) -> Row:
    row: Row = {"type": "begin_repeat", "name": repeat.id,
                "repeat_count": str(repeat.max_entries)}
    put(row, "label", repeat.text)
    put(row, "add_prompt", repeat.add_prompt)
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
    put(row, "constraint_message", item.constraint_message)
    put(row, "warn_message", item.warn_message)
    sheets.survey.append({k: v for k, v in row.items() if v})
    return item.type is ItemType.YES_NO
