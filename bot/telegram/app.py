"""The application factory and the `Services` container.

`build_application` wires python-telegram-bot: the Bot API server and its
transport, the rate limiter, start-up and shutdown hooks, and the handlers in
their order (staff capabilities first, then the officer handlers of
`bot.telegram.officers`), with the one error handler of `bot.telegram.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.services.coordination import CoordinationService
from bot.services.officer_flow import OfficerFlow
from bot.services.staff import StaffService
from bot.services.staff_courier import StaffCourier
from bot.services.tickets import TicketService
from bot.settings import Settings
from bot.telegram.errors import ErrorReporter
from bot.telegram.officers import register_officer_handlers, set_commands
from bot.telegram.sender import OfficerDelivery
from bot.telegram.transport import LeanRequest
from bot.telegram.update_queue import UpdateQueue
from bot.telegram.updates import answer_query, build_bot, private, sender_of
from storage.store import Store

log = logging.getLogger(__name__)

# Updates handled side by side: answers of different municipalities; more only
# hold memory while they queue for the one database connection.
CONCURRENT_UPDATES = 32
# Updates in hand (queued or being handled); the rest wait at Telegram.
UPDATES_IN_HAND = 2 * CONCURRENT_UPDATES

# The update helpers stay importable from here for the other audiences' handlers.
__all__ = ["App", "Hook", "Services", "answer_query", "build_application", "private",
           "sender_of"]

App = Application[Any, Any, Any, Any, Any, Any]
Hook = Callable[[App], Coroutine[Any, Any, None]]
# Background loops report what they cannot handle here: (error, where it happened).
ReportError = Callable[[BaseException, str], Awaitable[None]]
HelpEntry = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


async def _log_only(error: BaseException, where: str) -> None:
    log.error("unhandled error in %s", where, exc_info=error)


@dataclass
class Services:
    settings: Settings
    store: Store
    flow: OfficerFlow
    # The staff side, built by `bot.runtime` (tests and benchmarks reach them here);
    # None only in services assembled by hand for one capability (e.g. sync).
    staff_courier: StaffCourier | None = None
    staff: StaffService | None = None
    coordination: CoordinationService | None = None
    tickets: TicketService | None = None  # only with an assistance group
    # Background work started with the application (sync loop, reminders...).
    startup: list[Hook] = field(default_factory=list)
    shutdown: list[Hook] = field(default_factory=list)
    # Handler registrations of other capabilities (tickets, coordinators...),
    # run before the officer handlers so staff commands take precedence.
    registrars: list[Callable[[App, Services], None]] = field(default_factory=list)
    # The one error handler and the officers' delivery, once the application is
    # built (look them up when needed, do not keep a copy).
    report_error: ReportError = _log_only
    delivery: OfficerDelivery | None = None
    # Who takes an officer's help request from the reply keyboard (the ticket desk,
    # when there is an assistance group); None: the help text.
    help_entry: HelpEntry | None = None


def build_application(
    services: Services, *, token: str, read_timeout: float | None = None
) -> App:
    """The application; `read_timeout` overrides the transport's 5 s (tests)."""
    rate = services.settings.max_messages_per_second
    # Counts every request with a chat_id (edits included); a 429 is retried.
    limiter = (AIORateLimiter(overall_max_rate=rate, overall_time_period=1, max_retries=3)
               if rate > 0 else None)
    request = LeanRequest(pool_size=64) if read_timeout is None else LeanRequest(
        pool_size=64, read_timeout=read_timeout
    )
    updates = UpdateQueue(UPDATES_IN_HAND)
    app: App = (
        ApplicationBuilder()
        .bot(build_bot(token, services.settings.telegram_api_url, request=request,
                       get_updates_request=LeanRequest(pool_size=1), rate_limiter=limiter,
                       updates=updates))
        .update_queue(updates)
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_post_init(services))
        .post_shutdown(_post_shutdown(services))
        .build()
    )
    reporter = ErrorReporter(services.settings, services.store)
    services.report_error = reporter.report
    delivery = services.delivery = OfficerDelivery(services.store)

    async def attach(app: App) -> None:
        reporter.bot = app.bot

    async def flush(_: App) -> None:
        await delivery.close()

    services.startup.insert(0, attach)
    # Before the store closes (handlers have finished by then): the last deliveries.
    services.shutdown.insert(0, flush)
    for register in services.registrars:
        register(app, services)
    register_officer_handlers(app, services, delivery)  # its redraw stops before the flush
    app.add_error_handler(reporter.ptb_handler())
    return app


def _post_init(services: Services) -> Hook:
    async def hook(app: App) -> None:
        await set_commands(app)
        for start in services.startup:
            await start(app)

    return hook


def _post_shutdown(services: Services) -> Hook:
    async def hook(app: App) -> None:
        for stop in services.shutdown:
            await stop(app)

    return hook
