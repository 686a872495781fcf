"""Broadcasts to officers: paced, recorded recipient by recipient, resumable.

Pacing. Telegram allows about 30 messages a second overall and one a second
per chat. PTB's AIORateLimiter (the application's bot) has no per-private-chat
limit and, on a 429, sleeps and retries by itself up to its `max_retries`
(`rate_limit_args=0` cannot turn that off: 0 falls back to the default). A
broadcast therefore does not go through it: it uses its own plain
`telegram.Bot` (same token and server, no rate limiter) and this module's
`Pacer`, and handles `RetryAfter` itself, so a 429 is waited once, the
recipient retried and the outcome recorded.

The pacer keeps `burst` (30) send slots. A slot is taken when a request starts
and becomes free one second after that request *completed*: the server saw the
request before it answered, so any two sends on the same slot are at least a
second apart at the server and no one-second window there can hold more than
`burst` sends, whatever the network delays. Starts are also spaced at
1/`rate` s (29/s by default, leaving room for the conversations going on at
the same time), and a chat is sent to again only a second after its previous
request completed. A new pacer starts as if every slot had just been used (a
restarted process cannot know what the previous one sent in its last second).
Edits of the coordinator's progress message create no message: they only wait
for their chat and for a 429 pause.

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
import heapq
import logging
import math
import re
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import httpx
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.render import formatting
from bot.render.i18n import Translator, translator
from bot.render.presenter import Button, Screen, escape, split_text
from bot.telegram.sender import markup
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
from storage.municipalities import MunicipalityRegistry
from storage.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

TELEGRAM_BURST = 30  # sends in any one second, all chats together
PER_CHAT_INTERVAL = 1.0
CATCH_UP = 0.25  # seconds of delayed starts the pacer may catch up on
PROGRESS_EVERY = 3.0  # seconds between edits of the coordinator's progress message
DRAIN_TIMEOUT = 15.0  # on cancellation, how long requests already started may finish
MAX_TEXT = 3500  # of an announcement, leaving room for the header
NOT_SENT_RETRIES = 3  # connection errors before the request left: retried

# Audiences of a broadcast.
ALL = "all"
NOT_SUBMITTED = "not_submitted"
REGION = "region"
AUDIENCES = (ALL, NOT_STARTED, IN_PROGRESS, SUBMITTED, NOT_SUBMITTED, REGION)

ANNOUNCEMENT = "announcement"
EXTENSION = "extension"

_TAG = re.compile(r"<[^>]+>")


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
        # A heap of slot free times. A new pacer (a restarted process) cannot know what
        # was sent in the last second: it starts as if every slot had just been used.
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


# --- transport ---------------------------------------------------------------------------
class Transport(Protocol):
    async def send(self, chat_id: int, text: str, buttons: list[list[Button]] | None = None
                   ) -> int: ...

    async def edit(self, chat_id: int, message_id: int, text: str) -> None: ...


class BotTransport:
    """Bot API calls of a plain `telegram.Bot`: no rate limiter, no automatic retries."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, buttons: list[list[Button]] | None = None
                   ) -> int:
        message = await self.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
            reply_markup=markup(Screen(text, buttons or [])),
        )
        return message.message_id

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        try:
            await self.bot.edit_message_text(
                text, chat_id, message_id, parse_mode=ParseMode.HTML,
                disable_web_page_preview=True,
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise


class Outcome(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"  # no longer pending when its turn came: nothing sent, nothing recorded


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, plus a little (without the int deprecation)."""
    value = getattr(error, "_retry_after", None)
    if not isinstance(value, timedelta):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = error.retry_after
        value = raw if isinstance(raw, timedelta) else timedelta(seconds=raw)
    return value.total_seconds() + 0.1


def _not_sent(error: BaseException) -> bool:
    """A network error raised before the request could reach Telegram."""
    cause = error.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


Mark = Callable[[], Awaitable[None]]
Claim = Callable[[], Awaitable[bool]]


class Courier:
    """Paced Bot API calls with every outcome classified."""

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
        """Send one message. `before` records 'sending' (False: the recipient is no longer
        pending, nothing is sent); `retry` puts it back to pending when Telegram surely did
        not take it (429, connection refused)."""
        transport = self._transport()
        not_sent = 0
        while True:
            if permit is None:
                permit = await self.pacer.acquire(chat_id)
            try:
                proceed = await before()
            except BaseException:
                self.pacer.release(permit)
                raise
            if not proceed:  # someone else settled this recipient meanwhile
                self.pacer.release(permit)
                return Outcome.SKIPPED, None
            try:
                try:
                    await transport.send(chat_id, text, buttons)
                finally:
                    self.pacer.release(permit)
                    permit = None
            except RetryAfter as error:
                seconds = retry_seconds(error)
                log.warning("429 for %s: pausing %.1f s, then retrying", chat_id, seconds)
                self.pacer.pause(seconds)
                await retry()
                continue
            except Forbidden as error:
                return Outcome.UNREACHABLE, str(error)
            except BadRequest as error:
                lowered = str(error).lower()
                if "chat not found" in lowered or "user is deactivated" in lowered:
                    return Outcome.UNREACHABLE, str(error)
                return Outcome.FAILED, str(error)
            except (TimedOut, NetworkError) as error:
                if _not_sent(error) and not_sent < NOT_SENT_RETRIES:
                    not_sent += 1
                    await retry()
                    await asyncio.sleep(2.0 ** not_sent)
                    continue
                if _not_sent(error):
                    return Outcome.FAILED, str(error)
                # The request may have been processed: never send it twice.
                return Outcome.UNKNOWN, str(error)
            return Outcome.SENT, None

    async def notify(self, chat_id: int, text: str) -> int | None:
        """A paced message to a coordinator (errors logged, never raised)."""
        transport = self._transport()
        for _ in range(3):
            permit = await self.pacer.acquire(chat_id)
            try:
                return await transport.send(chat_id, text)
            except RetryAfter as error:
                self.pacer.pause(retry_seconds(error))
            except Exception:
                log.exception("could not send a message to %s", chat_id)
                return None
            finally:
                self.pacer.release(permit)
        return None

    async def edit(self, chat_id: int, message_id: int, text: str) -> bool:
        """A paced edit of a coordinator's message (errors logged, never raised)."""
        transport = self._transport()
        permit = await self.pacer.acquire(chat_id, counted=False)
        try:
            await transport.edit(chat_id, message_id, text)
            return True
        except RetryAfter as error:
            self.pacer.pause(retry_seconds(error))
        except Exception:
            log.exception("could not edit message %s in %s", message_id, chat_id)
        finally:
            self.pacer.release(permit)
        return False


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


def plain(html_text: str) -> str:
    return _TAG.sub("", html_text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def snippet(html_text: str, limit: int = 60) -> str:
    text = " ".join(plain(html_text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(slots=True)
class _Run:
    task: asyncio.Task[None]
    children: set[asyncio.Task[None]] = field(default_factory=set)


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
        self.questionnaire_id = questionnaire_id
        self.clock = clock
        self.courier = courier
        self.timezone = timezone
        self.progress_every = PROGRESS_EVERY
        self._runs: dict[int, _Run] = {}

    # --- who and what ---------------------------------------------------------------
    async def audience(self, audience: str, region: str | None = None
                       ) -> tuple[list[Target], int]:
        """(reachable officers of that audience, how many are excluded as unreachable)."""
        chosen = select(await self.cstore.targets(self.questionnaire_id), audience, region,
                        self.registry)
        reachable = [t for t in chosen if not t.unreachable]
        return reachable, len(chosen) - len(reachable)

    def moment(self, value: datetime | str, lang: str) -> str:
        return formatting.moment(value, self.timezone, "alle" if lang == "it" else "at")

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
        if running is not None and not running.task.done():
            return running.task
        task = asyncio.create_task(self._guarded(broadcast_id), name=f"broadcast-{broadcast_id}")
        self._runs[broadcast_id] = _Run(task)
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
        tasks = [run.task for run in self._runs.values() if not run.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self, broadcast_id: int) -> None:
        run = self._runs.get(broadcast_id)
        if run is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await run.task

    async def _guarded(self, broadcast_id: int) -> None:
        try:
            await self.run(broadcast_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broadcast %s stopped; it resumes at the next start", broadcast_id)

    async def run(self, broadcast_id: int) -> None:
        """Send to every pending recipient, then report to the coordinator."""
        broadcast = await self.cstore.broadcast(broadcast_id)
        if broadcast is None or broadcast.status == "done":
            return
        run = self._runs.get(broadcast_id)
        children = run.children if run is not None else set()
        pending = await self.cstore.pending_recipients(broadcast_id)
        progress = asyncio.create_task(self._progress_loop(broadcast))
        try:
            for recipient in pending:
                permit = await self.courier.pacer.acquire(recipient.user_id)
                child = asyncio.create_task(self._deliver(broadcast, recipient, permit))
                children.add(child)
                child.add_done_callback(children.discard)
            while children:
                await asyncio.wait(set(children))
        except asyncio.CancelledError:
            # Requests already started finish and are recorded: a clean stop loses nothing.
            if children:
                await asyncio.wait(set(children), timeout=DRAIN_TIMEOUT)
            raise
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
        await self._finish(broadcast_id)

    async def _deliver(self, broadcast: Broadcast, recipient: Recipient, permit: Permit) -> None:
        bid, uid = broadcast.id, recipient.user_id
        try:
            text = self.render(broadcast.kind, broadcast.text, recipient.language)

            async def before() -> bool:
                return await self.cstore.claim_recipient(bid, uid, self.clock())

            async def retry() -> None:
                await self.cstore.mark_recipient(bid, uid, "pending", self.clock())

            outcome, error = await self.courier.deliver(
                uid, text, None, permit=permit, before=before, retry=retry
            )
            if outcome is Outcome.SKIPPED:
                return
            await self.cstore.mark_recipient(bid, uid, outcome.value, self.clock(), error)
            if outcome is Outcome.UNREACHABLE:
                await self.store.mark_unreachable(uid, self.clock())
        except Exception:
            self.courier.pacer.release(permit)
            log.exception("broadcast %s: recipient %s", bid, uid)

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
