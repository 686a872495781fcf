"""Exports: CSV, XLSX and JSON for the coordinators, GeoJSON for the public map."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.render.exports.records import ExportRecord, load_records
from bot.render.exports.table import build_sheets
from bot.render.exports.to_csv import write_csv
from bot.render.exports.to_geojson import MapSummary, write_geojson
from bot.render.exports.to_json import write_json
from bot.render.exports.to_xlsx import write_xlsx
from conversations.schema import Questionnaire
from storage.municipalities import MunicipalityRegistry
from storage.store import Store

__all__ = ["FORMATS", "ExportRecord", "ExportResult", "Format", "export", "load_records"]

Format = Literal["csv", "xlsx", "json", "geojson"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "json", "geojson")


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: list[Path]
    responses: int  # responses read (drafts included when asked)
    entries: int  # good-practice rows, or map features for GeoJSON
    map: MapSummary | None = None


async def export(
    store: Store,
    questionnaire: Questionnaire,
    registry: MunicipalityRegistry,
    fmt: Format,
    out: Path,
    *,
    include_drafts: bool = False,
) -> ExportResult:
    """Write `out` (and its companion files) in `fmt`. GeoJSON never has drafts."""
    records = await load_records(
        store, questionnaire, registry, include_drafts=include_drafts and fmt != "geojson"
    )
    if fmt == "geojson":
        summary = write_geojson(records, questionnaire, out)
        return ExportResult([out], len(records), summary.features, summary)
    if fmt == "json":
        return ExportResult(write_json(records, out), len(records), 0)
    sheets = build_sheets(records, questionnaire, with_status=include_drafts)
    entries = sum(len(sheet.rows) for sheet in sheets[1:])
    files = write_csv(sheets, out) if fmt == "csv" else write_xlsx(sheets, out)
    return ExportResult(files, len(records), entries)
