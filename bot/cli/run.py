"""`surveybot run`: long polling, or our webhook receiver with a secret token.

Everything runs in one event loop that we own: the database is opened in it,
the Application is started in it, and SIGINT/SIGTERM stop it cleanly: no new
updates are fetched, the updates in hand are finished (their replies sent),
background work stops and the database closes, all within `STOP_BUDGET`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal

from telegram.error import InvalidToken, NetworkError

from bot.cli.errors import OUTSIDE, CliError
from bot.cli.running import holding
from bot.runtime import open_services
from bot.settings import Settings
from bot.telegram.app import App, Services, build_application
from bot.telegram.updates import ALLOWED_UPDATES
from bot.telegram.webhook import WebhookReceiver

log = logging.getLogger(__name__)

# Seconds from SIGTERM to exit; systemd and Docker wait 10 before SIGKILL.
STOP_BUDGET = 8.0
MAX_BACKOFF = 30.0


def serve(settings: Settings, *, webhook_url: str | None, listen: str) -> int:
    token = settings.require_token()
    with holding(settings.lock_path()):
        return asyncio.run(_serve(settings, token, webhook_url, listen))


async def _serve(settings: Settings, token: str, webhook_url: str | None, listen: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    services = await open_services(settings)
    try:
        app = build_application(services, token=token)
        if not await _initialize(app, settings, stop):
            return 0  # stopped while waiting for Telegram
        receiver: WebhookReceiver | None = None
        try:
            receiver = await _start(app, settings, token, webhook_url, listen)
            log.info("running; SIGTERM or Ctrl-C stops")
            await stop.wait()
            log.info("stopping: finishing the updates in hand")
        finally:
            if receiver is not None:
                await receiver.stop()
            await _stop(app)
    finally:
        await _close(services)
    return 0


async def _initialize(app: App, settings: Settings, stop: asyncio.Event) -> bool:
    """getMe until Telegram answers: one log line per failed attempt, backoff
    1, 2, 4... s, and a bounded number of attempts so a cron'd or supervised
    start never piles up. False when a signal came first."""
    attempts = settings.startup_attempts
    for attempt in range(1, attempts + 1):
        try:
            await app.initialize()
            return True
        except InvalidToken:
            raise
        except NetworkError as error:
            if attempt == attempts:
                raise CliError(f"Telegram is not reachable at {settings.telegram_api_url} after "
                               f"{attempts} attempts ({error.message})", OUTSIDE) from None
            delay = min(2.0 ** (attempt - 1), MAX_BACKOFF)
            log.warning("Telegram is not reachable at %s (attempt %d of %d: %s); next try in "
                        "%.0f s", settings.telegram_api_url, attempt, attempts, error.message,
                        delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return False
    return False


async def _start(app: App, settings: Settings, token: str, webhook_url: str | None,
                 listen: str) -> WebhookReceiver | None:
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    if webhook_url is None:
        log.info("long polling against %s", settings.telegram_api_url)
        await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        return None
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise CliError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8443")
    secret = (settings.webhook_secret.get_secret_value() if settings.webhook_secret
              else hashlib.sha256(("webhook" + token).encode()).hexdigest()[:32])
    receiver = WebhookReceiver(app, secret)
    try:
        await receiver.start(host or "0.0.0.0", int(port))
    except OSError as error:
        raise CliError(f"cannot listen on {listen} for the webhook: {error.strerror}",
                       OUTSIDE) from None
    log.info("serving the webhook on %s", listen)
    await app.bot.set_webhook(webhook_url.rstrip("/") + "/telegram", secret_token=secret,
                              allowed_updates=ALLOWED_UPDATES)
    return receiver


async def _stop(app: App) -> None:
    """Stop fetching, let running handlers finish and send, stop the background
    work (post_shutdown); whatever is left after the budget is abandoned:
    every answer was committed before its reply was sent."""
    async def sequence() -> None:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)

    try:
        await asyncio.wait_for(sequence(), STOP_BUDGET)
    except TimeoutError:
        log.warning("stopping took more than %.0f s: the rest is abandoned", STOP_BUDGET)
    log.info("stopped")


async def _close(services: Services) -> None:
    # Idempotent: post_shutdown may have closed it already. An open connection
    # would keep the process alive (aiosqlite's thread is not a daemon).
    await services.store.close()

