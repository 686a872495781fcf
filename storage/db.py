"""SQLite connection and numbered migrations (PRAGMA user_version)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

T = TypeVar("T")
# One statement and the parameter rows it runs with (executemany: one row or many).
Statement = tuple[str, Sequence[Sequence[Any]]]

CACHE_KIB = 512  # SQLite's page cache per connection
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


async def on_thread(db: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run `fn` with the sqlite3 connection on aiosqlite's worker thread.

    Each aiosqlite call is a hop to its thread and back through the event loop
    (a cursor's execute, fetch and close are three): the hot paths do several
    statements in one hop. aiosqlite has no public call for this; `_execute` is
    what all its own methods use.
    """
    return cast(T, await db._execute(fn, db._conn))  # type: ignore[no-untyped-call]


def run_statements(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    for sql, rows in statements:
        conn.executemany(sql, rows)


def transact(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """BEGIN IMMEDIATE, the statements, COMMIT (ROLLBACK on any error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        run_statements(conn, statements)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) for every shipped migration, in order."""
    folder = resources.files("storage") / "migrations"
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


async def migrate(db: aiosqlite.Connection, target: int | None = None) -> int:
    """Apply pending migrations, each in its own transaction. Returns the version."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    for version, sql in migrations():
        if version <= current or (target is not None and version > target):
            continue
        # Each script holds BEGIN ... PRAGMA user_version = N; COMMIT.
        await db.executescript(sql)
        current = version
    return current


async def connect(path: Path | str, *, migrate_to: int | None = None) -> aiosqlite.Connection:
    """Open the database in WAL mode with foreign keys on, migrated.

    On any error the connection is closed before raising: aiosqlite's worker
    thread is not a daemon, and one left running keeps the process from exiting.
    """
    # Opened once synchronously first: when aiosqlite's own open fails, its worker
    # thread outlives the event loop and dies with a traceback on the way out.
    sqlite3.connect(str(path)).close()
    db = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA busy_timeout = 5000")
        await db.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; FULL also
        # survives power loss, which is what "acknowledged means stored" needs.
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("PRAGMA foreign_keys = ON")
        # SQLite's page cache (2 MiB by default) stays resident once full; the
        # operating system caches the file as well, so a small one costs little.
        await db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        await migrate(db, migrate_to)
    except BaseException:
        await db.close()
        raise
    return db


def _open_existing(path: Path | str) -> sqlite3.Connection:
    """A plain connection that never creates the file."""
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=rw", uri=True)


def schema_version(path: Path | str) -> int:
    """The file's `PRAGMA user_version`, read without changing anything."""
    with closing(_open_existing(path)) as db:
        row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def integrity_problems(path: Path | str) -> list[str]:
    """`PRAGMA integrity_check` of a file: empty when sound."""
    with closing(_open_existing(path)) as db:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found


def backup(source: Path | str, target: Path | str) -> None:
    """A consistent copy of a live database, in one self-contained file.

    SQLite's online backup API copies page by page and restarts on writes by
    other connections, so the copy is one moment of the source even while the
    bot writes. The copy is switched out of WAL mode, so no -wal or -shm file
    belongs to it.
    """
    with closing(_open_existing(source)) as src, \
            closing(sqlite3.connect(str(target))) as dst:
        src.execute("PRAGMA busy_timeout = 5000")
        src.backup(dst, pages=256)
        dst.execute("PRAGMA journal_mode = DELETE")
