"""Help requests as tickets in the assistance team's group, without Telegram.

An officer presses "Serve aiuto?" (or /aiuto) and writes the request; it
becomes a ticket: a forum topic of its own when the group is a forum, or a
card with "Prendo io" / "Risolto" buttons otherwise. Operators answer by
replying to the card (or writing in the topic) and the reply is relayed to
the officer, whose replies go back to the same ticket until it is closed. The
officer's questionnaire position is never touched.

Commit, then send: every step writes the ticket, its messages, the audit row
and the messages to deliver (the card, the officer's text for the group, the
operator's reply for the officer) in one transaction; the staff courier
delivers them afterwards and retries until they arrive. What a step shows at
once (a confirmation, a toast, a redrawn card) is returned as typed values
for `bot.telegram.assistance` to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.render import callbacks as cb
from bot.render import tickets as texts
from bot.render.i18n import Translator, translator
from bot.render.presenter import Button, Screen, escape
from bot.services.officer_flow import OfficerFlow, Sender
from bot.services.roles import is_operator
from bot.services.staff_courier import STAFF_LANG, StaffCourier
from bot.settings import Settings
from conversations import engine
from conversations.state import State
from conversations.tickets import TicketAction, accepts
from storage.staff_outbox import (
    CARD,
    COPY_TO_GROUP,
    COPY_TO_OFFICER,
    TO_GROUP,
    TO_OFFICER,
    enqueue,
)
from storage.store import Store, response_id, write_audit
from storage.ticket_store import Ticket, TicketStore


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as the desk needs it (the handler reads it off the update)."""

    chat_id: int
    message_id: int
    text: str | None = None  # a text message's text
    caption: str | None = None
    media: bool = False  # a photo or a document: copied as it is
    reply_to: int | None = None  # the message it answers
    thread_id: int | None = None  # the forum topic it was written in


@dataclass(frozen=True, slots=True)
class CardEdit:
    chat_id: int
    message_id: int
    text: str
    buttons: list[list[Button]]


@dataclass(slots=True)
class DeskResult:
    """What a step shows at once; the durable messages are already in the outbox."""

    screens: list[Screen] = field(default_factory=list)  # to the chat where one acted
    toast: str | None = None  # the answer to a pressed button
    alert: bool = False
    handled: bool = True  # False: not the desk's, the questionnaire takes it
    deliver: bool = False  # outbox rows were committed
    edits: list[CardEdit] = field(default_factory=list)  # cosmetic: cards redrawn
    close_topic: tuple[int, int] | None = None  # cosmetic: (group, thread)


def resume_buttons(t: Translator) -> list[list[Button]]:
    return [[Button(t("btn.resume"), cb.bot_action("resume"))]]


def _rows(buttons: list[list[Button]]) -> list[list[tuple[str, str]]]:
    return [[(b.label, b.data) for b in row] for row in buttons]


async def _enqueue_parts(db: Any, *, kind: str, chat_id: int, ticket_id: int,
                         ticket_message_id: int, parts: list[str], now: datetime,
                         buttons: list[list[tuple[str, str]]] | None = None) -> None:
    """One outbox row per part, so each is delivered exactly once; the last carries
    the buttons and the link to the ticket's message (replies to it find the ticket)."""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        await enqueue(db, kind=kind, chat_id=chat_id, ticket_id=ticket_id, text=part, now=now,
                      ticket_message_id=ticket_message_id if last else None,
                      buttons=buttons if last else None)


