"""Rows that stand for one message to deliver, and the life they share.

Broadcast recipients, reminders and the staff outbox (ticket cards, relayed
replies) all follow one pattern: a row is written 'pending' with the commit
that decides the message; it goes 'sending' (committed) right before the Bot
API call and to its outcome right after. A row found 'sending' after a crash
may or may not have been delivered, and Telegram offers no way to ask: it
becomes 'unknown' and is never sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Store

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"
INTERRUPTED = "interrupted while sending"


@dataclass(frozen=True, slots=True)
class DeliveryTable:
    """One table of deliveries: its name, the columns naming a row, where the last
    error goes and whether it counts attempts."""

    table: str
    key: tuple[str, ...]
    detail: str = "error"
    attempts: bool = False

    def _where(self) -> str:
        return " AND ".join(f"{column} = ?" for column in self.key)

    async def claim(self, store: Store, key: Sequence[Any], now: datetime) -> bool:
        """pending -> sending, committed before the Bot API call; False when the row
        was not pending any more (then nothing may be sent)."""
        count = ", attempts = attempts + 1" if self.attempts else ""
        async with store.transaction() as db:
            cursor = await db.execute(
                f"UPDATE {self.table} SET status = '{SENDING}', updated_at = ?{count} "
                f"WHERE {self._where()} AND status = '{PENDING}'",
                (now.isoformat(), *key),
            )
            return cursor.rowcount == 1

    async def settle(self, store: Store, key: Sequence[Any], status: str, now: datetime,
                     detail: str | None = None) -> None:
        async with store.transaction() as db:
            await db.execute(
                f"UPDATE {self.table} SET status = ?, {self.detail} = ?, updated_at = ? "
                f"WHERE {self._where()}",
                (status, detail, now.isoformat(), *key),
            )

    async def recover(self, store: Store, now: datetime) -> list[tuple[Any, ...]]:
        """After a crash: every row left 'sending' becomes 'unknown'; their keys."""
        async with store.transaction() as db:
            async with db.execute(
                f"SELECT {', '.join(self.key)} FROM {self.table} WHERE status = '{SENDING}'"
            ) as cursor:
                keys = [tuple(row) for row in await cursor.fetchall()]
            await db.execute(
                f"UPDATE {self.table} SET status = '{UNKNOWN}', {self.detail} = ?, "
                f"updated_at = ? WHERE status = '{SENDING}'",
                (INTERRUPTED, now.isoformat()),
            )
        return keys


RECIPIENTS = DeliveryTable("broadcast_recipients", ("broadcast_id", "user_id"), attempts=True)
REMINDERS = DeliveryTable("reminders", ("slot", "user_id"), detail="detail")
OUTGOING = DeliveryTable("outgoing", ("id",), attempts=True)
