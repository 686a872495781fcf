"""`surveybot export`: responses to CSV, XLSX or JSON, good practices to GeoJSON."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.render.exports import FORMATS, Format, export
from bot.settings import Settings
from conversations.schema import load_questionnaire, shipped_questionnaire_path
from storage.municipalities import MunicipalityRegistry
from storage.store import Store


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export", help="write the responses as CSV, XLSX or JSON, or the map as GeoJSON",
        description="CSV and XLSX have the good practices apart (FILE_buone_pratiche.csv, or "
                    "a second sheet); GeoJSON has only consenting municipalities, for uMap.",
    )
    parser.add_argument("--format", dest="fmt", required=True, choices=FORMATS)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE")
    parser.add_argument("--include-drafts", action="store_true",
                        help="also responses still being filled in (never in GeoJSON)")
    parser.set_defaults(handler=_export)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_export(settings, args.fmt, args.out, include_drafts=args.include_drafts))


async def run_export(
    settings: Settings, fmt: Format, out: Path, *, include_drafts: bool = False,
    stdout: TextIO = sys.stdout,
) -> int:
    questionnaire = load_questionnaire(settings.questionnaire or shipped_questionnaire_path())
    if fmt == "geojson" and include_drafts:
        print("note: drafts are never published, --include-drafts ignored", file=sys.stderr)
    store = await Store.open(settings.database)
    try:
        result = await export(store, questionnaire, MunicipalityRegistry.load(), fmt, out,
                              include_drafts=include_drafts)
    finally:
        await store.close()
    if result.map is not None:
        print(f"wrote {out}: {result.map.features} good practices on the map "
              f"({result.map.without_consent} responses without consent left out, "
              f"{result.map.without_position} practices without coordinates)", file=stdout)
        return 0
    counted = f"{result.responses} responses"
    if fmt in ("csv", "xlsx"):
        counted += f", {result.entries} good practices"
    print(f"wrote {', '.join(str(path) for path in result.files)}: {counted}", file=stdout)
    return 0
