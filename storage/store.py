"""The one SQLite store: officers, access codes, responses and their history.

Every method that changes something runs in one transaction; `record_step`
writes the new state, the answer history and (on submission) the submission
snapshot and its outbox row together, so nothing acknowledged is ever lost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from storage.db import Statement, connect, on_thread, run_statements, transact


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class Officer:
    user_id: int
    istat: str | None
    language: str
    first_name: str
    username: str | None
    unreachable: bool


@dataclass(frozen=True, slots=True)
class ResponseRow:
    response_id: str
    istat: str
    questionnaire_id: str
    questionnaire_version: str
    state: dict[str, Any]
    status: str
    revision: int
    answered: int
    total: int
    started_at: str
    updated_at: str
    submitted_at: str | None


@dataclass(frozen=True, slots=True)
class Change:
    item_ref: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Submission:
    revision: int
    submitted_at: str
    answers: dict[str, Any]
    payload: dict[str, Any]  # the row pushed to the central database


def response_id(questionnaire_id: str, istat: str) -> str:
    return f"{questionnaire_id}:{istat}"


# Wrong codes older than this count in no window (15 minutes per user, an hour for all).
FAILURES_KEPT = timedelta(days=1)

# A read to batch with others (`Store.fetch_batch`): SQL and its parameters.
Query = tuple[str, Sequence[Any]]


def response_query(rid: str) -> Query:
    return ("SELECT response_id, istat, questionnaire_id, questionnaire_version, state_json, "
            "status, revision, answered, total, started_at, updated_at, submitted_at "
            "FROM responses WHERE response_id = ?", (rid,))


def response_row(row: aiosqlite.Row | None) -> ResponseRow | None:
    if row is None:
        return None
    return ResponseRow(
        row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], row[7], row[8],
        row[9], row[10], row[11],
    )


def place_query(user_id: int) -> Query:
    """The officer's place (`place_row`): in which response, where, since when."""
    return ("SELECT response_id, nav_json, updated_at FROM navigation WHERE user_id = ?",
            (user_id,))


@dataclass(frozen=True, slots=True)
class Place:
    response_id: str
    nav: dict[str, Any]
    updated_at: datetime

    def nav_in(self, rid: str) -> dict[str, Any] | None:
        """The officer's place in that response (None: they are in another one)."""
        return self.nav if self.response_id == rid else None


def place_row(row: aiosqlite.Row | None) -> Place | None:
    if row is None:
        return None
    return Place(row[0], json.loads(row[1]), datetime.fromisoformat(row[2]))


def setting_query(key: str) -> Query:
    return ("SELECT value FROM settings WHERE key = ?", (key,))


