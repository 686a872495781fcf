"""Which officers are bound to a municipality, and unbinding one (staff side).

No Telegram types: the staff handlers call these and send what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.render.i18n import translator
from bot.render.presenter import escape
from bot.services.officer_flow import OfficerFlow
from storage.staff_outbox import TO_OFFICER, enqueue
from storage.store import Store, write_audit


@dataclass(frozen=True, slots=True)
class OfficerActivity:
    user_id: int
    name: str  # as colleagues see it (see OfficerFlow.names)
    username: str | None
    last_activity: str | None  # ISO time of the last step or message


@dataclass(frozen=True, slots=True)
class Unbound:
    user_id: int
    istat: str
    name: str
    language: str


async def officers_activity(flow: OfficerFlow, istat: str) -> list[OfficerActivity]:
    names = await flow.names(istat)
    return [
        OfficerActivity(user_id, names.get(user_id, str(user_id)), username, last)
        for user_id, username, last in await flow.store.officer_activity(istat)
    ]


async def find_officer(store: Store, query: str) -> int | None:
    """An officer by Telegram id or @username."""
    if query.isdigit():
        return int(query) if await store.officer(int(query)) is not None else None
    row = await store.fetchone(
        "SELECT user_id FROM officers WHERE lower(username) = lower(?)", query.lstrip("@")
    )
    return int(row[0]) if row else None


async def unbind(flow: OfficerFlow, actor: int, user_id: int, now: datetime) -> Unbound | None:
    """Unbind an officer; None when not bound. In one transaction: the officer row,
    the audit row and the notice to the officer (staff outbox). Their answers stay
    in the shared response; their next message asks for a code."""
    officer = await flow.store.officer(user_id)
    if officer is None or officer.istat is None:
        return None
    istat = officer.istat
    name = (await flow.names(istat)).get(user_id, officer.first_name)
    municipality = flow.registry.get(istat)
    comune = municipality.name if municipality else istat
    notice = escape(translator(officer.language)("officer.unbound", comune=comune))
    async with flow.store.transaction() as db:
        cursor = await db.execute(
            "UPDATE officers SET istat = NULL WHERE user_id = ? AND istat = ?", (user_id, istat))
        if cursor.rowcount == 0:
            return None  # unbound meanwhile
        await write_audit(db, actor, "officer.unbind", str(user_id), {"istat": istat}, now)
        await enqueue(db, kind=TO_OFFICER, chat_id=user_id, now=now, text=notice)
    return Unbound(user_id, istat, name, officer.language)
