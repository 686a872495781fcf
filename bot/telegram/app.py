"""python-telegram-bot wiring: thin handlers that translate updates.

Each handler turns an Update into a call on the officer flow and hands the
returned Reply to `bot.telegram.sender`. No questionnaire position lives in PTB:
SQLite is the only source of truth.
"""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram import BotCommand, BotCommandScopeDefault, CallbackQuery, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.render import callbacks as cb
from bot.render.i18n import translator
from bot.render.presenter import Screen
from bot.services.coordination import CoordinationService
from bot.services.officer_flow import OfficerFlow, Reply, Sender
from bot.services.staff import StaffService
from bot.services.staff_courier import StaffCourier
from bot.services.tickets import TicketService
from bot.settings import Settings
from bot.telegram.sender import alert_staff, deliver, notify
from bot.telegram.transport import LeanRequest
from bot.telegram.updates import build_bot
from storage.store import Store

log = logging.getLogger(__name__)

# Italian command -> (English alias, flow action)
COMMANDS: dict[str, tuple[str, str]] = {
    "riprendi": ("resume", "resume"),
    "indietro": ("back", "back"),
    "salta": ("skip", "skip"),
    "riepilogo": ("review", "review"),
    "invia": ("submit", "submit"),
}
MENU = ["start", "riprendi", "indietro", "salta", "riepilogo", "invia", "aiuto", "lingua",
        "privacy", "stato"]
MAX_TEXT = 4096

App = Application[Any, Any, Any, Any, Any, Any]
Hook = Callable[[App], Coroutine[Any, Any, None]]


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


def sender_of(update: Update) -> Sender:
    user = update.effective_user
    assert user is not None
    return Sender(user.id, user.first_name or "", user.username, user.language_code)


def private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == "private"


async def answer_query(query: CallbackQuery, text: str | None = None, *,
                       show_alert: bool = False) -> None:
    """Stop the button's spinner. A query Telegram no longer accepts (too old after a
    restart, already answered) must not keep the officer from seeing the reply."""
    try:
        await query.answer(text, show_alert=show_alert)
    except TelegramError as error:  # cosmetic: a timeout or a 5xx must not stop the reply
        log.info("could not answer callback query %s: %s", query.id, error)


