"""What happens when an officer writes or presses a button, without Telegram.

The flow loads the officer and the municipality's response, asks the engine,
stores the result in one transaction and only then returns what to show.
Telegram types never enter here: handlers translate updates into these calls
and `bot.telegram.sender` turns the returned `Reply` into Bot API calls.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from bot.render import callbacks as cb
from bot.render import formatting
from bot.render.i18n import normalize_language, translator
from bot.render.presenter import Button, Presenter, Screen, echo_line, escape
from bot.render.text import shorten
from bot.services.recent import Recent
from bot.settings import Settings
from conversations import access_codes, engine
from conversations import effects as fx
from conversations import inputs as ev
from conversations.access_codes import CodeCheck
from conversations.schema import Questionnaire, Repeat
from conversations.state import State
from storage.editions import EditionStore, notice_query
from storage.municipalities import Municipality, MunicipalityRegistry
from storage.store import (
    Change,
    Officer,
    ResponseRow,
    Store,
    Submission,
    place_query,
    place_row,
    response_id,
    response_query,
    response_row,
    setting_query,
)

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
# The ceiling across all users (settings.wrong_codes_per_hour) counts over this.
GLOBAL_WINDOW = timedelta(hours=1)
GUESSING_ALERT_KEY = "code_guessing_alerted_at"
# Officers whose last validation error is remembered for a help ticket's context.
MEMO_OFFICERS = 4096
# After this long without a step, a message first brings the officer back to
# where they stand (it is not taken as the answer to a question they may not
# remember any more).
RESUME_AFTER = timedelta(hours=1)
DEADLINE_KEY = "deadline"
ECHO_CHARS = 200  # a long typed answer is read back shortened


@dataclass(frozen=True, slots=True)
class Sender:
    user_id: int
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    data: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A message for another officer of the municipality, sent after the reply."""

    user_id: int
    screen: Screen


@dataclass(slots=True)
class Reply:
    screens: list[Screen] = field(default_factory=list)
    callback_text: str | None = None  # toast for a button press
    document: Document | None = None
    # The pressed message shows the same item again (a toggle): edit it in place.
    edit_in_place: bool = False
    # The engine moved on: every keyboard drawn before is stale, retire them all
    # (also when no new prompt follows, e.g. after the submission).
    closes_prompt: bool = False
    # A line for the assistance chat (e.g. codes being guessed across accounts).
    alert: str | None = None
    # For the other officers of the municipality (a submission, a reopening, a
    # removed entry): sent after the acting officer's reply, failures ignored.
    notifications: list[Notification] = field(default_factory=list)
    # An answer stopped the officer: the assistance team gets a ticket about it.
    escalate: bool = False
    # The saved answer as the officer reads it: shown under a pressed question.
    echo: str | None = None
    # The step this reply draws was committed with this seq and marked as still to
    # deliver; the sender clears the mark once it is sent.
    committed_seq: int | None = None
    language: str = "it"


Clock = Callable[[], datetime]


class Loaded(NamedTuple):
    """What a step starts from: the stored rows and the state they make."""

    row: ResponseRow | None
    nav: dict[str, Any] | None
    state: State
    shared: dict[str, Any]
    last_saved: str | None
    last_step: datetime | None  # the officer's last accepted step, in any response
    notice: Any  # an unseen update notice (`EditionStore.mark_shown`), or None
    deadline: datetime


