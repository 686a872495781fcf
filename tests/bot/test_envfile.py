"""Our `.env` reader reads a file as python-dotenv did for pydantic-settings
(python-dotenv is a dev dependency for this comparison only); it stops on a
line it cannot read instead of skipping it."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.envfile import EnvFileError, parse_env, read_env_file

ENVIRON = {"HOST": "db.example.it", "EMPTY": "", "SURVEYBOT_LOG_LEVEL": "DEBUG"}

SAMPLES = {
    "plain": "SURVEYBOT_TOKEN=123456:ABC-def_ghi\nSURVEYBOT_DATABASE=/srv/bot.sqlite3\n",
    "export and spaces": "export SURVEYBOT_TIMEZONE = Europe/Rome  \n  SURVEYBOT_X=1\n",
    "comments": "# top\n\nSURVEYBOT_A=1 # inline\nSURVEYBOT_B=a#b\n   # indented\n",
    "single quotes": "SURVEYBOT_SECRET='it\\'s \\\\ a $ecret # not a comment'\n",
    "double quotes": 'SURVEYBOT_TEXT="line\\none\\ttab \\"q\\" \\\\ \\x"  # c\n',
    "multi-line": 'SURVEYBOT_PEM="-----BEGIN-----\nabc\n-----END-----"\nSURVEYBOT_AFTER=2\n',
    "empty values": "SURVEYBOT_A=\nSURVEYBOT_B=''\nSURVEYBOT_C=\"\"\n",
    "expansion": ("SURVEYBOT_CENTRAL_URL=https://${HOST}/rest/v1\n"
                  'SURVEYBOT_COPY="${SURVEYBOT_CENTRAL_URL}"\n'
                  "SURVEYBOT_D=${MISSING:-fallback} ${EMPTY:-x} ${MISSING}\n"
                  "SURVEYBOT_E='${HOST}'\n"),
    "file before environment in expansion": ("SURVEYBOT_LOG_LEVEL=INFO\n"
                                             "SURVEYBOT_L=${SURVEYBOT_LOG_LEVEL}\n"),
    "repeated name": "SURVEYBOT_A=1\nSURVEYBOT_A=2\n",
    "equals in value": "SURVEYBOT_URL=https://x.it/?a=1&b=2\n",
    "windows line ends": "SURVEYBOT_A=1\r\nSURVEYBOT_B='2'\r\n",
    "unicode": "SURVEYBOT_NOTE=Forlì – Cesena ✅\n",
    "no final newline": "SURVEYBOT_A=1",
}


def dotenv(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=StringIO(text), interpolate=True))


@pytest.mark.parametrize("text", SAMPLES.values(), ids=SAMPLES.keys())
def test_reads_as_python_dotenv(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    ours = parse_env(text, ENVIRON)
    assert ours == dotenv(text)
    assert ours  # every sample sets something


def test_what_the_values_are() -> None:
    values = parse_env(SAMPLES["expansion"] + SAMPLES["multi-line"] + SAMPLES["single quotes"],
                       ENVIRON)
    assert values["SURVEYBOT_CENTRAL_URL"] == "https://db.example.it/rest/v1"
    assert values["SURVEYBOT_COPY"] == "https://db.example.it/rest/v1"
    assert values["SURVEYBOT_D"] == "fallback  "
    assert values["SURVEYBOT_PEM"] == "-----BEGIN-----\nabc\n-----END-----"
    assert values["SURVEYBOT_AFTER"] == "2"
    assert values["SURVEYBOT_SECRET"] == "it's \\ a $ecret # not a comment"


def test_a_bare_name_sets_nothing() -> None:
    assert parse_env("SURVEYBOT_A\nSURVEYBOT_B=1\n", {}) == {"SURVEYBOT_B": "1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SURVEYBOT_A=1\nSURVEYBOT_TOKEN 123456:ABC\n", "line 2: expected NAME=value"),
        ("=value\n", "line 1: expected NAME=value"),
        ('SURVEYBOT_A="never closed\nSURVEYBOT_B=2\n',
         'line 1: SURVEYBOT_A: the " is never closed'),
        ("SURVEYBOT_A='x' y\n", "line 1: SURVEYBOT_A: text after the closing '"),
        ('SURVEYBOT_A="two\nlines"\nSURVEYBOT_B 3\n', "line 3: expected NAME=value"),
    ],
)
def test_a_line_it_cannot_read_is_named(text: str, message: str) -> None:
    with pytest.raises(EnvFileError) as caught:
        parse_env(text, {})
    assert str(caught.value) == message
    assert "123456" not in str(caught.value)  # a line may hold a secret: never echoed


def test_the_file_is_named_and_a_missing_one_is_empty(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / "absent", {}) == {}
    broken = tmp_path / ".env"
    broken.write_text("nonsense here\n", encoding="utf-8")
    with pytest.raises(EnvFileError, match=f"^{broken}: line 1: "):
        read_env_file(broken, {})
