"""Wrong codes: kept as long as a window reads them, read by time through an index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.store import FAILURES_KEPT, Store

NOW = datetime(2019, 7, 1, 9, 30, tzinfo=UTC)


async def test_failures_past_every_window_are_pruned_as_new_ones_come(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.record_failure(1, NOW - FAILURES_KEPT - timedelta(minutes=1))
        await store.record_failure(2, NOW - timedelta(minutes=50))
        await store.record_failure(3, NOW - timedelta(minutes=5))
        assert len(await store.all_failures_since(NOW - 2 * FAILURES_KEPT)) == 3
        await store.record_failure(3, NOW)
        kept = await store.all_failures_since(NOW - 2 * FAILURES_KEPT)
        assert kept == [NOW - timedelta(minutes=50), NOW - timedelta(minutes=5), NOW]
        assert await store.failures_since(3, NOW - timedelta(minutes=15)) == kept[1:]
        assert await store.all_failures_since(NOW - timedelta(hours=1)) == kept
    finally:
        await store.close()


async def test_the_global_ceiling_reads_by_time(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        plan = await store.fetchall(
            "EXPLAIN QUERY PLAN SELECT at FROM login_failures WHERE at > ? ORDER BY at",
            NOW.isoformat(),
        )
        assert any("login_failures_at" in str(row[-1]) for row in plan), [tuple(r) for r in plan]
    finally:
        await store.close()
