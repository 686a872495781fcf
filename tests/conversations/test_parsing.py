from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.parsing import (
    InputError,
    parse_amount,
    parse_date,
    parse_email,
    parse_integer,
    parse_phone,
    parse_url,
)

RESULT_TYPES: dict[Callable[[str], object], type] = {
    parse_amount: Decimal,
    parse_integer: int,
    parse_date: date,
    parse_email: str,
    parse_phone: str,
    parse_url: str,
}
PARSERS = list(RESULT_TYPES)


def test_input_error_carries_key_and_params() -> None:
    err = InputError("invalid_amount", example="1.234,50")
    assert err.key == "invalid_amount"
    assert err.params == {"example": "1.234,50"}
    assert isinstance(err, ValueError)


# --- amounts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,50", "1234.50"),
        ("€ 1.234", "1234.00"),
        ("1234.5", "1234.50"),
        ("1234,5", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1\u00a0234,50", "1234.50"),
        ("1.234.567", "1234567.00"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567", "1234567.00"),
        ("1,234.56", "1234.56"),
        ("EUR 12", "12.00"),
        ("eur12", "12.00"),
        ("12 €", "12.00"),
        ("12€", "12.00"),
        ("€12,5", "12.50"),
        ("12,00 euro", "12.00"),
        ("12 Euro", "12.00"),
        ("0", "0.00"),
        ("0,5", "0.50"),
        ("1.5", "1.50"),
        ("1.50", "1.50"),
        ("  42  ", "42.00"),
        ("1234", "1234.00"),
        ("007", "7.00"),
        ("999999999999999", "999999999999999.00"),
    ],
)
def test_parse_amount(text: str, expected: str) -> None:
    result = parse_amount(text)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2  # always quantized to cents


@pytest.mark.parametrize(
    "text",
    ["1,234", "1,2345", "1.2345", "1234.567", "0.500", "12,345 €", "1.234,567"],
)
def test_parse_amount_too_many_decimals(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_amount(text)
    assert info.value.key == "amount_too_many_decimals"


@pytest.mark.parametrize("text", ["-5", "-1.234,50", "€ -12", "-€ 12", "−12", "-12 euro"])
def test_parse_amount_negative(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_amount(text)
    assert info.value.key == "amount_negative"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "€",
        "euro",
        "12.",
        ",50",
        ".50",
        "1..234",
        "1.234,56.7",
        "1,234.567,8",
        "1.23.456",
        "12.34.567",
        "1 23",
        "1.234 567",
        "12 34,5",
        "+12",
        "-abc",
        "12 dollari",
        "1e3",
        "1_000",
        "١٢٣",
        "１２３",
        "9999999999999999",
        "1" * 101,
        "1" * 10_000,
    ],
)
def test_parse_amount_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_amount(text)
    assert info.value.key == "invalid_amount"
    assert info.value.params == {"example": "1.234,50"}


# --- integers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234", 1234),
        ("1 234", 1234),
        ("1\u00a0234", 1234),
        ("1234", 1234),
        ("1.234.567", 1234567),
        (" 120 ", 120),
        ("0", 0),
        ("007", 7),
    ],
)
def test_parse_integer(text: str, expected: int) -> None:
    assert parse_integer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.5",
        "1,5",
        "1,234",
        "12.34",
        "1.2345",
        "1.234,00",
        "-1",
        "+1",
        "abc",
        "1 23",
        "0.123",
        "1.234 567",
        "١٢٣",
        "1" * 101,
        "9" * 10_000,
    ],
)
def test_parse_integer_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_integer(text)
    assert info.value.key == "invalid_integer"
    assert info.value.params == {"example": "120"}


