"""Ticket states: what an open and a closed ticket accept."""

from __future__ import annotations

import pytest

from conversations.tickets import TicketAction, TicketStatus, accepts, next_status


@pytest.mark.parametrize("action", list(TicketAction))
def test_a_closed_ticket_refuses_everything(action: TicketAction) -> None:
    assert next_status("closed", action) is None
    assert not accepts("closed", action)


def test_an_open_ticket() -> None:
    assert next_status("open", TicketAction.TAKE) is TicketStatus.OPEN
    assert next_status("open", TicketAction.OPERATOR_REPLY) is TicketStatus.OPEN
    assert next_status("open", TicketAction.OFFICER_MESSAGE) is TicketStatus.OPEN
    assert next_status("open", TicketAction.CLOSE) is TicketStatus.CLOSED


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError):
        next_status("archived", TicketAction.TAKE)
