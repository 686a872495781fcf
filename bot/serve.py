"""`surveybot run`: long polling, or PTB's webhook server with a secret token."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from telegram import Update

from bot.runtime import open_services
from bot.settings import Settings
from bot.telegram_app import build_application

log = logging.getLogger(__name__)


def serve(settings: Settings, *, webhook_url: str | None, listen: str) -> int:
    token = settings.require_token()
    services = asyncio.run(open_services(settings))
    app = build_application(services, token=token)
    updates: Any = Update.ALL_TYPES
    if webhook_url is None:
        log.info("starting long polling against %s", settings.telegram_api_url)
        app.run_polling(allowed_updates=updates, drop_pending_updates=False)
        return 0
    host, _, port = listen.rpartition(":")
    secret = (settings.webhook_secret.get_secret_value() if settings.webhook_secret
              else hashlib.sha256(("webhook" + token).encode()).hexdigest()[:32])
    log.info("serving webhook on %s", listen)
    app.run_webhook(
        listen=host or "0.0.0.0", port=int(port), url_path="telegram", secret_token=secret,
        webhook_url=webhook_url.rstrip("/") + "/telegram", allowed_updates=updates,
    )
    return 0
