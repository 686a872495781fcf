"""Coordinators: deadline extensions, reminders, broadcasts, progress (issue 5)."""

from __future__ import annotations

from bot.telegram_app import Services


def install_coordinators(services: Services) -> None:
    """Register coordinator handlers and background jobs on the services."""