# --- dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/07/2019", date(2019, 7, 31)),
        ("31-7-2019", date(2019, 7, 31)),
        ("31.07.2019", date(2019, 7, 31)),
        ("1/2/2019", date(2019, 2, 1)),
        ("31/07/19", date(2019, 7, 31)),
        ("01/01/00", date(2000, 1, 1)),
        ("2019-07-31", date(2019, 7, 31)),
        ("2019-7-1", date(2019, 7, 1)),
        ("31 luglio 2019", date(2019, 7, 31)),
        ("31 Luglio 2019", date(2019, 7, 31)),
        ("31 LUGLIO 2019", date(2019, 7, 31)),
        ("1° agosto 2019", date(2019, 8, 1)),
        ("1 agosto 2019", date(2019, 8, 1)),
        ("31 lug 2019", date(2019, 7, 31)),
        ("31 lug. 2019", date(2019, 7, 31)),
        ("31-lug-2019", date(2019, 7, 31)),
        ("31 July 2019", date(2019, 7, 31)),
        ("31 jul 2019", date(2019, 7, 31)),
        ("July 31, 2019", date(2019, 7, 31)),
        ("1 gennaio 2020", date(2020, 1, 1)),
        ("29 febbraio 2020", date(2020, 2, 29)),
        ("15 marzo 2021", date(2021, 3, 15)),
        ("15 aprile 2021", date(2021, 4, 15)),
        ("15 maggio 2021", date(2021, 5, 15)),
        ("15 may 2021", date(2021, 5, 15)),
        ("15 giugno 2021", date(2021, 6, 15)),
        ("15 settembre 2021", date(2021, 9, 15)),
        ("15 set 2021", date(2021, 9, 15)),
        ("15 ottobre 2021", date(2021, 10, 15)),
        ("15 novembre 2021", date(2021, 11, 15)),
        ("15 dicembre 2021", date(2021, 12, 15)),
        ("15 dec 2021", date(2021, 12, 15)),
        ("  31/07/2019  ", date(2019, 7, 31)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "31/02/2019",
        "29/02/2019",
        "32/01/2019",
        "31/13/2019",
        "00/01/2019",
        "31 febbraio 2019",
        "31/07-2019",
        "31/07/219",
        "2019-02-30",
        "31 foo 2019",
        "luglio 2019x",
        "31 luglio",
        "31/07/1800",
        "31/07/2150",
        "oggi",
        "٣١/٠٧/٢٠١٩",
        "31/07/2019" * 20,
        "1" * 10_000,
    ],
)
def test_parse_date_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_date(text)
    assert info.value.key == "invalid_date"
    assert info.value.params == {"example": "31/07/2019"}


# --- e-mail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nome.cognome@comune.esempio.it", "nome.cognome@comune.esempio.it"),
        (" Nome.Cognome@Comune.Esempio.IT ", "Nome.Cognome@comune.esempio.it"),
        ("ufficio+sociale@comune.x.it", "ufficio+sociale@comune.x.it"),
        ("a_b-c@sub-domain.example.org", "a_b-c@sub-domain.example.org"),
        ("protocollo@pec.comune.firenze.it", "protocollo@pec.comune.firenze.it"),
    ],
)
def test_parse_email(text: str, expected: str) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nome",
        "nome@",
        "@comune.it",
        "nome@comune",
        "nome@comune.i",
        "nome@@comune.it",
        "no me@comune.it",
        "nome.@comune.it",
        ".nome@comune.it",
        "no..me@comune.it",
        "nome@-comune.it",
        "nome@comune-.it",
        "nome@comune..it",
        "nome@comune.it.",
        "nome@comune.1t",
        "nomè@comune.it",
        "a" * 65 + "@comune.it",
        "a@" + "b" * 300 + ".it",
        "a@b." * 3000 + "it",
    ],
)
def test_parse_email_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_email(text)
    assert info.value.key == "invalid_email"
    assert info.value.params == {"example": "nome.cognome@comune.esempio.it"}


# --- phone -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("055.2037349", "+390552037349"),
        ("055 2037349", "+390552037349"),
        ("055-2037349", "+390552037349"),
        ("055/2037349", "+390552037349"),
        ("(055) 2037349", "+390552037349"),
        ("06 67795169", "+390667795169"),
        ("333 1234567", "+393331234567"),
        ("3331234567", "+393331234567"),
        ("+39 333 1234567", "+393331234567"),
        ("+39 055 2037349", "+390552037349"),
        ("0039 06 6779 5169", "+390667795169"),
        ("(+39) 055/203.73.49", "+390552037349"),
        ("+39\u00a0333\u00a01234567", "+393331234567"),
        ("123456", "+39123456"),
        ("12345678901", "+3912345678901"),
    ],
)
def test_parse_phone(text: str, expected: str) -> None:
    assert parse_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12345",
        "123456789012",
        "+39 12345",
        "+41 44 123 45 67",
        "+1 555 1234567",
        "39+3331234567",
        "333 123456a",
        "333,1234567",
        "tel. 333 1234567",
        "٣٣٣١٢٣٤٥٦٧",
        "3" * 101,
        "3" * 10_000,
    ],
)
def test_parse_phone_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_phone(text)
    assert info.value.key == "invalid_phone"
    assert info.value.params == {"example": "055 1234567"}


