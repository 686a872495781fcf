"""Staff roles from the settings. Coordinators may do what operators do."""

from __future__ import annotations

from bot.settings import Settings


def is_operator(settings: Settings, user_id: int | None) -> bool:
    return user_id is not None and (
        user_id in settings.operators or user_id in settings.coordinators
    )


def is_coordinator(settings: Settings, user_id: int | None) -> bool:
    return user_id is not None and user_id in settings.coordinators
