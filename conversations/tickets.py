"""Ticket states and what each may go through: pure rules, no I/O.

A ticket is open until an operator closes it. While open, it can be taken
(or taken over), the officer can add messages and operators can reply;
closing twice is not an error, it simply changes nothing.
"""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class TicketAction(StrEnum):
    TAKE = "take"
    CLOSE = "close"
    OPERATOR_REPLY = "reply"
    OFFICER_MESSAGE = "officer"


_ALLOWED: dict[TicketStatus, dict[TicketAction, TicketStatus]] = {
    TicketStatus.OPEN: {
        TicketAction.TAKE: TicketStatus.OPEN,
        TicketAction.OPERATOR_REPLY: TicketStatus.OPEN,
        TicketAction.OFFICER_MESSAGE: TicketStatus.OPEN,
        TicketAction.CLOSE: TicketStatus.CLOSED,
    },
    TicketStatus.CLOSED: {},
}


def next_status(status: str, action: TicketAction) -> TicketStatus | None:
    """The status after `action`, or None when a ticket in `status` refuses it."""
    return _ALLOWED[TicketStatus(status)].get(action)


def accepts(status: str, action: TicketAction) -> bool:
    return next_status(status, action) is not None
