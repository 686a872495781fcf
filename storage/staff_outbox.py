"""The staff outbox: messages between officers and the assistance group that
must arrive, recorded with the commit that decides them (see migration 004)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage.deliveries import OUTGOING, PENDING, SENT, UNKNOWN
from storage.store import Store

CARD = "card"
TO_GROUP = "to_group"
COPY_TO_GROUP = "copy_to_group"
TO_OFFICER = "to_officer"
COPY_TO_OFFICER = "copy_to_officer"
GROUP_KINDS = (CARD, TO_GROUP, COPY_TO_GROUP)

_COLUMNS = (
    "id, ticket_id, ticket_message_id, kind, chat_id, text, buttons_json, source_chat_id, "
    "source_message_id, status, attempts, next_attempt_at, error, message_id"
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    ticket_id: int | None
    ticket_message_id: int | None
    kind: str
    chat_id: int
    text: str | None
    buttons: list[list[tuple[str, str]]]
    source_chat_id: int | None
    source_message_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    error: str | None
    message_id: int | None


def _outgoing(row: Any) -> Outgoing:
    buttons = [[(str(label), str(data)) for label, data in line]
               for line in json.loads(row[6] or "[]")]
    return Outgoing(
        id=int(row[0]), ticket_id=row[1], ticket_message_id=row[2], kind=str(row[3]),
        chat_id=int(row[4]), text=row[5], buttons=buttons, source_chat_id=row[7],
        source_message_id=row[8], status=str(row[9]), attempts=int(row[10]),
        next_attempt_at=datetime.fromisoformat(row[11]), error=row[12], message_id=row[13],
    )


async def enqueue(
    db: aiosqlite.Connection,
    *,
    kind: str,
    chat_id: int,
    now: datetime,
    ticket_id: int | None = None,
    ticket_message_id: int | None = None,
    text: str | None = None,
    buttons: list[list[tuple[str, str]]] | None = None,
    source: tuple[int, int] | None = None,
) -> int:
    """Record one message to deliver, inside the caller's transaction."""
    stamp = now.isoformat()
    cursor = await db.execute(
        "INSERT INTO outgoing (ticket_id, ticket_message_id, kind, chat_id, text, buttons_json, "
        "source_chat_id, source_message_id, next_attempt_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, ticket_message_id, kind, chat_id, text,
         json.dumps(buttons) if buttons else None,
         source[0] if source else None, source[1] if source else None, stamp, stamp, stamp),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


class StaffOutbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, outgoing_id: int) -> Outgoing | None:
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS} FROM outgoing WHERE id = ?", outgoing_id
        )
        return _outgoing(row) if row else None

    async def pending(self) -> list[Outgoing]:
        """Every row still to deliver, in the order they were decided."""
        rows = await self.store.fetchall(
            f"SELECT {_COLUMNS} FROM outgoing WHERE status = '{PENDING}' ORDER BY id"
        )
        return [_outgoing(r) for r in rows]

    async def claim(self, outgoing_id: int, now: datetime) -> bool:
        return await OUTGOING.claim(self.store, (outgoing_id,), now)

    async def delivered(self, item: Outgoing, message_id: int, now: datetime) -> None:
        """'sent', and where it landed, so replies to it find their ticket."""
        async with self.store.transaction() as db:
            await db.execute(
                f"UPDATE outgoing SET status = '{SENT}', message_id = ?, error = NULL, "
                "updated_at = ? WHERE id = ?",
                (message_id, now.isoformat(), item.id),
            )
            if item.kind == CARD and item.ticket_id is not None:
                await db.execute(
                    "UPDATE tickets SET card_message_id = ? WHERE id = ?",
                    (message_id, item.ticket_id),
                )
            if item.ticket_message_id is not None:
                column = ("group_message_id" if item.kind in GROUP_KINDS
                          else "officer_message_id")
                await db.execute(
                    f"UPDATE ticket_messages SET {column} = ? WHERE id = ?",
                    (message_id, item.ticket_message_id),
                )

    async def postpone(self, outgoing_id: int, until: datetime, error: str, now: datetime
                       ) -> None:
        """Telegram surely did not take it (429, 5xx, not sent): pending again, later."""
        async with self.store.transaction() as db:
            await db.execute(
                f"UPDATE outgoing SET status = '{PENDING}', next_attempt_at = ?, error = ?, "
                "updated_at = ? WHERE id = ?",
                (until.isoformat(), error, now.isoformat(), outgoing_id),
            )

    async def settle(self, outgoing_id: int, status: str, now: datetime,
                     error: str | None = None) -> None:
        await OUTGOING.settle(self.store, (outgoing_id,), status, now, error)

    async def recover(self, now: datetime) -> list[Outgoing]:
        """At start-up: rows a crash left 'sending' become 'unknown'; those rows."""
        keys = await OUTGOING.recover(self.store, now)
        found = [await self.get(int(key[0])) for key in keys]
        return [item for item in found if item is not None]

    async def uncertain_tickets(self) -> set[int]:
        """Tickets with a message whose delivery is uncertain (crash while sending)."""
        rows = await self.store.fetchall(
            f"SELECT DISTINCT ticket_id FROM outgoing WHERE status = '{UNKNOWN}' "
            "AND ticket_id IS NOT NULL"
        )
        return {int(r[0]) for r in rows}
