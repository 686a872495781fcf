"""Safe condition language for questionnaire ``when:`` clauses.

A hand-written tokenizer and recursive-descent parser build an immutable AST
that is evaluated by direct recursion. Python's ``eval``/``ast`` are never
involved, so a questionnaire file cannot run code.

Grammar, lowest to highest precedence::

    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum_expr [COMPARE_OP sum_expr]    # not chainable
    COMPARE_OP := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
    sum_expr   := term (("+" | "-") term)*
    term       := primary (("*" | "/") primary)*
    primary    := NUMBER | "-" NUMBER | STRING | "true" | "false" | "null" | "."
                | "[" [or_expr ("," or_expr)* [","]] "]" | "(" or_expr ")"
                | NAME | FUNC "(" args ")"

Functions: ``selected(item, value)``, ``count(repeat_id)``, ``empty(item)``;
their first argument must be a plain item / repeat id. ``today()`` is the
day of the answer; ``sum(a, b)`` adds answers, ``sum(repeat.item)`` adds an
item over a repeat group's entries. ``.`` is the value being given (only in
an item's ``constraint`` and ``warn_if``). Arithmetic works on numbers, and
on dates (date - date = days, date + n = n days later); anything else, or an
empty operand, gives null.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

MAX_SOURCE_LENGTH = 2000
# Bounds recursion in both parser and evaluator, so hostile input can't hit RecursionError.
MAX_NESTING = 50

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_KEYWORD_CONSTANTS: dict[str, object] = {"true": True, "false": False, "null": None}
_FUNCTION_ARITY = {"selected": 2, "count": 1, "empty": 1, "today": 0, "sum": -1}
_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_PUNCTUATION = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", "-", "+", "*", "/")


class ExpressionError(ValueError):
    """A condition could not be parsed; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.column = column


class EvalContext(Protocol):
    def value(self, item_id: str) -> object:
        """The answer value, or None if unanswered / hidden / skipped."""
        ...

    def count(self, repeat_id: str) -> int: ...


# --- value semantics ---------------------------------------------------------------

_NONE, _BOOL, _NUM, _STR, _DATE, _LIST, _OTHER = range(7)


def _kind(v: object) -> int:
    if v is None:
        return _NONE
    if isinstance(v, bool):  # before int: bools are not numbers here
        return _BOOL
    if isinstance(v, int | Decimal | float):
        return _NUM
    if isinstance(v, str):
        return _STR
    if isinstance(v, date):
        return _DATE
    if isinstance(v, list | tuple):
        return _LIST
    return _OTHER


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _align(a: object, b: object) -> tuple[int, Any, Any] | None:
    """Bring two values to one comparable kind, or None on a type mismatch."""
    ka, kb = _kind(a), _kind(b)
    if ka == kb:
        if ka == _NUM:
            # Decimal(repr(f)) so that 0.1 from a float equals the literal 0.1.
            if isinstance(a, float):
                a = Decimal(repr(a))
            if isinstance(b, float):
                b = Decimal(repr(b))
        return ka, a, b
    # A date answer compares with an ISO 'YYYY-MM-DD' literal.
    if ka == _DATE and isinstance(b, str):
        d = _iso_date(b)
        return None if d is None else (_DATE, a, d)
    if kb == _DATE and isinstance(a, str):
        d = _iso_date(a)
        return None if d is None else (_DATE, d, b)
    return None


# Same type, compared as Python compares them: the common case (a choice value
# against a literal), answered without aligning kinds. Conditions run on every
# step for every visible item, so this is the engine's hottest comparison.
_PLAIN_TYPES = frozenset({str, bool, int, Decimal, date})


def _equal(a: object, b: object) -> bool:
    plain = type(a)
    if plain is type(b) and plain in _PLAIN_TYPES:
        return a == b
    aligned = _align(a, b)
    if aligned is None:
        return False
    kind, x, y = aligned
    if kind == _LIST:
        # Selections have no meaningful order: compare as sets.
        return all(_contains(y, i) for i in x) and all(_contains(x, j) for j in y)
    try:
        return bool(x == y)
    except Exception:  # foreign objects from the context must not break evaluation
        return False


def _contains(items: Sequence[object], v: object) -> bool:
    return any(_equal(v, item) for item in items)


