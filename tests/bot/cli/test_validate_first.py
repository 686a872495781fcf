"""`run`, `preview` and `export` refuse a questionnaire `validate` rejects, before
contacting Telegram or opening the database: exit status 2, the validator's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main

BROKEN = """
id: bad
version: "1"
languages: [it]
title: {it: "Prova"}
deadline: 2019-07-31T23:59:00+02:00
sections:
  - id: s
    title: {it: "S"}
    items:
      - {id: a, type: yes_no, text: {it: "A?"}}
      - {id: b, type: text, when: "a == 'si'", text: {it: "B?"}}
"""
PROBLEM = "b: condition compares yes/no item 'a' with 'si'"


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("SURVEYBOT_QUESTIONNAIRE", str(path))
    monkeypatch.setenv("SURVEYBOT_DATABASE", str(tmp_path / "bot.sqlite3"))
    # Nothing listens here: a bot that went ahead would fail differently.
    monkeypatch.setenv("SURVEYBOT_TELEGRAM_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SURVEYBOT_TOKEN", "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    return path


@pytest.mark.parametrize(
    "argv",
    [["run"], ["export", "--format", "csv", "--out", "x.csv"], ["preview", "bad.yaml"]],
)
def test_a_rejected_file_stops_the_command(
    argv: list[str], broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert PROBLEM in err
    assert "Traceback" not in err
    assert not (broken.parent / "bot.sqlite3").exists()  # the database was never opened
    assert not (broken.parent / "x.csv").exists()


def test_validate_prints_the_same_lines(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(broken)]) == 1
    assert PROBLEM in capsys.readouterr().out
