"""Coordinators without Telegram: deadline extensions, the /annuncio dialogue,
progress, and the machinery behind them (broadcasts, reminders).

Coordinators only: `refused` turns anyone else away and writes the attempt to
the audit log. A /proroga is one transaction (the deadline, a fresh reminder
plan, the broadcast rows for the officers who have not submitted and the audit
rows); the broadcast is sent after it commits. The /annuncio dialogue lives in
SQLite (`broadcast_drafts`), not in PTB.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from bot.render import callbacks as cb
from bot.render import progress
from bot.render.i18n import Translator, normalize_language, translator
from bot.render.presenter import Button, Screen, escape
from bot.render.progress import ProgressReport
from bot.services.broadcasts import (
    ALL,
    ANNOUNCEMENT,
    MAX_TEXT,
    NOT_SUBMITTED,
    REGION,
    BroadcastService,
    select,
)
from bot.services.delivery import Courier, Pacer
from bot.services.officer_flow import DEADLINE_KEY, OfficerFlow
from bot.services.reminders import ReminderService, stop_task
from bot.services.roles import is_coordinator
from bot.settings import Settings
from conversations.deadlines import parse_deadline
from conversations.reminder_schedule import parse_days
from storage.coordination_store import (
    IN_PROGRESS,
    NOT_STARTED,
    SUBMITTED,
    CoordinationStore,
    Recipient,
)
from storage.store import Store

DRAFT_TTL = timedelta(minutes=30)
CO = cb.COORDINATOR


@dataclass(frozen=True, slots=True)
class File:
    data: bytes
    filename: str
    caption: str
    photo: bool = False


@dataclass(slots=True)
class CoordResult:
    screens: list[Screen | File] = field(default_factory=list)  # to the coordinator, in order
    toast: str | None = None  # the answer to a pressed button
    edit: Screen | None = None  # the pressed message, redrawn (cosmetic)
    handled: bool = True  # False: not the coordinators', the next handlers take it
    broadcast: int | None = None  # committed: start it once its progress message is out
    draft_shown: bool = False  # the first screen is the draft's audience menu


class CoordinationService:
    def __init__(self, settings: Settings, store: Store, flow: OfficerFlow) -> None:
        self.settings = settings
        self.store = store
        self.flow = flow
        self.cstore = CoordinationStore(store)
        # The transport (a Telegram bot of its own) is injected when the bot starts.
        self.courier = Courier(Pacer(rate=settings.broadcast_rate))
        q, registry, clock = flow.q, flow.registry, flow.clock
        self.broadcasts = BroadcastService(
            store, self.cstore, registry, q.id, clock, self.courier, settings.timezone
        )
        self.reminders = ReminderService(
            store, self.cstore, registry, q.id, flow.deadline, clock, self.courier,
            days=parse_days(settings.reminder_days), timezone=settings.timezone,
        )
        self._loop: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------
    async def recover(self) -> None:
        """What a start does before the loop: settle what a crash left ambiguous, make
        sure reminders are planned, resume interrupted broadcasts."""
        await self.reminders.recover()
        await self.reminders.ensure_plan()
        await self.broadcasts.resume()

    def start_loop(self) -> None:
        self._loop = asyncio.create_task(
            self.reminders.run_forever(self.settings.reminder_interval),
            name="surveybot-reminders",
        )

    async def stop(self) -> None:
        loop, self._loop = self._loop, None
        await stop_task(loop)
        await self.broadcasts.stop()

    # --- who may ------------------------------------------------------------------------
    async def translator_for(self, user_id: int, language_code: str | None) -> Translator:
        officer = await self.store.officer(user_id)
        return translator(officer.language if officer else normalize_language(language_code))

    async def refused(self, user_id: int, language_code: str | None, command: str,
                      chat_id: int | None, *, pressed: bool = False) -> CoordResult | None:
        """The one role check: None for coordinators; anyone else is told, and audited."""
        if is_coordinator(self.settings, user_id):
            return None
        t = await self.translator_for(user_id, language_code)
        await self.store.audit(user_id, "coord.denied", command, {"chat_id": chat_id},
                               self.flow.clock())
        text = t("coord.not_authorised")
        return CoordResult(toast=text) if pressed else CoordResult([Screen(escape(text))])

    # --- /proroga ------------------------------------------------------------------------
    async def extend(self, user_id: int, t: Translator, argument: str) -> CoordResult:
        async with self.flow.lock(f"chat:{user_id}"):
            if not argument:
                return CoordResult([Screen(t("coord.extend_usage"))])
            try:
                new = parse_deadline(argument, self.settings.timezone)
            except ValueError:
                return CoordResult([Screen(t("coord.extend_bad_date", text=escape(argument)))])
            now = self.flow.clock()
            if new <= now:
                return CoordResult([Screen(escape(t(
                    "coord.extend_past", deadline=self.broadcasts.moment(new, t.lang))))])
            targets, excluded = await self.broadcasts.audience(NOT_SUBMITTED)
            broadcast_id = await self.cstore.extend_deadline(
                coordinator_id=user_id, setting_key=DEADLINE_KEY,
                old=await self.flow.deadline(), new=new, language=t.lang,
                audience=NOT_SUBMITTED, excluded=excluded, now=now,
                recipients=[Recipient(x.user_id, x.istat, x.language) for x in targets],
            )
            self.reminders.replanned()
            text = await self.broadcasts.progress_text(broadcast_id)
            return CoordResult([Screen(text)], broadcast=broadcast_id)

    async def begin(self, broadcast_id: int, progress_message: tuple[int, int] | None) -> None:
        """After the progress message went out (or could not): send the broadcast."""
        if progress_message is not None:
            await self.cstore.set_progress_message(broadcast_id, *progress_message)
        self.broadcasts.start(broadcast_id)

    # --- /annuncio --------------------------------------------------------------------------
    async def announce(self, user_id: int, t: Translator) -> CoordResult:
        async with self.flow.lock(f"chat:{user_id}"):
            await self.cstore.save_draft(user_id, "text", self.flow.clock())
            return CoordResult([Screen(t.plural("broadcast.ask_text", "broadcast.ask_text.other",
                                                MAX_TEXT))])

    async def cancel(self, user_id: int, language_code: str | None) -> CoordResult:
        """/annulla while drafting an announcement (otherwise the tickets' /annulla)."""
        async with self.flow.lock(f"chat:{user_id}"):
            if not await self.cstore.delete_draft(user_id):
                return CoordResult(handled=False)
            t = await self.translator_for(user_id, language_code)
            return CoordResult([Screen(escape(t("broadcast.cancelled")))])

    async def draft_text(self, user_id: int, language_code: str | None, html: str
                         ) -> CoordResult:
        """The coordinator's next message after /annuncio is the announcement."""
        async with self.flow.lock(f"chat:{user_id}"):
            draft = await self.cstore.draft(user_id)
            if draft is None or draft.stage != "text":
                return CoordResult(handled=False)
            now = self.flow.clock()
            if now - draft.updated_at > DRAFT_TTL:
                await self.cstore.delete_draft(user_id)
                return CoordResult(handled=False)  # a forgotten /annuncio: an ordinary message
            t = await self.translator_for(user_id, language_code)
            if len(html) > MAX_TEXT:
                return CoordResult([Screen(escape(t.plural(
                    "broadcast.too_long", "broadcast.too_long.other", len(html),
                    limit=MAX_TEXT)))])
            await self.cstore.save_draft(user_id, "audience", now, text=html)
            return CoordResult([await self._audience_screen(t)], draft_shown=True)

    async def draft_shown(self, user_id: int, message_id: int) -> None:
        """The audience menu went out as this message: only its buttons count."""
        async with self.flow.lock(f"chat:{user_id}"):
            draft = await self.cstore.draft(user_id)
            if draft is not None and draft.stage == "audience":
                await self.cstore.save_draft(user_id, "audience", self.flow.clock(),
                                             text=draft.text, message_id=message_id)

    async def _audience_screen(self, t: Translator) -> Screen:
        targets = await self.cstore.targets(self.flow.q.id)

        def count(audience: str) -> int:
            return sum(1 for x in select(targets, audience, None, self.flow.registry)
                       if not x.unreachable)

        rows = [
            [Button(f"{t(f'broadcast.audience.{audience}')} ({count(audience)})",
                    cb.staff(CO, "a", audience))]
            for audience in (ALL, NOT_STARTED, IN_PROGRESS, SUBMITTED)
        ]
        rows.append([Button(t("broadcast.audience.region"), cb.staff(CO, "a", REGION))])
        rows.append([Button(t("broadcast.cancel"), cb.staff(CO, "no"))])
        return Screen(t("broadcast.choose_audience"), rows)

    def _region_screen(self, t: Translator) -> Screen:
        regions = self.flow.registry.regions()
        buttons = [Button(name, cb.staff(CO, "r", index)) for index, name in enumerate(regions)]
        rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        rows.append([Button(t("broadcast.back"), cb.staff(CO, "back")),
                     Button(t("broadcast.cancel"), cb.staff(CO, "no"))])
        return Screen(t("broadcast.choose_region"), rows)

    async def _preview_screen(self, t: Translator, text: str, audience: str,
                              region: str | None) -> Screen:
        targets, excluded = await self.broadcasts.audience(audience, region)
        label = (t("broadcast.audience_region", region=escape(region or "")) if audience == REGION
                 else t(f"broadcast.audience.{audience}"))
        body = t("broadcast.preview", message=self.broadcasts.render(ANNOUNCEMENT, text, t.lang),
                 count=len(targets), audience=label)
        if excluded:
            body += "\n" + t.plural("broadcast.preview_excluded",
                                    "broadcast.preview_excluded.other", excluded)
        back = Button(t("broadcast.back"), cb.staff(CO, "back"))
        cancel = Button(t("broadcast.cancel"), cb.staff(CO, "no"))
        if not targets:
            return Screen(body + "\n" + t("broadcast.no_recipients"), [[back, cancel]])
        return Screen(body, [[Button(t("broadcast.confirm", count=len(targets)),
                                     cb.staff(CO, "ok"))], [back, cancel]])

    def _audience_of(self, decoded: tuple[str, ...]) -> tuple[str | None, str | None]:
        if len(decoded) != 2:
            return None, None
        op, arg = decoded
        if op == "a" and arg in (ALL, NOT_STARTED, IN_PROGRESS, SUBMITTED):
            return arg, None
        if op == "r" and arg.isdigit():
            regions = self.flow.registry.regions()
            if int(arg) < len(regions):
                return REGION, regions[int(arg)]
        return None, None

    async def press(self, user_id: int, t: Translator, data: str,
                    pressed: tuple[int, int] | None) -> CoordResult:
        """A button of the /annuncio dialogue; `pressed` is (chat, message) of its message."""
        decoded = cb.decode_staff(CO, data) or ("?",)
        async with self.flow.lock(f"chat:{user_id}"):
            draft = await self.cstore.draft(user_id)
            now = self.flow.clock()
            if decoded == ("no",):
                await self.cstore.delete_draft(user_id)
                return CoordResult(edit=Screen(escape(t("broadcast.cancelled"))))
            no_draft = CoordResult(toast=t("broadcast.no_draft"))
            if (draft is None or draft.text is None or pressed is None
                    or draft.message_id != pressed[1]):
                return no_draft
            if decoded in (("back",), ("a", REGION)):
                screen = (await self._audience_screen(t) if decoded == ("back",)
                          else self._region_screen(t))
                await self.cstore.save_draft(user_id, "audience", now, text=draft.text,
                                             message_id=draft.message_id)
                return CoordResult(edit=screen)
            if decoded == ("ok",):
                return await self._confirm(user_id, t, draft.audience, draft.region,
                                           draft.stage, draft.text, pressed)
            audience, region = self._audience_of(decoded)
            if audience is None:
                return no_draft
            screen = await self._preview_screen(t, draft.text, audience, region)
            await self.cstore.save_draft(user_id, "preview", now, text=draft.text,
                                         audience=audience, region=region,
                                         message_id=draft.message_id)
            return CoordResult(edit=screen)

    async def _confirm(self, user_id: int, t: Translator, audience: str | None,
                       region: str | None, stage: str, text: str,
                       pressed: tuple[int, int]) -> CoordResult:
        if stage != "preview" or audience is None:
            return CoordResult(toast=t("broadcast.no_draft"))
        broadcast_id = await self.broadcasts.create(
            coordinator_id=user_id, kind=ANNOUNCEMENT, text=text, audience=audience,
            region=region, language=t.lang, progress=pressed, from_draft=True,
        )
        if broadcast_id is None:  # a second press of "Conferma"
            return CoordResult(toast=t("broadcast.no_draft"))
        return CoordResult(toast=t("broadcast.started"), broadcast=broadcast_id,
                           edit=Screen(await self.broadcasts.progress_text(broadcast_id)))

    # --- /avanzamento ---------------------------------------------------------------------
    async def progress(self, t: Translator) -> tuple[ProgressReport, CoordResult]:
        """The counts, to show at once; `progress_details` draws the rest."""
        report = await progress.compute(self.cstore, self.flow.registry, self.flow.q.id,
                                        self.flow.clock())
        return report, CoordResult([Screen(progress.summary_html(report, t,
                                                                 self.settings.timezone))])

    async def progress_details(self, report: ProgressReport, t: Translator
                               ) -> CoordResult:
        """The chart, then who has not started (as messages, or a file when long); no
        chart of nothing before any municipality is enabled."""
        out: list[Screen | File] = []
        if report.overall.total:
            png = await asyncio.to_thread(progress.chart_png, report, t, self.settings.timezone)
            out.append(File(png, "avanzamento.png", t("coord.progress.chart_caption"),
                            photo=True))
        parts = progress.not_started_parts(report, t)
        if len(parts) > progress.LIST_MAX_MESSAGES:
            out.append(File(progress.not_started_csv(report), "comuni_non_iniziati.csv",
                            t.plural("coord.progress.list_as_file",
                                     "coord.progress.list_as_file.other",
                                     len(report.not_started) + len(report.unknown_istat))))
        else:
            out.extend(Screen(part) for part in parts)
        return CoordResult(out)
