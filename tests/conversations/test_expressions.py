from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.expressions import (
    MAX_NESTING,
    MAX_SOURCE_LENGTH,
    Expression,
    ExpressionError,
    parse_expression,
)


@dataclass
class Ctx:
    values: dict[str, object] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def value(self, item_id: str) -> object:
        self.reads.append(item_id)
        return self.values.get(item_id)

    def count(self, repeat_id: str) -> int:
        return self.counts.get(repeat_id, 0)


ANSWERS: dict[str, object] = {
    "n": 3,
    "dec": Decimal("2.50"),
    "flt": 0.1,
    "s": "rome",
    "empty_s": "",
    "empty_l": [],
    "yes": True,
    "no": False,
    "d": date(2019, 7, 31),
    "multi": ["a", "b"],
    "single": "a",
    "zero": 0,
}
CTX = Ctx(ANSWERS, {"children": 2, "none": 0})


def ev(source: str, ctx: Ctx = CTX) -> bool:
    return parse_expression(source).evaluate(ctx)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # literals and truthiness
        ("true", True),
        ("false", False),
        ("null", False),
        ("0", False),
        ("2.5", True),
        ("''", False),
        ("'x'", True),
        ("[]", False),
        ("[1]", True),
        ("yes", True),
        ("no", False),
        ("zero", False),
        ("missing", False),
        ("empty_l", False),
        ("multi", True),
        # numbers across int / Decimal / float
        ("n == 3", True),
        ("n == 3.0", True),
        ("n != 3", False),
        ("dec == 2.5", True),
        ("dec > 2", True),
        ("dec >= 2.50", True),
        ("dec < 2.5", False),
        ("dec <= 2.5", True),
        ("flt == 0.1", True),
        ("n > -1", True),
        ("-4 < n", True),
        # strings
        ("s == 'rome'", True),
        ('s == "rome"', True),
        ("s != 'milan'", True),
        ("s < 'sicily'", True),
        ("s > 'sicily'", False),
        # dates against ISO literals
        ("d == '2019-07-31'", True),
        ("d < '2020-01-01'", True),
        ("d >= '2019-08-01'", False),
        ("'2019-07-30' < d", True),
        ("d == 'not a date'", False),
        ("d < 'not a date'", False),
        # None (unanswered) never orders
        ("missing < 1", False),
        ("missing > 1", False),
        ("missing <= 1", False),
        ("missing >= 1", False),
        ("1 > missing", False),
        ("missing == null", True),
        ("missing != null", False),
        ("n == null", False),
        ("missing == 0", False),
        # type mismatches compare as False instead of raising
        ("s < 3", False),
        ("s == 3", False),
        ("s != 3", True),
        ("d > 3", False),
        ("multi > 1", False),
        ("yes == 1", False),
        ("yes > false", False),
        ("yes == true", True),
        ("no == false", True),
        # membership
        ("s in ['rome', 'milan']", True),
        ("s in ['milan']", False),
        ("s not in ['milan']", True),
        ("n in [1, 2, 3]", True),
        ("dec in [2.5]", True),
        ("multi in ['b', 'z']", True),
        ("multi in ['z']", False),
        ("multi not in ['z']", True),
        ("'a' in multi", True),
        ("'z' in multi", False),
        ("'z' not in multi", True),
        ("'a' in single", True),
        ("'b' in single", False),
        ("'a' in missing", False),
        ("missing in ['a']", False),
        ("empty_l in ['a']", False),
        ("n in [s, 3]", True),
        # list equality ignores order
        ("multi == ['b', 'a']", True),
        ("multi == ['a']", False),
        # functions
        ("selected(multi, 'a')", True),
        ("selected(multi, 'z')", False),
        ("selected(single, 'a')", True),
        ("selected(single, 'b')", False),
        ("selected(missing, 'a')", False),
        ("selected(n, 3)", True),
        ("empty(missing)", True),
        ("empty(empty_s)", True),
        ("empty(empty_l)", True),
        ("empty(zero)", False),
        ("empty(no)", False),
        ("empty(s)", False),
        ("count(children) == 2", True),
        ("count(children) > 2", False),
        ("count(none) == 0", True),
        ("count(unknown) < 1", True),
        # strings with escapes
        ("'it\\'s' == \"it's\"", True),
        ("'a\\\\b' == 'a\\\\b'", True),
    ],
)
def test_evaluate(source: str, expected: bool) -> None:
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"a": 1, "b": False, "c": False}, False),  # not (a == 1) -> False, b and c -> False
        ({"a": 2, "b": False, "c": False}, True),  # not (a == 1) -> True
        ({"a": 1, "b": True, "c": True}, True),  # and binds tighter than or
        ({"a": 1, "b": True, "c": False}, False),
    ],
)
def test_precedence(values: dict[str, object], expected: bool) -> None:
    assert ev("not a == 1 or b and c", Ctx(values)) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true or false and false", True),  # or(true, and(false, false))
        ("(true or false) and false", False),
        ("not true or true", True),  # (not true) or true
        ("not (true or true)", False),
        ("not not true", True),
        ("not 1 == 2", True),  # not applies to the comparison
        ("a and b or c", True),
    ],
)
def test_precedence_table(source: str, expected: bool) -> None:
    assert ev(source, Ctx({"a": False, "b": True, "c": True})) is expected


