"""Operator commands: access codes, municipality status, unlocks, reopening.

Usable in the assistance group or in a private chat with the bot, by
operators (and coordinators) only; everyone else is told they are not
authorised and nothing happens. Every action is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from html import escape
from typing import Any

from telegram import Message, Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationHandlerStop, CommandHandler, ContextTypes, filters

from bot.cli.codes import issue_code
from bot.render.i18n import translator
from bot.services.roles import is_operator
from bot.telegram.app import App, Services
from storage.municipalities import Municipality, normalize_name
from storage.store import response_id
from storage.ticket_store import TicketStore

Action = Callable[[Update, ContextTypes.DEFAULT_TYPE, Message, User, str], Awaitable[None]]


class StaffAdmin:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.flow = services.flow
        self.store = services.store

    def t(self, user: User) -> Any:
        return translator(user.language_code or "it")

    def guarded(
        self, action: Action
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message, user = update.effective_message, update.effective_user
            if message is None or user is None:
                return
            if not is_operator(self.s.settings, user.id):
                await message.reply_text(self.t(user)("staff.not_authorised"))
                raise ApplicationHandlerStop
            await action(update, context, message, user, " ".join(context.args or []).strip())
            raise ApplicationHandlerStop

        return handle

    async def municipality(self, message: Message, user: User, query: str,
                           command: str) -> Municipality | None:
        """Find one municipality by ISTAT code or name; explain when it is not one."""
        t = self.t(user)
        if not query:
            await message.reply_text(t("staff.usage", command=command))
            return None
        registry = self.flow.registry
        found = registry.get(query) if query.isdigit() else None
        if found is not None:
            return found
        candidates = registry.search(query, limit=10)
        exact = [m for m in candidates if normalize_name(m.name) == normalize_name(query)]
        if len(exact) == 1:
            return exact[0]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            await message.reply_text(t("staff.not_found", query=query))
            return None
        listing = "\n".join(f"• {m.istat} – {m.name} ({m.sigla})" for m in candidates)
        await message.reply_text(t("staff.ambiguous", query=query, candidates=listing))
        return None

    async def code(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                   user: User, query: str) -> None:
        municipality = await self.municipality(message, user, query, "codice")
        if municipality is None:
            return
        t = self.t(user)
        in_private = message.chat.type == "private"
        # Reserve the private message first: if the operator cannot be reached
        # privately, no code is issued (and the old one keeps working).
        try:
            holder = await context.bot.send_message(user.id, "🔑 …")
        except (Forbidden, BadRequest):
            await message.reply_text(t("staff.code_private_failed"))
            return
        code = await issue_code(self.store, self.s.settings, municipality.istat, f"tg:{user.id}")
        now = self.flow.clock()
        await self.store.audit(user.id, "code.issue", municipality.istat, {}, now)
        await holder.edit_text(
            t("staff.code_issued", comune=escape(municipality.name), istat=municipality.istat,
              code=code),
            parse_mode=ParseMode.HTML,
        )
        if not in_private:
            await message.reply_text(
                t("staff.code_sent_private", comune=municipality.name, name=user.full_name)
            )

    async def revoke(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                     user: User, query: str) -> None:
        municipality = await self.municipality(message, user, query, "revoca")
        if municipality is None:
            return
        t = self.t(user)
        now = self.flow.clock()
        if await self.store.revoke_code(municipality.istat, now):
            await self.store.audit(user.id, "code.revoke", municipality.istat, {}, now)
            await message.reply_text(t("staff.code_revoked", comune=municipality.name,
                                       istat=municipality.istat))
        else:
            await message.reply_text(t("staff.code_none", comune=municipality.name,
                                       istat=municipality.istat))

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                     user: User, query: str) -> None:
        municipality = await self.municipality(message, user, query, "comune")
        if municipality is None:
            return
        t = self.t(user)
        istat = municipality.istat
        officers = await self.store.officers_of(istat)
        names = ", ".join(
            escape(o.first_name + (f" (@{o.username})" if o.username else "")) for o in officers
        ) or t("staff.none")
        row = await self.store.response(self.flow.q.id, istat)
        revisions = await self.store.fetchone(
            "SELECT COUNT(*) FROM submissions WHERE response_id = ?",
            response_id(self.flow.q.id, istat),
        )
        open_tickets = await TicketStore(self.store).count_open(istat)
        presenter = self.flow.presenter(t.lang, municipality)
        if row is None:
            status, answered, total = t("status.not_started"), 0, "—"
        elif row.status == "submitted":
            status = t("status.submitted", revision=row.revision)
            answered, total = row.answered, str(row.total)
        else:
            status, answered, total = t("status.in_progress"), row.answered, str(row.total)
        submitted = presenter.moment(row.submitted_at) if row and row.submitted_at else t("never")
        await self.store.audit(user.id, "municipality.view", istat, {}, self.flow.clock())
        await message.reply_text(
            t("staff.municipality", comune=escape(municipality.name), istat=istat,
              provincia=escape(municipality.province), regione=escape(municipality.region),
              code=t("yes") if await self.store.has_active_code(istat) else t("no"),
              officers=names, status=status, answered=answered, total=total,
              submitted=submitted, revisions=revisions[0] if revisions else 0,
              tickets=open_tickets),
            parse_mode=ParseMode.HTML,
        )

    async def unlock(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                     user: User, query: str) -> None:
        t = self.t(user)
        if not query:
            await message.reply_text(t("staff.usage_user"))
            return
        target: int | None = int(query) if query.isdigit() else None
        if target is None:
            row = await self.store.fetchone(
                "SELECT user_id FROM officers WHERE lower(username) = lower(?)", query.lstrip("@")
            )
            target = int(row[0]) if row else None
        if target is None or await self.store.officer(target) is None:
            await message.reply_text(t("staff.unknown_user", user=query))
            return
        count = await self.store.clear_failures(target)
        await self.store.audit(user.id, "login.unlock", str(target), {"cleared": count},
                               self.flow.clock())
        await message.reply_text(t("staff.unlocked", user=query, count=count))

    async def reopen(self, update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                     user: User, query: str) -> None:
        municipality = await self.municipality(message, user, query, "riapri")
        if municipality is None:
            return
        t = self.t(user)
        reopened = await self.flow.reopen_by_staff(municipality.istat, user.id)
        if reopened is None:
            await message.reply_text(t("staff.not_submitted", comune=municipality.name))
            return
        await self.store.audit(user.id, "response.reopen", municipality.istat,
                               {"revision": reopened}, self.flow.clock())
        await message.reply_text(t("staff.reopened", comune=municipality.name, revision=reopened))
        for officer in await self.store.officers_of(municipality.istat):
            try:
                await context.bot.send_message(
                    officer.user_id, translator(officer.language)("ticket.reopened_by_staff")
                )
            except (Forbidden, BadRequest):
                await self.store.mark_unreachable(officer.user_id, self.flow.clock())


def register_staff_commands(app: App, services: Services) -> None:
    admin = StaffAdmin(services)
    where: filters.BaseFilter = filters.ChatType.PRIVATE
    if services.settings.assistance_chat_id is not None:
        where = where | filters.Chat(services.settings.assistance_chat_id)
    for names, action in (
        (["codice", "code"], admin.code),
        (["revoca", "revoke"], admin.revoke),
        (["comune", "municipality"], admin.status),
        (["sblocca", "unlock"], admin.unlock),
        (["riapri", "reopen"], admin.reopen),
    ):
        app.add_handler(CommandHandler(names, admin.guarded(action), where))
