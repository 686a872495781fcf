"""Queries for the coordinators' tables: reminders, broadcasts, drafts, progress.

Built on the one `Store` (its connection and its serialised transactions), so
a reminder or recipient row and the officer tables change consistently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.deliveries import RECIPIENTS, REMINDERS
from storage.store import Store, write_audit

PLAN_FROM_KEY = "reminders.planned_from"
PLAN_DEADLINE_KEY = "reminders.deadline"

NOT_STARTED = "not_started"
IN_PROGRESS = "in_progress"
SUBMITTED = "submitted"


def stage_of(status: str | None, answered: int | None) -> str:
    """A municipality's stage from its response row (None: no response yet)."""
    if status == "submitted":
        return SUBMITTED
    if status is not None and (answered or 0) > 0:
        return IN_PROGRESS
    return NOT_STARTED


@dataclass(frozen=True, slots=True)
class Target:
    """A bound officer and where their municipality stands."""

    user_id: int
    istat: str
    language: str
    first_name: str
    username: str | None
    unreachable: bool
    stage: str
    answered: int
    total: int
    revision: int = 0  # > 0 while in progress: submitted before, then reopened


@dataclass(frozen=True, slots=True)
class Draft:
    coordinator_id: int
    stage: str
    text: str | None
    audience: str | None
    region: str | None
    message_id: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    coordinator_id: int
    kind: str
    text: str
    audience: str
    region: str | None
    language: str
    status: str
    total: int
    excluded: int
    progress_chat_id: int | None
    progress_message_id: int | None
    restarts: int
    created_at: str
    finished_at: str | None


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    istat: str | None
    language: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    user_id: int
    istat: str | None
    first_name: str
    username: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    planned_from: datetime
    deadline: datetime


class CoordinationStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- officers and municipalities ----------------------------------------------
    async def targets(self, questionnaire_id: str) -> list[Target]:
        """Every officer bound to a municipality, with that municipality's stage."""
        rows = await self.store.fetchall(
            "SELECT o.user_id, o.istat, o.language, o.first_name, o.username, o.unreachable_at, "
            "r.status, r.answered, r.total, r.revision FROM officers o LEFT JOIN responses r "
            "ON r.istat = o.istat AND r.questionnaire_id = ? "
            "WHERE o.istat IS NOT NULL ORDER BY o.user_id",
            questionnaire_id,
        )
        return [
            Target(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), r[4], r[5] is not None,
                   stage_of(r[6], r[7]), int(r[7] or 0), int(r[8] or 0), int(r[9] or 0))
            for r in rows
        ]

    async def target(self, questionnaire_id: str, user_id: int) -> Target | None:
        row = await self.store.fetchone(
            "SELECT o.user_id, o.istat, o.language, o.first_name, o.username, o.unreachable_at, "
            "r.status, r.answered, r.total, r.revision FROM officers o LEFT JOIN responses r "
            "ON r.istat = o.istat AND r.questionnaire_id = ? WHERE o.user_id = ?",
            questionnaire_id, user_id,
        )
        if row is None or row[1] is None:
            return None
        return Target(int(row[0]), str(row[1]), str(row[2]), str(row[3] or ""), row[4],
                      row[5] is not None, stage_of(row[6], row[7]), int(row[7] or 0),
                      int(row[8] or 0), int(row[9] or 0))

    async def municipality_stages(self, questionnaire_id: str) -> dict[str, str]:
        """Stage of every municipality with an active access code or a response."""
        stages = {
            str(r[0]): NOT_STARTED
            for r in await self.store.fetchall(
                "SELECT istat FROM access_codes WHERE status = 'active'"
            )
        }
        for r in await self.store.fetchall(
            "SELECT istat, status, answered FROM responses WHERE questionnaire_id = ?",
            questionnaire_id,
        ):
            stages[str(r[0])] = stage_of(r[1], r[2])
        return stages

    async def reopened(self, questionnaire_id: str) -> set[str]:
        """Municipalities that submitted, then reopened: in progress again, not yet resent."""
        rows = await self.store.fetchall(
            "SELECT istat FROM responses WHERE questionnaire_id = ? "
            "AND status = 'in_progress' AND revision > 0",
            questionnaire_id,
        )
        return {str(r[0]) for r in rows}

    # --- reminders -------------------------------------------------------------------
    async def plan(self) -> Plan | None:
        start = await self.store.setting(PLAN_FROM_KEY)
        deadline = await self.store.setting(PLAN_DEADLINE_KEY)
        if start is None or deadline is None:
            return None
        return Plan(datetime.fromisoformat(start), datetime.fromisoformat(deadline))

    async def set_plan(self, planned_from: datetime, deadline: datetime, now: datetime) -> None:
        """Plan the slots of this deadline afresh: none due before `planned_from` goes out,
        and a slot still being sent stops (its officers are told about the change anyway)."""
        async with self.store.transaction() as db:
            await self._write_plan(db, planned_from, deadline, now)

    @classmethod
    async def _write_plan(cls, db: aiosqlite.Connection, planned_from: datetime,
                          deadline: datetime, now: datetime) -> None:
        for key, value in ((PLAN_FROM_KEY, planned_from.isoformat()),
                           (PLAN_DEADLINE_KEY, deadline.isoformat())):
            await _write_setting(db, key, value)
        await cls._supersede_running(db, keep=None, now=now)

    @staticmethod
    async def _supersede_running(
        db: aiosqlite.Connection, keep: str | None, now: datetime
    ) -> None:
        stamp = now.isoformat()
        await db.execute(
            "UPDATE reminders SET status = 'superseded', updated_at = ? WHERE status = 'pending' "
            "AND slot IN (SELECT slot FROM reminder_slots WHERE status = 'running' AND slot != ?)",
            (stamp, keep or ""),
        )
        await db.execute(
            "UPDATE reminder_slots SET status = 'superseded', closed_at = ? "
            "WHERE status = 'running' AND slot != ?",
            (stamp, keep or ""),
        )

    async def slot_status(self, slot: str) -> str | None:
        row = await self.store.fetchone("SELECT status FROM reminder_slots WHERE slot = ?", slot)
        return str(row[0]) if row else None

    async def open_slot(
        self,
        slot: str,
        deadline: datetime,
        missed: Sequence[str],
        audience: Iterable[tuple[int, str]],
        now: datetime,
    ) -> int:
        """Record the slot and one pending row per officer in one transaction; the missed
        earlier slots are recorded as superseded, and so is any slot still running."""
        stamp = now.isoformat()
        rows = [(slot, user_id, istat, stamp) for user_id, istat in audience]
        async with self.store.transaction() as db:
            await self._supersede_running(db, keep=slot, now=now)
            await db.executemany(
                "INSERT OR IGNORE INTO reminder_slots (slot, deadline, status, opened_at, "
                "closed_at) VALUES (?, ?, 'superseded', ?, ?)",
                [(m, deadline.isoformat(), stamp, stamp) for m in missed],
            )
            await db.execute(
                "INSERT OR IGNORE INTO reminder_slots (slot, deadline, status, recipients, "
                "opened_at) VALUES (?, ?, 'running', ?, ?)",
                (slot, deadline.isoformat(), len(rows), stamp),
            )
            await db.executemany(
                "INSERT OR IGNORE INTO reminders (slot, user_id, istat, updated_at) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    async def running_slots(self) -> list[str]:
        rows = await self.store.fetchall(
            "SELECT slot FROM reminder_slots WHERE status = 'running' ORDER BY slot"
        )
        return [str(r[0]) for r in rows]

    async def pending_reminders(self, slot: str) -> list[tuple[int, str]]:
        rows = await self.store.fetchall(
            "SELECT user_id, istat FROM reminders WHERE slot = ? AND status = 'pending' "
            "ORDER BY user_id",
            slot,
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def mark_reminder(
        self, slot: str, user_id: int, status: str, now: datetime, detail: str | None = None
    ) -> None:
        await REMINDERS.settle(self.store, (slot, user_id), status, now, detail)

    async def close_slot_if_done(self, slot: str, now: datetime) -> bool:
        async with self.store.transaction() as db:
            async with db.execute(
                "SELECT COUNT(*) FROM reminders "
                "WHERE slot = ? AND status IN ('pending', 'sending')",
                (slot,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and int(row[0]) > 0:
                return False
            await db.execute(
                "UPDATE reminder_slots SET status = 'done', closed_at = ? "
                "WHERE slot = ? AND status = 'running'",
                (now.isoformat(), slot),
            )
        return True

    async def slots(self) -> list[tuple[str, str]]:
        rows = await self.store.fetchall("SELECT slot, status FROM reminder_slots ORDER BY slot")
        return [(str(r[0]), str(r[1])) for r in rows]

    async def recover_reminders(self, now: datetime) -> int:
        """After a crash: a reminder left 'sending' may have gone out; never send it again."""
        return len(await REMINDERS.recover(self.store, now))

    # --- drafts ----------------------------------------------------------------------
    async def draft(self, coordinator_id: int) -> Draft | None:
        row = await self.store.fetchone(
            "SELECT coordinator_id, stage, text, audience, region, message_id, updated_at "
            "FROM broadcast_drafts WHERE coordinator_id = ?",
            coordinator_id,
        )
        if row is None:
            return None
        return Draft(int(row[0]), str(row[1]), row[2], row[3], row[4],
                     int(row[5]) if row[5] is not None else None,
                     datetime.fromisoformat(row[6]))

    async def save_draft(
        self,
        coordinator_id: int,
        stage: str,
        now: datetime,
        *,
        text: str | None = None,
        audience: str | None = None,
        region: str | None = None,
        message_id: int | None = None,
    ) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO broadcast_drafts (coordinator_id, stage, text, audience, region, "
                "message_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (coordinator_id) DO UPDATE SET stage = excluded.stage, "
                "text = excluded.text, audience = excluded.audience, region = excluded.region, "
                "message_id = excluded.message_id, updated_at = excluded.updated_at",
                (coordinator_id, stage, text, audience, region, message_id, now.isoformat()),
            )

    async def delete_draft(self, coordinator_id: int) -> bool:
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM broadcast_drafts WHERE coordinator_id = ?", (coordinator_id,)
            )
            return cursor.rowcount > 0

    # --- broadcasts --------------------------------------------------------------------
    async def create_broadcast(
        self,
        *,
        coordinator_id: int,
        kind: str,
        text: str,
        audience: str,
        region: str | None,
        language: str,
        recipients: Sequence[Recipient],
        excluded: int,
        now: datetime,
        progress: tuple[int, int] | None = None,
        from_draft: bool = False,
    ) -> int | None:
        """Record the broadcast and all its recipients ('pending') in one transaction.

        With `from_draft`, the coordinator's draft must still be at the preview and is
        consumed in the same transaction (None if it is not: a doubled "Conferma")."""
        async with self.store.transaction() as db:
            if from_draft:
                cursor = await db.execute(
                    "DELETE FROM broadcast_drafts WHERE coordinator_id = ? AND stage = 'preview'",
                    (coordinator_id,),
                )
                if cursor.rowcount == 0:
                    return None
            return await self._insert_broadcast(
                db, coordinator_id=coordinator_id, kind=kind, text=text, audience=audience,
                region=region, language=language, recipients=recipients, excluded=excluded,
                now=now, progress=progress,
            )

    @staticmethod
    async def _insert_broadcast(
        db: aiosqlite.Connection, *, coordinator_id: int, kind: str, text: str, audience: str,
        region: str | None, language: str, recipients: Sequence[Recipient], excluded: int,
        now: datetime, progress: tuple[int, int] | None = None,
    ) -> int:
        stamp = now.isoformat()
        cursor = await db.execute(
            "INSERT INTO broadcasts (coordinator_id, kind, text, audience, region, language, "
            "total, excluded, progress_chat_id, progress_message_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (coordinator_id, kind, text, audience, region, language, len(recipients),
             excluded, progress[0] if progress else None, progress[1] if progress else None,
             stamp),
        )
        broadcast_id = cursor.lastrowid
        assert broadcast_id is not None
        await db.executemany(
            "INSERT OR IGNORE INTO broadcast_recipients (broadcast_id, user_id, istat, "
            "language, updated_at) VALUES (?, ?, ?, ?, ?)",
            [(broadcast_id, r.user_id, r.istat, r.language, stamp) for r in recipients],
        )
        await write_audit(
            db, coordinator_id, "broadcast.create", str(broadcast_id),
            {"kind": kind, "audience": audience, "region": region,
             "recipients": len(recipients), "excluded_unreachable": excluded}, now,
        )
        return int(broadcast_id)

    async def extend_deadline(
        self,
        *,
        coordinator_id: int,
        setting_key: str,
        old: datetime,
        new: datetime,
        language: str,
        audience: str,
        recipients: Sequence[Recipient],
        excluded: int,
        now: datetime,
    ) -> int:
        """A /proroga in one transaction: the deadline, a fresh reminder plan, the
        broadcast that tells the officers (with its recipients) and both audit rows.
        Returns the broadcast's id."""
        async with self.store.transaction() as db:
            await _write_setting(db, setting_key, new.isoformat())
            await self._write_plan(db, now, new, now)
            await write_audit(db, coordinator_id, "deadline.extend", None,
                              {"old": old.isoformat(), "new": new.isoformat()}, now)
            return await self._insert_broadcast(
                db, coordinator_id=coordinator_id, kind="extension", text=new.isoformat(),
                audience=audience, region=None, language=language, recipients=recipients,
                excluded=excluded, now=now,
            )

    async def set_progress_message(self, broadcast_id: int, chat_id: int, message_id: int) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE broadcasts SET progress_chat_id = ?, progress_message_id = ? WHERE id = ?",
                (chat_id, message_id, broadcast_id),
            )

    async def broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = await self.store.fetchone(
            "SELECT id, coordinator_id, kind, text, audience, region, language, status, total, "
            "excluded, progress_chat_id, progress_message_id, restarts, created_at, finished_at "
            "FROM broadcasts WHERE id = ?",
            broadcast_id,
        )
        if row is None:
            return None
        return Broadcast(
            int(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4]), row[5], str(row[6]),
            str(row[7]), int(row[8]), int(row[9]), row[10], row[11], int(row[12]), str(row[13]),
            row[14],
        )

    async def unfinished_broadcasts(self) -> list[int]:
        rows = await self.store.fetchall(
            "SELECT id FROM broadcasts WHERE status = 'sending' ORDER BY id"
        )
        return [int(r[0]) for r in rows]

    async def recover_broadcasts(self, now: datetime) -> int:
        """After a crash: recipients left 'sending' may have received the message, and
        Telegram cannot tell; they become 'unknown' and are never sent to again."""
        ambiguous = await RECIPIENTS.recover(self.store, now)
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE broadcasts SET restarts = restarts + 1 WHERE status = 'sending'"
            )
        return len(ambiguous)

    async def pending_recipients(self, broadcast_id: int) -> list[Recipient]:
        rows = await self.store.fetchall(
            "SELECT user_id, istat, language FROM broadcast_recipients "
            "WHERE broadcast_id = ? AND status = 'pending' ORDER BY user_id",
            broadcast_id,
        )
        return [Recipient(int(r[0]), r[1], str(r[2])) for r in rows]

    async def mark_recipient(
        self, broadcast_id: int, user_id: int, status: str, now: datetime,
        error: str | None = None,
    ) -> None:
        await RECIPIENTS.settle(self.store, (broadcast_id, user_id), status, now, error)

    async def recipient_counts(self, broadcast_id: int) -> dict[str, int]:
        rows = await self.store.fetchall(
            "SELECT status, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ? "
            "GROUP BY status",
            broadcast_id,
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def recipients_with(
        self, broadcast_id: int, statuses: Sequence[str]
    ) -> list[Unreachable]:
        """Recipients in those states, with what the team needs to phone them."""
        marks = ", ".join("?" for _ in statuses)
        rows = await self.store.fetchall(
            "SELECT b.user_id, b.istat, COALESCE(o.first_name, ''), o.username "
            "FROM broadcast_recipients b LEFT JOIN officers o ON o.user_id = b.user_id "
            f"WHERE b.broadcast_id = ? AND b.status IN ({marks}) ORDER BY b.istat, b.user_id",
            broadcast_id, *statuses,
        )
        return [Unreachable(int(r[0]), r[1], str(r[2]), r[3]) for r in rows]

    async def finish_broadcast(self, broadcast_id: int, now: datetime) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ?",
                (now.isoformat(), broadcast_id),
            )


async def _write_setting(db: aiosqlite.Connection, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