class Store:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        return cls(await connect(path))

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, serialised within this process."""
        async with self._write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def write(self, statements: list[Statement]) -> None:
        """One transaction of plain statements, in one hop to the database thread."""
        async with self._write_lock:
            await on_thread(self.db, lambda conn: transact(conn, statements))

    async def fetchone(self, sql: str, *params: Any) -> aiosqlite.Row | None:
        return (await self.fetch_batch([(sql, params)]))[0]

    async def fetch_batch(self, queries: Sequence[Query]) -> list[aiosqlite.Row | None]:
        """The first row of each query, all in one hop to the database thread."""
        def run(conn: Any) -> list[aiosqlite.Row | None]:
            return [conn.execute(sql, params).fetchone() for sql, params in queries]

        rows: list[aiosqlite.Row | None] = await on_thread(self.db, run)
        return rows

    async def fetchall(self, sql: str, *params: Any) -> list[aiosqlite.Row]:
        rows: list[aiosqlite.Row] = await on_thread(
            self.db, lambda conn: conn.execute(sql, params).fetchall())
        return rows

    # --- officers -----------------------------------------------------------
    async def officer(self, user_id: int) -> Officer | None:
        row = await self.fetchone(
            "SELECT user_id, istat, language, first_name, username, unreachable_at "
            "FROM officers WHERE user_id = ?",
            user_id,
        )
        if row is None:
            return None
        return Officer(row[0], row[1], row[2], row[3], row[4], row[5] is not None)

    async def touch_officer(
        self, user_id: int, first_name: str, username: str | None, language: str, now: datetime
    ) -> Officer:
        """Create the officer row on first contact; note the last contact."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO officers (user_id, language, first_name, username, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "first_name = excluded.first_name, username = excluded.username, "
                "last_seen_at = excluded.last_seen_at, unreachable_at = NULL",
                (user_id, language, first_name[:100], username, now.isoformat()),
            )
        officer = await self.officer(user_id)
        assert officer is not None
        return officer

    async def bind_officer(self, user_id: int, istat: str, now: datetime) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE officers SET istat = ?, bound_at = ? WHERE user_id = ?",
                (istat, now.isoformat(), user_id),
            )
            await db.execute("DELETE FROM login_failures WHERE user_id = ?", (user_id,))

    async def officer_activity(self, istat: str) -> list[tuple[int, str | None, str | None]]:
        """(user id, username, last activity) of the officers bound to a municipality."""
        rows = await self.fetchall(
            "SELECT o.user_id, o.username, max(coalesce(o.last_seen_at, ''),"
            " coalesce(n.updated_at, '')) FROM officers AS o"
            " LEFT JOIN navigation AS n ON n.user_id = o.user_id"
            " WHERE o.istat = ? ORDER BY o.user_id",
            istat,
        )
        return [(int(r[0]), r[1], r[2] or None) for r in rows]

    async def set_language(self, user_id: int, language: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE officers SET language = ? WHERE user_id = ?", (language, user_id)
            )

    async def mark_unreachable(self, user_id: int, now: datetime) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE officers SET unreachable_at = ? WHERE user_id = ?",
                (now.isoformat(), user_id),
            )

    async def officers_of(self, istat: str) -> list[Officer]:
        rows = await self.fetchall(
            "SELECT user_id, istat, language, first_name, username, unreachable_at "
            "FROM officers WHERE istat = ? ORDER BY user_id",
            istat,
        )
        return [Officer(r[0], r[1], r[2], r[3], r[4], r[5] is not None) for r in rows]

    # --- access codes -------------------------------------------------------
    async def issue_code(self, istat: str, code_hash: str, actor: str, now: datetime,
                         *, audit_by: int | None = None) -> None:
        """Store a new code for the municipality, revoking the one it had; `audit_by`:
        the operator whose audit row goes in the same transaction."""
        async with self.transaction() as db:
            if audit_by is not None:
                await write_audit(db, audit_by, "code.issue", istat, {}, now)
            await db.execute(
                "UPDATE access_codes SET status = 'revoked', revoked_at = ? "
                "WHERE istat = ? AND status = 'active'",
                (now.isoformat(), istat),
            )
            await db.execute(
                "INSERT INTO access_codes (istat, code_hash, issued_at, issued_by) "
                "VALUES (?, ?, ?, ?)",
                (istat, code_hash, now.isoformat(), actor),
            )

    async def revoke_code(self, istat: str, now: datetime, *, audit_by: int | None = None
                          ) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE access_codes SET status = 'revoked', revoked_at = ? "
                "WHERE istat = ? AND status = 'active'",
                (now.isoformat(), istat),
            )
            changed = cursor.rowcount > 0
            if changed and audit_by is not None:
                await write_audit(db, audit_by, "code.revoke", istat, {}, now)
            # A revoked code must also stop working for those it bound.
            await db.execute("UPDATE officers SET istat = NULL WHERE istat = ?", (istat,))
        return changed

    async def has_active_code(self, istat: str) -> bool:
        row = await self.fetchone(
            "SELECT 1 FROM access_codes WHERE istat = ? AND status = 'active'", istat
        )
        return row is not None

    async def istat_for_code(self, code_hash: str) -> str | None:
        row = await self.fetchone(
            "SELECT istat FROM access_codes WHERE code_hash = ? AND status = 'active'", code_hash
        )
        return str(row[0]) if row else None

    async def record_failure(self, user_id: int, now: datetime) -> None:
        """A wrong code; failures older than any window that reads them are pruned."""
        await self.write([
            ("DELETE FROM login_failures WHERE at < ?", [((now - FAILURES_KEPT).isoformat(),)]),
            ("INSERT INTO login_failures (user_id, at) VALUES (?, ?)",
             [(user_id, now.isoformat())]),
        ])

    async def failures_since(self, user_id: int, since: datetime) -> list[datetime]:
        """Failures strictly after `since`: one made exactly a window ago has expired."""
        rows = await self.fetchall(
            "SELECT at FROM login_failures WHERE user_id = ? AND at > ? ORDER BY at",
            user_id,
            since.isoformat(),
        )
        return [datetime.fromisoformat(r[0]) for r in rows]

    async def all_failures_since(self, since: datetime) -> list[datetime]:
        """Wrong codes of every user strictly after `since`, oldest first."""
        rows = await self.fetchall(
            "SELECT at FROM login_failures WHERE at > ? ORDER BY at", since.isoformat()
        )
        return [datetime.fromisoformat(r[0]) for r in rows]

    async def clear_failures(self, user_id: int) -> int:
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM login_failures WHERE user_id = ?", (user_id,))
            return cursor.rowcount

    # --- responses ----------------------------------------------------------
    async def response(self, questionnaire_id: str, istat: str) -> ResponseRow | None:
        sql, params = response_query(response_id(questionnaire_id, istat))
        return response_row(await self.fetchone(sql, *params))

    async def record_step(
        self,
        *,
        questionnaire_id: str,
        istat: str,
        state: dict[str, Any] | None,
        nav: dict[str, Any] | None,
        answered: int,
        total: int,
        user_id: int,
        now: datetime,
        changes: list[Change],
        submission: Submission | None = None,
        pending_seq: int | None = None,
        also: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None,
    ) -> None:
        """Persist one engine step atomically (state, history, submission, outbox).

        `also`: more writes that belong to the step (a staff action's audit row and
        notices), run last inside the same transaction.

        `state` None: only the officer's navigation moved (a look at the review,
        a resume), so the response and its "last saved" time stay as they were.
        `pending_seq`: the step has a prompt still to deliver to this officer (cleared
        by `mark_delivered`; a restart redraws what is still marked).
        """
        rid = response_id(questionnaire_id, istat)
        stamp = now.isoformat()
        statements: list[Statement] = []
        if state is not None:
            statements.append((
                "INSERT INTO responses (response_id, istat, questionnaire_id,"
                " questionnaire_version, state_json, status, revision, answered, total,"
                " started_at, updated_at, updated_by, submitted_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (response_id) DO UPDATE SET state_json = excluded.state_json, "
                "questionnaire_version = excluded.questionnaire_version, "
                "status = excluded.status, revision = excluded.revision, "
                "answered = excluded.answered, total = excluded.total, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by, "
                "submitted_at = excluded.submitted_at",
                [(rid, istat, questionnaire_id, state["questionnaire_version"], _json(state),
                  state["status"], state["revision"], answered, total, stamp, stamp, user_id,
                  state.get("submitted_at"))],
            ))
        if nav is not None:
            statements.append((
                "INSERT INTO navigation (user_id, response_id, nav_json, updated_at,"
                " pending_seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "response_id = excluded.response_id, nav_json = excluded.nav_json, "
                "updated_at = excluded.updated_at, pending_seq = excluded.pending_seq",
                [(user_id, rid, _json(nav), stamp, pending_seq)],
            ))
        # Every stored answer keeps the questionnaire version it was given under.
        version = state["questionnaire_version"] if state is not None else None
        if changes:
            statements.append((
                "INSERT INTO answer_changes (response_id, item_ref, old_json, new_json,"
                " user_id, at, questionnaire_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(rid, c.item_ref, _json(c.old), _json(c.new), user_id, stamp, version)
                 for c in changes],
            ))
        if submission is not None:
            statements.append((
                "INSERT INTO submissions (response_id, revision, submitted_at, submitted_by, "
                "answers_json, questionnaire_version) VALUES (?, ?, ?, ?, ?, ?)",
                [(rid, submission.revision, submission.submitted_at, user_id,
                  _json(submission.answers),
                  submission.payload.get("questionnaire_version", version))],
            ))
            statements.append((
                "INSERT INTO outbox (response_id, revision, payload_json, next_attempt_at, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                [(rid, submission.revision, _json(submission.payload), stamp, stamp)],
            ))
        if also is None:  # an officer's step: the whole transaction in one hop
            await self.write(statements)
            return
        async with self.transaction() as db:
            await on_thread(db, lambda conn: run_statements(conn, statements))
            await also(db)

    async def navigation(self, user_id: int, rid: str) -> dict[str, Any] | None:
        """This officer's place in that response (None: not started there)."""
        sql, params = place_query(user_id)
        place = place_row(await self.fetchone(sql, *params))
        return place.nav_in(rid) if place is not None else None

    async def prompt_messages(self, user_id: int) -> list[int]:
        """The messages whose keyboards are live (a long review spans several).

        One id is stored as an integer, several as a JSON list in the same column.
        """
        row = await self.fetchone(
            "SELECT prompt_message_id FROM navigation WHERE user_id = ?", user_id
        )
        if row is None or row[0] is None:
            return []
        value = row[0]
        if isinstance(value, str):
            return [int(v) for v in json.loads(value)]
        return [int(value)]

    async def mark_delivered(self, delivered: list[tuple[int, int | None, list[int]]]) -> None:
        """Record deliveries in one transaction: (officer, step seq delivered or None,
        messages whose buttons are live). A mark is cleared only for the step that was
        delivered: a later step committed meanwhile keeps its own."""
        rows = []
        for user_id, seq, live in delivered:
            value: int | str | None = None
            if len(live) == 1:
                value = live[0]
            elif live:
                value = _json(live)
            rows.append((value, seq, user_id))
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE navigation SET prompt_message_id = ?, pending_seq = CASE "
                "WHEN pending_seq = ? THEN NULL ELSE pending_seq END WHERE user_id = ?",
                rows,
            )

    async def undelivered(self) -> list[int]:
        """Officers whose last committed step may not have reached them."""
        rows = await self.fetchall(
            "SELECT user_id FROM navigation WHERE pending_seq IS NOT NULL ORDER BY user_id"
        )
        return [int(r[0]) for r in rows]

    async def changes(self, questionnaire_id: str, istat: str) -> list[dict[str, Any]]:
        rows = await self.fetchall(
            "SELECT item_ref, old_json, new_json, user_id, at FROM answer_changes "
            "WHERE response_id = ? ORDER BY id",
            response_id(questionnaire_id, istat),
        )
        return [
            {"item": r[0], "old": json.loads(r[1]), "new": json.loads(r[2]), "user_id": r[3],
             "at": r[4]}
            for r in rows
        ]

    async def last_values_by_author(self, rid: str, item_ref: str) -> list[tuple[int, Any]]:
        """Each author's last value for one answer (e.g. the name they gave)."""
        rows = await self.fetchall(
            "SELECT user_id, new_json FROM answer_changes WHERE id IN ("
            "SELECT MAX(id) FROM answer_changes WHERE response_id = ? AND item_ref = ? "
            "GROUP BY user_id)",
            rid, item_ref,
        )
        return [(int(r[0]), json.loads(r[1]) if r[1] is not None else None) for r in rows]

    async def authors(self, rid: str) -> list[int]:
        """Who changed answers of a response, first contributor first."""
        rows = await self.fetchall(
            "SELECT user_id FROM answer_changes WHERE response_id = ? AND item_ref != '_status' "
            "GROUP BY user_id ORDER BY MIN(id)",
            rid,
        )
        return [int(r[0]) for r in rows]

    # --- settings and audit -------------------------------------------------
    async def setting(self, key: str) -> str | None:
        sql, params = setting_query(key)
        row = await self.fetchone(sql, *params)
        return str(row[0]) if row else None

    async def set_setting(self, key: str, value: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def audit(
        self, actor_id: int, action: str, target: str | None, details: dict[str, Any], now: datetime
    ) -> None:
        async with self.transaction() as db:
            await write_audit(db, actor_id, action, target, details, now)


async def write_audit(
    db: aiosqlite.Connection, actor_id: int, action: str, target: str | None,
    details: dict[str, Any], now: datetime,
) -> None:
    """One audit row, inside the caller's transaction (with what it records)."""
    await db.execute(
        "INSERT INTO audit_log (actor_id, action, target, details, at) VALUES (?, ?, ?, ?, ?)",
        (actor_id, action, target, _json(details), now.isoformat()),
    )
