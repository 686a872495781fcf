"""Help requests as tickets in the assistance group (filled in by issue 4)."""

from __future__ import annotations

from bot.telegram_app import Services


def install_tickets(services: Services) -> None:
    """Register ticket and operator handlers on the services."""
