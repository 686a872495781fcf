"""Broadcasts to officers: paced, recorded recipient by recipient, resumable.

Pacing and failures are `bot.services.delivery`'s: one paced courier for
broadcasts and reminders, its transport (a plain `telegram.Bot` without PTB's
rate limiter, whose 429 retries would double-count) injected at start-up.

Never twice. Each recipient is marked 'sending' (committed) right before the
Bot API call and 'sent' right after it returns. After a crash, a recipient
found in 'sending' may or may not have received the message and Telegram
offers no way to ask: it becomes 'unknown', is counted in the report and is
never sent to again. The ambiguous window is the time between those two
commits; killing the process while the request was still being built (about
a millisecond) loses that one message, which the report shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.render import formatting
from bot.render.i18n import Translator, translator
from bot.render.presenter import escape, split_text
from bot.render.text import plain, shorten
from bot.services.delivery import Courier, Delivery, Fanout, Outcome, Permit, deliver_row
from bot.services.errors import Report, report
from storage.coordination_store import (
    IN_PROGRESS,
    NOT_STARTED,
    SUBMITTED,
    Broadcast,
    CoordinationStore,
    Recipient,
    Target,
    Unreachable,
)
from storage.deliveries import RECIPIENTS
from storage.municipalities import MunicipalityRegistry
from storage.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

PROGRESS_EVERY = 3.0  # seconds between edits of the coordinator's progress message
MAX_TEXT = 3500  # of an announcement, leaving room for the header

# Audiences of a broadcast.
ALL = "all"
NOT_SUBMITTED = "not_submitted"
REGION = "region"
AUDIENCES = (ALL, NOT_STARTED, IN_PROGRESS, SUBMITTED, NOT_SUBMITTED, REGION)

ANNOUNCEMENT = "announcement"
EXTENSION = "extension"


# --- broadcasts ----------------------------------------------------------------------------
def select(targets: Sequence[Target], audience: str, region: str | None,
           registry: MunicipalityRegistry) -> list[Target]:
    """The officers an audience means (reachable or not)."""
    if audience == ALL:
        return list(targets)
    if audience == NOT_SUBMITTED:
        return [t for t in targets if t.stage != SUBMITTED]
    if audience in (NOT_STARTED, IN_PROGRESS, SUBMITTED):
        return [t for t in targets if t.stage == audience]
    if audience == REGION:
        chosen = []
        for target in targets:
            municipality = registry.get(target.istat)
            if municipality is not None and municipality.region == region:
                chosen.append(target)
        return chosen
    raise ValueError(f"unknown audience {audience!r}")


def snippet(html_text: str, limit: int = 60) -> str:
    return shorten(plain(html_text), limit, one_line=True)


class BroadcastService:
    def __init__(
        self,
        store: Store,
        cstore: CoordinationStore,
        registry: MunicipalityRegistry,
        questionnaire_id: str,
        clock: Clock,
        courier: Courier,
        timezone: str = "Europe/Rome",
    ) -> None:
        self.store = store
        self.cstore = cstore
        self.registry = registry
        self.on_error: Report | None = None  # the one error handler, once the bot runs
        self.questionnaire_id = questionnaire_id
        self.clock = clock
        self.courier = courier
        self.timezone = timezone
        self.progress_every = PROGRESS_EVERY
        self._runs: dict[int, asyncio.Task[None]] = {}

    # --- who and what ---------------------------------------------------------------
    async def audience(self, audience: str, region: str | None = None
                       ) -> tuple[list[Target], int]:
        """(reachable officers of that audience, how many are excluded as unreachable)."""
        chosen = select(await self.cstore.targets(self.questionnaire_id), audience, region,
                        self.registry)
        reachable = [t for t in chosen if not t.unreachable]
        return reachable, len(chosen) - len(reachable)

    def moment(self, value: datetime | str, lang: str) -> str:
        return formatting.moment(value, self.timezone, translator(lang))

    def render(self, kind: str, text: str, lang: str) -> str:
        """The message as one recipient reads it, in their language."""
        t = translator(lang)
        if kind == EXTENSION:
            return t("broadcast.extension", deadline=self.moment(text, lang))
        return f"{t('broadcast.header')}\n\n{text}"

    def title(self, broadcast: Broadcast, t: Translator) -> str:
        if broadcast.kind == EXTENSION:
            return t("broadcast.title_extension",
                     deadline=self.moment(broadcast.text, t.lang))
        return t("broadcast.title", id=broadcast.id, snippet=escape(snippet(broadcast.text)))

    # --- creating and running ------------------------------------------------------
    async def create(
        self,
        *,
        coordinator_id: int,
        kind: str,
        text: str,
        audience: str,
        region: str | None,
        language: str,
        progress: tuple[int, int] | None = None,
        from_draft: bool = False,
    ) -> int | None:
        targets, excluded = await self.audience(audience, region)
        recipients = [Recipient(t.user_id, t.istat, t.language) for t in targets]
        return await self.cstore.create_broadcast(
            coordinator_id=coordinator_id, kind=kind, text=text, audience=audience,
            region=region, language=language, recipients=recipients, excluded=excluded,
            now=self.clock(), progress=progress, from_draft=from_draft,
        )

    def start(self, broadcast_id: int) -> asyncio.Task[None]:
        """Send it in the background (once per broadcast within this process)."""
        running = self._runs.get(broadcast_id)
        if running is not None and not running.done():
            return running
        task = asyncio.create_task(self._guarded(broadcast_id), name=f"broadcast-{broadcast_id}")
        self._runs[broadcast_id] = task
        return task

    async def resume(self) -> list[int]:
        """At start-up: settle the recipients a crash left ambiguous, resume the rest."""
        ambiguous = await self.cstore.recover_broadcasts(self.clock())
        unfinished = await self.cstore.unfinished_broadcasts()
        if unfinished:
            log.warning("resuming broadcasts %s (%d recipients of unknown outcome)",
                        unfinished, ambiguous)
        for broadcast_id in unfinished:
            self.start(broadcast_id)
        return unfinished

    async def stop(self) -> None:
        """Cancel the running broadcasts; requests already started may finish."""
        tasks = [task for task in self._runs.values() if not task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self, broadcast_id: int) -> None:
        run = self._runs.get(broadcast_id)
        if run is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await run

    async def _guarded(self, broadcast_id: int) -> None:
        try:
            await self.run(broadcast_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # it resumes at the next start
            await report(self.on_error, error, f"broadcast {broadcast_id}")

    async def run(self, broadcast_id: int) -> None:
        """Send to every pending recipient, then report to the coordinator."""
        broadcast = await self.cstore.broadcast(broadcast_id)
        if broadcast is None or broadcast.status == "done":
            return
        pending = await self.cstore.pending_recipients(broadcast_id)
        progress = asyncio.create_task(self._progress_loop(broadcast))
        try:
            async with Fanout(self.courier.pacer) as fanout:
                for recipient in pending:
                    await fanout.start(recipient.user_id, self._deliver(broadcast, recipient))
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
        await self._finish(broadcast_id)

    def _deliver(self, broadcast: Broadcast, recipient: Recipient
                 ) -> Delivery:
        async def deliver(permit: Permit) -> Outcome:
            return await deliver_row(
                self.courier, self.store, RECIPIENTS, (broadcast.id, recipient.user_id),
                recipient.user_id,
                lambda: (self.render(broadcast.kind, broadcast.text, recipient.language), None),
                permit, self.clock,
            )

        return deliver

    # --- the coordinator's view ------------------------------------------------------------
    async def _progress_loop(self, broadcast: Broadcast) -> None:
        if broadcast.progress_chat_id is None or broadcast.progress_message_id is None:
            return
        last = ""
        while True:
            await asyncio.sleep(self.progress_every)
            text = await self.progress_text(broadcast.id)
            if text != last:
                await self.courier.edit(broadcast.progress_chat_id,
                                        broadcast.progress_message_id, text)
                last = text

    async def progress_text(self, broadcast_id: int) -> str:
        broadcast = await self.cstore.broadcast(broadcast_id)
        assert broadcast is not None
        t = translator(broadcast.language)
        counts = await self.cstore.recipient_counts(broadcast_id)
        done = broadcast.total - counts.get("pending", 0) - counts.get("sending", 0)
        lines = [
            self.title(broadcast, t),
            t("broadcast.progress", done=formatting.integer(done),
              total=formatting.integer(broadcast.total), sent=counts.get("sent", 0),
              unreachable=counts.get("unreachable", 0), failed=counts.get("failed", 0)),
        ]
        if broadcast.restarts:
            lines.append(t("broadcast.resumed"))
        return "\n".join(lines)

    def _person(self, person: Unreachable) -> str:
        municipality = self.registry.get(person.istat) if person.istat else None
        place = (f"{municipality.name} ({municipality.sigla})" if municipality
                 else person.istat or "?")
        who = person.first_name or str(person.user_id)
        if person.username:
            who += f" @{person.username}"
        return f"• {escape(place)} — {escape(who)} (id {person.user_id})"

    async def report(self, broadcast_id: int) -> list[str]:
        """The final report, split within Telegram's 4,096 characters."""
        broadcast = await self.cstore.broadcast(broadcast_id)
        assert broadcast is not None
        t = translator(broadcast.language)
        counts = await self.cstore.recipient_counts(broadcast_id)
        lines = [
            self.title(broadcast, t),
            t("broadcast.report", total=formatting.integer(broadcast.total),
              sent=counts.get("sent", 0), unreachable=counts.get("unreachable", 0),
              failed=counts.get("failed", 0)),
        ]
        if counts.get("unknown"):
            lines.append(t("broadcast.report_unknown", count=counts["unknown"]))
        if broadcast.excluded:
            lines.append(t("broadcast.report_excluded", count=broadcast.excluded))
        follow_up = await self.cstore.recipients_with(broadcast_id, ("unreachable", "failed"))
        if follow_up:
            lines.append("")
            lines.append(t("broadcast.report_call"))
            lines.extend(self._person(p) for p in follow_up)
        unknown = await self.cstore.recipients_with(broadcast_id, ("unknown",))
        if unknown:
            lines.append("")
            lines.append(t("broadcast.report_unknown_list"))
            lines.extend(self._person(p) for p in unknown)
        return split_text("\n".join(lines))

    async def _finish(self, broadcast_id: int) -> None:
        broadcast = await self.cstore.broadcast(broadcast_id)
        assert broadcast is not None
        parts = await self.report(broadcast_id)
        # Commit first: a stop between the report and this write would otherwise
        # leave the broadcast running, and a restart would report it twice.
        await self.cstore.finish_broadcast(broadcast_id, self.clock())
        chat, message_id = broadcast.progress_chat_id, broadcast.progress_message_id
        if chat is not None:
            first, rest = parts[0], parts[1:]
            edited = message_id is not None and await self.courier.edit(chat, message_id, first)
            if not edited:
                rest = parts
            for part in rest:
                await self.courier.notify(chat, part)
        counts = await self.cstore.recipient_counts(broadcast_id)
        log.info("broadcast %s done: %s", broadcast_id, counts)
