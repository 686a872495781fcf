"""Handlers of the assistance side: tickets (officers and the team's group) and the
operators' commands. They only read an update into a service call, answer the
button and hand the result to the sender; the services check roles, apply the
rules and commit first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

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
from bot.render.presenter import Screen
from bot.services.officer_flow import Reply, Sender
from bot.services.reminders import stop_task
from bot.services.staff import Operator, StaffResult, StaffService
from bot.services.tickets import DeskResult, Incoming, TicketService
from bot.telegram.app import App, Services, answer_query, sender_of
from bot.telegram.officers import keyboard_actions
from bot.telegram.sender import StaffPost, edit_for_staff, send_to_staff

OUTBOX_INTERVAL = 5.0  # seconds between passes over the staff outbox (new rows kick it)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def incoming(message: Message) -> Incoming:
    return Incoming(
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=message.text,
        caption=message.caption,
        media=bool(message.photo or message.document),
        reply_to=message.reply_to_message.message_id if message.reply_to_message else None,
        thread_id=message.message_thread_id if message.is_topic_message else None,
    )


def staff_sender(update: Update) -> Sender:
    """An operator as the services know them (the full name is what the team reads)."""
    user = update.effective_user
    assert user is not None
    return Sender(user.id, user.full_name, user.username, user.language_code)


def _thread(message: Message | None) -> int | None:
    return message.message_thread_id if message is not None and message.is_topic_message else None


class TicketHandlers:
    def __init__(self, services: Services, desk: TicketService) -> None:
        self.s = services
        self.desk = desk
        self.keys = keyboard_actions()

    async def _show(self, update: Update, result: DeskResult, *, officer: bool) -> None:
        """The result's toast, screens and cosmetic redraws, then the outbox."""
        bot = update.get_bot()
        query = update.callback_query
        if query is not None:
            await answer_query(query, result.toast, show_alert=result.alert)
        chat = update.effective_chat
        if result.screens and chat is not None:
            if officer and self.s.delivery is not None:
                await self.s.delivery.deliver(bot, chat.id, Reply(list(result.screens)))
            else:
                await send_to_staff(bot, chat.id, result.screens,
                                    thread_id=_thread(update.effective_message))
        post = StaffPost(bot)
        for edit in result.edits:
            await post.edit(edit.chat_id, edit.message_id, edit.text, edit.buttons)
        if result.close_topic is not None:
            await post.close_topic(*result.close_topic)
        if result.deliver:
            await self.desk.courier.flush()

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._show(update, await self.desk.ask(sender_of(update)), officer=True)
        raise ApplicationHandlerStop

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._show(update, await self.desk.cancel(sender_of(update)), officer=True)
        raise ApplicationHandlerStop

    async def officer_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        action = self.keys.get(message.text or "")
        if action is not None:  # a reply-keyboard key is never a request's text
            if action != "help":  # the help key asks for the request again
                await self._show(update, await self.desk.leave_request(sender_of(update)),
                                 officer=True)
            return  # the questionnaire's key handler does what the key says
        result = await self.desk.officer_message(sender_of(update), incoming(message))
        if not result.handled:
            return  # the questionnaire's handlers take it
        await self._show(update, result, officer=True)
        raise ApplicationHandlerStop

    async def group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        result = await self.desk.group_message(staff_sender(update), incoming(message))
        if result.handled:
            await self._show(update, result, officer=False)

    async def press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        pressed = query.message
        card = (pressed.chat.id, pressed.message_id) if pressed is not None else None
        result = await self.desk.press(staff_sender(update), query.data or "", card)
        await self._show(update, result, officer=False)

    async def close_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        result = await self.desk.close_command(staff_sender(update), incoming(message))
        await self._show(update, result, officer=False)

    async def list_open(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._show(update, await self.desk.list_open(staff_sender(update)), officer=False)


class StaffHandlers:
    """/codice, /revoca, /comune, /sblocca, /riapri, /scollega: operators only."""

    def __init__(self, services: Services, staff: StaffService) -> None:
        self.s = services
        self.staff = staff

    def command(self, action: Callable[[Update, Operator, str], Awaitable[StaffResult]],
                ) -> Handler:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            user = update.effective_user
            if user is None or update.effective_message is None:
                return
            operator = Operator(user.id, user.full_name, user.language_code)
            query = " ".join(context.args or []).strip()
            result = self.staff.refused(operator) or await action(update, operator, query)
            await self._show(update, result)
            raise ApplicationHandlerStop

        return handle

    async def _show(self, update: Update, result: StaffResult) -> None:
        chat = update.effective_chat
        if chat is not None and result.screens:
            await send_to_staff(update.get_bot(), chat.id, result.screens,
                                thread_id=_thread(update.effective_message))
        if result.deliver and self.s.staff_courier is not None:
            await self.s.staff_courier.flush()

    async def code(self, update: Update, operator: Operator, query: str) -> StaffResult:
        found = self.staff.find(operator, query, "codice")
        if found.municipality is None:
            return found.answer
        bot = update.get_bot()
        # Reserve the private message first: if the operator cannot be reached
        # privately, no code is issued (and the old one keeps working).
        holder = await send_to_staff(bot, operator.user_id, [Screen("🔑 …")])
        if holder is None:
            return self.staff.private_failed(operator)
        chat = update.effective_chat
        result = await self.staff.code(operator, found.municipality,
                                       in_private=chat is not None and chat.type == "private")
        assert result.private is not None
        if not await edit_for_staff(bot, operator.user_id, holder.message_id, result.private):
            await send_to_staff(bot, operator.user_id, [result.private])
        return result

    async def revoke(self, update: Update, operator: Operator, query: str) -> StaffResult:
        found = self.staff.find(operator, query, "revoca")
        if found.municipality is None:
            return found.answer
        return await self.staff.revoke(operator, found.municipality)

    async def status(self, update: Update, operator: Operator, query: str) -> StaffResult:
        found = self.staff.find(operator, query, "comune")
        if found.municipality is None:
            return found.answer
        return await self.staff.status(operator, found.municipality)

    async def unlock(self, update: Update, operator: Operator, query: str) -> StaffResult:
        return await self.staff.unlock(operator, query)

    async def unbind(self, update: Update, operator: Operator, query: str) -> StaffResult:
        return await self.staff.unbind(operator, query)

    async def reopen(self, update: Update, operator: Operator, query: str) -> StaffResult:
        found = self.staff.find(operator, query, "riapri")
        if found.municipality is None:
            return found.answer
        return await self.staff.reopen(operator, found.municipality)


def install_assistance(services: Services) -> None:
    """Register the staff commands, the ticket handlers (with an assistance group) and
    the staff outbox's courier."""
    loop: list[asyncio.Task[None]] = []
    courier = services.staff_courier
    assert courier is not None and services.staff is not None

    async def start(app: App) -> None:
        courier.transport = StaffPost(app.bot)
        courier.on_error = services.report_error
        await courier.recover()
        await courier.flush()  # what was committed and not yet sent before a restart
        loop.append(asyncio.create_task(courier.run_forever(OUTBOX_INTERVAL),
                                        name="surveybot-staff-outbox"))

    async def stop(app: App) -> None:
        while loop:
            await stop_task(loop.pop())
        courier.transport = None

    services.registrars.append(_register)
    services.startup.append(start)
    services.shutdown.insert(0, stop)  # before the store closes


def _register(app: App, services: Services) -> None:
    assert services.staff is not None
    staff = StaffHandlers(services, services.staff)
    where: filters.BaseFilter = filters.ChatType.PRIVATE
    group = services.settings.assistance_chat_id
    if group is not None:
        where = where | filters.Chat(group)
    for names, action in (
        (["codice", "code"], staff.code),
        (["revoca", "revoke"], staff.revoke),
        (["comune", "municipality"], staff.status),
        (["sblocca", "unlock"], staff.unlock),
        (["riapri", "reopen"], staff.reopen),
        (["scollega", "unbind"], staff.unbind),
    ):
        app.add_handler(CommandHandler(names, staff.command(action), where))
    if services.tickets is None or group is None:
        return  # /aiuto keeps explaining how to reach the team by phone and email
    h = TicketHandlers(services, services.tickets)
    private = filters.ChatType.PRIVATE
    in_group = filters.Chat(group)
    app.add_handler(CommandHandler(["aiuto", "help"], h.ask, private))
    app.add_handler(CallbackQueryHandler(h.ask, pattern=rf"^{cb.bot_action('help')}$"))
    services.help_entry = h.ask  # the reply keyboard's help key
    app.add_handler(CommandHandler(["annulla", "cancel"], h.cancel, private))
    app.add_handler(CallbackQueryHandler(h.press, pattern=cb.staff_pattern(cb.TICKET)))
    app.add_handler(CommandHandler(["ticket", "tickets"], h.list_open, in_group))
    app.add_handler(CommandHandler(["chiudi", "close"], h.close_command, in_group))
    app.add_handler(
        MessageHandler(in_group & ~filters.COMMAND & filters.UpdateType.MESSAGE, h.group_message)
    )
    # Officer messages that belong to a ticket; anything else falls through
    # to the questionnaire handlers (group 1).
    app.add_handler(
        MessageHandler(private & ~filters.COMMAND & filters.UpdateType.MESSAGE, h.officer_message)
    )
