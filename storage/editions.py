"""Questionnaire versions in the database, and applying a version change.

Each version's file is stored when it is first used, so a bot started on v2
can read v1 and bring the responses begun under it to v2. Bringing one
response over is one transaction: its new state, the moved answers in the
history (`answer_changes`, by the system user 0) and a notice for each of its
officers. Submitted revisions (`submissions`, `outbox`) are never touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Change, Query, Store, _json

SYSTEM_USER = 0  # answer_changes written by a questionnaire update, not an officer


@dataclass(frozen=True, slots=True)
class Behind:
    """A response whose state was last saved under another version."""

    response_id: str
    istat: str
    version: str
    status: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    version: str
    to_review: int


def notice_query(user_id: int, response_id: str) -> Query:
    """The officer's unseen update notice of that response (`EditionStore.mark_shown`)."""
    return ("SELECT version, to_review FROM edition_notices WHERE user_id = ? AND "
            "response_id = ? AND shown_at IS NULL ORDER BY created_at DESC LIMIT 1",
            (user_id, response_id))


class EditionStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def remember(self, questionnaire_id: str, version: str, source: str,
                       now: datetime) -> bool:
        """Store this version's file unless known; True when it is new here."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO questionnaire_versions "
                "(questionnaire_id, version, source, first_used_at) VALUES (?, ?, ?, ?)",
                (questionnaire_id, version, source, now.isoformat()),
            )
            return cursor.rowcount > 0

    async def source(self, questionnaire_id: str, version: str) -> str | None:
        row = await self.store.fetchone(
            "SELECT source FROM questionnaire_versions WHERE questionnaire_id = ? AND version = ?",
            questionnaire_id, version,
        )
        return str(row[0]) if row else None

    async def behind(self, questionnaire_id: str, version: str) -> list[Behind]:
        rows = await self.store.fetchall(
            "SELECT response_id, istat, questionnaire_version, status, state_json FROM responses "
            "WHERE questionnaire_id = ? AND questionnaire_version != ? ORDER BY response_id",
            questionnaire_id, version,
        )
        return [Behind(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    async def bring_over(
        self, behind: Behind, state: dict[str, Any], *, answered: int, total: int,
        changes: list[Change], to_review: int, now: datetime,
    ) -> int:
        """One response to the new version, in one transaction; officers notified."""
        stamp = now.isoformat()
        version = state["questionnaire_version"]
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE responses SET state_json = ?, questionnaire_version = ?, answered = ?, "
                "total = ? WHERE response_id = ? AND questionnaire_version = ?",
                (_json(state), version, answered, total, behind.response_id, behind.version),
            )
            if cursor.rowcount == 0:
                return 0  # another process brought it over meanwhile
            await db.executemany(
                "INSERT INTO answer_changes (response_id, item_ref, old_json, new_json, user_id,"
                " at, questionnaire_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(behind.response_id, c.item_ref, _json(c.old), _json(c.new), SYSTEM_USER,
                  stamp, version) for c in changes],
            )
            if behind.status != "in_progress":
                return 0  # a submitted response: nothing to tell until it is reopened
            cursor = await db.execute(
                "INSERT OR REPLACE INTO edition_notices (user_id, response_id, version, "
                "to_review, created_at) SELECT user_id, response_id, ?, ?, ? FROM navigation "
                "WHERE response_id = ?",
                (version, to_review, stamp, behind.response_id),
            )
            return cursor.rowcount

    async def take_notice(self, user_id: int, response_id: str, now: datetime) -> Notice | None:
        """The officer's unseen update notice, marked seen (it is shown once)."""
        sql, params = notice_query(user_id, response_id)
        return await self.mark_shown(await self.store.fetchone(sql, *params), user_id,
                                     response_id, now)

    async def mark_shown(self, row: Any, user_id: int, response_id: str,
                         now: datetime) -> Notice | None:
        """The notice `notice_query` found (None: none), marked seen. Every officer step
        reads; a plain read finds nothing almost always, and only a notice to show
        costs a write."""
        if row is None:
            return None
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE edition_notices SET shown_at = ? WHERE user_id = ? AND response_id = ? "
                "AND shown_at IS NULL",
                (now.isoformat(), user_id, response_id),
            )
            if cursor.rowcount == 0:
                return None  # shown meanwhile
        return Notice(str(row[0]), int(row[1]))
