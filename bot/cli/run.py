"""`surveybot run`: long polling, or PTB's webhook server with a secret token.

Everything runs in one event loop that we own: the database is opened in it,
the Application is started in it, and SIGINT/SIGTERM stop it cleanly.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from typing import Any

from telegram import Update

from bot.runtime import open_services
from bot.settings import Settings
from bot.telegram.app import build_application

log = logging.getLogger(__name__)


def serve(settings: Settings, *, webhook_url: str | None, listen: str) -> int:
    token = settings.require_token()
    asyncio.run(_serve(settings, token, webhook_url, listen))
    return 0


async def _serve(settings: Settings, token: str, webhook_url: str | None, listen: str) -> None:
    services = await open_services(settings)
    app = build_application(services, token=token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    updates: Any = Update.ALL_TYPES
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    try:
        if webhook_url is None:
            log.info("long polling against %s", settings.telegram_api_url)
            await app.updater.start_polling(allowed_updates=updates)
        else:
            host, _, port = listen.rpartition(":")
            secret = (settings.webhook_secret.get_secret_value() if settings.webhook_secret
                      else hashlib.sha256(("webhook" + token).encode()).hexdigest()[:32])
            log.info("serving the webhook on %s", listen)
            await app.updater.start_webhook(
                listen=host or "0.0.0.0", port=int(port), url_path="telegram",
                secret_token=secret, webhook_url=webhook_url.rstrip("/") + "/telegram",
                allowed_updates=updates,
            )
        await stop.wait()
    finally:
        if app.updater.running:
            await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
