"""Logging for operations: no secret or access code at any level, JSON lines,
a size-capped file, identical errors rate-limited."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import logs
from bot.settings import Settings
from conversations import access_codes

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # configure() closes the handlers it replaces: keep pytest's own out of its reach,
    # or they come back closed and a later test's log record fails on them.
    for handler in handlers:
        root.removeHandler(handler)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def configured(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "bot.log"
    settings = Settings(token=SecretStr(TOKEN),
                        code_secret=SecretStr("the-code-secret"),
                        central_token=SecretStr("central-jwt-value"), log_file=path, **values)
    logs.configure(settings)
    return path


def test_secrets_and_access_codes_never_reach_the_log(tmp_path: Path, restore_root: None) -> None:
    path = configured(tmp_path, log_level="DEBUG")
    code = access_codes.generate()
    log = logging.getLogger("surveybot.test")
    log.debug("POST https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info("keys: %s %s", "the-code-secret", "central-jwt-value")
    log.warning("officer typed %s and %s", code, code.replace("-", "").lower())
    try:
        raise ValueError(f"boom with {TOKEN} and {code}")
    except ValueError:
        log.exception("failed")
    written = path.read_text()
    for secret in (TOKEN, "the-code-secret", "central-jwt-value", code,
                   code.replace("-", "").lower()):
        assert secret not in written
    assert written.count(logs.REDACTED) >= 7
    # What is not a code stays readable: ISTAT codes, user ids, words.
    log.warning("municipality 048017, user 1234567890, STRUCTURED data")
    assert "048017, user 1234567890, STRUCTURED data" in path.read_text()


def test_json_format_is_one_object_per_line(tmp_path: Path, restore_root: None) -> None:
    path = configured(tmp_path, log_format="json")
    log = logging.getLogger("surveybot.test")
    log.info("first line\nwith a break")
    try:
        raise RuntimeError("inside")
    except RuntimeError:
        log.exception("second")
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["message"] for e in entries] == ["first line\nwith a break", "second"]
    assert entries[1]["level"] == "ERROR" and "RuntimeError: inside" in entries[1]["exception"]
    assert all(e["logger"] == "surveybot.test" and e["time"] for e in entries)


def test_the_log_file_rotates_within_its_cap(tmp_path: Path, restore_root: None) -> None:
    path = configured(tmp_path, log_max_bytes=10_000)
    log = logging.getLogger("surveybot.test")
    for n in range(2_000):
        log.info("line %d %s", n, "x" * 80)
    files = sorted(tmp_path.glob("bot.log*"))
    assert len(files) == 1 + logs.BACKUP_FILES
    assert all(f.stat().st_size <= 10_000 + 200 for f in files)
    assert "line 1999" in path.read_text()


def test_identical_errors_are_rate_limited(tmp_path: Path, restore_root: None) -> None:
    path = configured(tmp_path)
    log = logging.getLogger("surveybot.test")
    for n in range(50):
        log.error("sync pass failed: %s", n)
    log.info("an ordinary line")
    lines = path.read_text().splitlines()
    assert len([line for line in lines if "sync pass failed" in line]) == 3
    assert "an ordinary line" in lines[-1]


def test_telegram_never_logs_an_unreadable_update(tmp_path: Path, restore_root: None) -> None:
    path = configured(tmp_path)
    logging.getLogger("telegram.ext._utils.webhookhandler").critical(
        "Something went wrong. Received data was: %r", {"message": {"text": "Mario Rossi"}})
    written = path.read_text()
    assert "Something went wrong" in written and "Mario Rossi" not in written