def _order(a: object, b: object) -> int | None:
    """-1/0/1 for comparable values, None when ordering makes no sense."""
    aligned = _align(a, b)
    if aligned is None or aligned[0] not in (_NUM, _STR, _DATE):
        return None
    _, x, y = aligned
    try:
        return int(x > y) - int(x < y)
    except (TypeError, ArithmeticError):  # e.g. Decimal NaN, datetime vs date
        return None


def _member(a: object, b: object) -> bool:
    if b is None:
        return False
    # A scalar right side (single-choice answer) behaves like a one-element list.
    items: Sequence[object] = b if isinstance(b, list | tuple) else (b,)
    if isinstance(a, list | tuple):
        return any(_contains(items, x) for x in a)
    return _contains(items, a)


def _not_equal(a: object, b: object) -> bool:
    return not _equal(a, b)


def _not_member(a: object, b: object) -> bool:
    return not _member(a, b)


def _lt(a: object, b: object) -> bool:
    o = _order(a, b)
    return o is not None and o < 0


def _le(a: object, b: object) -> bool:
    o = _order(a, b)
    return o is not None and o <= 0


def _gt(a: object, b: object) -> bool:
    o = _order(a, b)
    return o is not None and o > 0


def _ge(a: object, b: object) -> bool:
    o = _order(a, b)
    return o is not None and o >= 0


def _number(v: object) -> Decimal | None:
    if isinstance(v, bool) or not isinstance(v, int | Decimal | float):
        return None
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def _arith(op: str, a: object, b: object) -> object:
    """Numbers and dates; None for anything else (an empty answer included)."""
    if isinstance(a, date) and isinstance(b, date) and op == "-":
        return (a - b).days
    if isinstance(a, date) and op in "+-" and isinstance(b, int) and not isinstance(b, bool):
        return a + timedelta(days=b if op == "+" else -b)
    x, y = _number(a), _number(b)
    if x is None or y is None:
        return None
    try:
        if op == "+":
            result = x + y
        elif op == "-":
            result = x - y
        elif op == "*":
            result = x * y
        else:
            result = x / y
    except ArithmeticError:  # division by zero
        return None
    exact = isinstance(a, int) and isinstance(b, int) and op != "/"
    return int(result) if exact else result


_TESTS: dict[str, Callable[[object, object], bool]] = {
    "==": _equal,
    "!=": _not_equal,
    "<": _lt,
    "<=": _le,
    ">": _gt,
    ">=": _ge,
    "in": _member,
    "not in": _not_member,
}


# --- AST -------------------------------------------------------------------------


class _Node:
    __slots__ = ()

    def evaluate(self, ctx: EvalContext) -> object:
        raise NotImplementedError

    def collect(self, names: set[str]) -> None:
        """Add every item / repeat id this node reads to ``names``."""


@dataclass(frozen=True, slots=True)
class _Const(_Node):
    value: object

    def evaluate(self, ctx: EvalContext) -> object:
        return self.value


@dataclass(frozen=True, slots=True)
class _Name(_Node):
    name: str

    def evaluate(self, ctx: EvalContext) -> object:
        return ctx.value(self.name)

    def collect(self, names: set[str]) -> None:
        names.add(self.name)


@dataclass(frozen=True, slots=True)
class _List(_Node):
    items: tuple[_Node, ...]

    def evaluate(self, ctx: EvalContext) -> object:
        return tuple(item.evaluate(ctx) for item in self.items)

    def collect(self, names: set[str]) -> None:
        for item in self.items:
            item.collect(names)


@dataclass(frozen=True, slots=True)
class _Not(_Node):
    operand: _Node

    def evaluate(self, ctx: EvalContext) -> object:
        return not self.operand.evaluate(ctx)

    def collect(self, names: set[str]) -> None:
        self.operand.collect(names)


# And/Or are n-ary so long chains stay flat instead of nesting one level per operand.
@dataclass(frozen=True, slots=True)
class _And(_Node):
    operands: tuple[_Node, ...]

    def evaluate(self, ctx: EvalContext) -> object:
        return all(op.evaluate(ctx) for op in self.operands)

    def collect(self, names: set[str]) -> None:
        for op in self.operands:
            op.collect(names)


@dataclass(frozen=True, slots=True)
class _Or(_Node):
    operands: tuple[_Node, ...]

    def evaluate(self, ctx: EvalContext) -> object:
        return any(op.evaluate(ctx) for op in self.operands)

    def collect(self, names: set[str]) -> None:
        for op in self.operands:
            op.collect(names)