def test_and_short_circuits() -> None:
    ctx = Ctx({"a": False, "b": True})
    assert ev("a and b", ctx) is False
    assert ctx.reads == ["a"]


def test_or_short_circuits() -> None:
    ctx = Ctx({"a": True, "b": True})
    assert ev("a or b", ctx) is True
    assert ctx.reads == ["a"]


def test_long_chains_evaluate_without_recursion() -> None:
    source = " and ".join(f"x{i} == {i}" for i in range(100))
    ctx = Ctx({f"x{i}": i for i in range(100)})
    assert ev(source, ctx) is True
    ctx.values["x99"] = 0
    assert ev(source, ctx) is False


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {"k": 1},
        Decimal("NaN"),
        float("nan"),
        datetime(2019, 7, 31, 12, 0),
        [[1, 2], "x"],
        b"bytes",
    ],
)
def test_odd_values_never_raise(value: object) -> None:
    ctx = Ctx({"x": value})
    for source in [
        "x == 1",
        "x != 'a'",
        "x < 1",
        "x >= '2019-07-31'",
        "x > d",
        "x in [1, 'a']",
        "'a' in x",
        "selected(x, 'a')",
        "empty(x)",
        "x",
        "not x",
    ]:
        assert isinstance(parse_expression(source).evaluate(ctx), bool)