class TicketService:
    def __init__(self, settings: Settings, store: Store, flow: OfficerFlow,
                 courier: StaffCourier, group: int) -> None:
        self.settings = settings
        self.store = store
        self.flow = flow
        self.courier = courier  # delivers what the steps commit
        courier.card = self.card  # cards are drawn as the ticket stands when they go out
        self.group = group
        self.tickets = TicketStore(store)

    # --- officer side ----------------------------------------------------------------
    async def ask(self, sender: Sender) -> DeskResult:
        """/aiuto or the "Serve aiuto?" button: the next message is the request."""
        async with self.flow.lock(f"chat:{sender.user_id}"):
            officer = await self.flow.officer(sender)
            t = translator(officer.language)
            open_ticket = await self.tickets.open_for(sender.user_id)
            await self.tickets.begin_request(
                sender.user_id, open_ticket.id if open_ticket else None, self.flow.clock()
            )
            key = "ticket.ask_followup" if open_ticket else "ticket.ask"
            return DeskResult([Screen(t(key, id=open_ticket.id if open_ticket else 0))])

    async def cancel(self, sender: Sender) -> DeskResult:
        async with self.flow.lock(f"chat:{sender.user_id}"):
            officer = await self.flow.officer(sender)
            t = translator(officer.language)
            pending, _ = await self.tickets.pending_request(sender.user_id)
            await self.tickets.cancel_request(sender.user_id)
            key = "ticket.cancelled" if pending else "ticket.nothing_to_cancel"
            return DeskResult([Screen(t(key), resume_buttons(t))])

    async def leave_request(self, sender: Sender) -> DeskResult:
        """A navigation key pressed while the desk waits for a request's text: the key
        does what it says (`handled` stays False) and the request is dropped, never
        sent with the key's label as its text; the officer is told."""
        async with self.flow.lock(f"chat:{sender.user_id}"):
            pending, _ = await self.tickets.pending_request(sender.user_id)
            if not pending:
                return DeskResult(handled=False)
            await self.tickets.cancel_request(sender.user_id)
            officer = await self.flow.officer(sender)
            return DeskResult([Screen(translator(officer.language)("ticket.left"))],
                              handled=False)

    async def officer_message(self, sender: Sender, message: Incoming) -> DeskResult:
        """A private message that belongs to a ticket; `handled` False for the others."""
        async with self.flow.lock(f"chat:{sender.user_id}"):
            pending, ticket_id = await self.tickets.pending_request(sender.user_id)
            ticket: Ticket | None = None
            if not pending:
                if message.reply_to is None:
                    return DeskResult(handled=False)
                ticket = await self.tickets.by_officer_message(sender.user_id, message.reply_to)
                if ticket is None or not accepts(ticket.status, TicketAction.OFFICER_MESSAGE):
                    return DeskResult(handled=False)  # an answer that happens to be a reply
            officer = await self.flow.officer(sender)
            t = translator(officer.language)
            if not (message.text or message.media):
                return DeskResult([Screen(t("ticket.unsupported"))])
            if ticket is None and ticket_id is not None:
                ticket = await self.tickets.get(ticket_id)
            now = self.flow.clock()
            if ticket is None or not accepts(ticket.status, TicketAction.OFFICER_MESSAGE):
                context = await self.context_of(sender, officer.istat)
                number = await self._open(sender.user_id, officer.istat, context, message, now)
                confirmation = t("ticket.created", id=number)
            else:
                await self._follow_up(ticket, message, now)
                confirmation = t("ticket.added", id=ticket.id)
        return DeskResult([Screen(confirmation, resume_buttons(t))], deliver=True)

    async def escalate(self, sender: Sender) -> None:
        """A ticket the questionnaire opens for the officer (an answer that stops them,
        e.g. "this is not my municipality"), unless one is open already. The caller
        holds the officer's chat lock."""
        if await self.tickets.open_for(sender.user_id) is not None:
            return
        officer = await self.flow.officer(sender)
        context = await self.context_of(sender, officer.istat)
        now = self.flow.clock()
        async with self.store.transaction() as db:
            ticket_id = await self.tickets.insert(db, sender.user_id, officer.istat, context, now)
            await enqueue(db, kind=CARD, chat_id=self.group, ticket_id=ticket_id, now=now)
        await self.courier.flush()

    async def _open(self, user_id: int, istat: str | None, context: dict[str, Any],
                    message: Incoming, now: datetime) -> int:
        """The ticket, the officer's message, its card and its post: one transaction."""
        async with self.store.transaction() as db:
            ticket_id = await self.tickets.insert(db, user_id, istat, context, now)
            await enqueue(db, kind=CARD, chat_id=self.group, ticket_id=ticket_id, now=now)
            await self._post_officer_message(db, ticket_id, user_id, context, message, now)
        return ticket_id

    async def _follow_up(self, ticket: Ticket, message: Incoming, now: datetime) -> None:
        async with self.store.transaction() as db:
            await self._post_officer_message(db, ticket.id, ticket.user_id, ticket.context,
                                             message, now)

    async def _post_officer_message(self, db: Any, ticket_id: int, user_id: int,
                                    context: dict[str, Any], message: Incoming,
                                    now: datetime) -> None:
        t = translator(STAFF_LANG)
        officer = escape(str(context.get("officer", user_id)))
        stored = await self.tickets.add_message(
            db, ticket_id, "officer", user_id, message.text or message.caption,
            message.message_id, None, now,
        )
        if message.text:
            parts = texts.escaped_parts(message.text)
            parts[0] = t("staff.officer_says", id=ticket_id, officer=officer, text=parts[0])
            await _enqueue_parts(db, kind=TO_GROUP, chat_id=self.group, ticket_id=ticket_id,
                                 ticket_message_id=stored, parts=parts, now=now)
            return
        await enqueue(db, kind=TO_GROUP, chat_id=self.group, ticket_id=ticket_id,
                      text=t("staff.officer_sent_file", id=ticket_id, officer=officer), now=now)
        await enqueue(db, kind=COPY_TO_GROUP, chat_id=self.group, ticket_id=ticket_id,
                      ticket_message_id=stored, source=(message.chat_id, message.message_id),
                      now=now)

    async def context_of(self, sender: Sender, istat: str | None) -> dict[str, Any]:
        """What an operator needs to know about the officer asking."""
        flow, t = self.flow, translator(STAFF_LANG)
        officer_name = (sender.first_name + (f" (@{sender.username})" if sender.username else "")
                        + f" · id {sender.user_id}")
        info: dict[str, Any] = {
            "officer": officer_name, "comune": "—", "position": "—", "question": "—",
            "progress": "—", "error": flow.last_errors.get(sender.user_id, "—"),
        }
        if istat is None:
            info["comune"] = t("not_logged_in")
            return info
        municipality = flow.registry.get(istat)
        if municipality is not None:
            info["comune"] = (
                f"{municipality.name} ({istat}) – {municipality.province}, {municipality.region}"
            )
        row = await flow.store.response(flow.q.id, istat)
        if row is None:
            info["progress"] = t("status.not_started")
            return info
        nav = await flow.store.navigation(sender.user_id, response_id(flow.q.id, istat))
        item_id, progress = engine.position(flow.q, State.join(row.state, nav), flow.clock())
        status = t("status.submitted" if row.status == "submitted"
                   else "status.reopened" if row.revision else "status.in_progress",
                   revision=row.revision)
        info["progress"] = f"{row.answered}/{row.total} – {status}"
        if item_id is not None and progress is not None:
            info["position"] = t("progress", position=progress.position, total=progress.total,
                                 section=progress.section, sections=progress.sections,
                                 percent=progress.percent)
            presenter = flow.presenter(STAFF_LANG, municipality)
            info["question"] = presenter.text(presenter.item(item_id).text)
        return info

    # --- the group side ----------------------------------------------------------------
    def _refused(self, operator: Sender) -> str | None:
        """The one role check of the group side: None for operators (and coordinators),
        else what to tell them."""
        if is_operator(self.settings, operator.user_id):
            return None
        return translator(STAFF_LANG)("staff.not_authorised")

    async def _ticket_here(self, message: Incoming) -> Ticket | None:
        """The ticket a group message belongs to: its topic, or the message it answers."""
        ticket: Ticket | None = None
        if message.thread_id:
            ticket = await self.tickets.by_thread(message.thread_id)
        if ticket is None and message.reply_to is not None:
            ticket = await self.tickets.by_group_message(message.reply_to)
        return ticket

    async def group_message(self, operator: Sender, message: Incoming) -> DeskResult:
        """An operator writing in the group: relayed when it belongs to a ticket."""
        if self._refused(operator) is not None:
            return DeskResult(handled=False)  # others in the group are ignored
        ticket = await self._ticket_here(message)
        if ticket is None:
            return DeskResult(handled=False)
        t = translator(STAFF_LANG)
        if not accepts(ticket.status, TicketAction.OPERATOR_REPLY):
            return DeskResult([Screen(escape(t("staff.already_closed", id=ticket.id)))])
        if not (message.text or message.media):
            return DeskResult([Screen(escape(t("staff.relay_unsupported")))])
        officer = await self.store.officer(ticket.user_id)
        o = translator(officer.language if officer else "it")
        now = self.flow.clock()
        async with self.store.transaction() as db:
            stored = await self.tickets.add_message(
                db, ticket.id, "operator", operator.user_id, message.text or message.caption,
                None, message.message_id, now,
            )
            if message.text:
                parts = texts.escaped_parts(message.text)
                parts[0] = o("ticket.reply", id=ticket.id, text=parts[0])
                parts[-1] += "\n\n" + o("ticket.reply_hint")
                await _enqueue_parts(db, kind=TO_OFFICER, chat_id=ticket.user_id,
                                     ticket_id=ticket.id, ticket_message_id=stored, parts=parts,
                                     buttons=_rows(resume_buttons(o)), now=now)
            else:
                await enqueue(db, kind=TO_OFFICER, chat_id=ticket.user_id, ticket_id=ticket.id,
                              text=o("ticket.reply_media", id=ticket.id), now=now)
                await enqueue(db, kind=COPY_TO_OFFICER, chat_id=ticket.user_id,
                              ticket_id=ticket.id, ticket_message_id=stored,
                              source=(message.chat_id, message.message_id), now=now)
        return DeskResult(deliver=True, edits=await self._card_edits(ticket.id))

    async def press(
        self, operator: Sender, data: str, card: tuple[int, int] | None = None
    ) -> DeskResult:
        """"Prendo io" / "Risolto" under a card; `card` is (chat, message) pressed on."""
        t = translator(STAFF_LANG)
        if refused := self._refused(operator):
            return DeskResult(toast=refused, alert=True)
        decoded = cb.decode_staff(cb.TICKET, data)
        ticket = None
        if decoded is not None and len(decoded) == 2 and decoded[1].isdigit():
            ticket = await self.tickets.get(int(decoded[1]))
        if decoded is None or ticket is None or decoded[0] not in (texts.TAKE, texts.CLOSE):
            return DeskResult(toast=t("error.forged_button"))
        # A press counts only on that ticket's own card: a payload copied or made up
        # for another ticket (and pressed elsewhere) changes nothing.
        if card != (self.group, ticket.card_message_id):
            return DeskResult(toast=t("error.forged_button"))
        name = operator.first_name
        if decoded[0] == texts.CLOSE:
            result = await self._close(ticket, operator.user_id, name)
        elif accepts(ticket.status, TicketAction.TAKE):
            now = self.flow.clock()
            async with self.store.transaction() as db:
                await self.tickets.take(db, ticket.id, operator.user_id, name, now)
                await write_audit(db, operator.user_id, "ticket.take", str(ticket.id), {}, now)
            result = DeskResult(toast=t("staff.taken", name=name))
        else:
            result = DeskResult(toast=t("staff.already_closed", id=ticket.id))
        result.edits = await self._card_edits(ticket.id)
        return result

    async def close_command(self, operator: Sender, message: Incoming) -> DeskResult:
        """/chiudi in the ticket's topic or as a reply to its card or messages."""
        t = translator(STAFF_LANG)
        if refused := self._refused(operator):
            return DeskResult([Screen(escape(refused))])
        ticket = await self._ticket_here(message)
        if ticket is None:
            return DeskResult([Screen(escape(t("staff.no_ticket_here")))])
        result = await self._close(ticket, operator.user_id, operator.first_name)
        result.edits = await self._card_edits(ticket.id)
        return result

    async def _close(self, ticket: Ticket, operator_id: int, name: str) -> DeskResult:
        """Closed, audited and the officer's notice recorded: one transaction."""
        if not accepts(ticket.status, TicketAction.CLOSE):
            return DeskResult(toast=translator(STAFF_LANG)("staff.already_closed", id=ticket.id))
        officer = await self.store.officer(ticket.user_id)
        o = translator(officer.language if officer else "it")
        now = self.flow.clock()
        async with self.store.transaction() as db:
            if ticket.taken_by is None:
                await self.tickets.take(db, ticket.id, operator_id, name, now)
            if not await self.tickets.close(db, ticket.id, operator_id, now):
                return DeskResult()  # closed by someone else meanwhile
            await write_audit(db, operator_id, "ticket.close", str(ticket.id), {}, now)
            await enqueue(db, kind=TO_OFFICER, chat_id=ticket.user_id, ticket_id=ticket.id,
                          text=o("ticket.closed_officer", id=ticket.id),
                          buttons=_rows(resume_buttons(o)), now=now)
        topic = (self.group, ticket.thread_id) if ticket.thread_id else None
        return DeskResult(deliver=True, close_topic=topic)

    def card(self, ticket: Ticket) -> tuple[str, list[list[Button]]]:
        return texts.card(ticket, translator(STAFF_LANG), self.flow.q.timezone)

    async def _card_edits(self, ticket_id: int) -> list[CardEdit]:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None or ticket.card_message_id is None:
            return []  # the card is not out yet: it will be drawn as the ticket stands
        text, buttons = self.card(ticket)
        return [CardEdit(self.group, ticket.card_message_id, text, buttons)]

    async def list_open(self, operator: Sender) -> DeskResult:
        """/ticket: open tickets with their age, who took them, the first reply, and any
        message whose delivery is uncertain."""
        t = translator(STAFF_LANG)
        if refused := self._refused(operator):
            return DeskResult([Screen(escape(refused))])
        tickets = await self.tickets.open_tickets()
        if not tickets:
            return DeskResult([Screen(escape(t("staff.no_open")))])
        listing = texts.open_list(tickets, t, self.flow.clock(),
                                  await self.courier.uncertain())
        return DeskResult([Screen(part) for part in listing])