class OfficerHandlers:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.flow = services.flow

    async def _run(self, update: Update, make: Callable[[Sender], Awaitable[Reply]]) -> None:
        sender = sender_of(update)
        # One update at a time per officer, in arrival order (updates run concurrently).
        async with self.flow.lock(f"chat:{sender.user_id}"):
            reply = await make(sender)
            # Buttons carry this officer's mac: see bot.render.callbacks.
            reply.screens = cb.sign_screens(self.flow.button_key, sender.user_id, reply.screens)
            query = update.callback_query
            if query is not None:
                await answer_query(query, reply.callback_text)
            pressed = query.message if query is not None else None
            await deliver(
                update.get_bot(), self.s.store, sender.user_id, reply,
                pressed=pressed if isinstance(pressed, Message) else None,
            )
            if reply.alert is not None:
                await alert_staff(update.get_bot(), self.s.settings.assistance_chat_id,
                                  reply.alert)
            if reply.notifications:
                await notify(update.get_bot(), self.s.store, reply.notifications)
            if reply.escalate and self.s.tickets is not None:
                await self.s.tickets.escalate(sender)  # an answer that stops the officer

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payload = context.args[0] if context.args else None
        await self._run(update, lambda s: self.flow.start(s, payload))

    def command(
        self, action: str
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await self._run(update, lambda s: self.flow.command(s, action))

        return handle

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        text = message.text
        await self._run(update, lambda s: self.flow.text(s, text))

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        data = query.data or ""
        if query.message is None or not private(update):
            await answer_query(query)
            return
        await self._run(update, lambda s: self.flow.button(s, data))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        async def make(sender: Sender) -> Reply:
            officer = await self.flow.officer(sender)
            return self.flow.help(officer.language)

        await self._run(update, make)

    async def language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._run(update, self.flow.language_menu)

    async def privacy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        async def make(sender: Sender) -> Reply:
            officer = await self.flow.officer(sender)
            return Reply([Screen(self.flow.privacy_text(officer.language))])

        await self._run(update, make)

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._run(update, self.flow.status)

    async def notice(self, update: Update, key: str) -> None:
        async def make(sender: Sender) -> Reply:
            officer = await self.flow.officer(sender)
            return Reply([Screen(translator(officer.language)(key))])

        await self._run(update, make)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.notice(update, "unknown_command")

    async def media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.notice(update, "unsupported_media")

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any edit: an officer gets the notice, staff chats nothing; no command runs."""
        if private(update):
            await self.notice(update, "edited_ignored")
        raise ApplicationHandlerStop

    async def group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            lang = sender_of(update).language_code
            await message.reply_text(translator(lang or "it")("group_not_supported"))


def register_officer_handlers(app: App, services: Services) -> None:
    h = OfficerHandlers(services)
    only_private = filters.ChatType.PRIVATE
    # Before every other group (staff commands are in group 0): CommandHandler
    # also matches edited messages, and an edit into "/salta" or "/chiudi" must
    # not run it. Every edit only gets the notice (in private chats).
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, h.edited), group=-1)
    app.add_handler(CommandHandler("start", h.start, filters=only_private), group=1)
    for italian, (english, action) in COMMANDS.items():
        app.add_handler(
            CommandHandler([italian, english], h.command(action), only_private), group=1
        )
    app.add_handler(CommandHandler(["aiuto", "help"], h.help, only_private), group=1)
    app.add_handler(CommandHandler(["lingua", "language"], h.language, only_private), group=1)
    app.add_handler(CommandHandler("privacy", h.privacy, only_private), group=1)
    app.add_handler(CommandHandler(["stato", "status"], h.status, only_private), group=1)
    app.add_handler(CallbackQueryHandler(h.button), group=1)
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & only_private & filters.UpdateType.MESSAGE,
                       h.text),
        group=1,
    )
    app.add_handler(
        MessageHandler(filters.COMMAND & only_private & filters.UpdateType.MESSAGE,
                       h.unknown_command),
        group=1,
    )
    app.add_handler(
        MessageHandler(only_private & filters.UpdateType.MESSAGE & ~filters.TEXT, h.media), group=1
    )
    assistance = services.settings.assistance_chat_id
    groups = filters.ChatType.GROUPS & filters.COMMAND & filters.UpdateType.MESSAGE
    if assistance is not None:
        groups = groups & ~filters.Chat(assistance)
    app.add_handler(MessageHandler(groups, h.group), group=1)


async def set_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    for lang in ("it", "en"):
        t = translator(lang)
        commands = [BotCommand(name, t(f"cmd.{name}")) for name in MENU]
        await app.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=None if lang == "it" else lang
        )


def error_handler(
    services: Services,
) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def handle(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("unhandled error", exc_info=error)
        chat = services.settings.assistance_chat_id
        if chat is not None and error is not None:
            trace = "".join(traceback.format_exception(error))[-3000:]
            try:
                await context.bot.send_message(
                    chat, f"⚠️ <b>Errore interno</b>\n<pre>{html.escape(trace)}</pre>",
                    parse_mode="HTML",
                )
            except Exception:  # the alert must never raise in turn
                log.exception("could not alert the assistance chat")
        if isinstance(update, Update) and private(update) and update.effective_user is not None:
            try:
                officer = await services.store.officer(update.effective_user.id)
                lang = officer.language if officer else "it"
                await context.bot.send_message(
                    update.effective_user.id, translator(lang)("internal_error")
                )
            except Exception:
                log.exception("could not tell the officer about the error")

    return handle


def build_application(services: Services, *, token: str) -> App:
    rate = services.settings.max_messages_per_second
    # Counts every request with a chat_id (edits included); a 429 is retried.
    limiter = (AIORateLimiter(overall_max_rate=rate, overall_time_period=1, max_retries=3)
               if rate > 0 else None)
    app: App = (
        ApplicationBuilder()
        .bot(build_bot(token, services.settings.telegram_api_url,
                       request=LeanRequest(pool_size=64),
                       get_updates_request=LeanRequest(pool_size=1), rate_limiter=limiter))
        # Answers of different municipalities run side by side; more than this only
        # holds memory while they queue for the one database connection.
        .concurrent_updates(32)
        .post_init(_post_init(services))
        .post_shutdown(_post_shutdown(services))
        .build()
    )
    for register in services.registrars:
        register(app, services)
    register_officer_handlers(app, services)
    app.add_error_handler(error_handler(services))
    return app


def _post_init(services: Services) -> Hook:
    async def hook(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await set_commands(app)
        for start in services.startup:
            await start(app)

    return hook


def _post_shutdown(services: Services) -> Hook:
    async def hook(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        for stop in services.shutdown:
            await stop(app)

    return hook
