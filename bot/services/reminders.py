"""Reminders before the deadline, to the officers who have not submitted.

When they are due is `conversations.reminder_schedule` (days before the
deadline, working hours). One loop looks every minute for the latest slot
that is due. Opening a slot writes one row per officer (primary key slot +
officer) in one transaction; each row goes 'sending' (committed) before the
Bot API call and 'sent' after it, through the same delivery as broadcasts, so
a restart neither loses nor repeats one. Slots that came due while the bot
was down are recorded as superseded: only the latest goes out, once. The plan
starts afresh when the deadline changes (a /proroga): slots due before that
moment never go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bot.render import callbacks as cb
from bot.render import formatting
from bot.render.i18n import translator
from bot.render.presenter import Button, escape
from bot.services.delivery import Courier, Delivery, Fanout, Outcome, Permit, deliver_row
from bot.services.errors import Report, report
from conversations.reminder_schedule import (
    DEFAULT_DAYS,
    due_slots,
    in_working_hours,
    schedule,
    slot_key,
)
from storage.coordination_store import SUBMITTED, CoordinationStore, Plan, Target
from storage.deliveries import REMINDERS
from storage.municipalities import MunicipalityRegistry
from storage.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class ReminderService:
    def __init__(
        self,
        store: Store,
        cstore: CoordinationStore,
        registry: MunicipalityRegistry,
        questionnaire_id: str,
        deadline: Callable[[], Awaitable[datetime]],
        clock: Clock,
        courier: Courier,
        *,
        days: Sequence[int] = DEFAULT_DAYS,
        timezone: str = "Europe/Rome",
    ) -> None:
        self.store = store
        self.cstore = cstore
        self.registry = registry
        self.on_error: Report | None = None  # the one error handler, once the bot runs
        self.questionnaire_id = questionnaire_id
        self._deadline = deadline
        self.clock = clock
        self.courier = courier
        self.days = list(days)
        self.timezone = timezone
        self._lock = asyncio.Lock()
        self._generation = 0  # bumped by a replan

    async def deadline(self) -> datetime:
        return await self._deadline()

    def slots(self, deadline: datetime) -> list[datetime]:
        return schedule(deadline, self.days, self.timezone)

    # --- planning ------------------------------------------------------------------
    async def ensure_plan(self, now: datetime | None = None,
                          deadline: datetime | None = None) -> Plan:
        """The plan in force; a new one when there is none or the deadline changed."""
        now = now or self.clock()
        deadline = deadline or await self.deadline()
        plan = await self.cstore.plan()
        if plan is not None and plan.deadline == deadline:
            return plan
        if plan is not None:
            log.info("deadline changed to %s: reminders planned afresh", deadline.isoformat())
        await self.cstore.set_plan(now, deadline, now)
        return Plan(now, deadline)

    async def replan(self) -> Plan:
        """Plan afresh for the deadline in force (see `replanned`)."""
        self.replanned()
        return await self.ensure_plan()

    def replanned(self) -> None:
        """The plan changed under a running slot (a /proroga committed a new one): the
        slot stops (the officers are told about the extension anyway)."""
        self._generation += 1

    async def recover(self) -> int:
        """At start-up, before the loop: reminders a crash left ambiguous."""
        count = await self.cstore.recover_reminders(self.clock())
        if count:
            log.warning("%d reminders were interrupted while sending: not sent again", count)
        return count

    # --- the loop ------------------------------------------------------------------------
    async def run_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await report(self.on_error, error, "reminders")

    async def tick(self) -> int:
        """Open the latest due slot if needed and send what is pending. Returns how many
        reminders went out in this pass."""
        async with self._lock:
            now = self.clock()
            deadline = await self.deadline()
            plan = await self.ensure_plan(now, deadline)
            open_now = in_working_hours(now, self.timezone) and now < deadline
            due = due_slots(self.slots(deadline), plan.planned_from, now)
            if due and open_now:
                latest = slot_key(due[-1])
                if await self.cstore.slot_status(latest) is None:
                    targets = await self.cstore.targets(self.questionnaire_id)
                    audience = [(t.user_id, t.istat) for t in targets
                                if not t.unreachable and t.stage != SUBMITTED]
                    count = await self.cstore.open_slot(
                        latest, deadline, [slot_key(s) for s in due[:-1]], audience, now
                    )
                    log.info("reminder slot %s: %d officers", latest, count)
            if not open_now:
                return 0
            sent = 0
            for slot in await self.cstore.running_slots():
                sent += await self._send_slot(slot, deadline)
            return sent

    async def _send_slot(self, slot: str, deadline: datetime) -> int:
        pending = await self.cstore.pending_reminders(slot)
        generation = self._generation
        async with Fanout(self.courier.pacer) as fanout:
            for user_id, istat in pending:
                now = self.clock()
                if generation != self._generation:
                    break  # replanned: the slot was superseded
                if not in_working_hours(now, self.timezone) or now >= deadline:
                    break  # the rest waits for the next opening
                target = await self.cstore.target(self.questionnaire_id, user_id)
                reason = self._skip_reason(target, istat)
                if reason is not None or target is None:
                    await self.cstore.mark_reminder(slot, user_id, "skipped", now, reason)
                    continue
                await fanout.start(user_id, self._deliver(slot, target, deadline))
        await self.cstore.close_slot_if_done(slot, self.clock())
        return fanout.count(Outcome.SENT)

    @staticmethod
    def _skip_reason(target: Target | None, istat: str) -> str | None:
        if target is None or target.istat != istat:
            return "no longer bound to the municipality"
        if target.unreachable:
            return "unreachable"
        if target.stage == SUBMITTED:
            return "submitted"
        return None

    def render(self, target: Target, deadline: datetime) -> tuple[str, list[list[Button]]]:
        """The reminder in the officer's language, with where they stand."""
        t = translator(target.language)
        municipality = self.registry.get(target.istat)
        name = municipality.name if municipality else target.istat
        left = max(target.total - target.answered, 0)
        if target.answered == 0:
            position = t("reminder.not_started")
        elif left == 0:
            position = t("reminder.all_answered")
        else:
            position = t.plural("reminder.left_one", "reminder.left", left, total=target.total)
        when = formatting.moment(deadline, self.timezone, t)
        if target.revision > 0 and target.stage != SUBMITTED:
            # Submitted, then reopened: what changed is not sent until it is submitted again.
            position += " " + t("reminder.reopened", revision=target.revision)
        text = t("reminder.text", comune=escape(name), deadline=when, position=position)
        return text, [[Button(t("reminder.resume"), cb.bot_action("resume"))]]

    def _deliver(self, slot: str, target: Target, deadline: datetime
                 ) -> Delivery:
        async def deliver(permit: Permit) -> Outcome:
            return await deliver_row(
                self.courier, self.store, REMINDERS, (slot, target.user_id), target.user_id,
                lambda: self.render(target, deadline), permit, self.clock,
            )

        return deliver


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
