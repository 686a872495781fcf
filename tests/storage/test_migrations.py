"""Upgrading a database from every earlier schema version, with data in it.

For each version k from 0 (empty) to N-1, a database is grown the way a real one
is: migrated one version at a time, and after each migration v the rows a bot at
version v would have written (`SEEDS[v]`). Then it is opened the way the bot
opens it (`Store.open`, which migrates to the latest) and:

* every row is still there, with every column that still exists unchanged;
* the schema (`sqlite_master`) and `user_version` equal a fresh database's;
* the current code reads the old rows back.

Versions come from `storage.db.migrations()`, so a new migration file is picked
up by itself. Give its tables realistic rows in `SEEDS`; until then they get one
generic row each, made from their declared columns (`generic_row`), so that the
upgrade through later migrations still carries data. A migration that changes
existing data on purpose lists the table in `REWRITTEN` with the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from storage.coordination_store import CoordinationStore
from storage.db import connect, migrate, migrations
from storage.store import Store
from storage.sync import outbox_status
from storage.ticket_store import TicketStore

LATEST = len(migrations())
QID = "family_policies"
FIRENZE, PRATO, MILANO = "048017", "100005", "015146"
T0 = "2019-07-01T09:30:00+00:00"
T1 = "2019-07-02T15:12:40.512034+00:00"

Row = dict[str, Any]

# Tables whose rows a migration rewrites on purpose: table -> why (none so far).
REWRITTEN: dict[str, str] = {}


def _state(values: dict[str, Any], status: str, revision: int, submitted_at: str | None
           ) -> str:
    """A response's shared state as the bot stores it (State.split()'s first half)."""
    return json.dumps({
        "questionnaire_id": QID, "questionnaire_version": "2019.1",
        "top": {"values": values, "skipped": ["district_name"], "unknown": [], "other": {},
                "key": ""},
        "repeats": {}, "closed_repeats": [], "entry_serial": 0,
        "status": status, "revision": revision, "submitted_at": submitted_at,
    }, ensure_ascii=False, separators=(",", ":"))


def _nav(kind: str, item: str | None, seq: int) -> str:
    return json.dumps({
        "cursor": {"kind": kind, "item": item, "entry": None}, "history": [item] if item else [],
        "pending": None, "walk": "next_unanswered", "return_to": None, "seq": seq, "anchors": {},
    })


FIRENZE_ANSWERS = {"municipality_confirmed": True, "respondent_name": "Niccolò D’Annunzio"}
PRATO_ANSWERS = {"municipality_confirmed": True, "respondent_name": "Anna Bianchi",
                 "publish_consent": True}

# Rows written by a bot running at each schema version (only that version's new tables).
SEEDS: dict[int, list[tuple[str, Row]]] = {
    1: [
        ("access_codes", {"id": 1, "istat": FIRENZE, "code_hash": "a" * 64, "status": "revoked",
                          "issued_at": T0, "issued_by": "cli", "revoked_at": T1}),
        ("access_codes", {"id": 2, "istat": FIRENZE, "code_hash": "b" * 64, "status": "active",
                          "issued_at": T1, "issued_by": "staff:7001", "revoked_at": None}),
        ("access_codes", {"id": 3, "istat": PRATO, "code_hash": "c" * 64, "status": "active",
                          "issued_at": T0, "issued_by": "cli", "revoked_at": None}),
        ("officers", {"user_id": 1001, "istat": FIRENZE, "language": "it", "first_name": "Giulia",
                      "username": "giulia_fi", "bound_at": T0, "last_seen_at": T1,
                      "unreachable_at": None}),
        ("officers", {"user_id": 1002, "istat": FIRENZE, "language": "en", "first_name": "Tom",
                      "username": None, "bound_at": T1, "last_seen_at": T1,
                      "unreachable_at": None}),
        ("officers", {"user_id": 1003, "istat": PRATO, "language": "it", "first_name": "Anna",
                      "username": "anna_po", "bound_at": T0, "last_seen_at": T0,
                      "unreachable_at": T1}),
        ("officers", {"user_id": 1004, "istat": None, "language": "it", "first_name": "Ugo",
                      "username": None, "bound_at": None, "last_seen_at": T1,
                      "unreachable_at": None}),
        ("login_failures", {"id": 1, "user_id": 1004, "at": T0}),
        ("login_failures", {"id": 2, "user_id": 1004, "at": T1}),
        ("responses", {"response_id": f"{QID}:{FIRENZE}", "istat": FIRENZE,
                       "questionnaire_id": QID, "questionnaire_version": "2019.1",
                       "state_json": _state(FIRENZE_ANSWERS, "in_progress", 0, None),
                       "status": "in_progress", "revision": 0, "answered": 2, "total": 24,
                       "started_at": T0, "updated_at": T1, "updated_by": 1002,
                       "submitted_at": None}),
        ("responses", {"response_id": f"{QID}:{PRATO}", "istat": PRATO, "questionnaire_id": QID,
                       "questionnaire_version": "2019.1",
                       "state_json": _state(PRATO_ANSWERS, "submitted", 1, T1),
                       "status": "submitted", "revision": 1, "answered": 8, "total": 8,
                       "started_at": T0, "updated_at": T1, "updated_by": 1003,
                       "submitted_at": T1}),
        ("navigation", {"user_id": 1001, "response_id": f"{QID}:{FIRENZE}",
                        "nav_json": _nav("item", "respondent_role", 7),
                        "prompt_message_id": 41, "updated_at": T0}),
        ("navigation", {"user_id": 1002, "response_id": f"{QID}:{FIRENZE}",
                        "nav_json": _nav("review", None, 3),
                        "prompt_message_id": "[12,13]", "updated_at": T1}),
        ("navigation", {"user_id": 1003, "response_id": f"{QID}:{PRATO}",
                        "nav_json": _nav("done", None, 30), "prompt_message_id": None,
                        "updated_at": T1}),
        ("answer_changes", {"id": 1, "response_id": f"{QID}:{FIRENZE}",
                            "item_ref": "municipality_confirmed", "old_json": None,
                            "new_json": "true", "user_id": 1001, "at": T0}),
        ("answer_changes", {"id": 2, "response_id": f"{QID}:{FIRENZE}",
                            "item_ref": "respondent_name", "old_json": '"Niccolo"',
                            "new_json": '"Niccolò D’Annunzio"', "user_id": 1002, "at": T1}),
        ("answer_changes", {"id": 3, "response_id": f"{QID}:{PRATO}",
                            "item_ref": "practices[1].funding_amount", "old_json": None,
                            "new_json": '"1234.50"', "user_id": 1003, "at": T0}),
        ("submissions", {"response_id": f"{QID}:{PRATO}", "revision": 1, "submitted_at": T1,
                         "submitted_by": 1003,
                         "answers_json": json.dumps(PRATO_ANSWERS, ensure_ascii=False)}),
        ("outbox", {"id": 1, "response_id": f"{QID}:{PRATO}", "revision": 1,
                    "payload_json": json.dumps({"istat": PRATO, "answers": PRATO_ANSWERS}),
                    "status": "delivered", "attempts": 2, "next_attempt_at": T1,
                    "last_error": "HTTP 503", "created_at": T1, "delivered_at": T1}),
        ("outbox", {"id": 2, "response_id": f"{QID}:{MILANO}", "revision": 3,
                    "payload_json": "{}", "status": "dead", "attempts": 1,
                    "next_attempt_at": T1, "last_error": "HTTP 422: bad payload",
                    "created_at": T0, "delivered_at": None}),
        ("outbox", {"id": 3, "response_id": f"{QID}:{MILANO}", "revision": 4,
                    "payload_json": "{}", "status": "pending", "attempts": 0,
                    "next_attempt_at": T1, "last_error": None, "created_at": T1,
                    "delivered_at": None}),
        ("audit_log", {"id": 1, "actor_id": 7001, "action": "code.issue", "target": FIRENZE,
                       "details": '{"reissue": true}', "at": T1}),
        ("audit_log", {"id": 2, "actor_id": 1001, "action": "coord.denied",
                       "target": "/annuncio", "details": None, "at": T1}),
        ("settings", {"key": "deadline", "value": "2019-09-15T23:59:00+02:00"}),
    ],
    2: [
        ("tickets", {"id": 1, "user_id": 1001, "istat": FIRENZE, "status": "open",
                     "created_at": T0, "taken_by": 8001, "taken_by_name": "Operatrice",
                     "taken_at": T0, "first_reply_at": T1, "closed_at": None, "closed_by": None,
                     "thread_id": 77, "card_message_id": 78,
                     "context_json": '{"item": "respondent_email", "error": "invalid_email"}'}),
        ("tickets", {"id": 2, "user_id": 1003, "istat": PRATO, "status": "closed",
                     "created_at": T0, "taken_by": None, "taken_by_name": None,
                     "taken_at": None, "first_reply_at": None, "closed_at": T1,
                     "closed_by": 8002, "thread_id": None, "card_message_id": 90,
                     "context_json": "{}"}),
        ("ticket_messages", {"id": 1, "ticket_id": 1, "direction": "officer", "author_id": 1001,
                             "text": "Quale email devo indicare?", "officer_message_id": 50,
                             "group_message_id": 79, "at": T0}),
        ("ticket_messages", {"id": 2, "ticket_id": 1, "direction": "operator",
                             "author_id": 8001, "text": "Quella del servizio va bene.",
                             "officer_message_id": 52, "group_message_id": 80, "at": T1}),
        ("help_requests_pending", {"user_id": 1002, "ticket_id": 1, "since": T1}),
        ("help_requests_pending", {"user_id": 1004, "ticket_id": None, "since": T1}),
    ],
    3: [
        ("reminder_slots", {"slot": "2019-07-17T07:00:00+00:00",
                            "deadline": "2019-07-31T21:59:00+00:00", "status": "done",
                            "recipients": 2, "opened_at": T0, "closed_at": T1}),
        ("reminder_slots", {"slot": "2019-07-24T07:00:00+00:00",
                            "deadline": "2019-07-31T21:59:00+00:00", "status": "running",
                            "recipients": 1, "opened_at": T1, "closed_at": None}),
        ("reminders", {"slot": "2019-07-17T07:00:00+00:00", "user_id": 1001, "istat": FIRENZE,
                       "status": "sent", "detail": None, "updated_at": T0}),
        ("reminders", {"slot": "2019-07-17T07:00:00+00:00", "user_id": 1003, "istat": PRATO,
                       "status": "skipped", "detail": "submitted", "updated_at": T0}),
        ("reminders", {"slot": "2019-07-24T07:00:00+00:00", "user_id": 1002, "istat": FIRENZE,
                       "status": "sending", "detail": None, "updated_at": T1}),
        ("broadcast_drafts", {"coordinator_id": 7001, "stage": "preview",
                              "text": "<b>Promemoria</b>: scadenza il 31 luglio.",
                              "audience": "region", "region": "Toscana", "message_id": 15,
                              "updated_at": T1}),
        ("broadcasts", {"id": 1, "coordinator_id": 7001, "kind": "announcement",
                        "text": "Buongiorno, vi ricordiamo la scadenza.", "audience": "all",
                        "region": None, "language": "it", "status": "done", "total": 3,
                        "excluded": 1, "progress_chat_id": 7001, "progress_message_id": 16,
                        "restarts": 1, "created_at": T0, "finished_at": T1}),
        ("broadcasts", {"id": 2, "coordinator_id": 7002, "kind": "extension",
                        "text": "2019-09-15T23:59:00+02:00", "audience": "not_submitted",
                        "region": None, "language": "en", "status": "sending", "total": 2,
                        "excluded": 0, "progress_chat_id": None, "progress_message_id": None,
                        "restarts": 0, "created_at": T1, "finished_at": None}),
        ("broadcast_recipients", {"broadcast_id": 1, "user_id": 1001, "istat": FIRENZE,
                                  "language": "it", "status": "sent", "attempts": 1,
                                  "error": None, "updated_at": T0}),
        ("broadcast_recipients", {"broadcast_id": 1, "user_id": 1002, "istat": FIRENZE,
                                  "language": "en", "status": "unknown", "attempts": 1,
                                  "error": "interrupted by a restart", "updated_at": T1}),
        ("broadcast_recipients", {"broadcast_id": 2, "user_id": 1001, "istat": FIRENZE,
                                  "language": "it", "status": "pending", "attempts": 0,
                                  "error": None, "updated_at": None}),
    ],
    4: [
        ("questionnaire_versions", {"questionnaire_id": QID, "version": "2019.1",
                                    "source": "id: family_policies\nversion: '2019.1'\n",
                                    "first_used_at": T0}),
        ("edition_notices", {"user_id": 1001, "response_id": f"{QID}:{FIRENZE}",
                             "version": "2019.2", "to_review": 2, "created_at": T1,
                             "shown_at": None}),
    ],
}


# --- a database at version k ----------------------------------------------------------------
async def tables(db: aiosqlite.Connection) -> list[str]:
    async with db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ) as cursor:
        return [str(r[0]) for r in await cursor.fetchall()]


async def insert(db: aiosqlite.Connection, table: str, row: Row) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    await db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


async def generic_row(db: aiosqlite.Connection, table: str) -> Row:
    """A row for a table nobody wrote seeds for: every column filled from its declared
    type, the first value its CHECK (col IN (...)) allows, foreign keys pointing at an
    existing row."""
    async with db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)) as cursor:
        found = await cursor.fetchone()
    assert found is not None
    sql = str(found[0])
    async with db.execute(f"PRAGMA foreign_key_list({table})") as cursor:
        references = {str(r[3]): (str(r[2]), str(r[4])) for r in await cursor.fetchall()}
    row: Row = {}
    async with db.execute(f"PRAGMA table_info({table})") as cursor:
        columns = list(await cursor.fetchall())
    for _, name, declared, _, _, _ in columns:
        name, declared = str(name), str(declared).upper()
        if name in references:
            parent, key = references[name]
            async with db.execute(f"SELECT {key} FROM {parent} LIMIT 1") as cursor:
                parent_row = await cursor.fetchone()
            row[name] = parent_row[0] if parent_row else None
            continue
        allowed = re.search(rf"\b{name}\b[^,]*?CHECK \({name} IN \('([^']*)'", sql, re.S)
        if allowed:
            row[name] = allowed.group(1)
        elif "INT" in declared:
            row[name] = 7
        elif "REAL" in declared or "FLOA" in declared or "DOUB" in declared:
            row[name] = 1.5
        elif name.endswith("_json"):
            row[name] = '{"migrated": true}'
        else:
            row[name] = f"{table}.{name} {T0}"
    return row


async def grow(path: Path, version: int) -> None:
    """Migrate one version at a time up to `version`, writing each version's rows."""
    db = await connect(path, migrate_to=0)
    try:
        for step in range(1, version + 1):
            before = set(await tables(db))
            assert await migrate(db, target=step) == step
            seeds = SEEDS.get(step)
            if seeds is None:
                seeds = [(t, await generic_row(db, t))
                         for t in await tables(db) if t not in before]
            await db.execute("BEGIN")  # each version's rows in one go, as a bot would
            for table, row in seeds:
                await insert(db, table, row)
            await db.execute("COMMIT")
    finally:
        await db.close()


