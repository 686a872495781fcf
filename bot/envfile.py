r"""A `.env` file read as python-dotenv (and so pydantic-settings) reads one.

    # a comment
    export SURVEYBOT_TOKEN=123456:ABC...     # `export ` is allowed
    SURVEYBOT_TIMEZONE = Europe/Rome         # an inline comment after a space
    SURVEYBOT_CODE_SECRET='it\'s'            # single quotes: only \' and \\ escapes
    SURVEYBOT_CENTRAL_URL="${HOST}/rest/v1"  # double quotes: \n, \t... escapes

Every value (single-quoted ones too, as python-dotenv does) expands `${NAME}`
and `${NAME:-default}` from the lines above first, then from the process
environment. A bare `NAME` line is skipped. A line that is not `NAME=value`
is an `EnvFileError` naming its number but not its text, which may hold a
secret (python-dotenv warns and skips it; a setting lost to a typo is worth
a clear stop).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_NAME = re.compile(r"[^=#\s'\"]+")
_EXPANSION = re.compile(r"\$\{([^}:]+)(?::-([^}]*))?\}")
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
                   "b": "\b", "f": "\f", "v": "\v", "a": "\a"}


class EnvFileError(ValueError):
    """A line of the .env file that is not NAME=value; str() names the line."""


def read_env_file(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """NAME -> value from the file at `path` (nothing when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return parse_env(text, environ)
    except EnvFileError as error:
        raise EnvFileError(f"{path}: {error}") from None


def parse_env(text: str, environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    rest = text
    number = 1
    while rest:
        line, rest, used = _next_entry(rest, number)
        number += used
        if line is None:
            continue
        name, value = line
        values[name] = _expand(value, environ, values)
    return values


def _next_entry(text: str, number: int) -> tuple[tuple[str, str] | None, str, int]:
    """The first entry of `text` (name, value), what follows it, the lines it used."""
    line, newline, rest = text.partition("\n")
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None, rest, 1
    body = stripped.removeprefix("export ").lstrip()
    name_match = _NAME.match(body)
    after = body[name_match.end():].lstrip() if name_match else ""
    if name_match is not None and not after:
        return None, rest, 1  # a bare NAME: no value
    if name_match is None or not after.startswith("="):
        raise EnvFileError(f"line {number}: expected NAME=value")
    name, value = name_match[0], after[1:].lstrip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        # A quoted value may go on over the following lines.
        whole = value + newline + rest
        end = _closing(whole, quote)
        if end is None:
            raise EnvFileError(f"line {number}: {name}: the {quote} is never closed")
        raw, after_value = whole[1:end], whole[end + 1:]
        tail, _, rest = after_value.partition("\n")
        if tail.strip() and not tail.strip().startswith("#"):
            raise EnvFileError(f"line {number}: {name}: text after the closing {quote}")
        used = raw.count("\n") + 1
        return (name, _unescape(raw, quote)), rest, used
    value = re.split(r"\s#", value, maxsplit=1)[0].strip()
    return (name, value), rest, 1


def _closing(text: str, quote: str) -> int | None:
    index = 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index
        index += 1
    return None


def _unescape(raw: str, quote: str) -> str:
    if quote == "'":
        return re.sub(r"\\([\\'])", r"\1", raw)
    return re.sub(r"\\(.)", lambda m: _DOUBLE_ESCAPES.get(m[1], m[0]), raw, flags=re.DOTALL)


def _expand(value: str, environ: Mapping[str, str], earlier: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, default = match[1], match[2] or ""
        return earlier.get(name, environ.get(name, default))

    return _EXPANSION.sub(one, value)
