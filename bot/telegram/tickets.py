"""Help requests as tickets in the assistance team's Telegram group.

An officer presses "Serve aiuto?" (or /aiuto) and writes the request; it
becomes a ticket: a forum topic of its own when the group is a forum, or a
card with "Prendo io" / "Risolto" buttons otherwise. Operators answer by
replying to the card (or writing in the topic) and the bot relays the answer
to the officer, whose replies go back to the same ticket until it is closed.
The officer's questionnaire position is never touched.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.render import callbacks as cb
from bot.render.i18n import translator
from bot.render.presenter import split_text
from bot.services.officer_flow import OfficerFlow
from bot.services.roles import is_operator
from bot.telegram.app import App, Services, sender_of
from bot.telegram.staff import register_staff_commands
from conversations import engine
from conversations.state import State
from storage.store import response_id
from storage.ticket_store import Ticket, TicketStore

log = logging.getLogger(__name__)
STAFF_LANG = "it"  # the assistance group reads Italian


def human_age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} g"


class TicketDesk:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.flow: OfficerFlow = services.flow
        self.tickets = TicketStore(services.store)
        assert services.settings.assistance_chat_id is not None
        self.group = services.settings.assistance_chat_id
        self._forum: bool | None = None  # learnt from the first createForumTopic

    # --- officer side -------------------------------------------------------------
    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/aiuto or the "Serve aiuto?" button: the next message is the request."""
        sender = sender_of(update)
        async with self.flow.lock(f"chat:{sender.user_id}"):
            if update.callback_query is not None:
                await update.callback_query.answer()
            officer = await self.flow.officer(sender)
            t = translator(officer.language)
            open_ticket = await self.tickets.open_for(sender.user_id)
            now = self.flow.clock()
            await self.tickets.begin_request(
                sender.user_id, open_ticket.id if open_ticket else None, now
            )
            text = t("ticket.ask_followup", id=open_ticket.id) if open_ticket else t("ticket.ask")
            await context.bot.send_message(sender.user_id, text)
        raise ApplicationHandlerStop

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        sender = sender_of(update)
        async with self.flow.lock(f"chat:{sender.user_id}"):
            officer = await self.flow.officer(sender)
            t = translator(officer.language)
            pending, _ = await self.tickets.pending_request(sender.user_id)
            await self.tickets.cancel_request(sender.user_id)
            key = "ticket.cancelled" if pending else "ticket.nothing_to_cancel"
            await context.bot.send_message(sender.user_id, t(key), reply_markup=_resume_markup(t))
        raise ApplicationHandlerStop

    async def officer_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A private message that belongs to a ticket (or falls through to the questionnaire)."""
        message = update.effective_message
        if message is None:
            return
        sender = sender_of(update)
        async with self.flow.lock(f"chat:{sender.user_id}"):
            pending, ticket_id = await self.tickets.pending_request(sender.user_id)
            ticket: Ticket | None = None
            if not pending and message.reply_to_message is not None:
                ticket = await self.tickets.by_officer_message(
                    sender.user_id, message.reply_to_message.message_id
                )
                if ticket is None or ticket.status != "open":
                    return  # an ordinary answer that happens to be a reply
            elif not pending:
                return
            officer = await self.flow.officer(sender)
            t = translator(officer.language)
            if not (message.text or message.photo or message.document):
                await message.reply_text(t("ticket.unsupported"))
                raise ApplicationHandlerStop
            if ticket is None and ticket_id is not None:
                ticket = await self.tickets.get(ticket_id)
            now = self.flow.clock()
            if ticket is None or ticket.status != "open":
                ticket = await self.tickets.create(
                    sender.user_id,
                    officer.istat,
                    await self.context_of(
                        sender.user_id, officer.istat, sender.first_name, sender.username
                    ),
                    now,
                )
                await self.post_new(context, ticket, message)
                confirmation = t("ticket.created", id=ticket.id)
            else:
                await self.tickets.cancel_request(sender.user_id)
                await self.post_followup(context, ticket, message)
                confirmation = t("ticket.added", id=ticket.id)
            await context.bot.send_message(
                sender.user_id,
                confirmation,
                parse_mode=ParseMode.HTML,
                reply_markup=_resume_markup(t),
            )
        raise ApplicationHandlerStop

    async def context_of(
        self, user_id: int, istat: str | None, first_name: str, username: str | None
    ) -> dict[str, Any]:
        """What an operator needs to know about the officer asking."""
        flow = self.flow
        officer_name = first_name + (f" (@{username})" if username else "") + f" · id {user_id}"
        info: dict[str, Any] = {
            "officer": officer_name,
            "comune": "—",
            "position": "—",
            "question": "—",
            "progress": "—",
            "error": flow.last_errors.get(user_id, "—"),
        }
        if istat is None:
            info["comune"] = translator(STAFF_LANG)("not_logged_in")
            return info
        municipality = flow.registry.get(istat)
        if municipality is not None:
            info["comune"] = (
                f"{municipality.name} ({istat}) – {municipality.province}, {municipality.region}"
            )
        row = await flow.store.response(flow.q.id, istat)
        if row is None:
            info["progress"] = translator(STAFF_LANG)("status.not_started")
            return info
        nav = await flow.store.navigation(user_id, response_id(flow.q.id, istat))
        state = State.join(row.state, nav)
        item_id, progress = engine.position(flow.q, state)
        status = translator(STAFF_LANG)(
            "status.submitted" if row.status == "submitted" else "status.in_progress",
            revision=row.revision,
        )
        info["progress"] = f"{row.answered}/{row.total} – {status}"
        if item_id is not None and progress is not None:
            info["position"] = translator(STAFF_LANG)(
                "progress",
                position=progress.position,
                total=progress.total,
                section=progress.section,
                sections=progress.sections,
            )
            presenter = flow.presenter(STAFF_LANG, municipality)
            info["question"] = presenter.text(presenter.item(item_id).text)
        return info

    # --- the group side -------------------------------------------------------------
    def card_text(self, ticket: Ticket) -> str:
        t = translator(STAFF_LANG)
        c = ticket.context
        when = self.flow.presenter(STAFF_LANG, None).moment(ticket.created_at)
        text = t(
            "staff.card",
            id=ticket.id,
            comune=escape(str(c.get("comune", "—"))),
            officer=escape(str(c.get("officer", "—"))),
            position=escape(str(c.get("position", "—"))),
            question=escape(str(c.get("question", "—"))),
            error=escape(str(c.get("error", "—"))),
            progress=escape(str(c.get("progress", "—"))),
            when=when,
        )
        if ticket.taken_by_name:
            text += "\n" + escape(t("staff.taken", name=ticket.taken_by_name))
        if ticket.status == "closed" and ticket.closed_at:
            text += "\n" + escape(
                t(
                    "staff.closed",
                    name=ticket.taken_by_name or "—",
                    when=self.flow.presenter(STAFF_LANG, None).moment(ticket.closed_at),
                )
            )
        else:
            text += "\n\n" + t("staff.card_hint_forum" if ticket.thread_id else "staff.card_hint")
        return text

    def card_markup(self, ticket: Ticket) -> InlineKeyboardMarkup | None:
        if ticket.status == "closed":
            return None
        t = translator(STAFF_LANG)
        row = []
        if ticket.taken_by is None:
            row.append(InlineKeyboardButton(t("btn.take"), callback_data=f"tk:take:{ticket.id}"))
        row.append(InlineKeyboardButton(t("btn.resolve"), callback_data=f"tk:close:{ticket.id}"))
        return InlineKeyboardMarkup([row])

    async def post_new(
        self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket, message: Message
    ) -> None:
        bot = context.bot
        thread_id = await self._new_topic(context, ticket)
        placed = replace(ticket, thread_id=thread_id)
        card = await bot.send_message(
            self.group,
            self.card_text(placed),
            parse_mode=ParseMode.HTML,
            reply_markup=self.card_markup(placed),
            message_thread_id=thread_id,
        )
        await self.tickets.set_placement(ticket.id, thread_id, card.message_id)
        await self.post_followup(context, placed, message, card=card)

    async def _new_topic(self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket) -> int | None:
        """A topic of its own in a forum group; None for an ordinary group."""
        if self._forum is None:
            try:
                self._forum = bool((await context.bot.get_chat(self.group)).is_forum)
            except TelegramError:
                return None  # try again with the next ticket
        if not self._forum:
            return None
        name = f"#{ticket.id} · {str(ticket.context.get('comune', ''))[:60]}"
        try:
            topic = await context.bot.create_forum_topic(self.group, name)
        except BadRequest:
            log.warning("could not create a topic for ticket %s: using a card", ticket.id)
            return None
        return topic.message_thread_id

    async def post_followup(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        ticket: Ticket,
        message: Message,
        card: Message | None = None,
    ) -> None:
        """Put the officer's message in the ticket's place in the group."""
        t = translator(STAFF_LANG)
        bot = context.bot
        officer = escape(str(ticket.context.get("officer", ticket.user_id)))
        reply_to = card.message_id if card else ticket.card_message_id
        now = self.flow.clock()
        if message.text:
            posted = await bot.send_message(
                self.group,
                t("staff.officer_says", id=ticket.id, officer=officer, text=escape(message.text)),
                parse_mode=ParseMode.HTML,
                message_thread_id=ticket.thread_id,
                reply_to_message_id=None if ticket.thread_id else reply_to,
            )
        else:
            await bot.send_message(
                self.group,
                t("staff.officer_sent_file", id=ticket.id, officer=officer),
                parse_mode=ParseMode.HTML,
                message_thread_id=ticket.thread_id,
                reply_to_message_id=None if ticket.thread_id else reply_to,
            )
            copied = await bot.copy_message(
                self.group, message.chat_id, message.message_id, message_thread_id=ticket.thread_id
            )
            posted_id = copied.message_id
            await self.tickets.add_message(
                ticket.id,
                "officer",
                ticket.user_id,
                message.caption,
                message.message_id,
                posted_id,
                now,
            )
            return
        await self.tickets.add_message(
            ticket.id,
            "officer",
            ticket.user_id,
            message.text,
            message.message_id,
            posted.message_id,
            now,
        )

    async def group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An operator writing in the group: relay it when it belongs to a ticket."""
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None or not is_operator(self.settings, user.id):
            return  # others in the group are ignored
        ticket: Ticket | None = None
        if message.is_topic_message and message.message_thread_id:
            ticket = await self.tickets.by_thread(message.message_thread_id)
        if ticket is None and message.reply_to_message is not None:
            ticket = await self.tickets.by_group_message(message.reply_to_message.message_id)
        if ticket is None:
            return
        t = translator(STAFF_LANG)
        if ticket.status != "open":
            await message.reply_text(t("staff.already_closed", id=ticket.id))
            return
        await self.relay_to_officer(context, ticket, message, user.id)

    async def relay_to_officer(
        self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket, message: Message, operator_id: int
    ) -> None:
        officer = await self.services.store.officer(ticket.user_id)
        t = translator(officer.language if officer else "it")
        bot = context.bot
        try:
            if message.text:
                sent = await bot.send_message(
                    ticket.user_id,
                    t("ticket.reply", id=ticket.id, text=escape(message.text))
                    + "\n\n"
                    + t("ticket.reply_hint"),
                    parse_mode=ParseMode.HTML,
                    reply_markup=_resume_markup(t),
                )
                officer_message_id = sent.message_id
            else:
                await bot.send_message(
                    ticket.user_id, t("ticket.reply_media", id=ticket.id), parse_mode=ParseMode.HTML
                )
                copied = await bot.copy_message(ticket.user_id, message.chat_id, message.message_id)
                officer_message_id = copied.message_id
        except Forbidden:
            await self.services.store.mark_unreachable(ticket.user_id, self.flow.clock())
            await message.reply_text(translator(STAFF_LANG)("staff.not_delivered"))
            return
        await self.tickets.add_message(
            ticket.id,
            "operator",
            operator_id,
            message.text or message.caption,
            officer_message_id,
            message.message_id,
            self.flow.clock(),
        )

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        user = update.effective_user
        t = translator(STAFF_LANG)
        if user is None or not is_operator(self.settings, user.id):
            await query.answer(t("staff.not_authorised"), show_alert=True)
            return
        _, action, raw_id = (query.data or "tk:x:0").split(":")
        ticket = await self.tickets.get(int(raw_id)) if raw_id.isdigit() else None
        # A press counts only on that ticket's own card: a payload copied or made
        # up for another ticket (and pressed elsewhere) changes nothing.
        card = query.message
        if (ticket is None or card is None or card.chat.id != self.group
                or card.message_id != ticket.card_message_id):
            await query.answer(t("error.forged_button"))
            return
        now = self.flow.clock()
        name = user.full_name
        if action == "take" and ticket.status == "open":
            await self.tickets.take(ticket.id, user.id, name, now)
            await self.services.store.audit(user.id, "ticket.take", str(ticket.id), {}, now)
            await query.answer(t("staff.taken", name=name))
        elif action == "close":
            await self.close(context, ticket, user.id, name)
            await query.answer()
        else:
            await query.answer(t("staff.already_closed", id=ticket.id))
        await self.refresh_card(context, ticket.id)

    async def _staff_only(self, update: Update) -> tuple[Message | None, User | None]:
        """The message and its operator; (None, None) after refusing anyone else."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return None, None
        if not is_operator(self.settings, user.id):
            await message.reply_text(translator(STAFF_LANG)("staff.not_authorised"))
            return None, None
        return message, user

    async def close_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = translator(STAFF_LANG)
        message, user = await self._staff_only(update)
        if message is None or user is None:
            return
        ticket: Ticket | None = None
        if message.is_topic_message and message.message_thread_id:
            ticket = await self.tickets.by_thread(message.message_thread_id)
        if ticket is None and message.reply_to_message is not None:
            ticket = await self.tickets.by_group_message(message.reply_to_message.message_id)
        if ticket is None:
            await message.reply_text(t("staff.no_ticket_here"))
            return
        await self.close(context, ticket, user.id, user.full_name)
        await self.refresh_card(context, ticket.id)

    async def close(
        self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket, operator_id: int, name: str
    ) -> None:
        now = self.flow.clock()
        if ticket.taken_by is None:
            await self.tickets.take(ticket.id, operator_id, name, now)
        if not await self.tickets.close(ticket.id, operator_id, now):
            return
        await self.services.store.audit(operator_id, "ticket.close", str(ticket.id), {}, now)
        officer = await self.services.store.officer(ticket.user_id)
        t = translator(officer.language if officer else "it")
        try:
            await context.bot.send_message(
                ticket.user_id,
                t("ticket.closed_officer", id=ticket.id),
                reply_markup=_resume_markup(t),
            )
        except Forbidden:
            await self.services.store.mark_unreachable(ticket.user_id, now)
        if ticket.thread_id:
            try:
                await context.bot.close_forum_topic(self.group, ticket.thread_id)
            except TelegramError:
                log.info("could not close the topic of ticket %s", ticket.id)

    async def refresh_card(self, context: ContextTypes.DEFAULT_TYPE, ticket_id: int) -> None:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None or ticket.card_message_id is None:
            return
        try:
            await context.bot.edit_message_text(
                self.card_text(ticket),
                self.group,
                ticket.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=self.card_markup(ticket),
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise

    async def list_open(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = translator(STAFF_LANG)
        message, user = await self._staff_only(update)
        if message is None or user is None:
            return
        tickets = await self.tickets.open_tickets()
        if not tickets:
            await message.reply_text(t("staff.no_open"))
            return
        now = self.flow.clock()
        lines = [t("staff.open_list", count=len(tickets))]
        for ticket in tickets:
            age = human_age((now - datetime.fromisoformat(ticket.created_at)).total_seconds())
            taken = (
                t("staff.taken_short", name=ticket.taken_by_name)
                if ticket.taken_by_name
                else t("staff.not_taken")
            )
            if ticket.first_reply_at:
                waited = (
                    datetime.fromisoformat(ticket.first_reply_at)
                    - datetime.fromisoformat(ticket.created_at)
                ).total_seconds()
                taken += " · " + t("staff.first_reply", age=human_age(waited))
            comune = str(ticket.context.get("comune", "—")).split(" (")[0]
            lines.append(
                escape(t("staff.open_line", id=ticket.id, comune=comune, age=age, taken=taken))
            )
        for part in split_text("\n".join(lines)):
            await message.reply_text(part, parse_mode=ParseMode.HTML)


def _resume_markup(t: Any) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("btn.resume"), callback_data=cb.bot_action("resume"))]]
    )


def install_tickets(services: Services) -> None:
    """Register the ticket and operator handlers (when an assistance chat is set)."""
    services.registrars.append(_register)


def _register(app: App, services: Services) -> None:
    register_staff_commands(app, services)
    if services.settings.assistance_chat_id is None:
        return  # /aiuto keeps explaining how to reach the team by phone and email
    desk = TicketDesk(services)
    private = filters.ChatType.PRIVATE
    group = filters.Chat(desk.group)
    app.add_handler(CommandHandler(["aiuto", "help"], desk.ask, private))
    app.add_handler(CallbackQueryHandler(desk.ask, pattern=r"^x:help$"))
    app.add_handler(CommandHandler(["annulla", "cancel"], desk.cancel, private))
    app.add_handler(CallbackQueryHandler(desk.button, pattern=r"^tk:(take|close):\d+$"))
    app.add_handler(CommandHandler(["ticket", "tickets"], desk.list_open, group))
    app.add_handler(CommandHandler(["chiudi", "close"], desk.close_command, group))
    app.add_handler(
        MessageHandler(group & ~filters.COMMAND & filters.UpdateType.MESSAGE, desk.group_message)
    )
    # Officer messages that belong to a ticket; anything else falls through
    # to the questionnaire handlers (group 1).
    app.add_handler(
        MessageHandler(
            private & ~filters.COMMAND & filters.UpdateType.MESSAGE, desk.officer_message
        )
    )
