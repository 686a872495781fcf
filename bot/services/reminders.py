"""Reminders before the deadline, to the officers who have not submitted.

The schedule is a list of days before the deadline (SURVEYBOT_REMINDER_DAYS,
"14,7,3,1,0"; 0 is the morning of the last day). Each slot is at 09:00 Rome
time on that day; one falling outside working hours (09:00-19:00, Monday to
Friday) moves to the next opening, or, when that would be past the deadline,
to the last opening before it. Slots meeting at the same moment go out once.

One loop looks every minute for the latest slot that is due. Opening a slot
writes one row per officer (primary key slot + officer) in one transaction;
each row goes 'sending' (committed) before the Bot API call and 'sent' after
it, so a restart neither loses nor repeats one. Slots that came due while the
bot was down are recorded as superseded: only the latest goes out, once. The
plan starts afresh when the deadline changes (a /proroga): slots due before
that moment never go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.render import callbacks as cb
from bot.render import formatting
from bot.render.i18n import translator
from bot.render.presenter import Button, escape
from bot.services.broadcasts import DRAIN_TIMEOUT, Courier, Outcome, Permit
from storage.coordination_store import SUBMITTED, CoordinationStore, Plan, Target
from storage.municipalities import MunicipalityRegistry
from storage.store import Store

log = logging.getLogger(__name__)

OPENS = time(9, 0)
CLOSES = time(19, 0)
DEFAULT_DAYS = (14, 7, 3, 1, 0)

Clock = Callable[[], datetime]


def parse_days(text: str) -> list[int]:
    """'14,7,3,1,0' -> [14, 7, 3, 1, 0] (invalid parts are an error)."""
    days = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        value = int(part)
        if value < 0:
            raise ValueError(f"reminder days must be >= 0, got {value}")
        days.append(value)
    return sorted(set(days), reverse=True)


def in_working_hours(moment: datetime, tz: str) -> bool:
    local = moment.astimezone(ZoneInfo(tz))
    return local.weekday() < 5 and OPENS <= local.time() < CLOSES


def _opening(day: date, tz: str) -> datetime:
    return datetime.combine(day, OPENS, ZoneInfo(tz))


def next_opening(moment: datetime, tz: str) -> datetime:
    """`moment` itself within working hours, else the next 09:00 of a weekday."""
    if in_working_hours(moment, tz):
        return moment
    local = moment.astimezone(ZoneInfo(tz))
    day = local.date()
    if local.time() >= OPENS:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return _opening(day, tz)


def previous_opening(before: datetime, tz: str) -> datetime:
    """The latest 09:00 of a weekday strictly before `before`."""
    day = before.astimezone(ZoneInfo(tz)).date()
    while True:
        candidate = _opening(day, tz)
        if day.weekday() < 5 and candidate < before:
            return candidate
        day -= timedelta(days=1)


def schedule(deadline: datetime, days: Sequence[int], tz: str) -> list[datetime]:
    """The moments reminders are due (UTC), earliest first, all before the deadline."""
    last_day = deadline.astimezone(ZoneInfo(tz)).date()
    moments: set[datetime] = set()
    for before in days:
        when = next_opening(_opening(last_day - timedelta(days=before), tz), tz)
        if when >= deadline:
            when = previous_opening(deadline, tz)
        moments.add(when.astimezone(UTC))
    return sorted(moments)


def slot_key(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def due_slots(slots: Sequence[datetime], planned_from: datetime, now: datetime
              ) -> list[datetime]:
    """Slots of this plan that are due (earliest first; the last one is the one to send)."""
    return [s for s in slots if planned_from < s <= now]


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
        """After a /proroga: future slots of the new deadline only. A slot being sent
        stops (the officers are told about the extension anyway)."""
        self._generation += 1
        return await self.ensure_plan()

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
            except Exception:
                log.exception("reminder pass failed")

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
        children: set[asyncio.Task[bool]] = set()
        results: list[asyncio.Task[bool]] = []
        try:
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
                permit = await self.courier.pacer.acquire(user_id)
                child = asyncio.create_task(self._deliver(slot, target, permit, deadline))
                children.add(child)
                results.append(child)
                child.add_done_callback(children.discard)
            if children:
                await asyncio.wait(set(children))
        except asyncio.CancelledError:
            if children:
                await asyncio.wait(set(children), timeout=DRAIN_TIMEOUT)
            raise
        await self.cstore.close_slot_if_done(slot, self.clock())
        return sum(1 for r in results if r.done() and not r.cancelled() and r.result())

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
        elif left == 1:
            position = t("reminder.left_one", total=target.total)
        else:
            position = t("reminder.left", left=left, total=target.total)
        when = formatting.moment(deadline, self.timezone, "alle" if t.lang == "it" else "at")
        text = t("reminder.text", comune=escape(name), deadline=when, position=position)
        return text, [[Button(t("reminder.resume"), cb.bot_action("resume"))]]

    async def _deliver(self, slot: str, target: Target, permit: Permit, deadline: datetime
                       ) -> bool:
        uid = target.user_id
        try:
            text, buttons = self.render(target, deadline)

            async def before() -> bool:
                return await self.cstore.claim_reminder(slot, uid, self.clock())

            async def retry() -> None:
                await self.cstore.mark_reminder(slot, uid, "pending", self.clock())

            outcome, error = await self.courier.deliver(
                uid, text, buttons, permit=permit, before=before, retry=retry
            )
            if outcome is Outcome.SKIPPED:
                return False
            await self.cstore.mark_reminder(slot, uid, outcome.value, self.clock(), error)
            if outcome is Outcome.UNREACHABLE:
                await self.store.mark_unreachable(uid, self.clock())
            return outcome is Outcome.SENT
        except Exception:
            self.courier.pacer.release(permit)
            log.exception("reminder %s to %s", slot, uid)
            return False


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
