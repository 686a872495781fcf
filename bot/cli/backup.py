"""`surveybot backup FILE` and `surveybot restore FILE`.

A backup is one self-contained SQLite file (no -wal beside it), a consistent
copy of the live database made with SQLite's online backup API while the bot
keeps writing, checked with `PRAGMA integrity_check` before it gets its name.
A restore refuses while a bot holds the database, keeps the file it replaces
(with its -wal) beside it, and checks the result.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cli.errors import OUTSIDE, CliError
from bot.cli.running import holding, running_pid
from bot.settings import Settings
from storage import db

SIDE_FILES = ("-wal", "-shm")


def add_commands(subparsers: Any) -> None:
    backup = subparsers.add_parser(
        "backup", help="copy the live database into one self-contained, checked file")
    backup.add_argument("file", type=Path, metavar="FILE")
    backup.set_defaults(handler=lambda s, a: make_backup(s.database, a.file))
    restore = subparsers.add_parser(
        "restore", help="replace the database with a backup (the bot must be stopped)")
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.set_defaults(handler=lambda s, a: restore_backup(s, a.file))


def make_backup(database: Path, target: Path, out: TextIO = sys.stdout) -> int:
    if not database.is_file():
        raise CliError(f"{database}: no such database (check SURVEYBOT_DATABASE)")
    if target.exists():
        raise CliError(f"{target}: already exists (a backup never overwrites a file)")
    partial = target.with_name(target.name + ".partial")
    try:
        db.backup(database, partial)
        problems = db.integrity_problems(partial)
        if problems:
            raise CliError(f"{target}: the copy failed its integrity check ({problems[0]})",
                           OUTSIDE)
        os.replace(partial, target)
    finally:
        _remove(partial)
    version = db.schema_version(target)
    size = f"{target.stat().st_size:,}".replace(",", ".")  # Italian thousands
    print(f"backup: {target} ({size} bytes, schema version {version}, integrity ok)", file=out)
    return 0


def restore_backup(settings: Settings, source: Path, out: TextIO = sys.stdout) -> int:
    database = settings.database
    if not source.is_file():
        raise CliError(f"{source}: no such file")
    _check_backup(source)
    lock = settings.lock_path()
    pid = running_pid(lock)
    if pid is not None:
        raise CliError(f"{database}: a bot (pid {pid or '?'}) is running on it; stop it "
                       "before restoring", OUTSIDE)
    # Held while we work, so a bot cannot start on a half-restored file.
    with holding(lock):
        kept = _set_aside(database)
        partial = database.with_name(database.name + ".restoring")
        try:
            db.backup(source, partial)
            os.replace(partial, database)
        finally:
            _remove(partial)
        problems = db.integrity_problems(database)
        if problems:
            raise CliError(f"{database}: integrity check failed after restoring ({problems[0]})",
                           OUTSIDE)
    print(f"restored {database} from {source}", file=out)
    if kept is not None:
        print(f"the previous database is kept as {kept}", file=out)
    return 0


def _check_backup(source: Path) -> None:
    latest = len(db.migrations())
    try:
        problems = db.integrity_problems(source)
    except sqlite3.DatabaseError as error:
        raise CliError(f"{source}: not a backup ({error})") from None
    if problems:
        raise CliError(f"{source}: not a sound backup ({problems[0]})")
    version = db.schema_version(source)
    if version > latest:
        raise CliError(f"{source}: made by a newer surveybot (schema {version}, this one "
                       f"knows up to {latest})")


def _set_aside(database: Path) -> Path | None:
    """Move the current database and its -wal/-shm out of the way, never deleting."""
    if not database.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = database.with_name(f"{database.name}.before-restore-{stamp}")
    os.replace(database, kept)
    for suffix in SIDE_FILES:
        side = database.with_name(database.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    return kept


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    for suffix in ("-journal", *SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()