@dataclass(frozen=True, slots=True)
class _Compare(_Node):
    op: str
    left: _Node
    right: _Node
    test: Callable[[object, object], bool] = field(repr=False, compare=False)

    def evaluate(self, ctx: EvalContext) -> object:
        return self.test(self.left.evaluate(ctx), self.right.evaluate(ctx))

    def collect(self, names: set[str]) -> None:
        self.left.collect(names)
        self.right.collect(names)


@dataclass(frozen=True, slots=True)
class _Selected(_Node):
    item: str
    option: _Node

    def evaluate(self, ctx: EvalContext) -> object:
        answer = ctx.value(self.item)
        if answer is None:
            return False
        option = self.option.evaluate(ctx)
        if isinstance(answer, list | tuple):
            return _contains(answer, option)
        return _equal(answer, option)

    def collect(self, names: set[str]) -> None:
        names.add(self.item)
        self.option.collect(names)


@dataclass(frozen=True, slots=True)
class _Empty(_Node):
    item: str

    def evaluate(self, ctx: EvalContext) -> object:
        answer = ctx.value(self.item)
        return answer is None or (isinstance(answer, str | list | tuple) and len(answer) == 0)

    def collect(self, names: set[str]) -> None:
        names.add(self.item)


@dataclass(frozen=True, slots=True)
class _Count(_Node):
    repeat: str

    def evaluate(self, ctx: EvalContext) -> object:
        return ctx.count(self.repeat)

    def collect(self, names: set[str]) -> None:
        names.add(self.repeat)


@dataclass(frozen=True, slots=True)
class _Arith(_Node):
    op: str
    left: _Node
    right: _Node

    def evaluate(self, ctx: EvalContext) -> object:
        return _arith(self.op, self.left.evaluate(ctx), self.right.evaluate(ctx))

    def collect(self, names: set[str]) -> None:
        self.left.collect(names)
        self.right.collect(names)


@dataclass(frozen=True, slots=True)
class _Current(_Node):
    """`.`: the value being given, in a constraint or warn_if."""

    def evaluate(self, ctx: EvalContext) -> object:
        current = getattr(ctx, "current", None)
        return current() if current is not None else None


@dataclass(frozen=True, slots=True)
class _Today(_Node):
    def evaluate(self, ctx: EvalContext) -> object:
        today = getattr(ctx, "today", None)
        return today() if today is not None else None


@dataclass(frozen=True, slots=True)
class _Sum(_Node):
    parts: tuple[str, ...]  # "item" or "repeat.item"

    def evaluate(self, ctx: EvalContext) -> object:
        total = getattr(ctx, "total", None)
        return total(self.parts) if total is not None else None

    def collect(self, names: set[str]) -> None:
        for part in self.parts:
            names.update(part.split("."))


# --- tokenizer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "num", "str", "name", "kw", "op" or "end"
    text: str
    col: int  # 1-based
    value: object = None


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"  # str.isdigit() would accept non-ASCII digits


def _is_word_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        col = i + 1
        if c in " \t\r\n":
            i += 1
        elif _is_digit(c):
            j = i
            while j < n and _is_digit(source[j]):
                j += 1
            value: object
            if j < n and source[j] == ".":
                k = j + 1
                while k < n and _is_digit(source[k]):
                    k += 1
                if k == j + 1:
                    raise ExpressionError("expected digits after '.'", k + 1)
                value, j = Decimal(source[i:k]), k
            else:
                value = int(source[i:j])
            if j < n and (_is_word_char(source[j]) or source[j] == "."):
                end = j
                while end < n and (_is_word_char(source[end]) or source[end] == "."):
                    end += 1
                raise ExpressionError(f"invalid number {source[i:end]!r}", col)
            tokens.append(_Token("num", source[i:j], col, value))
            i = j
        elif c in "'\"":
            i = _read_string(source, i, tokens)
        elif _is_word_char(c):
            j = i
            while j < n and _is_word_char(source[j]):
                j += 1
            # "repeat.item" (only sum() accepts it; the parser says so elsewhere).
            while j + 1 < n and source[j] == "." and _is_word_char(source[j + 1]):
                j += 1
                while j < n and _is_word_char(source[j]):
                    j += 1
            word = source[i:j]
            if word != word.lower():
                raise ExpressionError(f"names and keywords must be lowercase: {word!r}", col)
            tokens.append(_Token("kw" if word in _KEYWORDS else "name", word, col))
            i = j
        elif c == "." and not (i + 1 < n and (_is_word_char(source[i + 1]))):
            tokens.append(_Token("op", ".", col))  # the value being given
            i += 1
        else:
            op = next((p for p in _PUNCTUATION if source.startswith(p, i)), None)
            if op is None:
                hint = " (use '==' to compare)" if c == "=" else ""
                raise ExpressionError(f"unexpected character {c!r}{hint}", col)
            tokens.append(_Token("op", op, col))
            i += len(op)
    tokens.append(_Token("end", "", n + 1))
    return tokens