class OfficerFlow:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        questionnaire: Questionnaire,
        registry: MunicipalityRegistry,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.q = questionnaire
        self.registry = registry
        self.clock = clock
        self._secret = settings.code_secret.get_secret_value().encode()
        self.button_key = cb.button_key(self._secret)
        # Held only while in use: one lock per officer, chat and municipality ever seen
        # would otherwise stay for the life of the process.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self.editions = EditionStore(store)
        # The last validation error each officer saw, for the context of a ticket.
        self.last_errors: Recent[int, str] = Recent(MEMO_OFFICERS)

    # --- shared helpers -------------------------------------------------------
    def lock(self, key: str) -> asyncio.Lock:
        """The lock of `key` (an officer, a chat, a municipality); the same object for
        as long as anyone holds or awaits it."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def deadline(self) -> datetime:
        """The deadline in force: a coordinator's extension, the setting, the file."""
        return self._deadline(await self.store.setting(DEADLINE_KEY))

    def _deadline(self, stored: str | None) -> datetime:
        if stored:
            return datetime.fromisoformat(stored)
        if self.settings.deadline is not None:
            return _aware(self.settings.deadline, self.q.aware_deadline())
        return self.q.aware_deadline()

    def presenter(self, lang: str, municipality: Municipality | None) -> Presenter:
        placeholders = {}
        if municipality is not None:
            placeholders = {
                "comune": municipality.name,
                "provincia": municipality.province,
                "regione": municipality.region,
            }
        return Presenter(self.q, translator(lang), placeholders)

    async def officer(self, sender: Sender) -> Officer:
        known = await self.store.officer(sender.user_id)
        if known is not None and not known.unreachable:
            return known
        language = known.language if known else normalize_language(sender.language_code)
        return await self.store.touch_officer(
            sender.user_id, sender.first_name, sender.username, language, self.clock()
        )

    # --- entry points ---------------------------------------------------------
    async def start(self, sender: Sender, payload: str | None) -> Reply:
        officer = await self.officer(sender)
        t = translator(officer.language)
        if officer.istat is not None:
            return await self.step(officer, ev.Resume())
        presenter = self.presenter(officer.language, None)
        welcome = presenter.welcome(presenter.moment((await self.deadline()).isoformat()))
        reply = Reply([Screen(welcome), self.privacy_summary(officer.language)])
        if payload:
            login = await self.login(officer, payload)
            login.screens[:0] = reply.screens
            return login
        reply.screens.append(Screen(t("ask_code")))
        return reply

    async def text(self, sender: Sender, text: str) -> Reply:
        officer = await self.officer(sender)
        if officer.istat is None:
            return await self.login(officer, text)
        return await self.step(officer, ev.TextAnswer(text), resume_if_idle=True)

    async def command(self, sender: Sender, name: str) -> Reply:
        """/riprendi, /indietro, /salta, /riepilogo, /invia (already translated to English)."""
        officer = await self.officer(sender)
        t = translator(officer.language)
        if officer.istat is None:
            return Reply([Screen(t("not_logged_in")), Screen(t("ask_code"))])
        inputs: dict[str, ev.Input] = {
            "resume": ev.Resume(), "back": ev.Back(), "skip": ev.Skip(),
            "review": ev.Review(), "submit": ev.Submit(),
        }
        return await self.step(officer, inputs[name])

    async def button(self, sender: Sender, data: str) -> Reply:
        officer = await self.officer(sender)
        t = translator(officer.language)
        payload = cb.verify(self.button_key, sender.user_id, data)
        decoded = cb.decode(payload) if payload is not None else None
        if decoded is None:
            return Reply(callback_text=t("error.forged_button"))
        if isinstance(decoded, str):
            return await self.bot_action(officer, decoded)
        if officer.istat is None:
            return Reply([Screen(t("ask_code"))], callback_text=t("not_logged_in"))
        if isinstance(decoded, ev.Review) and decoded.seq == 0:
            decoded = ev.Review()  # the review button under a notice has no live seq
        reply = await self.step(officer, decoded)
        return reply

    async def bot_action(self, officer: Officer, action: str) -> Reply:
        if action.startswith("lang:"):
            lang = normalize_language(action.split(":", 1)[1])
            await self.store.set_language(officer.user_id, lang)
            t = translator(lang)
            if officer.istat is None:
                return Reply([Screen(t("language_set"))], callback_text=t("language_set"),
                             language=lang)
            officer = await self.officer(Sender(officer.user_id))
            reply = await self.step(officer, ev.Resume())
            reply.screens.insert(0, Screen(t("language_set")))
            reply.callback_text = t("language_set")
            return reply
        if action.startswith("reopen:") and officer.istat is not None:
            presenter = self.presenter(officer.language, None)
            return Reply([presenter.confirm_reopen(int(action.split(":", 1)[1]))])
        if action == "privacy":
            return Reply([Screen(self.privacy_text(officer.language))])
        if action == "resume":
            if officer.istat is None:
                t = translator(officer.language)
                return Reply([Screen(t("ask_code"))])
            return await self.step(officer, ev.Resume())
        return self.help(officer.language)

    def help(self, lang: str) -> Reply:
        return Reply([Screen(self.presenter(lang, None).help_text())])

    def privacy_summary(self, lang: str) -> Screen:
        """/start: the notice's summary, with a button for the full text."""
        if not (self.q.privacy_short and self.q.privacy):
            return Screen(self.privacy_text(lang))  # a summary of no notice says nothing
        t = translator(lang)
        return Screen(escape(self.presenter(lang, None).text(self.q.privacy_short)),
                      [[Button(t("btn.privacy_full"), cb.bot_action("privacy"))]])

    def privacy_text(self, lang: str) -> str:
        if not self.q.privacy:
            return translator(lang)("privacy_default")
        return escape(self.presenter(lang, None).text(self.q.privacy))

    async def language_menu(self, sender: Sender) -> Reply:
        officer = await self.officer(sender)
        buttons = [[Button("🇮🇹 Italiano", cb.bot_action("lang_it")),
                    Button("🇬🇧 English", cb.bot_action("lang_en"))]]
        return Reply([Screen(translator(officer.language)("choose_language"), buttons)])

    async def status(self, sender: Sender) -> Reply:
        officer = await self.officer(sender)
        t = translator(officer.language)
        if officer.istat is None:
            return Reply([Screen(t("not_logged_in")), Screen(t("ask_code"))])
        municipality = self.registry.get(officer.istat)
        row = await self.store.response(self.q.id, officer.istat)
        presenter = self.presenter(officer.language, municipality)
        if row is None:
            status, answered, total, when = t("status.not_started"), 0, 0, t("never")
            total = engine.progress_counts(self.q, engine.start(self.q, self.clock()).state)[1]
        else:
            status = (t("status.submitted", revision=row.revision) if row.status == "submitted"
                      else t("status.reopened", revision=row.revision) if row.revision
                      else t("status.in_progress"))
            answered, total, when = row.answered, row.total, presenter.moment(row.updated_at)
        text = t(
            "status", comune=escape(municipality.name if municipality else officer.istat),
            status=status, answered=answered, total=total, when=when,
            deadline=presenter.moment((await self.deadline()).isoformat()),
        )
        return Reply([Screen(text)])

    # --- login ------------------------------------------------------------------
    async def login(self, officer: Officer, text: str) -> Reply:
        t = translator(officer.language)
        now = self.clock()
        async with self.lock(f"user:{officer.user_id}"):
            failures = await self.store.failures_since(officer.user_id, now - FAILURE_WINDOW)
            if len(failures) >= MAX_FAILURES:
                return Reply([Screen(t("code_locked", until=self._until(failures, officer)))])
            busy = await self._guessing_pause(officer, now)
            if busy is not None:
                return busy
            form = access_codes.check(text)
            if form is CodeCheck.MALFORMED:
                return Reply([Screen(t("code_malformed"))])
            if form is CodeCheck.MISTYPED:
                return Reply([Screen(t("code_mistyped"))])
            istat = await self.store.istat_for_code(access_codes.code_hash(self._secret, text))
            if istat is None:
                await self.store.record_failure(officer.user_id, now)
                failures.append(now)
                if len(failures) >= MAX_FAILURES:
                    return Reply([Screen(t("code_locked", until=self._until(failures, officer)))])
                return Reply([Screen(t("code_wrong", left=MAX_FAILURES - len(failures)))])
            await self.store.bind_officer(officer.user_id, istat, now)
        municipality = self.registry.get(istat)
        name = municipality.name if municipality else istat
        province = municipality.province if municipality else ""
        bound = await self.store.officer(officer.user_id)
        assert bound is not None
        # The login installs the reply keyboard (navigation).
        keys = self.presenter(bound.language, municipality).nav_keyboard()
        greeting = Screen(t("code_ok", comune=escape(name), provincia=escape(province)),
                          keyboard=keys)
        reply = await self.step(bound, ev.Resume())
        if self.q.intro:  # the file's own introduction, once, with the greeting
            intro = self.presenter(bound.language, municipality).text(self.q.intro)
            greeting.text += "\n\n" + escape(intro)
        reply.screens.insert(0, greeting)
        return reply

    async def _guessing_pause(self, officer: Officer, now: datetime) -> Reply | None:
        """Past the ceiling of wrong codes per hour across all users (many accounts
        guessing), every new attempt waits; the assistance chat hears of it once
        per window."""
        limit = self.settings.wrong_codes_per_hour
        recent = await self.store.all_failures_since(now - GLOBAL_WINDOW)
        if len(recent) < limit:
            return None
        unlock = recent[len(recent) - limit] + GLOBAL_WINDOW
        until = self._moment_up(unlock, officer.language)
        reply = Reply([Screen(translator(officer.language)("code_guessing_pause", until=until))])
        alerted = await self.store.setting(GUESSING_ALERT_KEY)
        if alerted is None or datetime.fromisoformat(alerted) <= now - GLOBAL_WINDOW:
            await self.store.set_setting(GUESSING_ALERT_KEY, now.isoformat())
            reply.alert = translator("it")("staff.code_guessing_alert", count=len(recent),
                                           until=self._moment_up(unlock, "it"))
        return reply

    def _moment_up(self, moment: datetime, lang: str) -> str:
        # Shown to the minute: round up, so the time told is never still locked.
        if moment.second or moment.microsecond:
            moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return formatting.moment(moment, self.settings.timezone, translator(lang))

    def _until(self, failures: list[datetime], officer: Officer) -> str:
        return self._moment_up(failures[-MAX_FAILURES] + FAILURE_WINDOW, officer.language)

    # --- the questionnaire --------------------------------------------------------
    async def step(self, officer: Officer, inp: ev.Input, *, resume_if_idle: bool = False
                   ) -> Reply:
        """`resume_if_idle`: a text typed after a long pause shows where the officer
        is instead of answering (it may be meant for something else)."""
        assert officer.istat is not None
        istat = officer.istat
        async with self.lock(f"istat:{istat}"):
            return await self._step(officer, istat, inp, resume_if_idle)

    async def _step(self, officer: Officer, istat: str, inp: ev.Input,
                    resume_if_idle: bool = False) -> Reply:
        now = self.clock()
        t = translator(officer.language)
        municipality = self.registry.get(istat)
        presenter = self.presenter(officer.language, municipality)
        loaded = await self._load(officer.user_id, istat)
        state, shared, last_saved = loaded.state, loaded.shared, loaded.last_saved
        if resume_if_idle and loaded.last_step is not None and now - loaded.last_step >= \
                RESUME_AFTER:
            inp = ev.Resume()
        # After a questionnaire update the officer first hears about it and sees
        # where they stand: the message may answer a question that changed.
        notice = await self.editions.mark_shown(
            loaded.notice, officer.user_id, response_id(self.q.id, istat), now)
        if notice is not None and not isinstance(inp, ev.Review):
            inp = ev.Resume()
        before_cursor = state.cursor
        step = engine.advance(self.q, state, inp, now, loaded.deadline, actor=officer.user_id)
        rejected = [e for e in step.effects if isinstance(e, fx.Rejected)]
        if step.state is not state:
            await self._save(officer, istat, municipality, step, now, shared)
        # Names only when something names a colleague: one officer alone pays nothing.
        if any(_names_someone(e) for e in step.effects):
            presenter.names = await self.names(istat)
        reply = Reply(presenter.screens(step.effects), language=officer.language)
        if step.state is not state:
            reply.committed_seq = step.state.seq
        colleagues = None
        if loaded.nav is None and loaded.row is not None:
            colleagues = await self.colleagues_at_work(officer, istat)
        for effect in step.effects:
            if isinstance(effect, fx.Resumed) and colleagues:
                # The first visit to a response colleagues started: who, how far, shared.
                names = await self.names(istat)
                listed = [names.get(user_id, "?") for user_id in colleagues]
                joined = ", ".join(listed[:-1]) + f" {t('shared.and')} {listed[-1]}" \
                    if len(listed) > 1 else listed[0]
                text = t.plural("shared.presence", "shared.presence_n", effect.answered,
                                comune=municipality.name if municipality else istat,
                                names=joined, total=effect.total)
                reply.screens.insert(0, Screen(escape(text), keyboard=presenter.nav_keyboard()))
            elif isinstance(effect, fx.Resumed):
                if effect.answered == 0 and last_saved is None:
                    continue  # a first start: the greeting and the intro say it all
                when = presenter.moment(last_saved) if last_saved else t("never")
                text = t.plural("resumed", "resumed.other", effect.answered,
                                percent=effect.percent, when=when)
                # Coming back installs the reply keyboard (navigation) again.
                reply.screens.insert(0, Screen(escape(text), keyboard=presenter.nav_keyboard()))
            elif isinstance(effect, fx.Completed):
                reply.document = await self._receipt(
                    presenter, step.state, istat, municipality, effect, officer)
            elif isinstance(effect, fx.AnswerSaved) and reply.echo is None:
                reply.echo = presenter.echo(effect)
        if reply.echo is not None and isinstance(inp, ev.TextAnswer):
            # A typed answer is read back as the first line of the next question, so it
            # costs one message and no edit.
            prompt = next((s for s in reply.screens if s.is_prompt), None)
            if prompt is not None:
                prompt.text = f"{echo_line(shorten(reply.echo, ECHO_CHARS))}\n{prompt.text}"
        if notice is not None:
            reply.screens.insert(0, Screen(escape(presenter.edition_notice(notice.to_review))))
        if rejected:
            reply.callback_text = presenter.rejection(rejected[0])[:200]
            self.last_errors[officer.user_id] = reply.callback_text
            reply.escalate = rejected[0].key == "stopped"
        reply.edit_in_place = (
            isinstance(inp, ev.Toggle) and not rejected and step.state.cursor == before_cursor
        )
        reply.closes_prompt = step.state is not state
        if step.state is not state:
            reply.notifications = await self.notifications(officer, istat, municipality, step)
        return reply

    # --- several officers of one municipality -----------------------------------
    async def names(self, istat: str) -> dict[int, str]:
        """Each officer of the municipality by the name they last gave in the
        questionnaire's respondent-name item, else by their Telegram first name."""
        names = {o.user_id: o.first_name or str(o.user_id)
                 for o in await self.store.officers_of(istat)}
        if self.q.respondent_name is not None:
            for user_id, value in await self.store.last_values_by_author(
                    response_id(self.q.id, istat), self.q.respondent_name):
                if isinstance(value, str) and value.strip():
                    names[user_id] = value.strip()
        return names

    async def colleagues_at_work(self, officer: Officer, istat: str) -> list[int]:
        """Other officers who changed answers of the municipality's response."""
        authors = await self.store.authors(response_id(self.q.id, istat))
        return [user_id for user_id in authors if user_id != officer.user_id]

    async def notifications(
        self, officer: Officer, istat: str, municipality: Municipality | None, step: engine.Step
    ) -> list[Notification]:
        """What the other officers are told about a submission, reopening or removal."""
        events = [e for e in step.effects
                  if isinstance(e, fx.Completed | fx.Reopened | fx.EntryRemoved)]
        if not events:
            return []
        others = [o for o in await self.store.officers_of(istat)
                  if o.user_id != officer.user_id and not o.unreachable]
        if not others:
            return []
        name = (await self.names(istat)).get(officer.user_id, officer.first_name)
        comune = municipality.name if municipality else istat
        out = []
        for other in others:
            presenter = self.presenter(other.language, municipality)
            t = presenter.t
            for event in events:
                if isinstance(event, fx.Completed):
                    text = t("shared.notify_submitted", name=name, comune=comune,
                             revision=event.revision)
                elif isinstance(event, fx.Reopened):
                    text = t("shared.notify_reopened", name=name, comune=comune)
                else:
                    label = _entry_label(self.q, event) or t("entry_untitled")
                    text = t("shared.notify_removed", name=name, label=label,
                             repeat=presenter.repeat_name(event.repeat))
                out.append(Notification(other.user_id, Screen(escape(text))))
        return out

    async def _load(self, user_id: int, istat: str) -> Loaded:
        """The officer's state in the municipality's response, its shared part, when
        the response was last saved, and what else a step reads: all in one read."""
        rid = response_id(self.q.id, istat)
        rows = await self.store.fetch_batch([
            response_query(rid), place_query(user_id), notice_query(user_id, rid),
            setting_query(DEADLINE_KEY),
        ])
        row, place = response_row(rows[0]), place_row(rows[1])
        nav = place.nav_in(rid) if place is not None else None
        if row is None:
            shared, _ = engine.start(self.q, self.clock()).state.split()
            last_saved = None
        else:
            shared, last_saved = row.state, row.updated_at
        return Loaded(row, nav, State.join(shared, nav), shared, last_saved,
                      place.updated_at if place is not None else None, rows[2],
                      self._deadline(rows[3][0] if rows[3] is not None else None))

    async def _save(
        self, officer: Officer, istat: str, municipality: Municipality | None, step: engine.Step,
        now: datetime, shared_before: dict[str, Any],
    ) -> None:
        changes: list[Change] = []
        submission: Submission | None = None
        for effect in step.effects:
            if isinstance(effect, fx.AnswerSaved):
                changes.append(Change(_ref(effect.ref), effect.old, effect.new))
            elif isinstance(effect, fx.EntryRemoved):
                changes.append(Change(f"{effect.repeat}[{effect.entry}]", effect.old, None))
            elif isinstance(effect, fx.Completed):
                answers = engine.answers_snapshot(self.q, step.state, now)
                payload = self.central_row(istat, municipality, step.state, answers)
                submission = Submission(effect.revision, effect.submitted_at, answers, payload)
        shared, nav = step.state.split()
        answered, total = engine.progress_counts(self.q, step.state, now)
        # Only the officer's place moved (resume, review, back): the response and
        # its "last saved" time stay as they were.
        moved_only = shared == shared_before and not changes and submission is None
        await self.store.record_step(
            questionnaire_id=self.q.id, istat=istat, state=None if moved_only else shared,
            nav=nav, answered=answered, total=total, user_id=officer.user_id, now=now,
            changes=changes, submission=submission, pending_seq=step.state.seq,
        )

    async def redraw(self, user_id: int) -> Reply | None:
        """What to draw again for an officer whose last step was committed but maybe
        not delivered (a restart): the current question, as /riprendi shows it."""
        officer = await self.store.officer(user_id)
        if officer is None or officer.istat is None or officer.unreachable:
            return None
        istat = officer.istat
        async with self.lock(f"istat:{istat}"):
            state = (await self._load(user_id, istat)).state
        presenter = self.presenter(officer.language, self.registry.get(istat))
        # Drawn on the same seq: nothing is committed and buttons drawn before stay valid.
        reply = Reply(presenter.screens(engine.redraw(self.q, state, self.clock())),
                      language=officer.language)
        reply.committed_seq = state.seq
        if state.status == "submitted" and state.submitted_at is not None:
            # The receipt may be what was never sent: sent again (twice at worst), to
            # the officer who submitted.
            submitted_by = await self.store.fetchone(
                "SELECT submitted_by FROM submissions WHERE response_id = ? AND revision = ?",
                response_id(self.q.id, istat), state.revision,
            )
            if submitted_by is not None and submitted_by[0] == user_id:
                completed = fx.Completed(state.revision, state.submitted_at)
                reply.document = await self._receipt(
                    presenter, state, istat, self.registry.get(istat), completed, officer)
        return reply

    async def reopen_by_staff(
        self, istat: str, actor: int,
        also: Callable[[Any, int, datetime], Awaitable[None]] | None = None,
    ) -> int | None:
        """Reopen a submitted response (an operator's /riapri) with the engine's Reopen
        input, as the officer's own button does; the revision reopened, or None when the
        engine refuses (nothing submitted). Staff may do it after the deadline."""
        async with self.lock(f"istat:{istat}"):
            row = await self.store.response(self.q.id, istat)
            if row is None:
                return None
            now = self.clock()
            step = engine.advance(self.q, State.join(row.state, None), ev.Reopen(), now)
            reopened = [e for e in step.effects if isinstance(e, fx.Reopened)]
            if not reopened:
                return None
            shared, _ = step.state.split()  # the operator has no place of their own here
            answered, total = engine.progress_counts(self.q, step.state)
            await self.store.record_step(
                questionnaire_id=self.q.id, istat=istat, state=shared, nav=None,
                answered=answered, total=total, user_id=actor, now=now,
                changes=[Change("_status", "submitted", "in_progress")],
                also=None if also is None else (
                    lambda db: also(db, reopened[0].revision, now)),
            )
            return reopened[0].revision

    def central_row(
        self, istat: str, municipality: Municipality | None, state: State, answers: dict[str, Any]
    ) -> dict[str, Any]:
        """The row pushed to the central database (see README, "Sync")."""
        return {
            "response_id": response_id(self.q.id, istat),
            "revision": state.revision,
            "istat": istat,
            "comune": municipality.name if municipality else None,
            "provincia": municipality.province if municipality else None,
            "regione": municipality.region if municipality else None,
            "questionnaire_id": self.q.id,
            "questionnaire_version": self.q.version,
            "submitted_at": state.submitted_at,
            "answers": answers,
        }

    async def _receipt(
        self, presenter: Presenter, state: State, istat: str, municipality: Municipality | None,
        effect: fx.Completed, officer: Officer,
    ) -> Document:
        from bot.render.receipt import build_receipt, receipt_id  # fpdf2 only when needed

        name = municipality.name if municipality else istat
        rid = response_id(self.q.id, istat)
        # Everyone else who changed an answer of this response, by their Telegram name.
        others = await self.store.fetchall(
            "SELECT DISTINCT o.user_id, o.first_name, o.username FROM answer_changes c "
            "JOIN officers o ON o.user_id = c.user_id "
            "WHERE c.response_id = ? AND c.user_id != ? AND o.istat = ? ORDER BY o.user_id",
            rid, officer.user_id, istat,
        )
        pdf = build_receipt(
            presenter, engine.answers_snapshot(self.q, state), comune=name,
            provincia=municipality.province if municipality else "", istat=istat,
            revision=effect.revision, submitted_at=effect.submitted_at, response_id=rid,
            submitted_by=_officer_name(officer.first_name, officer.username),
            contributors=tuple(_officer_name(str(r[1] or ""), r[2]) for r in others),
            unfilled=engine.unfilled_refs(self.q, state),
        )
        # The same code as printed in the document, so the two can be matched.
        code = receipt_id(rid, effect.revision, effect.submitted_at)
        filename = f"ricevuta_{istat}_rev{effect.revision}_{code}.pdf"
        caption = presenter.t("receipt_caption", comune=name, revision=effect.revision)
        return Document(filename, pdf, caption)


def _names_someone(effect: fx.Effect) -> bool:
    if isinstance(effect, fx.Conflict | fx.ChangedByOthers):
        return True
    if isinstance(effect, fx.ShowReview):
        return bool(effect.authors)
    if isinstance(effect, fx.AskConfirmRemove):
        return effect.changed_by is not None
    return isinstance(effect, fx.Notice) and "by" in effect.params


def _entry_label(q: Questionnaire, removed: fx.EntryRemoved) -> str | None:
    for section in q.sections:
        for element in section.items:
            if isinstance(element, Repeat) and element.id == removed.repeat \
                    and element.label_item:
                value = removed.old.get("values", {}).get(element.label_item)
                return str(value) if value is not None else None
    return None


def _officer_name(first_name: str, username: str | None) -> str:
    name = first_name.strip()
    if username:
        name = f"{name} (@{username})" if name else f"@{username}"
    return name or "—"


def _ref(ref: fx.ItemRef) -> str:
    if ref.repeat is None:
        return ref.item
    return f"{ref.repeat}[{ref.entry}].{ref.item}"


def _aware(value: datetime, like: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=like.tzinfo)

