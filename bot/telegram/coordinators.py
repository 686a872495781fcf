"""Coordinators: deadline extensions, reminders, broadcasts, progress (issue 5).

Commands (private chat, coordinators only; anyone else is told they are not
authorised and the attempt is written to the audit log):

* /proroga <data> [ora] (/extend): moves the deadline and tells the officers
  who have not submitted (a broadcast like any other);
* /annuncio (/announce): asks for the text, then the audience, shows a
  preview with the number of recipients and sends on "Conferma". The dialogue
  lives in SQLite (`broadcast_drafts`), not in PTB;
* /avanzamento (/progress): counts overall and per region, a chart, and the
  municipalities that have not started.

The handlers sit in their own group before the tickets' and the officers'
handlers and stop the update when they handled it; anything else (e.g. a
coordinator who is also an officer answering a question) falls through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot, Message, Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.render import progress
from bot.render.i18n import Translator, normalize_language, translator
from bot.render.presenter import Button, Screen, escape
from bot.services.broadcasts import (
    ALL,
    ANNOUNCEMENT,
    EXTENSION,
    MAX_TEXT,
    NOT_SUBMITTED,
    REGION,
    BotTransport,
    BroadcastService,
    Courier,
    Pacer,
    select,
)
from bot.services.reminders import ReminderService, parse_days, stop_task
from bot.services.roles import is_coordinator
from bot.telegram.app import App, Services
from bot.telegram.sender import markup
from storage.coordination_store import IN_PROGRESS, NOT_STARTED, SUBMITTED, CoordinationStore

log = logging.getLogger(__name__)

GROUP = -1  # before the tickets' handlers (group 0) and the officers' (group 1)
DRAFT_TTL = timedelta(minutes=30)
PREFIX = "co"
END_OF_DAY = dtime(23, 59)

_DMY = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})"
    r"(?:[\sT,]+(?:(?:alle|ore|at|h)\s*)?(\d{1,2})[:.](\d{2}))?$",
    re.IGNORECASE,
)

_INSTALLED: dict[int, Coordination] = {}


def parse_deadline(text: str, tz: str) -> datetime:
    """'15/09/2019' -> 23:59 that day, Rome time; '15/09/2019 18:00' and ISO forms too."""
    text = " ".join(text.split())
    zone = ZoneInfo(tz)
    match = _DMY.match(text)
    if match:
        day, month, year = int(match[1]), int(match[2]), int(match[3])
        if year < 100:
            year += 2000
        when = END_OF_DAY if match[4] is None else dtime(int(match[4]), int(match[5]))
        return datetime.combine(date(year, month, day), when, zone)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), END_OF_DAY, zone)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def coordination(services: Services) -> Coordination:
    """The coordinators' machinery installed on these services."""
    return _INSTALLED[id(services)]


def install_coordinators(services: Services) -> None:
    """Register coordinator handlers and background jobs on the services."""
    installed = Coordination(services)
    _INSTALLED[id(services)] = installed
    services.registrars.append(installed.register)
    services.startup.append(installed.start)
    # Before the store closes.
    services.shutdown.insert(0, installed.stop)


@dataclass(frozen=True, slots=True)
class _Who:
    user: User
    message: Message | None
    t: Translator


