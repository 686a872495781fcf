"""Expressions both ways: XLSForm's `${x} = 'v'`, `selected()`, `not()`, `div`...
and our condition language, over the subset both share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_X_TOKEN = re.compile(
    r"\s*(?:(?P<ref>\$\{[a-z][a-z0-9_]*\})|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<num>\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>|\(|\)|,|\+|-|\*|\.)"
    r"|(?P<word>[a-z][a-z0-9_-]*))"
)


class Unconvertible(ValueError):
    """An expression outside the subset both formats share."""


@dataclass
class Names:
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


def from_xlsform_expression(source: str, names: Names) -> str:
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


def to_xlsform_expression(source: str, names: Names) -> str:
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
    tokens: list[tuple[str, str]], i: int, names: Names
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


