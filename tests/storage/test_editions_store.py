"""storage/editions.py and migration 004 on real SQLite files."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from bot.services.editions import bring_to_version
from conversations.schema import parse_questionnaire
from conversations.state import AnswerSet, Cursor, State
from storage.db import connect
from storage.editions import EditionStore
from storage.store import Change, Store, Submission
from tests.support.editions import V1, V2

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OLD = parse_questionnaire(V1)
NEW = parse_questionnaire(V2)


async def test_migration_4_backfills_the_version_of_earlier_submissions(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = await connect(path, migrate_to=3)
    payload = json.dumps({"questionnaire_version": "2019.1"})
    await db.executescript(f"""
        INSERT INTO responses (response_id, istat, questionnaire_id, questionnaire_version,
            state_json, status, revision, started_at, updated_at)
            VALUES ('q:1', '1', 'q', '2019.2', '{{}}', 'submitted', 1, 'x', 'x');
        INSERT INTO submissions VALUES ('q:1', 1, 'x', 7, '{{}}');
        INSERT INTO outbox (response_id, revision, payload_json, next_attempt_at, created_at)
            VALUES ('q:1', 1, '{payload}', 'x', 'x');
        INSERT INTO answer_changes (response_id, item_ref, old_json, new_json, user_id, at)
            VALUES ('q:1', 'a', 'null', '1', 7, 'x');
    """)
    await db.close()
    db = await connect(path)
    async with db.execute("PRAGMA user_version") as cursor:
        assert (await cursor.fetchone())[0] >= 4
    async with db.execute("SELECT questionnaire_version FROM submissions") as cursor:
        assert [tuple(r) for r in await cursor.fetchall()] == [("2019.1",)]
    async with db.execute("SELECT questionnaire_version FROM answer_changes") as cursor:
        assert [tuple(r) for r in await cursor.fetchall()] == [("2019.2",)]
    await db.close()


async def _response(store: Store, istat: str, state: State, *, user: int) -> None:
    shared, nav = state.split()
    submission = None
    if state.status == "submitted":
        submission = Submission(state.revision, NOW.isoformat(), {"staff": "8"},
                                {"questionnaire_version": state.questionnaire_version})
    await store.record_step(questionnaire_id="centres", istat=istat, state=shared, nav=nav,
                            answered=1, total=5, user_id=user, now=NOW,
                            changes=[Change("staff", None, "8")], submission=submission)


def _v1(status: str = "in_progress") -> State:
    top = AnswerSet(values={"name": "A", "staff": "otto", "kind": "pubblico", "fax": "1"})
    return State("centres", "1", Cursor("item", "staff"), top=top, status=status,
                 revision=1 if status == "submitted" else 0,
                 submitted_at=NOW.isoformat() if status == "submitted" else None)


async def test_bringing_responses_over_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await bring_to_version(store, OLD, V1, NOW)
        await _response(store, "001", _v1(), user=11)
        await _response(store, "002", _v1("submitted"), user=12)

        report = await bring_to_version(store, NEW, V2, NOW)
        assert report.responses == 2 and report.notices == 1 and report.failed == []
        assert report.moves["reask"] == 2 and report.moves["dropped"] == 2

        rows = await store.fetchall("SELECT istat, questionnaire_version, status, state_json "
                                    "FROM responses ORDER BY istat")
        for row in rows:
            assert row[1] == "2"
            values = json.loads(row[3])["top"]["values"]
            assert values == {"name": "A", "kind": "comunale"}
        assert [r[2] for r in rows] == ["in_progress", "submitted"]
        # The submitted revision itself is untouched.
        [(version, answers)] = await store.fetchall(
            "SELECT questionnaire_version, answers_json FROM submissions")
        assert (version, json.loads(answers)) == ("1", {"staff": "8"})

        editions = EditionStore(store)
        notice = await editions.take_notice(11, "centres:001", NOW)
        assert notice is not None and notice.version == "2"
        assert notice.to_review == 2  # staff asked again, budget new
        assert await editions.take_notice(11, "centres:001", NOW) is None  # told once
        assert await editions.take_notice(12, "centres:002", NOW) is None  # submitted

        # A second start on the same version changes nothing.
        again = await bring_to_version(store, NEW, V2, NOW)
        assert again.responses == 0
        [(count,)] = await store.fetchall(
            "SELECT COUNT(*) FROM answer_changes WHERE user_id = 0")
        assert count == 6  # (staff, fax) x 2 responses + kind mapped x 2
    finally:
        await store.close()


async def test_an_unknown_old_version_is_matched_by_id(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await _response(store, "001", _v1(), user=11)  # v1 was never stored
        report = await bring_to_version(store, NEW, V2, NOW)
        assert report.responses == 1
        [(state,)] = await store.fetchall("SELECT state_json FROM responses")
        assert json.loads(state)["top"]["values"] == {"name": "A", "kind": "comunale"}
    finally:
        await store.close()


async def test_a_response_that_cannot_be_brought_over_does_not_stop_the_start(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await bring_to_version(store, OLD, V1, NOW)
        await _response(store, "001", _v1(), user=11)
        await _response(store, "002", _v1(), user=12)
        async with store.transaction() as db:  # a corrupt state
            await db.execute("UPDATE responses SET state_json = ? WHERE istat = '002'",
                             (json.dumps({"questionnaire_id": "centres", "top": 5}),))
        report = await bring_to_version(store, NEW, V2, NOW)
        assert report.responses == 1 and report.failed == ["centres:002"]
    finally:
        await store.close()


async def test_versions_are_stored_once(tmp_path: Path) -> None:
    db: aiosqlite.Connection = await connect(tmp_path / "x.sqlite3")
    store = Store(db)
    editions = EditionStore(store)
    assert await editions.remember("centres", "1", V1, NOW) is True
    assert await editions.remember("centres", "1", "changed", NOW) is False
    assert await editions.source("centres", "1") == V1
    assert await editions.source("centres", "9") is None
    await store.close()


async def test_the_update_is_logged_item_by_item(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await bring_to_version(store, OLD, V1, NOW)
        await _response(store, "001", _v1(), user=11)
        with caplog.at_level(logging.INFO, logger="bot.services.editions"):
            await bring_to_version(store, NEW, V2, NOW)
        lines = [record.getMessage() for record in caplog.records]
        assert "questionnaire centres: update 1 -> 2, item by item:" in lines
        assert "  kind: values mapped ('pubblico' -> 'comunale')" in lines
        assert "  fax: dropped (answers stay in the history)" in lines
        assert "response centres:001: version 1 -> 2, 2 to review" in lines
        assert any(line.startswith("questionnaire centres: 1 responses brought to version 2")
                   for line in lines)
    finally:
        await store.close()
