"""How the bot's one connection is set up: durable writes, and a bounded page
cache (SQLite keeps its cache resident once filled)."""

from __future__ import annotations

from pathlib import Path

from storage.db import CACHE_KIB, connect


async def test_the_connection_settings(tmp_path: Path) -> None:
    db = await connect(tmp_path / "bot.sqlite3")
    try:
        settings = {}
        for pragma in ("journal_mode", "synchronous", "foreign_keys", "cache_size"):
            async with db.execute(f"PRAGMA {pragma}") as cursor:
                row = await cursor.fetchone()
                assert row is not None
                settings[pragma] = row[0]
    finally:
        await db.close()
    assert settings == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                        "cache_size": -CACHE_KIB}
    assert CACHE_KIB < 2000  # below SQLite's default of about 2 MiB
