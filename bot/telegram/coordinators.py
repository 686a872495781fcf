"""Handlers of the coordinators' commands (private chat):

* /proroga <data> [ora] (/extend): moves the deadline and tells the officers
  who have not submitted;
* /annuncio (/announce): the text, then the audience, a preview with the
  number of recipients, and "Conferma";
* /avanzamento (/progress): counts overall and per region, a chart, and the
  municipalities that have not started.

They read the update into a `CoordinationService` call, answer the button and
hand what it returns to the sender. They sit in their own group before the
tickets' and the officers' handlers and stop the update when they handled it;
anything else (a coordinator who is also an officer answering a question)
falls through. The broadcasts' own bot (`broadcast_transport`) is opened here
when the application starts and injected into the service.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.render import callbacks as cb
from bot.render.i18n import Translator
from bot.services.coordination import CoordinationService, CoordResult, File
from bot.telegram.app import App, Services, answer_query
from bot.telegram.broadcast_transport import BotTransport
from bot.telegram.sender import edit_for_staff, send_file_to_staff, send_to_staff

GROUP = -1  # before the tickets' handlers (group 0) and the officers' (group 1)


class CoordinatorHandlers:
    def __init__(self, services: Services, coord: CoordinationService) -> None:
        self.s = services
        self.coord = coord

    async def _allowed(self, update: Update, command: str) -> Translator:
        """The coordinator's translator; anyone else is refused and the update stops."""
        user = update.effective_user
        if user is None:
            raise ApplicationHandlerStop
        chat = update.effective_chat
        refused = await self.coord.refused(
            user.id, user.language_code, command, chat.id if chat else None,
            pressed=update.callback_query is not None,
        )
        if refused is not None:
            await self._show(update, refused)
            raise ApplicationHandlerStop
        return await self.coord.translator_for(user.id, user.language_code)

    async def _show(self, update: Update, result: CoordResult) -> Message | None:
        """Toast, the pressed message redrawn, then the rest in order; the last message."""
        bot = update.get_bot()
        query = update.callback_query
        if query is not None:
            await answer_query(query, result.toast)
        pressed = query.message if query is not None else None
        if result.edit is not None and isinstance(pressed, Message):
            await edit_for_staff(bot, pressed.chat_id, pressed.message_id, result.edit)
        chat = update.effective_chat
        last: Message | None = None
        for item in result.screens if chat is not None else []:
            assert chat is not None
            if isinstance(item, File):
                await send_file_to_staff(bot, chat.id, item.data, filename=item.filename,
                                         caption=item.caption, photo=item.photo)
            else:
                last = await send_to_staff(bot, chat.id, [item]) or last
        return last

    async def extend(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = await self._allowed(update, "/proroga")
        user = update.effective_user
        assert user is not None
        result = await self.coord.extend(user.id, t, " ".join(context.args or []).strip())
        shown = await self._show(update, result)
        if result.broadcast is not None:
            where = (shown.chat_id, shown.message_id) if shown is not None else None
            await self.coord.begin(result.broadcast, where)
        raise ApplicationHandlerStop

    async def announce(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = await self._allowed(update, "/annuncio")
        user = update.effective_user
        assert user is not None
        await self._show(update, await self.coord.announce(user.id, t))
        raise ApplicationHandlerStop

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None:
            return
        result = await self.coord.cancel(user.id, user.language_code)
        if not result.handled:
            return  # the tickets' /annulla
        await self._show(update, result)
        raise ApplicationHandlerStop

    async def draft_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or message.text is None:
            return
        result = await self.coord.draft_text(user.id, user.language_code, message.text_html)
        if not result.handled:
            return
        shown = await self._show(update, result)
        if result.draft_shown and shown is not None:
            await self.coord.draft_shown(user.id, shown.message_id)
        raise ApplicationHandlerStop

    async def press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = await self._allowed(update, "button")
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        pressed = query.message if isinstance(query.message, Message) else None
        where = (pressed.chat_id, pressed.message_id) if pressed is not None else None
        result = await self.coord.press(user.id, t, query.data or "", where)
        await self._show(update, result)
        if result.broadcast is not None:
            await self.coord.begin(result.broadcast, None)  # its progress: the pressed message
        raise ApplicationHandlerStop

    async def progress(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = await self._allowed(update, "/avanzamento")
        report, summary = await self.coord.progress(t)
        await self._show(update, summary)
        await self._show(update, await self.coord.progress_details(report, t))
        raise ApplicationHandlerStop


def install_coordinators(services: Services) -> None:
    """Register the coordinators' handlers; at start-up give the service its transport,
    settle what a crash left and start the reminder loop."""
    coord = services.coordination
    assert coord is not None
    opened: list[BotTransport] = []

    async def start(app: App) -> None:
        if coord.courier.transport is None:  # tests and benchmarks may bring their own
            transport = await BotTransport.open(app.bot.token, services.settings.telegram_api_url)
            opened.append(transport)
            coord.courier.transport = transport
        coord.reminders.on_error = coord.broadcasts.on_error = services.report_error
        await coord.recover()
        coord.start_loop()

    async def stop(app: App) -> None:
        await coord.stop()
        while opened:
            coord.courier.transport = None
            await opened.pop().close()

    services.registrars.append(_register)
    services.startup.append(start)
    services.shutdown.insert(0, stop)  # before the store closes


def _register(app: App, services: Services) -> None:
    assert services.coordination is not None
    h = CoordinatorHandlers(services, services.coordination)
    private = filters.ChatType.PRIVATE
    mine = filters.User(user_id=services.settings.coordinators)
    for names, handler in (
        (["proroga", "extend"], h.extend),
        (["annuncio", "announce"], h.announce),
        (["avanzamento", "progress"], h.progress),
    ):
        app.add_handler(CommandHandler(names, handler, private), group=GROUP)
    app.add_handler(CallbackQueryHandler(h.press, pattern=cb.staff_pattern(cb.COORDINATOR)),
                    group=GROUP)
    app.add_handler(CommandHandler(["annulla", "cancel"], h.cancel, private & mine), group=GROUP)
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & private & mine
                       & filters.UpdateType.MESSAGE, h.draft_text),
        group=GROUP,
    )
