"""Operator commands without Telegram: access codes, a municipality's status,
unlocks, reopening a response.

Operators (and coordinators) only: `guard` refuses everyone else, and nothing
happens. Each action commits, with its audit row, before anything is shown;
what to show comes back as screens. Officers told about a reopening get the
notice through the staff outbox, so it arrives even if Telegram fails now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.render.i18n import Translator, normalize_language, translator
from bot.render.presenter import Screen, escape
from bot.services import membership
from bot.services.codes import issue_code
from bot.services.officer_flow import OfficerFlow
from bot.services.roles import is_operator
from bot.settings import Settings
from storage.municipalities import Municipality, normalize_name
from storage.staff_outbox import TO_OFFICER, enqueue
from storage.store import Store, response_id, write_audit
from storage.ticket_store import TicketStore


@dataclass(frozen=True, slots=True)
class Operator:
    user_id: int
    name: str
    language_code: str | None = None


@dataclass(slots=True)
class StaffResult:
    screens: list[Screen] = field(default_factory=list)  # where the command was given
    private: Screen | None = None  # to the operator alone (a code, shown once)
    deliver: bool = False  # outbox rows were committed


@dataclass(frozen=True, slots=True)
class Found:
    municipality: Municipality | None
    answer: StaffResult  # what to say when there is no one municipality


class StaffService:
    def __init__(self, settings: Settings, store: Store, flow: OfficerFlow) -> None:
        self.settings = settings
        self.store = store
        self.flow = flow

    @staticmethod
    def t(operator: Operator) -> Translator:
        return translator(normalize_language(operator.language_code))

    def refused(self, operator: Operator) -> StaffResult | None:
        """The one role check of the staff commands: None for operators."""
        if is_operator(self.settings, operator.user_id):
            return None
        return StaffResult([Screen(escape(self.t(operator)("staff.not_authorised")))])

    def find(self, operator: Operator, query: str, command: str) -> Found:
        """One municipality by ISTAT code or name; otherwise what to say."""
        t = self.t(operator)
        if not query:
            return Found(None, StaffResult([Screen(escape(t("staff.usage", command=command)))]))
        registry = self.flow.registry
        found = registry.get(query) if query.isdigit() else None
        if found is not None:
            return Found(found, StaffResult())
        candidates = registry.search(query, limit=10)
        exact = [m for m in candidates if normalize_name(m.name) == normalize_name(query)]
        if len(exact) == 1:
            return Found(exact[0], StaffResult())
        if len(candidates) == 1:
            return Found(candidates[0], StaffResult())
        if not candidates:
            return Found(None, StaffResult([Screen(escape(t("staff.not_found", query=query)))]))
        listing = "\n".join(f"• {m.istat} – {m.name} ({m.sigla})" for m in candidates)
        return Found(None, StaffResult(
            [Screen(escape(t("staff.ambiguous", query=query, candidates=listing)))]))

    def private_failed(self, operator: Operator) -> StaffResult:
        return StaffResult([Screen(escape(self.t(operator)("staff.code_private_failed")))])

    async def code(self, operator: Operator, municipality: Municipality,
                   in_private: bool) -> StaffResult:
        """A new code (the old one stops working), for the operator's eyes only."""
        t = self.t(operator)
        now = self.flow.clock()
        code = await issue_code(self.store, self.settings, municipality.istat,
                                f"tg:{operator.user_id}", now, audit_by=operator.user_id)
        private = Screen(t("staff.code_issued", comune=escape(municipality.name),
                           istat=municipality.istat, code=code))
        screens = [] if in_private else [Screen(escape(t(
            "staff.code_sent_private", comune=municipality.name, name=operator.name)))]
        return StaffResult(screens, private=private)

    async def revoke(self, operator: Operator, municipality: Municipality) -> StaffResult:
        t = self.t(operator)
        now = self.flow.clock()
        istat = municipality.istat
        if not await self.store.revoke_code(istat, now, audit_by=operator.user_id):
            return StaffResult([Screen(escape(t("staff.code_none", comune=municipality.name,
                                                istat=istat)))])
        return StaffResult([Screen(escape(t("staff.code_revoked", comune=municipality.name,
                                            istat=istat)))])

    async def status(self, operator: Operator, municipality: Municipality) -> StaffResult:
        t = self.t(operator)
        istat = municipality.istat
        presenter = self.flow.presenter(t.lang, municipality)
        # Each officer as colleagues name them, with their Telegram id (for
        # /scollega) and when they last did something.
        names = "".join(
            t("staff.officer_line",
              name=escape(o.name + (f" (@{o.username})" if o.username else "")),
              user_id=o.user_id,
              when=presenter.moment(o.last_activity) if o.last_activity else t("never"))
            for o in await membership.officers_activity(self.flow, istat)
        ) or t("staff.none")
        row = await self.store.response(self.flow.q.id, istat)
        revisions = await self.store.fetchone(
            "SELECT COUNT(*) FROM submissions WHERE response_id = ?",
            response_id(self.flow.q.id, istat),
        )
        open_tickets = await TicketStore(self.store).count_open(istat)
        if row is None:
            status, answered, total = t("status.not_started"), 0, "—"
        elif row.status == "submitted":
            status = t("status.submitted", revision=row.revision)
            answered, total = row.answered, str(row.total)
        else:
            status = (t("status.reopened", revision=row.revision) if row.revision
                      else t("status.in_progress"))
            answered, total = row.answered, str(row.total)
        submitted = presenter.moment(row.submitted_at) if row and row.submitted_at else t("never")
        await self.store.audit(operator.user_id, "municipality.view", istat, {},
                               self.flow.clock())
        return StaffResult([Screen(t(
            "staff.municipality", comune=escape(municipality.name), istat=istat,
            provincia=escape(municipality.province), regione=escape(municipality.region),
            code=t("yes") if await self.store.has_active_code(istat) else t("no"),
            officers=names, status=status, answered=answered, total=total, submitted=submitted,
            revisions=revisions[0] if revisions else 0, tickets=open_tickets,
        ))])

    async def unlock(self, operator: Operator, query: str) -> StaffResult:
        t = self.t(operator)
        if not query:
            return StaffResult([Screen(escape(t("staff.usage_user")))])
        target: int | None = int(query) if query.isdigit() else None
        if target is None:
            row = await self.store.fetchone(
                "SELECT user_id FROM officers WHERE lower(username) = lower(?)", query.lstrip("@")
            )
            target = int(row[0]) if row else None
        if target is None or await self.store.officer(target) is None:
            return StaffResult([Screen(escape(t("staff.unknown_user", user=query)))])
        count = await self.store.clear_failures(target)
        await self.store.audit(operator.user_id, "login.unlock", str(target),
                               {"cleared": count}, self.flow.clock())
        return StaffResult([Screen(escape(t.plural("staff.unlocked", "staff.unlocked.other", count,
                                                   user=query)))])

    async def unbind(self, operator: Operator, query: str) -> StaffResult:
        """Unbind an officer (someone who left the office), audited; they are told
        through the staff outbox, and their next message asks for a code again."""
        t = self.t(operator)
        if not query:
            return StaffResult([Screen(escape(t("staff.usage_unbind")))])
        target = await membership.find_officer(self.store, query)
        if target is None:
            return StaffResult([Screen(escape(t("staff.unknown_user", user=query)))])
        done = await membership.unbind(self.flow, operator.user_id, target, self.flow.clock())
        if done is None:
            return StaffResult([Screen(escape(t("staff.not_bound", user=query)))])
        municipality = self.flow.registry.get(done.istat)
        comune = municipality.name if municipality else done.istat
        return StaffResult([Screen(escape(t("staff.unbound", name=done.name, comune=comune)))],
                           deliver=True)

    async def reopen(self, operator: Operator, municipality: Municipality) -> StaffResult:
        """Through the engine (the officer flow's Reopen); then the audit row and the
        notices to the municipality's officers, together."""
        t = self.t(operator)
        istat = municipality.istat
        officers = await self.store.officers_of(istat)

        async def audit_and_notices(db: Any, revision: int, now: datetime) -> None:
            # In the reopen's own transaction: a crash never reopens unaudited/untold.
            await write_audit(db, operator.user_id, "response.reopen", istat,
                              {"revision": revision}, now)
            for officer in officers:
                await enqueue(db, kind=TO_OFFICER, chat_id=officer.user_id, now=now,
                              text=escape(translator(officer.language)(
                                  "ticket.reopened_by_staff")))

        revision = await self.flow.reopen_by_staff(istat, operator.user_id, audit_and_notices)
        if revision is None:
            return StaffResult([Screen(escape(t("staff.not_submitted",
                                                comune=municipality.name)))])
        return StaffResult([Screen(escape(t("staff.reopened", comune=municipality.name,
                                            revision=revision)))], deliver=bool(officers))