def _read_string(source: str, start: int, tokens: list[_Token]) -> int:
    """Append the string literal starting at ``start``; return the index after it."""
    quote = source[start]
    chars: list[str] = []
    j = start + 1
    while True:
        if j >= len(source):
            raise ExpressionError("unterminated string", start + 1)
        ch = source[j]
        if ch == quote:
            break
        if ch == "\\":
            if j + 1 < len(source) and source[j + 1] in "\\'\"":
                chars.append(source[j + 1])
                j += 2
                continue
            raise ExpressionError("invalid escape (only \\\\, \\' and \\\" are allowed)", j + 1)
        chars.append(ch)
        j += 1
    tokens.append(_Token("str", source[start : j + 1], start + 1, "".join(chars)))
    return j + 1


# --- parser ----------------------------------------------------------------------


def _describe(tok: _Token) -> str:
    return "end of expression" if tok.kind == "end" else repr(tok.text)


class _Parser:
    def __init__(self, source: str) -> None:
        if len(source) > MAX_SOURCE_LENGTH:
            raise ExpressionError(
                f"expression longer than {MAX_SOURCE_LENGTH} characters", MAX_SOURCE_LENGTH + 1
            )
        self.tokens = _tokenize(source)
        self.pos = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind != "end":
            self.pos += 1
        return tok

    def at(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == kind and (text is None or tok.text == text)

    def expect(self, text: str, what: str) -> None:
        if not self.at("op", text):
            tok = self.peek()
            raise ExpressionError(f"expected {what} but found {_describe(tok)}", tok.col)
        self.advance()

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(f"nesting deeper than {MAX_NESTING} levels", tok.col)

    def parse(self) -> _Node:
        node = self.or_expr()
        if not self.at("end"):
            tok = self.peek()
            raise ExpressionError(f"unexpected {_describe(tok)}", tok.col)
        return node

    def or_expr(self) -> _Node:
        operands = [self.and_expr()]
        while self.at("kw", "or"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def and_expr(self) -> _Node:
        operands = [self.not_expr()]
        while self.at("kw", "and"):
            self.advance()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def not_expr(self) -> _Node:
        if self.at("kw", "not"):
            self.enter(self.advance())
            node = _Not(self.not_expr())
            self.depth -= 1
            return node
        return self.comparison()

    def compare_op(self) -> str | None:
        """Consume and return a comparison operator, if one comes next."""
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARE_OPS:
            self.advance()
            return tok.text
        if self.at("kw", "in"):
            self.advance()
            return "in"
        if self.at("kw", "not") and self.at("kw", "in", ahead=1):
            self.advance()
            self.advance()
            return "not in"
        return None

    def comparison(self) -> _Node:
        left = self.sum_expr()
        op = self.compare_op()
        if op is None:
            return left
        right = self.sum_expr()
        tok = self.peek()
        if self.compare_op() is not None:
            raise ExpressionError("comparisons cannot be chained, use 'and'", tok.col)
        return _Compare(op, left, right, _TESTS[op])

    def sum_expr(self) -> _Node:
        node = self.term()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.advance().text
            node = _Arith(op, node, self.term())
        return node

    def term(self) -> _Node:
        node = self.primary()
        while self.at("op", "*") or self.at("op", "/"):
            op = self.advance().text
            node = _Arith(op, node, self.primary())
        return node

    def primary(self) -> _Node:
        tok = self.peek()
        if "." in tok.text and tok.kind == "name" and not self.at("op", "(", ahead=1):
            raise ExpressionError("unexpected character '.'", tok.col + tok.text.index("."))
        if tok.kind == "op" and tok.text == ".":
            self.advance()
            return _Current()
        if tok.kind == "num" or tok.kind == "str":
            self.advance()
            return _Const(tok.value)
        if tok.kind == "kw" and tok.text in _KEYWORD_CONSTANTS:
            self.advance()
            return _Const(_KEYWORD_CONSTANTS[tok.text])
        if tok.kind == "name":
            self.advance()
            return self.call(tok) if self.at("op", "(") else _Name(tok.text)
        if tok.kind == "op":
            if tok.text == "-" and self.at("num", ahead=1):
                self.advance()
                number = self.advance().value
                assert isinstance(number, int | Decimal)
                return _Const(-number)
            if tok.text == "(":
                self.enter(self.advance())
                node = self.or_expr()
                self.expect(")", "')'")
                self.depth -= 1
                return node
            if tok.text == "[":
                return self.list_literal()
        raise ExpressionError(f"expected a value but found {_describe(tok)}", tok.col)

    def list_literal(self) -> _Node:
        self.enter(self.advance())
        items: list[_Node] = []
        while not self.at("op", "]"):
            items.append(self.or_expr())
            if not self.at("op", ","):
                break
            self.advance()
        self.expect("]", "',' or ']'")
        self.depth -= 1
        if all(isinstance(item, _Const) for item in items):
            # Constant lists are folded once here instead of rebuilt on every evaluation.
            return _Const(tuple(item.value for item in items if isinstance(item, _Const)))
        return _List(tuple(items))

    def call(self, name_tok: _Token) -> _Node:
        name = name_tok.text
        arity = _FUNCTION_ARITY.get(name)
        if arity is None:
            known = ", ".join(sorted(_FUNCTION_ARITY))
            raise ExpressionError(f"unknown function {name!r} (known: {known})", name_tok.col)
        self.enter(self.advance())
        if name == "today":
            self.expect(")", "')' (today() takes no argument)")
            self.depth -= 1
            return _Today()
        if name == "sum":
            return self.sum_call()
        plural = "s" if arity > 1 else ""
        arity_error = f"{name}() takes {arity} argument{plural}"
        tok = self.peek()
        if tok.kind != "name" or self.at("op", "(", ahead=1):
            if self.at("op", ")"):
                raise ExpressionError(arity_error, tok.col)
            raise ExpressionError(f"{name}() needs an item id as first argument", tok.col)
        self.advance()
        node: _Node
        if name == "selected":
            if not self.at("op", ","):
                raise ExpressionError(arity_error, self.peek().col)
            self.advance()
            node = _Selected(tok.text, self.or_expr())
        elif name == "count":
            node = _Count(tok.text)
        else:
            node = _Empty(tok.text)
        if self.at("op", ","):
            raise ExpressionError(arity_error, self.peek().col)
        self.expect(")", "')'")
        self.depth -= 1
        return node


    def sum_call(self) -> _Node:
        """sum(a, b, ...) over answers, or sum(repeat.item) over a group's entries."""
        parts: list[str] = []
        while True:
            tok = self.peek()
            if tok.kind != "name" or self.at("op", "(", ahead=1):
                raise ExpressionError("sum() needs item ids or repeat.item", tok.col)
            self.advance()
            parts.append(tok.text)
            if not self.at("op", ","):
                break
            self.advance()
        self.expect(")", "')'")
        self.depth -= 1
        return _Sum(tuple(parts))


# --- public API ------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed condition; equal and hashable by its source text."""

    source: str
    _root: _Node = field(init=False, repr=False, compare=False)
    _references: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        root = _Parser(self.source).parse()
        names: set[str] = set()
        root.collect(names)
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_references", frozenset(names))

    def references(self) -> frozenset[str]:
        """Every item id and repeat id the condition reads."""
        return self._references

    def evaluate(self, ctx: EvalContext) -> bool:
        return bool(self._root.evaluate(ctx))

    def value(self, ctx: EvalContext) -> object:
        """The expression's value itself (a computed note shows it)."""
        return self._root.evaluate(ctx)

    @property
    def reads_current(self) -> bool:
        return _reads(self._root, _Current)

    @property
    def reads_today(self) -> bool:
        return _reads(self._root, _Today)


def _reads(node: _Node, kind: type[_Node]) -> bool:
    if isinstance(node, kind):
        return True
    children: list[_Node] = []
    for attribute in ("left", "right", "operand", "option"):
        child = getattr(node, attribute, None)
        if isinstance(child, _Node):
            children.append(child)
    for attribute in ("operands", "items"):
        group = getattr(node, attribute, None)
        if isinstance(group, tuple):
            children.extend(c for c in group if isinstance(c, _Node))
    return any(_reads(child, kind) for child in children)


@functools.lru_cache(maxsize=4096)
def parse_expression(source: str) -> Expression:
    """Parse ``source``; raises ExpressionError. Cached: conditions repeat a lot."""
    return Expression(source)
