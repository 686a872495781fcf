"""/proroga at the service level, on a real SQLite file: one transaction for the
deadline, the reminder plan, the broadcast to who has not submitted and the audit."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.render.i18n import translator
from bot.runtime import open_services
from bot.telegram.app import Services
from tests.support.coordination_helpers import add_officer, plain_settings, set_response
from tests.support.harness import Clock

COORDINATOR = 7001
ROME = ZoneInfo("Europe/Rome")
FIRENZE, ROMA, MILANO = "048017", "058091", "015146"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    opened = await open_services(plain_settings(tmp_path, coordinators=[COORDINATOR]),
                                 Clock(datetime(2019, 7, 1, 10, 0, tzinfo=ROME)))
    await opened.coordination.reminders.ensure_plan()  # what a start does
    await add_officer(opened.store, 11, FIRENZE)
    await add_officer(opened.store, 21, ROMA)
    await set_response(opened.store, ROMA, "in_progress", answered=3)
    await add_officer(opened.store, 31, MILANO)
    await set_response(opened.store, MILANO, "submitted", answered=40)
    yield opened
    await opened.store.close()


async def snapshot(services: Services) -> dict[str, list[tuple[object, ...]]]:
    store = services.store
    return {
        table: [tuple(r) for r in await store.fetchall(f"SELECT * FROM {table} ORDER BY 1")]
        for table in ("settings", "audit_log", "broadcasts", "broadcast_recipients")
    }


async def test_a_failure_after_the_deadline_write_rolls_everything_back(
    services: Services,
) -> None:
    before = await snapshot(services)
    deadline_before = await services.flow.deadline()
    # A real SQLite failure at the last step of the transaction, the broadcast's row.
    async with services.store.transaction() as db:
        await db.execute("CREATE TRIGGER fail BEFORE INSERT ON broadcasts "
                         "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")

    with pytest.raises(sqlite3.DatabaseError, match="injected failure"):
        await services.coordination.extend(COORDINATOR, translator("it"), "15/09/2019")

    assert await snapshot(services) == before  # no deadline, plan, audit or broadcast
    assert await services.flow.deadline() == deadline_before
    plan = await services.coordination.cstore.plan()
    assert plan is not None and plan.deadline == deadline_before

    async with services.store.transaction() as db:
        await db.execute("DROP TRIGGER fail")
    result = await services.coordination.extend(COORDINATOR, translator("it"), "15/09/2019")
    new = datetime(2019, 9, 15, 23, 59, tzinfo=ROME)
    assert result.broadcast is not None
    assert await services.flow.deadline() == new
    plan = await services.coordination.cstore.plan()
    assert plan is not None and plan.deadline == new
    actions = [r[0] for r in await services.store.fetchall(
        "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["deadline.extend", "broadcast.create"]
    recipients = await services.store.fetchall(
        "SELECT user_id, status FROM broadcast_recipients ORDER BY user_id")
    assert [tuple(r) for r in recipients] == [(11, "pending"), (21, "pending")]  # not Milano


async def test_bad_and_past_dates_change_nothing(services: Services) -> None:
    before = await snapshot(services)
    t = translator("it")
    for argument, expected in (("", "Uso:"), ("domani", "Non riconosco una data"),
                               ("31/02/2019", "Non riconosco una data"),
                               ("30/06/2019 12:00", "già passata")):
        result = await services.coordination.extend(COORDINATOR, t, argument)
        assert result.broadcast is None
        assert expected in result.screens[0].text  # type: ignore[union-attr]
    assert await snapshot(services) == before
