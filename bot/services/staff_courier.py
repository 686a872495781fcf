"""Delivers the staff outbox: ticket cards, officers' messages to the group,
operators' replies to officers, notices to the team.

Every row was committed with the step that decided it. A pass takes the rows
in the order they were decided: each goes 'sending' (committed) before the Bot
API call and 'sent' (with where it landed) after it. What Telegram surely did
not take (429, 5xx, a connection that never opened) goes back to 'pending'
with a backoff and is tried again until delivered; what may have arrived (a
timeout after the request left) and what is found 'sending' after a crash
become 'unknown', are never sent again, and the team is told. Rows of one
ticket in the group, and rows to one officer, keep their order: a row that
waits holds back those behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.render.i18n import translator
from bot.render.presenter import Button
from bot.services.delivery import Failure, Outcome, SendFailure, outcome_of
from bot.services.errors import Report, report
from storage.staff_outbox import (
    CARD,
    COPY_TO_GROUP,
    COPY_TO_OFFICER,
    GROUP_KINDS,
    TO_GROUP,
    Outgoing,
    StaffOutbox,
    enqueue,
)
from storage.store import Store
from storage.ticket_store import Ticket, TicketStore

log = logging.getLogger(__name__)

STAFF_LANG = "it"  # the assistance group reads Italian
MAX_BACKOFF = timedelta(minutes=5)

Clock = Callable[[], datetime]
CardRenderer = Callable[[Ticket], tuple[str, list[list[Button]]]]


class StaffTransport(Protocol):
    """What the courier needs from Telegram (`bot.telegram.sender.StaffPost`): sends
    raise `SendFailure`; the rest is cosmetic and never raises."""

    async def send(self, chat_id: int, text: str, buttons: Sequence[Sequence[Button]] = (),
                   *, thread_id: int | None = None, reply_to: int | None = None) -> int: ...

    async def copy(self, chat_id: int, from_chat_id: int, message_id: int, *,
                   thread_id: int | None = None, reply_to: int | None = None) -> int: ...

    async def is_forum(self, chat_id: int) -> bool | None: ...

    async def create_topic(self, chat_id: int, name: str) -> int | None: ...

    async def close_topic(self, chat_id: int, thread_id: int) -> None: ...

    async def edit(self, chat_id: int, message_id: int, text: str,
                   buttons: Sequence[Sequence[Button]] = ()) -> None: ...


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... at most 5 minutes: the team's group may be down for long."""
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class StaffCourier:
    def __init__(self, store: Store, group: int | None, card: CardRenderer | None,
                 clock: Clock) -> None:
        self.store = store
        self.outbox = StaffOutbox(store)
        self.tickets = TicketStore(store)
        self.group = group
        self.card = card
        self.clock = clock
        self.transport: StaffTransport | None = None
        self.on_error: Report | None = None  # the one error handler, once the bot runs
        self._forum: bool | None = None  # learnt from Telegram once
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Rows were committed: deliver them without waiting for the next round."""
        self._wake.set()

    async def run_forever(self, interval: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await report(self.on_error, error, "staff outbox")

    async def recover(self) -> list[Outgoing]:
        """At start-up: rows a crash left 'sending' become 'unknown', and the team is
        told in the ticket's place which message may not have arrived."""
        found = await self.outbox.recover(self.clock())
        for item in found:
            log.warning("staff message %s (%s) interrupted while sending: not sent again",
                        item.id, item.kind)
            await self._tell_team(item, "staff.delivery_uncertain")
        return found

    # --- a pass ------------------------------------------------------------------------
    async def flush(self) -> int:
        """Deliver every due row in order; how many were delivered."""
        if self.transport is None:
            return 0
        delivered, seen = 0, 0
        held: set[tuple[str, int]] = set()  # lanes where a row waits: the rest waits too
        async with self._lock:
            # A pass may add rows (a notice to the team): they go in a second pass.
            while rows := [r for r in await self.outbox.pending() if r.id > seen]:
                seen = rows[-1].id
                for item in rows:
                    lane = self._lane(item)
                    if lane in held:
                        continue
                    if item.next_attempt_at > self.clock():
                        held.add(lane)
                        continue
                    outcome = await self._deliver(item)
                    if outcome is Outcome.SENT:
                        delivered += 1
                    elif outcome is Outcome.SKIPPED:
                        held.add(lane)
        return delivered

    @staticmethod
    def _lane(item: Outgoing) -> tuple[str, int]:
        if item.kind in GROUP_KINDS and item.ticket_id is not None:
            return ("ticket", item.ticket_id)
        return ("chat", item.chat_id)

    async def _deliver(self, item: Outgoing) -> Outcome:
        """One row; SKIPPED when it waits (a transient failure, or claimed elsewhere)."""
        assert self.transport is not None
        now = self.clock()
        if not await self.outbox.claim(item.id, now):
            return Outcome.SKIPPED
        try:
            message_id = await self._call(self.transport, item)
        except SendFailure as error:
            return await self._failed(item, error)
        except Exception as error:  # a bug must not leave the row 'sending' for ever
            log.exception("staff message %s", item.id)
            await self.outbox.settle(item.id, Outcome.FAILED.value, self.clock(), repr(error))
            return Outcome.FAILED
        await self.outbox.delivered(item, message_id, self.clock())
        return Outcome.SENT

    async def _call(self, transport: StaffTransport, item: Outgoing) -> int:
        ticket = await self.tickets.get(item.ticket_id) if item.ticket_id is not None else None
        if item.kind == CARD:
            assert ticket is not None and self.group is not None and self.card is not None
            ticket = await self._placed(transport, ticket)
            text, buttons = self.card(ticket)
            return await transport.send(self.group, text, buttons, thread_id=ticket.thread_id)
        thread, reply_to = None, None
        if item.kind in GROUP_KINDS and ticket is not None:
            # In the ticket's topic, or under its card.
            thread = ticket.thread_id
            reply_to = None if thread else ticket.card_message_id
        if item.kind in (COPY_TO_GROUP, COPY_TO_OFFICER):
            assert item.source_chat_id is not None and item.source_message_id is not None
            return await transport.copy(item.chat_id, item.source_chat_id,
                                        item.source_message_id, thread_id=thread,
                                        reply_to=reply_to)
        buttons = [[Button(label, data) for label, data in row] for row in item.buttons]
        return await transport.send(item.chat_id, item.text or "", buttons, thread_id=thread,
                                    reply_to=reply_to)

    async def _placed(self, transport: StaffTransport, ticket: Ticket) -> Ticket:
        """In a forum group a ticket gets a topic of its own (once, kept in its row)."""
        if ticket.thread_id is not None:
            return ticket
        assert self.group is not None
        if self._forum is None:
            self._forum = await transport.is_forum(self.group)
        if not self._forum:
            return ticket
        name = f"#{ticket.id} · {str(ticket.context.get('comune', ''))[:60]}"
        thread = await transport.create_topic(self.group, name)
        if thread is None:
            return ticket
        await self.tickets.set_thread(ticket.id, thread)
        placed = await self.tickets.get(ticket.id)
        assert placed is not None
        return placed

    async def _failed(self, item: Outgoing, error: SendFailure) -> Outcome:
        now = self.clock()
        if error.failure.transient:
            wait = max(backoff(item.attempts + 1), timedelta(seconds=error.retry_after))
            log.info("staff message %s: %s; again in %s", item.id, error.detail, wait)
            await self.outbox.postpone(item.id, now + wait, error.detail, now)
            return Outcome.SKIPPED
        outcome = outcome_of(error.failure)
        log.warning("staff message %s not delivered (%s): %s", item.id, outcome, error.detail)
        await self.outbox.settle(item.id, outcome.value, now, error.detail)
        if error.failure is Failure.UNREACHABLE and item.kind not in GROUP_KINDS:
            await self.store.mark_unreachable(item.chat_id, now)
        if item.kind not in GROUP_KINDS:  # the group itself failing cannot be told there
            key = {Outcome.UNREACHABLE: "staff.not_delivered",
                   Outcome.UNKNOWN: "staff.delivery_uncertain"}.get(outcome,
                                                                   "staff.delivery_failed")
            await self._tell_team(item, key)
        return outcome

    async def _tell_team(self, item: Outgoing, key: str) -> None:
        """A notice in the ticket's place in the group (itself a row of the outbox)."""
        if self.group is None:
            return  # no assistance group: the log says it
        t = translator(STAFF_LANG)
        what = t(f"staff.delivery_what.{item.kind}")
        text = t(key, id=item.ticket_id or "—", what=what)
        async with self.store.transaction() as db:
            await enqueue(db, kind=TO_GROUP, chat_id=self.group, ticket_id=item.ticket_id,
                          text=text, now=self.clock())
        self.kick()

    async def uncertain(self) -> set[int]:
        return await self.outbox.uncertain_tickets()

