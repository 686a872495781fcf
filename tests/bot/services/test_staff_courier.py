"""The staff outbox's courier on a real SQLite file, with a scripted transport:
what each kind of failure leaves behind, and what the team is told."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.render.presenter import Button
from bot.runtime import open_services
from bot.services.delivery import Failure, SendFailure
from bot.services.staff_courier import StaffCourier, backoff
from bot.telegram.app import Services
from storage.staff_outbox import TO_OFFICER, enqueue
from tests.support.coordination_helpers import NOW, add_officer, plain_settings
from tests.support.harness import Clock

GROUP = -100777
OFFICER = 1001


@dataclass
class ScriptedTransport:
    """Fails the next sends to a chat as scripted; records the rest."""

    failures: dict[int, list[Failure]] = field(default_factory=dict)
    sent: list[tuple[int, str]] = field(default_factory=list)

    async def send(self, chat_id: int, text: str, buttons: Sequence[Sequence[Button]] = (),
                   *, thread_id: int | None = None, reply_to: int | None = None) -> int:
        script = self.failures.get(chat_id)
        if script:
            raise SendFailure(script.pop(0), "scripted")
        self.sent.append((chat_id, text))
        return len(self.sent)

    async def copy(self, chat_id: int, from_chat_id: int, message_id: int, *,
                   thread_id: int | None = None, reply_to: int | None = None) -> int:
        return await self.send(chat_id, f"copy of {message_id}")

    async def is_forum(self, chat_id: int) -> bool | None:
        return False

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        return None

    async def close_topic(self, chat_id: int, thread_id: int) -> None:
        return None

    async def edit(self, chat_id: int, message_id: int, text: str,
                   buttons: Sequence[Sequence[Button]] = ()) -> None:
        return None

    def to(self, chat_id: int) -> list[str]:
        return [text for chat, text in self.sent if chat == chat_id]


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    opened = await open_services(
        plain_settings(tmp_path, assistance_chat_id=GROUP, operators=[9001]), Clock(NOW))
    await add_officer(opened.store, OFFICER, "048017")
    yield opened
    await opened.store.close()


async def relay(services: Services, text: str) -> int:
    async with services.store.transaction() as db:
        return await enqueue(db, kind=TO_OFFICER, chat_id=OFFICER, text=text,
                             now=services.flow.clock())


def rig(services: Services, **failures: list[Failure]) -> tuple[StaffCourier, ScriptedTransport]:
    transport = ScriptedTransport({OFFICER: failures.get("officer", [])})
    services.staff_courier.transport = transport
    return services.staff_courier, transport


async def status(services: Services, outgoing_id: int) -> tuple[str, int]:
    row = await services.store.fetchone(
        "SELECT status, attempts FROM outgoing WHERE id = ?", outgoing_id)
    assert row is not None
    return str(row[0]), int(row[1])


async def test_ambiguous_is_never_sent_again_and_the_team_is_told(services: Services) -> None:
    courier, transport = rig(services, officer=[Failure.AMBIGUOUS])
    first = await relay(services, "Risposta A")
    assert await courier.flush() == 1  # the team's notice; the relay is settled as unknown
    assert await status(services, first) == ("unknown", 1)
    assert transport.to(OFFICER) == []
    notice = transport.to(GROUP)
    assert len(notice) == 1 and "potrebbe non essere arrivato" in notice[0]
    assert await courier.flush() == 0
    assert transport.to(OFFICER) == []


async def test_refused_and_blocked(services: Services) -> None:
    courier, transport = rig(services, officer=[Failure.REJECTED, Failure.UNREACHABLE])
    refused = await relay(services, "Risposta A")
    blocked = await relay(services, "Risposta B")
    await courier.flush()
    assert await status(services, refused) == ("failed", 1)
    assert await status(services, blocked) == ("unreachable", 1)
    officer = await services.store.officer(OFFICER)
    assert officer is not None and officer.unreachable
    notices = transport.to(GROUP)
    assert len(notices) == 2
    assert "rifiutato" in notices[0] and "bloccato il bot" in notices[1]


async def test_transient_failures_wait_their_turn_and_keep_the_order(services: Services) -> None:
    courier, transport = rig(services, officer=[Failure.SERVER, Failure.NOT_SENT])
    first = await relay(services, "Risposta A")
    second = await relay(services, "Risposta B")
    clock = services.flow.clock
    assert isinstance(clock, Clock)
    assert await courier.flush() == 0
    assert await status(services, first) == ("pending", 1)
    assert await status(services, second) == ("pending", 0)  # held behind the first
    assert await courier.flush() == 0  # not due yet
    clock.now += backoff(1)
    assert await courier.flush() == 0  # NOT_SENT: waits again, longer
    assert await status(services, first) == ("pending", 2)
    clock.now += backoff(2)
    assert await courier.flush() == 2
    assert transport.to(OFFICER) == ["Risposta A", "Risposta B"]
    assert transport.to(GROUP) == []  # nothing to tell: it arrived


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30) == timedelta(minutes=5)
