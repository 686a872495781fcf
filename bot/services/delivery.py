"""Getting one message out, for every service that sends: failures as our own
types, the pacer of the broadcasts and reminders, and the paced courier.

Services never see Telegram's exceptions: the transports in `bot.telegram`
turn them into a `SendFailure` that says what matters for a retry: did
Telegram surely not take the message (429, 5xx, a connection refused: send it
again), refuse it for good (4xx), or may it have been delivered (a timeout
after the request left: never send it again)?

Pacing. Telegram allows about 30 messages a second overall and one a second
per chat. The pacer keeps `burst` (30) send slots. A slot is taken when a
request starts and becomes free one second after that request *completed*:
the server saw the request before it answered, so any two sends on the same
slot are at least a second apart at the server and no one-second window there
can hold more than `burst` sends, whatever the network delays. Starts are
also spaced at 1/`rate` s, and a chat is sent to again only a second after its
previous request completed. A new pacer starts as if every slot had just been
used (a restarted process cannot know what the previous one sent in its last
second). Edits create no message: they only wait for their chat and for a 429
pause.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.render.presenter import Button
from storage.deliveries import PENDING, DeliveryTable
from storage.store import Store

log = logging.getLogger(__name__)

TELEGRAM_BURST = 30  # sends in any one second, all chats together
PER_CHAT_INTERVAL = 1.0
CATCH_UP = 0.25  # seconds of delayed starts the pacer may catch up on
NOT_SENT_RETRIES = 3  # surely-not-delivered failures a paced send retries at once
DRAIN_TIMEOUT = 15.0  # on cancellation, how long requests already started may finish

Clock = Callable[[], datetime]


class Failure(StrEnum):
    RETRY_AFTER = "retry_after"  # 429: wait `retry_after` seconds, then again
    NOT_SENT = "not_sent"  # the request never reached Telegram
    SERVER = "server"  # Telegram answered 5xx: it did not take the message
    AMBIGUOUS = "ambiguous"  # it may have been delivered (timeout after sending)
    UNREACHABLE = "unreachable"  # blocked the bot, deactivated, chat not found
    REJECTED = "rejected"  # any other refusal: sending again will not help

    @property
    def transient(self) -> bool:
        return self in (Failure.RETRY_AFTER, Failure.NOT_SENT, Failure.SERVER)


class SendFailure(Exception):
    def __init__(self, failure: Failure, detail: str, retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.retry_after = retry_after


class Outcome(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"  # no longer pending when its turn came: nothing sent, nothing recorded


def outcome_of(failure: Failure) -> Outcome:
    """The final outcome of a failure that is not retried."""
    if failure is Failure.UNREACHABLE:
        return Outcome.UNREACHABLE
    if failure is Failure.AMBIGUOUS:
        return Outcome.UNKNOWN
    return Outcome.FAILED


# --- pacing ----------------------------------------------------------------------------
@dataclass(slots=True)
class Permit:
    chat_id: int
    counted: bool = True  # takes a slot of the overall limit (a new message does)
    released: bool = False


class Pacer:
    """Send slots for the whole process (see the module docstring)."""

    def __init__(
        self,
        rate: float = 29.0,
        *,
        burst: int = TELEGRAM_BURST,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        window: float = 1.0,
        margin: float = 0.002,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.spacing = 1.0 / rate
        self.window = window + margin
        self.per_chat = per_chat_interval + margin
        self._now = monotonic
        self._sleep = sleep  # with `monotonic`, lets tests run the pacer on a fake clock
        self._free: list[float] = [monotonic() + self.window] * max(1, burst)
        self._next_start = 0.0
        self._chats: dict[int, float] = {}  # chat -> when it may be sent to again
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, chat_id: int, *, counted: bool = True) -> Permit:
        """Wait for a slot (first come, first served); cancellation-safe. An uncounted
        permit (an edit: no new message) only waits for the chat and for a 429 pause."""
        async with self._lock:
            while True:
                now = self._now()
                # Every slot in flight, or this chat in flight: infinite, poll.
                free = self._free[0] if self._free else math.inf
                ready = max(self._paused_until, self._chats.get(chat_id, 0.0))
                if counted:
                    ready = max(ready, free, self._next_start)
                if ready <= now:
                    break
                await self._sleep(min(ready - now, 0.05))
            self._chats[chat_id] = math.inf
            if not counted:
                return Permit(chat_id, counted=False)
            heapq.heappop(self._free)
            if now - self._next_start <= CATCH_UP:
                # Paced from the planned start, so that coming back a little late does not
                # slow a broadcast down (the slots still bound any one second).
                self._next_start += self.spacing
            else:  # idle for a while: nothing to catch up on, no burst
                self._next_start = now + self.spacing
            return Permit(chat_id)

    def release(self, permit: Permit) -> None:
        """The request of that permit completed (successfully or not)."""
        if permit.released:
            return
        permit.released = True
        now = self._now()
        if permit.counted:
            heapq.heappush(self._free, now + self.window)
        self._chats[permit.chat_id] = now + self.per_chat
        if len(self._chats) > 20_000:
            self._chats = {c: t for c, t in self._chats.items() if t > now}

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends for that long."""
        self._paused_until = max(self._paused_until, self._now() + seconds)


# --- the paced courier -------------------------------------------------------------------
class Transport(Protocol):
    """What the paced courier needs; `bot.telegram.broadcast_transport` provides it.
    Both raise `SendFailure`."""

    async def send(self, chat_id: int, text: str, buttons: list[list[Button]] | None = None
                   ) -> int: ...

    async def edit(self, chat_id: int, message_id: int, text: str) -> None: ...


