"""SQLite connection and numbered migrations (PRAGMA user_version)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import aiosqlite

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


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
    """Open the database in WAL mode with foreign keys on, migrated."""
    db = await aiosqlite.connect(str(path), isolation_level=None)
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable across application crashes in WAL mode; FULL also
    # survives power loss, which is what "acknowledged means stored" needs.
    await db.execute("PRAGMA synchronous = FULL")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("PRAGMA busy_timeout = 5000")
    await migrate(db, migrate_to)
    return db
