"""Every failure of a command as one line and an exit status.

2: a setting or a file is wrong (the operator fixes it); 1: the outside world
failed (network, a locked database, a full disk: retrying later may work).
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import httpx
from pydantic import ValidationError
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError

from bot.settings import SettingsError

BAD_INPUT = 2
OUTSIDE = 1


class CliError(Exception):
    """A failure the command reports as one line."""

    def __init__(self, message: str, status: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


def explain(error: BaseException, database: Path | None) -> CliError | None:
    """The one line for a known kind of failure; None for a bug."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, SettingsError):
        return CliError(str(error), BAD_INPUT)
    if isinstance(error, sqlite3.Error):
        return _database(error, database)
    if isinstance(error, OSError):
        return _file(error)
    if isinstance(error, InvalidToken):
        return CliError("SURVEYBOT_TOKEN was refused by Telegram (check it with @BotFather)")
    if isinstance(error, Forbidden):
        return CliError(f"Telegram refused the request: {error.message}", OUTSIDE)
    if isinstance(error, NetworkError | httpx.TransportError):
        return CliError(f"cannot reach the server: {error}", OUTSIDE)
    if isinstance(error, TelegramError):
        return CliError(f"Telegram answered: {error.message}", OUTSIDE)
    if isinstance(error, ValidationError) and error.title == "Questionnaire":
        return CliError(f"the questionnaire file is not valid ({error.error_count()} problems): "
                        "run `surveybot validate FILE` to see them")
    return None


def _database(error: sqlite3.Error, database: Path | None) -> CliError:
    name = str(database) if database is not None else "the database"
    text = str(error).lower()
    if "not a database" in text or "malformed" in text:
        return CliError(f"{name}: not an SQLite database or damaged "
                        "(point SURVEYBOT_DATABASE at the right file or restore a backup)")
    if "readonly" in text or "read-only" in text:
        return CliError(f"{name}: read-only (the bot must be able to write the file and its "
                        "directory)")
    if "unable to open" in text:
        return CliError(f"{name}: cannot be opened (does its directory exist, and may we "
                        "write there?)")
    if "locked" in text or "busy" in text:
        return CliError(f"{name}: locked by another process for more than 5 s (try again)",
                        OUTSIDE)
    if "full" in text:
        return CliError(f"{name}: the disk is full (free some space and try again)", OUTSIDE)
    if "disk i/o" in text:
        return CliError(f"{name}: disk I/O error (check the disk)", OUTSIDE)
    return CliError(f"{name}: {error}", OUTSIDE)


def _file(error: OSError) -> CliError:
    name = error.filename or "a file"
    if error.errno == errno.ENOSPC:
        return CliError(f"{name}: the disk is full (free some space and try again)", OUTSIDE)
    if error.errno == errno.ENOENT:
        return CliError(f"{name}: no such file or directory")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CliError(f"{name}: permission denied")
    if error.errno == errno.EISDIR:
        return CliError(f"{name}: is a directory, not a file")
    return CliError(f"{name}: {error.strerror or error}", OUTSIDE if error.filename is None
                    else BAD_INPUT)
