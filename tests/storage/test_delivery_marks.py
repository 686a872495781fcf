"""The "prompt to deliver" mark: set by the step's transaction, cleared by the
sender for that step only, and kept by a database migrated from version 5."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from storage.db import connect
from storage.store import Store

NOW = datetime(2019, 7, 1, 9, 30, tzinfo=UTC)
STATE = {"questionnaire_version": "2019", "status": "in_progress", "revision": 0}


async def step(store: Store, user_id: int, seq: int) -> None:
    await store.record_step(
        questionnaire_id="q", istat="048017", state=STATE, nav={"seq": seq}, answered=0,
        total=8, user_id=user_id, now=NOW, changes=[], pending_seq=seq,
    )


async def test_a_mark_is_cleared_only_for_the_step_that_was_delivered(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await step(store, 1, seq=4)
        await step(store, 2, seq=9)
        assert await store.undelivered() == [1, 2]
        await step(store, 1, seq=5)  # a newer step, committed before the flush
        await store.mark_delivered([(1, 4, [11]), (2, 9, [21, 22])])
        assert await store.undelivered() == [1]  # step 5 is still to deliver
        assert await store.prompt_messages(1) == [11]
        assert await store.prompt_messages(2) == [21, 22]
        await store.mark_delivered([(1, 5, [])])
        assert await store.undelivered() == []
        assert await store.prompt_messages(1) == []
    finally:
        await store.close()


async def test_navigation_rows_of_version_5_survive_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await connect(path, migrate_to=5)
    await db.execute(
        "INSERT INTO navigation (user_id, response_id, nav_json, prompt_message_id, updated_at)"
        " VALUES (7, 'q:048017', '{\"seq\": 3}', 42, ?)", (NOW.isoformat(),)
    )
    await db.close()
    store = await Store.open(path)
    try:
        async with store.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        assert row is not None and row[0] >= 6
        assert await store.prompt_messages(7) == [42]
        assert await store.undelivered() == []  # nothing was marked before the migration
        assert await store.navigation(7, "q:048017") == {"seq": 3}
    finally:
        await store.close()
