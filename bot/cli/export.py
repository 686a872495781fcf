"""`surveybot export`: responses to CSV, XLSX or JSON, the `map:` entries to GeoJSON.

Counts are worded with the questionnaire's own entry words (`entry_name`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.render.exports import FORMATS, Format, export
from bot.settings import Settings
from conversations.schema import (
    Questionnaire,
    Repeat,
    load_questionnaire,
    plural_for,
    shipped_questionnaire_path,
)
from storage.municipalities import MunicipalityRegistry
from storage.store import Store


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export", help="write the responses as CSV, XLSX or JSON, or the map as GeoJSON",
        description="CSV and XLSX have each repeat group apart (FILE_<group>.csv, or a "
                    "sheet of its own); GeoJSON draws the entries the questionnaire's map: "
                    "names, for uMap.",
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
    if fmt == "geojson" and questionnaire.map is None:
        print(f"error: questionnaire '{questionnaire.id}' has no map: section, so there is "
              "nothing to draw", file=sys.stderr)
        return 1
    store = await Store.open(settings.database)
    try:
        result = await export(store, questionnaire, MunicipalityRegistry.load(), fmt, out,
                              include_drafts=include_drafts)
    finally:
        await store.close()
    if result.map is not None:
        assert questionnaire.map is not None
        repeat = questionnaire.map.repeat
        features = result.map.features
        print(f"wrote {out}: {features} {entry_words(questionnaire, repeat, features)} on the "
              f"map ({result.map.without_consent} responses without consent left out, "
              f"{result.map.without_position} "
              f"{entry_words(questionnaire, repeat, result.map.without_position)} without "
              "coordinates)", file=stdout)
        return 0
    counted = f"{result.responses} responses"
    repeats = [e.id for s in questionnaire.sections for e in s.items if isinstance(e, Repeat)]
    if fmt in ("csv", "xlsx") and repeats:
        counted += f", {result.entries} {entry_words(questionnaire, repeats[0], result.entries)}"
    print(f"wrote {', '.join(str(path) for path in result.files)}: {counted}", file=stdout)
    return 0


def entry_words(questionnaire: Questionnaire, repeat_id: str, count: int) -> str:
    """"good practices": the file's English entry words, else the group's id."""
    repeat = next((e for s in questionnaire.sections for e in s.items
                   if isinstance(e, Repeat) and e.id == repeat_id), None)
    if repeat is None:
        return repeat_id
    word = plural_for(repeat.entry_name, count, "en", questionnaire.default_language)
    return word or f"{repeat_id} entries"
