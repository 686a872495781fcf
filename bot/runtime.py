"""Build the services once at start-up from the settings."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.editions import bring_to_version
from bot.services.officer_flow import Clock, OfficerFlow
from bot.services.sync_loop import install_sync
from bot.settings import Settings
from bot.telegram.app import Services
from bot.telegram.coordinators import install_coordinators
from bot.telegram.tickets import install_tickets
from conversations.schema import (
    Questionnaire,
    load_questionnaire,
    parse_questionnaire,
    shipped_questionnaire_path,
)
from storage.municipalities import MunicipalityRegistry
from storage.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


def questionnaire_for(settings: Settings) -> Questionnaire:
    return load_questionnaire(settings.questionnaire or shipped_questionnaire_path())


async def open_services(settings: Settings, clock: Clock = utc_now) -> Services:
    path = settings.questionnaire or shipped_questionnaire_path()
    source = path.read_text(encoding="utf-8")
    questionnaire = parse_questionnaire(source)
    store = await Store.open(settings.database)
    await bring_to_version(store, questionnaire, source, clock())
    registry = MunicipalityRegistry.load()
    flow = OfficerFlow(settings, store, questionnaire, registry, clock)
    services = Services(settings=settings, store=store, flow=flow)

    async def close_store(_: object) -> None:
        await store.close()

    install_tickets(services)
    install_coordinators(services)
    install_sync(services)
    services.shutdown.append(close_store)
    return services