Snapshot = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


async def snapshot(db: aiosqlite.Connection) -> Snapshot:
    """Per table: its columns and its rows."""
    data: Snapshot = {}
    for table in await tables(db):
        async with db.execute(f"SELECT * FROM {table}") as cursor:
            names = [str(d[0]) for d in cursor.description]
            data[table] = (names, [tuple(r) for r in await cursor.fetchall()])
    return data


def kept(shot: Snapshot, table: str, columns: list[str]) -> list[str]:
    """The rows of `table` restricted to `columns`, in a stable order."""
    names, rows = shot[table]
    return sorted(repr([row[names.index(c)] for c in columns]) for row in rows)


async def schema(path: Path) -> tuple[int, list[tuple[str, ...]]]:
    db = await aiosqlite.connect(str(path))
    try:
        async with db.execute("PRAGMA user_version") as cursor:
            found = await cursor.fetchone()
        async with db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ) as cursor:
            rows = [tuple(str(v) for v in r) for r in await cursor.fetchall()]
        return (int(found[0]) if found else -1), rows
    finally:
        await db.close()


# --- the test -------------------------------------------------------------------------------
def test_there_is_a_latest_version_to_upgrade_to() -> None:
    assert LATEST >= 1
    assert sorted(SEEDS) == sorted(set(SEEDS) & set(range(1, LATEST + 1))), (
        "SEEDS names a version that has no migration"
    )