Mark = Callable[[], Awaitable[None]]
Claim = Callable[[], Awaitable[bool]]


class Courier:
    """Paced sends with every outcome classified."""

    def __init__(self, pacer: Pacer, transport: Transport | None = None) -> None:
        self.pacer = pacer
        self.transport = transport

    def _transport(self) -> Transport:
        if self.transport is None:
            raise RuntimeError("the courier has no transport yet (the bot has not started)")
        return self.transport

    async def deliver(
        self,
        chat_id: int,
        text: str,
        buttons: list[list[Button]] | None,
        *,
        permit: Permit | None,
        before: Claim,
        retry: Mark,
    ) -> tuple[Outcome, str | None]:
        """Send one message. `before` records 'sending' (False: the row is no longer
        pending, nothing is sent); `retry` puts it back to pending when Telegram surely did
        not take it (429, 5xx, connection refused)."""
        transport = self._transport()
        attempts = 0
        while True:
            if permit is None:
                permit = await self.pacer.acquire(chat_id)
            try:
                proceed = await before()
            except BaseException:
                self.pacer.release(permit)
                raise
            if not proceed:  # someone else settled this row meanwhile
                self.pacer.release(permit)
                return Outcome.SKIPPED, None
            try:
                try:
                    await transport.send(chat_id, text, buttons)
                finally:
                    self.pacer.release(permit)
                    permit = None
            except SendFailure as error:
                if error.failure is Failure.RETRY_AFTER:
                    log.warning("429 for %s: pausing %.1f s, then retrying", chat_id,
                                error.retry_after)
                    self.pacer.pause(error.retry_after)
                    await retry()
                    continue
                if error.failure.transient and attempts < NOT_SENT_RETRIES:
                    attempts += 1
                    await retry()
                    await asyncio.sleep(2.0 ** attempts)
                    continue
                return outcome_of(error.failure), error.detail
            return Outcome.SENT, None

    async def notify(self, chat_id: int, text: str) -> int | None:
        """A paced message to a coordinator (errors logged, never raised)."""
        transport = self._transport()
        for _ in range(3):
            permit = await self.pacer.acquire(chat_id)
            try:
                return await transport.send(chat_id, text)
            except SendFailure as error:
                if error.failure is not Failure.RETRY_AFTER:
                    log.warning("could not send a message to %s: %s", chat_id, error.detail)
                    return None
                self.pacer.pause(error.retry_after)
            finally:
                self.pacer.release(permit)
        return None

    async def edit(self, chat_id: int, message_id: int, text: str) -> bool:
        """A paced edit of a coordinator's message: cosmetic, errors logged, never raised."""
        transport = self._transport()
        permit = await self.pacer.acquire(chat_id, counted=False)
        try:
            await transport.edit(chat_id, message_id, text)
            return True
        except SendFailure as error:
            if error.failure is Failure.RETRY_AFTER:
                self.pacer.pause(error.retry_after)
            log.info("could not edit message %s in %s: %s", message_id, chat_id, error.detail)
        finally:
            self.pacer.release(permit)
        return False


Delivery = Callable[[Permit], Coroutine[Any, Any, Outcome]]  # one send, once permitted


class Fanout:
    """Many paced deliveries at once (a broadcast, a reminder slot): each starts when
    the pacer gives it a slot. Leaving the block waits for all of them; a cancelled
    block lets those already started finish (and be recorded) for a while, so a
    clean stop loses nothing.

        async with Fanout(pacer) as fanout:
            for row in rows:
                await fanout.start(chat_id, lambda permit: deliver_row(...))
        fanout.count(Outcome.SENT)
    """

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self._running: set[asyncio.Task[Outcome]] = set()
        self._all: list[asyncio.Task[Outcome]] = []

    async def start(self, chat_id: int, deliver: Delivery) -> None:
        permit = await self.pacer.acquire(chat_id)
        task = asyncio.create_task(deliver(permit))
        self._running.add(task)
        self._all.append(task)
        task.add_done_callback(self._running.discard)

    async def __aenter__(self) -> Fanout:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and issubclass(kind, asyncio.CancelledError):
            if self._running:
                await asyncio.wait(set(self._running), timeout=DRAIN_TIMEOUT)
            return
        while self._running:
            await asyncio.wait(set(self._running))

    def count(self, outcome: Outcome) -> int:
        return sum(1 for task in self._all
                   if task.done() and not task.cancelled() and task.result() is outcome)


async def deliver_row(
    courier: Courier,
    store: Store,
    table: DeliveryTable,
    key: Sequence[Any],
    chat_id: int,
    render: Callable[[], tuple[str, list[list[Button]] | None]],
    permit: Permit,
    clock: Clock,
) -> Outcome:
    """One row of a delivery table (a broadcast recipient, a reminder): 'sending'
    committed before the call, the outcome after it; a blocked officer is marked
    unreachable. Never raises: a failure is logged and the row left to recovery."""
    try:
        text, buttons = render()

        async def before() -> bool:
            return await table.claim(store, key, clock())

        async def retry() -> None:
            await table.settle(store, key, PENDING, clock())

        outcome, error = await courier.deliver(
            chat_id, text, buttons, permit=permit, before=before, retry=retry
        )
        if outcome is Outcome.SKIPPED:
            return outcome
        await table.settle(store, key, outcome.value, clock(), error)
        if outcome is Outcome.UNREACHABLE:
            await store.mark_unreachable(chat_id, clock())
        return outcome
    except Exception:
        courier.pacer.release(permit)
        log.exception("delivery to %s (%s %s)", chat_id, table.table, tuple(key))
        return Outcome.FAILED
