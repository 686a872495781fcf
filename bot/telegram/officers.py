"""Officer handlers: translate an update into a call on the officer flow.

Each handler takes the officer's lock, asks the flow (which commits the step),
answers the button's spinner and hands the `Reply` to the sender. No
questionnaire position lives in python-telegram-bot: SQLite is the only source
of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, BotCommandScopeDefault, Message, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.render import callbacks as cb
from bot.render.i18n import LANGUAGES, translator
from bot.render.presenter import NAV_KEYS, Screen
from bot.services.officer_flow import Reply, Sender
from bot.telegram.sender import (
    OfficerDelivery,
    Pressed,
    alert_staff,
    cosmetic,
    notify,
    send_screen,
)
from bot.telegram.updates import answer_query, private, sender_of

if TYPE_CHECKING:
    from bot.telegram.app import App, Services

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

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def keyboard_actions() -> dict[str, str]:
    """Reply-keyboard text -> flow action, in every language (a keyboard drawn before
    a language switch still works)."""
    return {translator(lang)(key): action for lang in LANGUAGES for key, action in NAV_KEYS}


class OfficerHandlers:
    def __init__(self, services: Services, delivery: OfficerDelivery) -> None:
        self.s = services
        self.flow = services.flow
        self.delivery = delivery
        self.keys = keyboard_actions()
        self._redraw: asyncio.Task[None] | None = None

    async def _run(self, update: Update, make: Callable[[Sender], Awaitable[Reply]]) -> None:
        sender = sender_of(update)
        # One update at a time per officer, in arrival order (updates run concurrently).
        async with self.flow.lock(f"chat:{sender.user_id}"):
            reply = await make(sender)
            # Buttons carry this officer's mac: see bot.render.callbacks.
            reply.screens = cb.sign_screens(self.flow.button_key, sender.user_id, reply.screens)
            query = update.callback_query
            pressed: Pressed | None = None
            if query is not None:
                await answer_query(query, reply.callback_text)
                if isinstance(query.message, Message):
                    pressed = Pressed(query.message, query.data)
            await self.delivery.deliver(update.get_bot(), sender.user_id, reply, pressed)
            if reply.notifications:
                await notify(update.get_bot(), self.s.store, reply.notifications)
            if reply.escalate and self.s.tickets is not None:
                await self.s.tickets.escalate(sender)  # an answer that stops the officer
            if reply.alert is not None:
                await alert_staff(update.get_bot(), self.s.settings.assistance_chat_id,
                                  reply.alert)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payload = context.args[0] if context.args else None
        await self._run(update, lambda s: self.flow.start(s, payload))

    def command(self, action: str) -> Handler:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await self._run(update, lambda s: self.flow.command(s, action))

        return handle

    async def key(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply-keyboard button: its text stands for a command."""
        message = update.effective_message
        assert message is not None and message.text is not None
        action = self.keys[message.text]
        if action == "help":
            if self.s.help_entry is not None:  # the assistance desk takes the request
                await self.s.help_entry(update, context)
                return
            await self.help(update, context)
            return
        await self._run(update, lambda s: self.flow.command(s, action))

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
        chat = update.effective_chat
        if chat is None:
            return
        lang = sender_of(update).language_code
        text = translator(lang or "it")("group_not_supported")
        await cosmetic(send_screen(context.bot, chat.id, Screen(text)), "group notice")

    async def redraw_undelivered(self, app: App) -> None:
        """Draw again what was committed and maybe never sent (a crash between the
        commit and the send): the officer may see a question twice, never none."""
        for user_id in await self.s.store.undelivered():
            async with self.flow.lock(f"chat:{user_id}"):
                reply = await self.flow.redraw(user_id)
                if reply is not None:
                    reply.screens = cb.sign_screens(self.flow.button_key, user_id, reply.screens)
                    await self.delivery.deliver(app.bot, user_id, reply)

    async def start_redraw(self, app: App) -> None:
        # In the background: polling starts at once, the redraws follow.
        self._redraw = asyncio.create_task(self._redraw_logged(app), name="surveybot-redraw")

    async def _redraw_logged(self, app: App) -> None:
        try:
            await self.redraw_undelivered(app)
        except Exception as error:
            await self.s.report_error(error, "start-up redraw")

    async def stop_redraw(self, app: App) -> None:
        task, self._redraw = self._redraw, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def register_officer_handlers(app: App, services: Services, delivery: OfficerDelivery) -> None:
    h = OfficerHandlers(services, delivery)
    services.startup.append(h.start_redraw)
    services.shutdown.insert(0, h.stop_redraw)
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
    messages = only_private & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(filters.Text(list(h.keys)) & messages, h.key), group=1)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & messages, h.text), group=1)
    app.add_handler(MessageHandler(filters.COMMAND & messages, h.unknown_command), group=1)
    app.add_handler(MessageHandler(messages & ~filters.TEXT, h.media), group=1)
    assistance = services.settings.assistance_chat_id
    groups = filters.ChatType.GROUPS & filters.COMMAND & filters.UpdateType.MESSAGE
    if assistance is not None:
        groups = groups & ~filters.Chat(assistance)
    app.add_handler(MessageHandler(groups, h.group), group=1)


async def set_commands(app: App) -> None:
    for lang in LANGUAGES:
        t = translator(lang)
        commands = [BotCommand(name, t(f"cmd.{name}")) for name in MENU]
        await app.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=None if lang == "it" else lang
        )