# --- URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("www.comune.x.it", "https://www.comune.x.it"),
        ("comune.x.it/path", "https://comune.x.it/path"),
        ("comune.x.it/a?b=1#c", "https://comune.x.it/a?b=1#c"),
        ("https://www.comune.x.it", "https://www.comune.x.it"),
        ("http://www.comune.x.it/", "http://www.comune.x.it/"),
        ("HTTPS://WWW.Comune.X.IT/Path", "https://www.comune.x.it/Path"),
        ("comune.x.it:8080/a", "https://comune.x.it:8080/a"),
        ("  www.comune.x.it  ", "https://www.comune.x.it"),
        ("https://comune.forlì.it", "https://comune.forlì.it"),
        ("https://www.comune.x.it/redirect?u=https://a.it", "https://www.comune.x.it/redirect?u=https://a.it"),
        ("https://www.comune.x.it/" + "a" * 150, "https://www.comune.x.it/" + "a" * 150),
    ],
)  # fmt: skip
def test_parse_url(text: str, expected: str) -> None:
    assert parse_url(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "comune",
        "localhost",
        "https://",
        "https://localhost",
        "ftp://comune.x.it",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "mailto:a@comune.x.it",
        "https://user:pw@comune.x.it",
        "https://user@comune.x.it",
        "https://comune..it",
        "https://-comune.it",
        "https://comune.x.it:99999",
        "https://comune.x.it:port",
        "https://1.2.3.4",
        "https://[::1]/",
        "comune.x.it/a b",
        'comune.x.it/"a"',
        "comune.x.it/<script>",
        "https://comune.x.it\\@evil.it",
        "https://comune_x.it",
        "https://" + "a" * 64 + ".it",
        "https://comune.x.it/" + "a" * 3000,
    ],
)
def test_parse_url_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_url(text)
    assert info.value.key == "invalid_url"
    assert info.value.params == {"example": "https://www.comune.esempio.it"}


# --- robustness ------------------------------------------------------------------


@pytest.mark.parametrize("parser", PARSERS)
@given(text=st.text(max_size=300))
def test_arbitrary_text_returns_value_or_input_error(
    parser: Callable[[str], object], text: str
) -> None:
    try:
        result = parser(text)
    except InputError:
        return
    assert type(result) is RESULT_TYPES[parser]


_NUMBERISH = st.text(alphabet="0123456789.,- €euroEUR/:°+()@abcilt", max_size=40)


@pytest.mark.parametrize("parser", PARSERS)
@given(text=_NUMBERISH)
def test_numberish_text_returns_value_or_input_error(
    parser: Callable[[str], object], text: str
) -> None:
    try:
        result = parser(text)
    except InputError:
        return
    assert type(result) is RESULT_TYPES[parser]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    "text", ["1" * 10_000, "1." * 5_000, "a@" * 5_000, "www." * 2_500, " " * 10_000 + "x"]
)
def test_huge_inputs_are_refused(parser: Callable[[str], object], text: str) -> None:
    # How fast: python -m bench.hot_paths.
    with pytest.raises(InputError):
        parser(text)


# --- issue 10: a month without its day, typed "non so" ------------------------------------------


@pytest.mark.parametrize(
    ("text", "example"),
    [("marzo 2018", "01/03/2018"), ("Settembre 2019", "01/09/2019"), ("03/2018", "01/03/2018")],
)
def test_month_and_year_suggests_the_first_of_the_month(text: str, example: str) -> None:
    from conversations.parsing import parse_date

    with pytest.raises(InputError) as raised:
        parse_date(text)
    assert raised.value.key == "date_without_day"
    assert raised.value.params == {"example": example}


@pytest.mark.parametrize("text", ["non so", "Non lo so", "N/A", "n.a.", "non applicabile", "NA"])
def test_unknown_words(text: str) -> None:
    from conversations.answer_parsing import is_unknown_word

    assert is_unknown_word(text)


@pytest.mark.parametrize("text", ["no", "nasa", "non", "sì"])
def test_not_unknown_words(text: str) -> None:
    from conversations.answer_parsing import is_unknown_word

    assert not is_unknown_word(text)
