"""Tickets: help requests relayed between officers and the assistance group."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage.store import Store


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    user_id: int
    istat: str | None
    status: str
    created_at: str
    taken_by: int | None
    taken_by_name: str | None
    first_reply_at: str | None
    closed_at: str | None
    thread_id: int | None
    card_message_id: int | None
    context: dict[str, Any]


_COLUMNS = (
    "id, user_id, istat, status, created_at, taken_by, taken_by_name, first_reply_at, "
    "closed_at, thread_id, card_message_id, context_json"
)


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=row[0], user_id=row[1], istat=row[2], status=row[3], created_at=row[4],
        taken_by=row[5], taken_by_name=row[6], first_reply_at=row[7], closed_at=row[8],
        thread_id=row[9], card_message_id=row[10], context=json.loads(row[11]),
    )


class TicketStore:
    """Reads, and writes that take the caller's transaction (`db`), so that a ticket,
    its messages, the outbox rows and the audit row of one step commit together."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    async def insert(db: aiosqlite.Connection, user_id: int, istat: str | None,
                     context: dict[str, Any], now: datetime) -> int:
        cursor = await db.execute(
            "INSERT INTO tickets (user_id, istat, created_at, context_json) VALUES (?, ?, ?, ?)",
            (user_id, istat, now.isoformat(), json.dumps(context, ensure_ascii=False)),
        )
        await db.execute("DELETE FROM help_requests_pending WHERE user_id = ?", (user_id,))
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    async def get(self, ticket_id: int) -> Ticket | None:
        row = await self.store.fetchone(f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", ticket_id)
        return _ticket(row) if row else None

    async def open_for(self, user_id: int) -> Ticket | None:
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS} FROM tickets WHERE user_id = ? AND status = 'open' "
            "ORDER BY id DESC LIMIT 1",
            user_id,
        )
        return _ticket(row) if row else None

    async def by_thread(self, thread_id: int) -> Ticket | None:
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS} FROM tickets WHERE thread_id = ? ORDER BY id DESC LIMIT 1",
            thread_id,
        )
        return _ticket(row) if row else None

    async def by_group_message(self, message_id: int) -> Ticket | None:
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS} FROM tickets WHERE card_message_id = ? OR id = "
            "(SELECT ticket_id FROM ticket_messages WHERE group_message_id = ? LIMIT 1)",
            message_id, message_id,
        )
        return _ticket(row) if row else None

    async def by_officer_message(self, user_id: int, message_id: int) -> Ticket | None:
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS} FROM tickets WHERE user_id = ? AND id = "
            "(SELECT ticket_id FROM ticket_messages WHERE officer_message_id = ? LIMIT 1)",
            user_id, message_id,
        )
        return _ticket(row) if row else None

    async def set_thread(self, ticket_id: int, thread_id: int) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE tickets SET thread_id = ? WHERE id = ?", (thread_id, ticket_id)
            )

    @staticmethod
    async def add_message(
        db: aiosqlite.Connection, ticket_id: int, direction: str, author_id: int,
        text: str | None, officer_message_id: int | None, group_message_id: int | None,
        now: datetime,
    ) -> int:
        """One message of the ticket; where it shows on the other side is filled in when
        its outbox row is delivered."""
        cursor = await db.execute(
            "INSERT INTO ticket_messages (ticket_id, direction, author_id, text, "
            "officer_message_id, group_message_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticket_id, direction, author_id, text, officer_message_id, group_message_id,
             now.isoformat()),
        )
        if direction == "officer":  # the request is made: the next message is an answer
            await db.execute(
                "DELETE FROM help_requests_pending WHERE user_id = ?", (author_id,)
            )
        else:
            # The first operator reply stops the clock and takes the ticket.
            await db.execute(
                "UPDATE tickets SET first_reply_at = COALESCE(first_reply_at, ?), "
                "taken_by = COALESCE(taken_by, ?), taken_at = COALESCE(taken_at, ?) "
                "WHERE id = ?",
                (now.isoformat(), author_id, now.isoformat(), ticket_id),
            )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    @staticmethod
    async def take(db: aiosqlite.Connection, ticket_id: int, operator_id: int, name: str,
                   now: datetime) -> None:
        await db.execute(
            "UPDATE tickets SET taken_by = ?, taken_by_name = ?, taken_at = ? WHERE id = ?",
            (operator_id, name, now.isoformat(), ticket_id),
        )

    @staticmethod
    async def close(db: aiosqlite.Connection, ticket_id: int, operator_id: int,
                    now: datetime) -> bool:
        cursor = await db.execute(
            "UPDATE tickets SET status = 'closed', closed_at = ?, closed_by = ? "
            "WHERE id = ? AND status = 'open'",
            (now.isoformat(), operator_id, ticket_id),
        )
        return cursor.rowcount > 0

    async def open_tickets(self) -> list[Ticket]:
        rows = await self.store.fetchall(
            f"SELECT {_COLUMNS} FROM tickets WHERE status = 'open' ORDER BY id"
        )
        return [_ticket(r) for r in rows]

    async def count_open(self, istat: str) -> int:
        row = await self.store.fetchone(
            "SELECT COUNT(*) FROM tickets WHERE istat = ? AND status = 'open'", istat
        )
        return int(row[0]) if row else 0

    # --- the "next message is a help request" mode ---------------------------------
    async def begin_request(self, user_id: int, ticket_id: int | None, now: datetime) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO help_requests_pending (user_id, ticket_id, since) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET ticket_id = excluded.ticket_id, "
                "since = excluded.since",
                (user_id, ticket_id, now.isoformat()),
            )

    async def pending_request(self, user_id: int) -> tuple[bool, int | None]:
        row = await self.store.fetchone(
            "SELECT ticket_id FROM help_requests_pending WHERE user_id = ?", user_id
        )
        return (row is not None, int(row[0]) if row and row[0] is not None else None)

    async def cancel_request(self, user_id: int) -> None:
        async with self.store.transaction() as db:
            await db.execute("DELETE FROM help_requests_pending WHERE user_id = ?", (user_id,))
