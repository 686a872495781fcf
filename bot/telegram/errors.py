"""The one error handler: for python-telegram-bot handlers and background loops alike.

It logs with the traceback, alerts the assistance chat (at most one alert a
minute per kind of error, counting the ones it kept quiet), tells an officer
only a friendly line, and never logs or sends a secret: the bot token, the
code secret, the central token, the webhook secret and anything shaped like an
access code are blanked out of the text first (`bot.logs.redact`, as in the
log itself).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from html import escape
from typing import Any

from telegram import Bot, Update
from telegram.ext import ContextTypes

from bot.logs import redact, secrets_of
from bot.render.i18n import translator
from bot.render.presenter import Screen
from bot.settings import Settings
from bot.telegram.sender import cosmetic, send_screen
from storage.store import Store

log = logging.getLogger(__name__)

ALERT_INTERVAL = 60.0  # seconds between two alerts about the same kind of error
TRACE_CHARS = 3000  # what fits in one alert with its heading
STAFF_LANG = "it"

Monotonic = Callable[[], float]


@dataclass(slots=True)
class _Quiet:
    last_alert: float
    suppressed: int = 0


class ErrorReporter:
    """Log, alert (rate-limited) and never leak. One per application."""

    def __init__(
        self, settings: Settings, store: Store, *, interval: float = ALERT_INTERVAL,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.interval = interval
        self.clock = clock
        self.secrets = secrets_of(settings)
        self.bot: Bot | None = None  # set when the application starts
        self._quiet: dict[str, _Quiet] = {}

    def trace(self, error: BaseException) -> str:
        return redact("".join(traceback.format_exception(error)), self.secrets)

    async def report(self, error: BaseException, where: str) -> None:
        """Log and alert; for background loops (never raises)."""
        try:
            await self._report(error, where)
        except Exception:  # the reporter must never fail in turn
            log.error("could not report an error from %s", where)

    async def _report(self, error: BaseException, where: str) -> None:
        trace = self.trace(error)
        log.error("unhandled error in %s:\n%s", where, trace)
        chat = self.settings.assistance_chat_id
        if chat is None or self.bot is None:
            return
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        now = self.clock()
        quiet = self._quiet.get(kind)
        if quiet is not None and now - quiet.last_alert < self.interval:
            quiet.suppressed += 1
            return
        suppressed = quiet.suppressed if quiet is not None else 0
        self._quiet[kind] = _Quiet(now)
        t = translator(STAFF_LANG)
        text = t("error.alert", where=escape(where), trace=escape(trace[-TRACE_CHARS:]))
        if suppressed:
            text += "\n" + escape(t("error.alert_suppressed", count=suppressed))
        await cosmetic(send_screen(self.bot, chat, Screen(text)), "error alert")

    def ptb_handler(
        self,
    ) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        """The application's error handler: report, then a friendly line to an officer."""

        async def handle(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            error = context.error
            if error is None:
                return
            where = "handler"
            if isinstance(update, Update):
                where = f"update {update.update_id}"
            await self.report(error, where)
            if not isinstance(update, Update):
                return
            chat, user = update.effective_chat, update.effective_user
            if chat is None or chat.type != "private" or user is None:
                return
            language = "it"
            try:
                officer = await self.store.officer(user.id)
                language = officer.language if officer else "it"
            except Exception:
                log.info("officer %s unknown while reporting an error", user.id)
            line = Screen(translator(language)("internal_error"))
            await cosmetic(send_screen(context.bot, user.id, line), "error notice")

        return handle