@pytest.mark.parametrize("version", range(LATEST))
async def test_upgrade_keeps_the_data_and_ends_at_the_fresh_schema(
    tmp_path: Path, version: int
) -> None:
    old = tmp_path / f"at-{version}.sqlite3"
    await grow(old, version)
    db = await aiosqlite.connect(str(old))
    try:
        before = await snapshot(db)
    finally:
        await db.close()
    assert bool(before) == (version > 0)
    empty = [t for t, (_, rows) in before.items() if not rows]
    assert empty == [], f"tables without rows at version {version}: {empty}"

    store = await Store.open(old)  # what the bot does at start-up
    try:
        after = await snapshot(store.db)
        async with store.db.execute("PRAGMA foreign_key_check") as cursor:
            assert list(await cursor.fetchall()) == []
    finally:
        await store.close()

    for table, (columns, _) in before.items():
        if table in REWRITTEN:
            continue
        assert table in after, f"table {table} vanished in the upgrade from {version}"
        common = [c for c in columns if c in after[table][0]]
        assert kept(after, table, common) == kept(before, table, common), (
            f"rows of {table} changed in the upgrade from version {version}"
        )

    fresh = tmp_path / "fresh.sqlite3"
    await (await Store.open(fresh)).close()  # created and migrated by opening
    assert await schema(old) == await schema(fresh)
    assert (await schema(old))[0] == LATEST


async def test_the_current_code_reads_rows_written_by_every_version(tmp_path: Path) -> None:
    """Rows from versions 1..3 (the oldest shapes), read through today's repositories."""
    path = tmp_path / "old.sqlite3"
    await grow(path, min(LATEST, 3))
    store = await Store.open(path)
    try:
        officer = await store.officer(1003)
        assert officer is not None and officer.istat == PRATO and officer.unreachable
        response = await store.response(QID, FIRENZE)
        assert response is not None and response.status == "in_progress"
        assert response.state["top"]["values"] == FIRENZE_ANSWERS
        assert await store.setting("deadline") == "2019-09-15T23:59:00+02:00"
        status = await outbox_status(store)
        assert (status.pending, status.delivered, status.dead) == (1, 1, 1)
        ticket = await TicketStore(store).get(1)
        assert ticket is not None and ticket.thread_id == 77
        broadcast = await CoordinationStore(store).broadcast(1)
        assert broadcast is not None and broadcast.restarts == 1
    finally:
        await store.close()
