"""GeoJSON for the public uMap: one point per entry of the repeat group the
questionnaire's `map:` names (e.g. one per good practice).

Only responses whose officer gave the `consent` answer, only the items `map:`
lists and the municipality: never anything else the officer wrote.
Descriptions use uMap's text formatting (`**bold**`, `[[url|text]]`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.render import formatting
from bot.render.exports.records import ExportRecord
from bot.render.exports.values import CHOICE_SEPARATOR, ItalianValues, amount
from bot.render.text import shorten
from conversations.migration import carry_snapshot
from conversations.schema import (
    CHOICE_TYPES,
    Item,
    ItemType,
    MapSpec,
    Questionnaire,
    Repeat,
    plural_for,
    short_text,
)

SPREAD_METRES = 100.0  # distance between markers of one municipality
_GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))
_METRES_PER_DEGREE = 111_320.0
_SAFE_URL = re.compile(r"^https?://[^\s|\[\]{}]+$")


class NoMapError(ValueError):
    """The questionnaire has no `map:` section: there is nothing to draw."""


@dataclass(frozen=True, slots=True)
class MapSummary:
    features: int
    without_consent: int  # submitted responses left out
    without_position: int  # practices of municipalities with no coordinates


def spread(lat: float, lon: float, index: int) -> tuple[float, float]:
    """The index-th marker of a municipality on a sunflower spiral around it.

    The first stays on the centroid; the others keep ~SPREAD_METRES apart,
    always in the same place for the same index.
    """
    if index == 0:
        return lat, lon
    radius = SPREAD_METRES * math.sqrt(index)
    angle = index * _GOLDEN_ANGLE
    dlat = radius * math.cos(angle) / _METRES_PER_DEGREE
    dlon = radius * math.sin(angle) / (_METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def umap_safe(text: str) -> str:
    """Free text that cannot turn into a uMap link, image or iframe."""
    text = text.replace("{", "(").replace("}", ")")
    return re.sub(r"\]{2,}", "]", re.sub(r"\[{2,}", "[", text)).strip()


_YEAR = re.compile(r"^year\(([a-z][a-z0-9_]*)\)$")


class _Features:
    """Draws one repeat group's entries as the questionnaire's `map:` says."""

    def __init__(self, questionnaire: Questionnaire, spec: MapSpec) -> None:
        self.spec = spec
        self.values = ItalianValues(questionnaire)
        repeat = next((e for s in questionnaire.sections for e in s.items
                       if isinstance(e, Repeat) and e.id == spec.repeat), None)
        self.repeat = repeat
        self.items: dict[str, Item] = {i.id: i for i in repeat.items} if repeat else {}
        self.fields = [(self.items[f.item], f.label) for f in spec.description_fields()
                       if f.item in self.items]

    def labels(self, item: Item, entry: dict[str, Any]) -> list[str]:
        # On the map the officer's "Altro" text stands for itself.
        return [umap_safe(label) for label in self.values.choice_labels(
            item, entry[item.id], entry.get(f"{item.id}_other"), other_alone=True)]

    def shown(self, item: Item, entry: dict[str, Any]) -> str | None:
        """A value as map text (Italian formats), None when there is nothing to show."""
        if entry.get(item.id) is not None and item.type in CHOICE_TYPES:
            return ", ".join(self.labels(item, entry)) or None
        cell = self.values.cell(item, entry)
        if cell is None or cell == "":
            return None
        if isinstance(cell, Decimal):
            return formatting.amount(cell)
        if isinstance(cell, date):
            return formatting.day(cell)
        if isinstance(cell, int):
            return formatting.integer(cell)
        return umap_safe(str(cell))

    def description(self, record: ExportRecord, entry: dict[str, Any]) -> str:
        where = record.comune or record.istat
        if record.provincia:
            where += f" ({record.provincia}, {record.regione})"
        lines = [f"**Comune di {where}**", ""]
        for item, label in self.fields:
            own = self.values.text(short_text(item))
            title = (self.values.text(label) if label
                     else shorten(own, 40, one_line=True).rstrip(".?:"))
            if item.type is ItemType.URL:
                website = str(entry.get(item.id) or "")
                if _SAFE_URL.match(website):
                    lines += ["", f"[[{website}|{umap_safe(title)}]]"]
                continue
            shown = self.shown(item, entry)
            if shown is None:
                continue
            if item.type is ItemType.LONG_TEXT:
                lines += ["", f"**{umap_safe(title)}:** {shown}"]
            else:
                lines.append(f"**{umap_safe(title)}:** {shown}")
        return "\n".join(lines)

    def property_value(self, source: str, entry: dict[str, Any]) -> Any:
        year = _YEAR.match(source)
        item = self.items.get(year.group(1) if year else source)
        if item is None or entry.get(item.id) is None:
            return None
        value = entry[item.id]
        if year:
            return int(str(value)[:4]) if item.type is ItemType.DATE else None
        if item.type in CHOICE_TYPES:
            return CHOICE_SEPARATOR.join(self.labels(item, entry))
        if item.type is ItemType.AMOUNT:
            total = amount(value)
            return float(total) if total is not None else None
        if item.type in (ItemType.INTEGER, ItemType.YES_NO):
            return value
        return umap_safe(str(value))

    def name(self, entry: dict[str, Any]) -> str:
        given = entry.get(self.spec.name)
        if given:
            return umap_safe(str(given))
        if self.repeat is None:
            return ""
        word = plural_for(self.repeat.entry_name, 1, "it", self.values.q.default_language)
        return word.capitalize() if word else self.values.text(self.repeat.text)

    def properties(self, record: ExportRecord, entry: dict[str, Any]) -> dict[str, Any]:
        flat = {key: self.property_value(source, entry)
                for key, source in self.spec.properties.items()}
        return {
            "name": self.name(entry),
            "description": self.description(record, entry),
            **flat,
            "comune": record.comune,
            "provincia": record.provincia,
            "regione": record.regione,
            "istat": record.istat,
            "questionnaire_version": record.questionnaire_version,
        }


def build_feature_collection(
    records: Sequence[ExportRecord], questionnaire: Questionnaire
) -> tuple[dict[str, Any], MapSummary]:
    spec = questionnaire.map
    if spec is None:
        raise NoMapError(questionnaire.id)
    drawer = _Features(questionnaire, spec)
    features: list[dict[str, Any]] = []
    placed: dict[str, int] = {}  # markers so far per municipality
    without_consent = without_position = 0
    for record in records:
        if record.draft:
            continue  # never publish what was not submitted
        answers = record.answers
        if record.questionnaire_version != questionnaire.version:
            answers = carry_snapshot(questionnaire, answers)  # today's ids and values
        if spec.consent is not None and answers.get(spec.consent) is not True:
            without_consent += 1
            continue
        entries = answers.get(spec.repeat) or []
        m = record.municipality
        if m is None or m.lat is None or m.lon is None:
            without_position += len(entries)
            continue
        for entry in entries:
            index = placed.get(record.istat, 0)
            placed[record.istat] = index + 1
            lat, lon = spread(m.lat, m.lon, index)
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": drawer.properties(record, entry),
            })
    collection = {"type": "FeatureCollection", "features": features}
    return collection, MapSummary(len(features), without_consent, without_position)


def write_geojson(
    records: Sequence[ExportRecord], questionnaire: Questionnaire, out: Path
) -> MapSummary:
    collection, summary = build_feature_collection(records, questionnaire)
    out.write_text(json.dumps(collection, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return summary
