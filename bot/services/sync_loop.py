"""The background sync inside `surveybot run`: push the outbox every interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.services.errors import Report
from bot.services.errors import report as report_error
from bot.settings import Settings
from bot.telegram.app import Services
from storage.sync import Central, Clock, OutboxPusher, central_client, utc_now

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _Running:
    client: httpx.AsyncClient | None = None
    task: asyncio.Task[None] | None = None


def central_from_settings(settings: Settings) -> Central | None:
    """The central endpoint, or None when SURVEYBOT_CENTRAL_URL is not set."""
    if not settings.central_url or not settings.central_url.strip():
        return None
    token = settings.central_token.get_secret_value().strip() if settings.central_token else None
    return Central(settings.central_url.strip(), token or None)


async def sync_forever(
    pusher: OutboxPusher, interval: float, sleep: Sleep = asyncio.sleep,
    report: Report | None = None,
) -> None:
    """Push, wait, repeat; a failing pass is reported and never ends the loop."""
    while True:
        try:
            await pusher.push_due()
        except Exception as error:
            # E.g. a locked database: the rows stay pending for the next pass.
            await report_error(report, error, "sync")
        await sleep(interval)


def install_sync(
    services: Services, *, clock: Clock = utc_now, sleep: Sleep = asyncio.sleep
) -> None:
    """Start the sync loop with the application and stop it before the store closes.

    Does nothing when no central URL is configured.
    """
    central = central_from_settings(services.settings)
    if central is None:
        log.info("sync disabled: SURVEYBOT_CENTRAL_URL is not set")
        return
    running = _Running()

    async def start(_app: Any) -> None:
        running.client = central_client(central)
        pusher = OutboxPusher(services.store, running.client, central, clock=clock)
        running.task = asyncio.create_task(
            sync_forever(pusher, services.settings.sync_interval, sleep,
                         lambda error, where: services.report_error(error, where)),
            name="surveybot-sync",
        )
        log.info("sync every %.0f s to %s", services.settings.sync_interval, _host(central.url))

    async def stop(_app: Any) -> None:
        task, client = running.task, running.client
        running.task = running.client = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if client is not None:
            await client.aclose()

    services.startup.append(start)
    # First in line: the loop must end before another hook closes the store.
    services.shutdown.insert(0, stop)


def _host(url: str) -> str:
    """The URL without credentials or path, for the log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