def test_datetime_answer_against_date_literal_is_false() -> None:
    assert ev("x < '2020-01-01'", Ctx({"x": datetime(2019, 1, 1, 10, 0)})) is False


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a == 1", {"a"}),
        ("a and b or not c", {"a", "b", "c"}),
        ("selected(colors, 'red') and empty(note)", {"colors", "note"}),
        ("count(children) > 0", {"children"}),
        ("x in [y, 1, 'z']", {"x", "y"}),
        ("selected(a, b)", {"a", "b"}),
        ("true", set()),
        ("'a' == \"b\"", set()),
        ("a == a", {"a"}),
    ],
)
def test_references(source: str, expected: set[str]) -> None:
    assert parse_expression(source).references() == frozenset(expected)


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("a ==", 5, "expected a value"),
        ("selected(a)", 11, "selected() takes 2 arguments"),
        ("selected(a, 'x', 'y')", 16, "selected() takes 2 arguments"),
        ("empty(a, b)", 8, "empty() takes 1 argument"),
        ("count()", 7, "count() takes 1 argument"),
        ("foo(a)", 1, "unknown function 'foo'"),
        ("__import__('os')", 1, "unknown function '__import__'"),
        ("a == 'abc", 6, "unterminated string"),
        ('"abc', 1, "unterminated string"),
        ("'a\\nb'", 3, "invalid escape"),
        ("a = 1", 3, "'=='"),
        ("a == 1 == 1", 8, "chained"),
        ("A == 1", 1, "lowercase"),
        ("True", 1, "lowercase"),
        ("a AND b", 3, "lowercase"),
        ("", 1, "end of expression"),
        ("   ", 4, "end of expression"),
        ("(a", 3, "expected ')'"),
        ("a)", 2, "unexpected ')'"),
        ("[1, 2", 6, "expected ',' or ']'"),
        ("a b", 3, "unexpected 'b'"),
        ("a not b", 3, "unexpected 'not'"),
        ("1.", 3, "digits after '.'"),
        ("3abc", 1, "invalid number '3abc'"),
        ("1.2.3", 1, "invalid number"),
        ("a == !b", 6, "unexpected character '!'"),
        ("a.b == 1", 2, "unexpected character '.'"),
        ("a & b", 3, "unexpected character '&'"),
        ("selected('a', 'b')", 10, "needs an item id"),
        ("empty(count(x))", 7, "needs an item id"),
        ("x.__class__", 2, "unexpected character '.'"),
        ("- a", 1, "expected a value"),
        ("1 +", 4, "expected a value"),
        ("today(1)", 7, "today() takes no argument"),
        ("sum()", 5, "sum() needs item ids"),
        ("a.b + 1", 2, "unexpected character '.'"),
        ("a == è", 6, "unexpected character 'è'"),
        ("a == ١", 6, "unexpected character"),
    ],
)
def test_parse_errors(source: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(source)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert f"at column {column}" in str(info.value)


def test_nesting_is_limited() -> None:
    ok = "(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    assert parse_expression(ok).references() == frozenset({"a"})
    with pytest.raises(ExpressionError, match="nesting"):
        parse_expression("(" + ok + ")")
    with pytest.raises(ExpressionError, match="nesting"):
        parse_expression("not " * (MAX_NESTING + 1) + "a")
    with pytest.raises(ExpressionError, match="nesting"):
        parse_expression("[" * 1_000)


def test_long_source_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        parse_expression("a or " * MAX_SOURCE_LENGTH + "a")


def test_parse_is_cached_and_expressions_compare_by_source() -> None:
    assert parse_expression("a == 1") is parse_expression("a == 1")
    assert Expression("a == 1") == parse_expression("a == 1")
    assert hash(Expression("b")) == hash(parse_expression("b"))
    assert parse_expression("a == 1").source == "a == 1"


def test_expression_is_immutable() -> None:
    expr = parse_expression("a")
    with pytest.raises(AttributeError):
        expr.source = "b"  # type: ignore[misc]


@given(st.text(max_size=200))
def test_arbitrary_text_parses_or_raises_expression_error(source: str) -> None:
    try:
        expr = parse_expression(source)
    except ExpressionError:
        return
    assert isinstance(expr.evaluate(Ctx()), bool)


_TOKENS = st.sampled_from(
    [
        "a", "b", "x_1", "and", "or", "not", "in", "==", "!=", "<", "<=", ">", ">=",
        "(", ")", "[", "]", ",", "-", "1", "2.5", "'s'", '"t"', "true", "false", "null",
        "selected", "count", "empty", "+", "*", "/", ".", "today", "sum", "a.b",
    ]
)  # fmt: skip


@given(st.lists(_TOKENS, max_size=25))
def test_token_soup_parses_or_raises_expression_error(tokens: list[str]) -> None:
    ctx = Ctx({"a": ["s"], "b": Decimal("2.5"), "x_1": date(2019, 1, 1)}, {"a": 1})
    try:
        expr = parse_expression(" ".join(tokens))
    except ExpressionError:
        return
    assert isinstance(expr.evaluate(ctx), bool)