class Coordination:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.flow = services.flow
        self.cstore = CoordinationStore(services.store)
        self.pacer = Pacer(rate=self.settings.broadcast_rate)
        self.courier = Courier(self.pacer)
        q, registry, clock = self.flow.q, self.flow.registry, self.flow.clock
        self.broadcasts = BroadcastService(
            self.store, self.cstore, registry, q.id, clock, self.courier, self.settings.timezone
        )
        self.reminders = ReminderService(
            self.store, self.cstore, registry, q.id, self.flow.deadline, clock, self.courier,
            days=parse_days(self.settings.reminder_days), timezone=self.settings.timezone,
        )
        self._bot: Bot | None = None
        self._loop: asyncio.Task[None] | None = None

    @property
    def tz(self) -> str:
        return self.settings.timezone

    # --- lifecycle -----------------------------------------------------------------
    async def start(self, app: App) -> None:
        """Startup hook: own Bot for paced sends, crash recovery, the reminder loop."""
        if self.courier.transport is None:
            root = self.settings.telegram_api_url
            self._bot = Bot(
                app.bot.token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
                request=HTTPXRequest(connection_pool_size=64, pool_timeout=10.0),
            )
            await self._bot.initialize()
            self.courier.transport = BotTransport(self._bot)
        await self.recover()
        self._loop = asyncio.create_task(
            self.reminders.run_forever(self.settings.reminder_interval), name="surveybot-reminders"
        )

    async def recover(self) -> None:
        """What a start does before the loop: settle what a crash left ambiguous, make
        sure reminders are planned, resume interrupted broadcasts."""
        await self.reminders.recover()
        await self.reminders.ensure_plan()
        await self.broadcasts.resume()

    async def stop(self, app: App) -> None:
        loop, self._loop = self._loop, None
        await stop_task(loop)
        await self.broadcasts.stop()
        bot, self._bot = self._bot, None
        if bot is not None:
            self.courier.transport = None
            with contextlib.suppress(Exception):
                await bot.shutdown()

    def register(self, app: App, services: Services) -> None:
        private = filters.ChatType.PRIVATE
        mine = filters.User(user_id=self.settings.coordinators)
        for names, handler in (
            (["proroga", "extend"], self.extend),
            (["annuncio", "announce"], self.announce),
            (["avanzamento", "progress"], self.progress),
        ):
            app.add_handler(CommandHandler(names, handler, private), group=GROUP)
        app.add_handler(CallbackQueryHandler(self.button, pattern=rf"^{PREFIX}:"), group=GROUP)
        app.add_handler(CommandHandler(["annulla", "cancel"], self.cancel, private & mine),
                        group=GROUP)
        app.add_handler(
            MessageHandler(filters.TEXT & ~filters.COMMAND & private & mine
                           & filters.UpdateType.MESSAGE, self.draft_text),
            group=GROUP,
        )

    # --- shared -------------------------------------------------------------------------
    async def translator_for(self, user: User) -> Translator:
        officer = await self.store.officer(user.id)
        return translator(officer.language if officer else normalize_language(user.language_code))

    async def _who(self, update: Update, command: str) -> _Who:
        """The coordinator behind the update; anyone else is refused (and audited)."""
        user = update.effective_user
        if user is None:
            raise ApplicationHandlerStop
        t = await self.translator_for(user)
        message = update.effective_message
        if not is_coordinator(self.settings, user.id):
            await self.store.audit(user.id, "coord.denied", command,
                                   {"chat_id": update.effective_chat.id
                                    if update.effective_chat else None}, self.flow.clock())
            if update.callback_query is not None:
                await update.callback_query.answer(t("coord.not_authorised"))
            elif message is not None:
                await message.reply_text(t("coord.not_authorised"))
            raise ApplicationHandlerStop
        return _Who(user, message, t)

    def moment(self, value: datetime, t: Translator) -> str:
        return self.broadcasts.moment(value, t.lang)

    # --- /proroga ------------------------------------------------------------------------
    async def extend(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        who = await self._who(update, "/proroga")
        t, message = who.t, who.message
        assert message is not None
        argument = " ".join(context.args or []).strip()
        async with self.flow.lock(f"chat:{who.user.id}"):
            if not argument:
                await message.reply_text(t("coord.extend_usage"), parse_mode=ParseMode.HTML)
                raise ApplicationHandlerStop
            try:
                new = parse_deadline(argument, self.tz)
            except ValueError:
                await message.reply_text(t("coord.extend_bad_date", text=escape(argument)),
                                         parse_mode=ParseMode.HTML)
                raise ApplicationHandlerStop from None
            now = self.flow.clock()
            if new <= now:
                await message.reply_text(t("coord.extend_past", deadline=self.moment(new, t)))
                raise ApplicationHandlerStop
            old = await self.flow.deadline()
            await self.store.set_setting("deadline", new.isoformat())
            await self.store.audit(who.user.id, "deadline.extend", None,
                                   {"old": old.isoformat(), "new": new.isoformat()}, now)
            await self.reminders.replan()
            broadcast_id = await self.broadcasts.create(
                coordinator_id=who.user.id, kind=EXTENSION, text=new.isoformat(),
                audience=NOT_SUBMITTED, region=None, language=t.lang,
            )
            assert broadcast_id is not None
            await self._audit_broadcast(who.user.id, broadcast_id)
            reply = await message.reply_text(await self.broadcasts.progress_text(broadcast_id),
                                             parse_mode=ParseMode.HTML)
            await self.cstore.set_progress_message(broadcast_id, reply.chat_id, reply.message_id)
            self.broadcasts.start(broadcast_id)
        raise ApplicationHandlerStop

    async def _audit_broadcast(self, actor: int, broadcast_id: int) -> None:
        broadcast = await self.cstore.broadcast(broadcast_id)
        assert broadcast is not None
        await self.store.audit(
            actor, "broadcast.create", str(broadcast_id),
            {"kind": broadcast.kind, "audience": broadcast.audience, "region": broadcast.region,
             "recipients": broadcast.total, "excluded_unreachable": broadcast.excluded},
            self.flow.clock(),
        )

    # --- /annuncio --------------------------------------------------------------------------
    async def announce(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        who = await self._who(update, "/annuncio")
        assert who.message is not None
        async with self.flow.lock(f"chat:{who.user.id}"):
            await self.cstore.save_draft(who.user.id, "text", self.flow.clock())
            await who.message.reply_text(who.t("broadcast.ask_text", limit=MAX_TEXT),
                                         parse_mode=ParseMode.HTML)
        raise ApplicationHandlerStop

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/annulla while drafting an announcement (otherwise the tickets' /annulla)."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        async with self.flow.lock(f"chat:{user.id}"):
            if not await self.cstore.delete_draft(user.id):
                return
            t = await self.translator_for(user)
            await message.reply_text(t("broadcast.cancelled"))
        raise ApplicationHandlerStop

    async def draft_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The coordinator's next message after /annuncio is the announcement."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or message.text is None:
            return
        async with self.flow.lock(f"chat:{user.id}"):
            draft = await self.cstore.draft(user.id)
            if draft is None or draft.stage != "text":
                return
            now = self.flow.clock()
            if now - draft.updated_at > DRAFT_TTL:
                await self.cstore.delete_draft(user.id)
                return  # a forgotten /annuncio: this is an ordinary message
            t = await self.translator_for(user)
            text = message.text_html
            if len(text) > MAX_TEXT:
                await message.reply_text(t("broadcast.too_long", length=len(text), limit=MAX_TEXT))
                raise ApplicationHandlerStop
            screen = await self._audience_screen(t)
            sent = await message.reply_text(screen.text, parse_mode=ParseMode.HTML,
                                            reply_markup=markup(screen))
            await self.cstore.save_draft(user.id, "audience", now, text=text,
                                         message_id=sent.message_id)
        raise ApplicationHandlerStop

    async def _audience_screen(self, t: Translator) -> Screen:
        targets = await self.cstore.targets(self.flow.q.id)

        def count(audience: str) -> int:
            return sum(1 for x in select(targets, audience, None, self.flow.registry)
                       if not x.unreachable)

        rows = [
            [Button(f"{t(f'broadcast.audience.{audience}')} ({count(audience)})",
                    f"{PREFIX}:a:{audience}")]
            for audience in (ALL, NOT_STARTED, IN_PROGRESS, SUBMITTED)
        ]
        rows.append([Button(t("broadcast.audience.region"), f"{PREFIX}:a:{REGION}")])
        rows.append([Button(t("broadcast.cancel"), f"{PREFIX}:no")])
        return Screen(t("broadcast.choose_audience"), rows)

    def _region_screen(self, t: Translator) -> Screen:
        regions = self.flow.registry.regions()
        buttons = [Button(name, f"{PREFIX}:r:{index}") for index, name in enumerate(regions)]
        rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        rows.append([Button(t("broadcast.back"), f"{PREFIX}:back"),
                     Button(t("broadcast.cancel"), f"{PREFIX}:no")])
        return Screen(t("broadcast.choose_region"), rows)

    async def _preview_screen(self, t: Translator, text: str, audience: str,
                              region: str | None) -> Screen:
        targets, excluded = await self.broadcasts.audience(audience, region)
        label = (t("broadcast.audience_region", region=escape(region or "")) if audience == REGION
                 else t(f"broadcast.audience.{audience}"))
        body = t("broadcast.preview", message=self.broadcasts.render(ANNOUNCEMENT, text, t.lang),
                 count=len(targets), audience=label)
        if excluded:
            body += "\n" + t("broadcast.preview_excluded", count=excluded)
        back = Button(t("broadcast.back"), f"{PREFIX}:back")
        cancel = Button(t("broadcast.cancel"), f"{PREFIX}:no")
        if not targets:
            return Screen(body + "\n" + t("broadcast.no_recipients"), [[back, cancel]])
        return Screen(body, [[Button(t("broadcast.confirm", count=len(targets)), f"{PREFIX}:ok")],
                             [back, cancel]])

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        who = await self._who(update, "button")
        query = update.callback_query
        assert query is not None
        data, t, uid = query.data or "", who.t, who.user.id
        pressed = query.message if isinstance(query.message, Message) else None
        async with self.flow.lock(f"chat:{uid}"):
            draft = await self.cstore.draft(uid)
            now = self.flow.clock()
            if data == f"{PREFIX}:no":
                await self.cstore.delete_draft(uid)
                await query.answer()
                await self._edit(query.edit_message_text(t("broadcast.cancelled")))
                raise ApplicationHandlerStop
            if (draft is None or draft.text is None or pressed is None
                    or draft.message_id != pressed.message_id):
                await query.answer(t("broadcast.no_draft"))
                raise ApplicationHandlerStop
            screen: Screen | None = None
            if data == f"{PREFIX}:back" or data == f"{PREFIX}:a:{REGION}":
                screen = (await self._audience_screen(t) if data.endswith("back")
                          else self._region_screen(t))
                await self.cstore.save_draft(uid, "audience", now, text=draft.text,
                                             message_id=draft.message_id)
            elif data.startswith(f"{PREFIX}:a:") or data.startswith(f"{PREFIX}:r:"):
                audience, region = self._audience_of(data)
                if audience is None:
                    await query.answer(t("broadcast.no_draft"))
                    raise ApplicationHandlerStop
                screen = await self._preview_screen(t, draft.text, audience, region)
                await self.cstore.save_draft(uid, "preview", now, text=draft.text,
                                             audience=audience, region=region,
                                             message_id=draft.message_id)
            elif data == f"{PREFIX}:ok":
                await self._confirm(query.answer, t, uid, draft.text, draft.audience,
                                    draft.region, draft.stage, pressed)
                raise ApplicationHandlerStop
            if screen is None:
                await query.answer(t("broadcast.no_draft"))
                raise ApplicationHandlerStop
            await query.answer()
            await self._edit(query.edit_message_text(
                screen.text, parse_mode=ParseMode.HTML, reply_markup=markup(screen),
                disable_web_page_preview=True,
            ))
        raise ApplicationHandlerStop

    def _audience_of(self, data: str) -> tuple[str | None, str | None]:
        parts = data.split(":")
        if parts[1] == "a" and parts[2] in (ALL, NOT_STARTED, IN_PROGRESS, SUBMITTED):
            return parts[2], None
        if parts[1] == "r" and parts[2].isdigit():
            regions = self.flow.registry.regions()
            index = int(parts[2])
            if index < len(regions):
                return REGION, regions[index]
        return None, None

    async def _confirm(self, answer: Any, t: Translator, uid: int, text: str,
                       audience: str | None, region: str | None, stage: str,
                       pressed: Message) -> None:
        if stage != "preview" or audience is None:
            await answer(t("broadcast.no_draft"))
            return
        broadcast_id = await self.broadcasts.create(
            coordinator_id=uid, kind=ANNOUNCEMENT, text=text, audience=audience, region=region,
            language=t.lang, progress=(pressed.chat_id, pressed.message_id), from_draft=True,
        )
        if broadcast_id is None:  # a second press of "Conferma"
            await answer(t("broadcast.no_draft"))
            return
        await answer(t("broadcast.started"))
        await self._audit_broadcast(uid, broadcast_id)
        await self._edit(pressed.edit_text(await self.broadcasts.progress_text(broadcast_id),
                                           parse_mode=ParseMode.HTML))
        self.broadcasts.start(broadcast_id)

    @staticmethod
    async def _edit(call: Any) -> None:
        try:
            await call
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise

    # --- /avanzamento ---------------------------------------------------------------------
    async def progress(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        who = await self._who(update, "/avanzamento")
        t, message = who.t, who.message
        assert message is not None
        report = await progress.compute(self.cstore, self.flow.registry, self.flow.q.id,
                                        self.flow.clock())
        chat = message.chat_id
        await message.reply_text(progress.summary_html(report, t, self.tz),
                                 parse_mode=ParseMode.HTML)
        png = await asyncio.to_thread(progress.chart_png, report, t, self.tz)
        await context.bot.send_photo(chat, png, caption=t("coord.progress.chart_caption"))
        parts = progress.not_started_parts(report, t)
        if len(parts) > progress.LIST_MAX_MESSAGES:
            await context.bot.send_document(
                chat, progress.not_started_csv(report), filename="comuni_non_iniziati.csv",
                caption=t("coord.progress.list_as_file",
                          count=len(report.not_started) + len(report.unknown_istat)),
            )
        else:
            for part in parts:
                await context.bot.send_message(chat, part, parse_mode=ParseMode.HTML)
        raise ApplicationHandlerStop
