"""The store's queries about several officers of one response, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.store import Change, Store, response_id

NOW = datetime(2019, 7, 1, 9, 0, tzinfo=UTC)
MARIO, ANNA, CARLO = 1001, 1002, 1003
RID = response_id("q", "048017")


async def step(store: Store, user: int, changes: list[Change], minutes: int) -> None:
    state = {"questionnaire_version": "1", "status": "in_progress", "revision": 0}
    await store.record_step(
        questionnaire_id="q", istat="048017", state=state, nav={"cursor": {"kind": "review"}},
        answered=0, total=1, user_id=user, now=NOW + timedelta(minutes=minutes),
        changes=changes,
    )


async def test_authors_names_and_activity(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        for user, name in ((MARIO, "Mario"), (ANNA, "Anna"), (CARLO, "Carlo")):
            await store.touch_officer(user, name, None, "it", NOW)
        await store.bind_officer(MARIO, "048017", NOW)
        await store.bind_officer(ANNA, "048017", NOW)
        await step(store, ANNA, [Change("role", None, "Ufficio")], 1)
        await step(store, MARIO, [Change("respondent_name", None, "Mario Rossi")], 2)
        await step(store, MARIO, [Change("respondent_name", "Mario Rossi", "M. Rossi")], 3)
        await step(store, ANNA, [Change("respondent_name", "M. Rossi", "Anna Bianchi")], 4)
        await step(store, CARLO, [Change("_status", "submitted", "in_progress")], 5)

        # First contributor first; a staff reopening is not working on the answers.
        assert await store.authors(RID) == [ANNA, MARIO]
        assert sorted(await store.last_values_by_author(RID, "respondent_name")) == [
            (MARIO, "M. Rossi"), (ANNA, "Anna Bianchi")]
        activity = await store.officer_activity("048017")
        assert activity == [(MARIO, None, (NOW + timedelta(minutes=3)).isoformat()),
                            (ANNA, None, (NOW + timedelta(minutes=4)).isoformat())]
    finally:
        await store.close()
