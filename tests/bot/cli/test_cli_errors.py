"""Every bad setting and file, through the real command in a subprocess.

Each must exit (the subprocess `timeout` turns a hang into a failure), print
one line on stderr naming the setting or file, no traceback, and return 2 for a
setting or file, 1 for the outside world.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tree_under_test import assert_child_imports_this_tree, child_env

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
HANG_GUARD = 60  # seconds: only there so a hang fails instead of blocking


def surveybot(tmp_path: Path, *args: str, wrapper: tuple[str, ...] = (),
              **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    environment = child_env(base, **{"SURVEYBOT_DATABASE": str(tmp_path / "db.sqlite3"), **env})
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "bot", *args], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=HANG_GUARD, check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], status: int,
                   *names: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for name in names:
        assert name in lines[0]
    assert result.returncode == status, result
    return lines[0]


def test_the_children_run_this_tree(tmp_path: Path) -> None:
    assert_child_imports_this_tree(child_env(), tmp_path)


# --- settings ---------------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "value", "says"), [
    ("SURVEYBOT_DEADLINE", "tomorrow", "31/12/2099"),
    ("SURVEYBOT_DEADLINE", "", "31/12/2099"),
    ("SURVEYBOT_DEADLINE", "31/02/2099", "31/12/2099"),
    ("SURVEYBOT_OPERATORS", "12,abc", "'abc' is not a Telegram user id"),
    ("SURVEYBOT_SYNC_INTERVAL", "0", "greater than 0"),
    ("SURVEYBOT_TIMEZONE", "Mars/Base", "not a known time zone"),
    ("SURVEYBOT_LOG_FORMAT", "xml", "'text' or 'json'"),
    ("SURVEYBOT_WRONG_CODES_PER_HOUR", "-1", "greater than or equal to 1"),
])
def test_a_bad_setting_is_one_line_and_status_2(
    tmp_path: Path, setting: str, value: str, says: str
) -> None:
    result = surveybot(tmp_path, "status", **{setting: value})
    one_line_error(result, 2, setting, says)
    assert not (tmp_path / "db.sqlite3").exists()  # checked before anything is touched


@pytest.mark.parametrize("command", [["sync", "status"], ["codes", "issue", "--istat", "048017"],
                                     ["backup", "x.sqlite3"], ["doctor"], ["run"]])
def test_every_command_checks_every_setting(tmp_path: Path, command: list[str]) -> None:
    result = surveybot(tmp_path, *command, SURVEYBOT_TIMEZONE="Mars/Base", SURVEYBOT_TOKEN=TOKEN)
    one_line_error(result, 2, "SURVEYBOT_TIMEZONE")


@pytest.mark.parametrize("deadline", ["31/12/2099", "31/12/2099 23:59", "31 dicembre 2099",
                                      "2099-12-31T23:59:00+01:00"])
def test_deadlines_in_the_forms_people_use_are_accepted(tmp_path: Path, deadline: str) -> None:
    result = surveybot(tmp_path, "status", "--no-list", SURVEYBOT_DEADLINE=deadline)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_secret_is_never_echoed_in_a_settings_error(tmp_path: Path) -> None:
    result = surveybot(tmp_path, "run", SURVEYBOT_TOKEN="hunter2-not-a-token")
    line = one_line_error(result, 2, "SURVEYBOT_TOKEN")
    assert "hunter2" not in line


# --- files -----------------------------------------------------------------------------

@pytest.fixture
def not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite3"
    path.write_text("this is a CSV, not a database\n" * 20)
    return path


@pytest.mark.parametrize("command", [["status"], ["codes", "issue", "--istat", "048017"],
                                     ["run"], ["sync", "status"], ["backup", "copy.sqlite3"]])
def test_a_file_that_is_not_sqlite(tmp_path: Path, not_sqlite: Path, command: list[str]) -> None:
    result = surveybot(tmp_path, *command, SURVEYBOT_TOKEN=TOKEN,
                       SURVEYBOT_LOG_FILE=str(tmp_path / "bot.log"))
    one_line_error(result, 2, str(not_sqlite), "not an SQLite database")


def test_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "db.sqlite3"
    result = surveybot(tmp_path, "status", SURVEYBOT_DATABASE=str(missing))
    one_line_error(result, 2, str(missing), "directory")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A database nobody may write, root included (chattr +i), in rollback mode."""
    path = tmp_path / "db.sqlite3"
    assert surveybot(tmp_path, "codes", "issue", "--istat", "048017").returncode == 0
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = DELETE")
    db.close()
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(path)], check=False, capture_output=True).returncode:
            pytest.skip("root without chattr: cannot make a file read-only here")
    else:
        path.chmod(0o444)
        tmp_path.chmod(0o555)
    yield path
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("command", [["status"], ["codes", "issue", "--istat", "040012"]])
def test_a_read_only_database_exits(tmp_path: Path, read_only: Path, command: list[str]) -> None:
    result = surveybot(tmp_path, *command)
    one_line_error(result, 2, str(read_only), "read-only")


def test_a_locked_database_is_the_outside_world(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    assert surveybot(tmp_path, "status", "--no-list").returncode == 0
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = surveybot(tmp_path, "codes", "issue", "--istat", "048017")
    finally:
        holder.close()
    one_line_error(result, 1, str(path), "locked")


def test_a_full_disk_is_the_outside_world(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    probe = subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True) \
        if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no mount namespace here to make a small file system")
    # A 64 KiB file system in a private mount namespace: the schema does not fit.
    wrapper = ("unshare", "-m", "sh", "-c",
               f'mount -t tmpfs -o size=64k tmpfs "{small}" && exec "$0" "$@"')
    result = surveybot(tmp_path, "status", wrapper=wrapper,
                       SURVEYBOT_DATABASE=str(small / "db.sqlite3"))
    one_line_error(result, 1, str(small / "db.sqlite3"), "disk is full")


def test_codes_out_into_a_missing_directory(tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "codes.csv"
    result = surveybot(tmp_path, "codes", "issue", "--istat", "048017", "--out", str(out))
    one_line_error(result, 2, str(out), "no such file or directory")


# --- the outside world -------------------------------------------------------------------

def test_an_unreachable_telegram_is_retried_then_reported(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    result = surveybot(tmp_path, "run", SURVEYBOT_TOKEN=TOKEN,
                       SURVEYBOT_TELEGRAM_API_URL="http://127.0.0.1:9",
                       SURVEYBOT_STARTUP_ATTEMPTS="3", SURVEYBOT_LOG_FILE=str(log))
    one_line_error(result, 1, "Telegram is not reachable at http://127.0.0.1:9", "3 attempts")
    attempts = [line for line in log.read_text().splitlines() if "not reachable" in line]
    assert len(attempts) == 2  # one line per failed attempt before the last
    assert "attempt 1 of 3" in attempts[0] and "attempt 2 of 3" in attempts[1]
    assert TOKEN not in log.read_text()
