"""Shared helpers of the coordinators' tests (reminders, broadcasts, progress)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.render.presenter import Button
from bot.services.delivery import Failure, SendFailure
from bot.settings import Settings
from storage.store import Store, response_id

QID = "family_policies"
NOW = datetime(2019, 7, 1, 9, 30, tzinfo=UTC)


@dataclass
class FakeTransport:
    """Records what would have been sent; blocked users answer 403."""

    sent: list[tuple[int, str, list[list[Button]] | None]] = field(default_factory=list)
    edits: list[tuple[int, int, str]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)

    async def send(self, chat_id: int, text: str, buttons: list[list[Button]] | None = None
                   ) -> int:
        if chat_id in self.blocked:
            raise SendFailure(Failure.UNREACHABLE, "Forbidden: bot was blocked by the user")
        self.sent.append((chat_id, text, buttons))
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        self.edits.append((chat_id, message_id, text))

    def to(self, chat_id: int) -> list[str]:
        return [text for chat, text, _ in self.sent if chat == chat_id]


def plain_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database": tmp_path / "surveybot.sqlite3",
        "code_secret": SecretStr("test-secret"),
        "token": SecretStr("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
    }
    values.update(overrides)
    return Settings(**values)


async def add_officer(store: Store, user_id: int, istat: str, *, name: str = "",
                      username: str | None = None, language: str = "it",
                      now: datetime = NOW) -> None:
    await store.touch_officer(user_id, name or f"Referente {user_id}", username, language, now)
    await store.bind_officer(user_id, istat, now)


async def set_response(store: Store, istat: str, status: str, answered: int, total: int = 40,
                       now: datetime = NOW) -> None:
    """A response row as the flow would leave it (the state itself is not used here)."""
    state = {"questionnaire_version": "2019.1", "status": status,
             "revision": 1 if status == "submitted" else 0}
    stamp = now.isoformat()
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO responses (response_id, istat, questionnaire_id, questionnaire_version, "
            "state_json, status, revision, answered, total, started_at, updated_at) "
            "VALUES (?, ?, ?, '2019.1', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (response_id) DO UPDATE "
            "SET status = excluded.status, answered = excluded.answered, total = excluded.total",
            (response_id(QID, istat), istat, QID, json.dumps(state), status, state["revision"],
             answered, total, stamp, stamp),
        )


async def issue_codes(store: Store, istats: list[str], now: datetime = NOW) -> None:
    for index, istat in enumerate(istats):
        await store.issue_code(istat, f"hash-{istat}-{index}", "test", now)


async def one(store: Store, sql: str, *params: Any) -> Any:
    """The one row a query must return."""
    row = await store.fetchone(sql, *params)
    assert row is not None, sql
    return row


async def reminder_counts(store: Store, slot: str) -> dict[str, int]:
    """Reminder outcomes of one slot, by status."""
    rows = await store.fetchall(
        "SELECT status, COUNT(*) FROM reminders WHERE slot = ? GROUP BY status", slot
    )
    return {str(r[0]): int(r[1]) for r in rows}
