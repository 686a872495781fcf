"""`surveybot status`: the /avanzamento figures in the terminal."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.render import progress
from bot.render.i18n import translator
from bot.settings import Settings
from conversations.schema import load_questionnaire, shipped_questionnaire_path
from storage.coordination_store import CoordinationStore
from storage.municipalities import MunicipalityRegistry
from storage.store import Store


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="progress of the survey: counts by status, per region, laggards"
    )
    parser.add_argument("--lang", default="it", choices=["it", "en"])
    parser.add_argument("--chart", type=Path, metavar="FILE.png", help="also write the chart")
    parser.add_argument("--no-list", action="store_true",
                        help="leave out the municipalities that have not started")
    parser.set_defaults(handler=run_status)


async def status_text(settings: Settings, args: argparse.Namespace) -> str:
    questionnaire = load_questionnaire(settings.questionnaire or shipped_questionnaire_path())
    store = await Store.open(settings.database)
    try:
        report = await progress.compute(CoordinationStore(store), MunicipalityRegistry.load(),
                                        questionnaire.id, datetime.now(UTC))
    finally:
        await store.close()
    t = translator(args.lang)
    if args.chart is not None:
        args.chart.write_bytes(progress.chart_png(report, t, settings.timezone))
    return progress.terminal_text(report, t, settings.timezone, with_list=not args.no_list)


def run_status(settings: Settings, args: argparse.Namespace) -> int:
    print(asyncio.run(status_text(settings, args)))
    return 0
