"""The tickets as the assistance group reads them: the card, the list of open
tickets, ages, and someone's text cut into messages Telegram accepts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from bot.render import callbacks as cb
from bot.render import formatting
from bot.render.i18n import Translator
from bot.render.presenter import Button, escape, split_text
from storage.ticket_store import Ticket

TAKE = "take"
CLOSE = "close"
PART_CHARS = 3500  # of someone's text in one message, leaving room for the header
PIECE_CHARS = 700  # cut before escaping: at worst 5x longer once escaped


def human_age(seconds: float) -> str:
    """'7 min', '2 h 0 min', '3 g': how long a ticket has waited."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} g"


def escaped_parts(raw: str, budget: int = PART_CHARS) -> list[str]:
    """Someone's text, HTML-escaped, in parts that fit one Telegram message each with a
    header around them: cut at line breaks, or inside a long line, always before
    escaping, so that no cut falls inside an entity (`&amp;`)."""
    parts = [""]
    for number, line in enumerate(raw.split("\n")):
        chunks = [line[i:i + PIECE_CHARS] for i in range(0, len(line), PIECE_CHARS)] or [""]
        for position, chunk in enumerate(chunks):
            piece = escape(chunk)
            joiner = "\n" if position == 0 and number > 0 else ""
            if parts[-1] and len(parts[-1]) + len(joiner) + len(piece) > budget:
                parts.append(piece)  # a new message: no line break needed at its start
            else:
                parts[-1] += joiner + piece
    return parts


def card(ticket: Ticket, t: Translator, tz: str) -> tuple[str, list[list[Button]]]:
    """The ticket's card as it stands: text and buttons."""
    shown = {key: escape(str(ticket.context.get(key, "—")))
             for key in ("comune", "officer", "position", "question", "error", "progress")}
    text = t("staff.card", id=ticket.id, when=formatting.moment(ticket.created_at, tz, t),
             **shown)
    if ticket.taken_by_name:
        text += "\n" + escape(t("staff.taken", name=ticket.taken_by_name))
    if ticket.status == "closed" and ticket.closed_at:
        text += "\n" + escape(t("staff.closed", name=ticket.taken_by_name or "—",
                                when=formatting.moment(ticket.closed_at, tz, t)))
        return text, []
    text += "\n\n" + t("staff.card_hint_forum" if ticket.thread_id else "staff.card_hint")
    row = []
    if ticket.taken_by is None:
        row.append(Button(t("btn.take"), cb.staff(cb.TICKET, TAKE, ticket.id)))
    row.append(Button(t("btn.resolve"), cb.staff(cb.TICKET, CLOSE, ticket.id)))
    return text, [row]


def open_list(tickets: Sequence[Ticket], t: Translator, now: datetime,
              uncertain: Collection[int]) -> list[str]:
    """/ticket: each open ticket's age, who took it, the wait for the first reply, and
    whether a message of it may not have arrived; in parts within Telegram's limit."""
    lines = [t("staff.open_list", count=len(tickets))]
    for ticket in tickets:
        age = human_age((now - datetime.fromisoformat(ticket.created_at)).total_seconds())
        taken = (t("staff.taken_short", name=ticket.taken_by_name) if ticket.taken_by_name
                 else t("staff.not_taken"))
        if ticket.first_reply_at:
            waited = (datetime.fromisoformat(ticket.first_reply_at)
                      - datetime.fromisoformat(ticket.created_at)).total_seconds()
            taken += " · " + t("staff.first_reply", age=human_age(waited))
        if ticket.id in uncertain:
            taken += " · " + t("staff.uncertain_short")
        comune = str(ticket.context.get("comune", "—")).split(" (")[0]
        lines.append(escape(t("staff.open_line", id=ticket.id, comune=comune, age=age,
                              taken=taken)))
    return split_text("\n".join(lines))
