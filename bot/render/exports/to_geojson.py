"""GeoJSON for the public uMap: one point per good practice.

Only responses whose officer consented to publication, only practice data
and the municipality: never the officers' contact details nor their notes.
Descriptions use uMap's text formatting (`**bold**`, `[[url|text]]`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.render import formatting
from bot.render.exports.records import ExportRecord
from bot.render.exports.values import CHOICE_SEPARATOR, ItalianValues, amount
from conversations.schema import Item, Questionnaire, Repeat

PRACTICES = "practices"
CONSENT = "publish_consent"
SPREAD_METRES = 100.0  # distance between markers of one municipality
_GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))
_METRES_PER_DEGREE = 111_320.0
_SAFE_URL = re.compile(r"^https?://[^\s|\[\]{}]+$")


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


def plain(text: str) -> str:
    """Free text that cannot turn into a uMap link, image or iframe."""
    text = text.replace("{", "(").replace("}", ")")
    return re.sub(r"\]{2,}", "]", re.sub(r"\[{2,}", "[", text)).strip()


class _Practices:
    def __init__(self, questionnaire: Questionnaire) -> None:
        self.values = ItalianValues(questionnaire)
        repeat = next((e for s in questionnaire.sections for e in s.items
                       if isinstance(e, Repeat) and e.id == PRACTICES), None)
        self.items: dict[str, Item] = {i.id: i for i in repeat.items} if repeat else {}

    def labels(self, entry: dict[str, Any], item_id: str) -> list[str]:
        item = self.items.get(item_id)
        if item is None or entry.get(item_id) is None:
            return []
        # On the map the officer's "Altro" text stands for itself.
        return [plain(label) for label in self.values.choice_labels(
            item, entry[item_id], entry.get(f"{item_id}_other"), other_alone=True)]

    def period(self, entry: dict[str, Any]) -> str:
        start, end = entry.get("start_date"), entry.get("end_date")
        since = f"dal {formatting.day(start)}" if start else "inizio non indicato"
        if entry.get("ongoing"):
            return f"{since}, in corso"
        return f"{since} al {formatting.day(end)}" if end else since

    def funding(self, entry: dict[str, Any]) -> str:
        total = amount(entry.get("funding_amount")) if entry.get("funding_amount") else None
        national = (amount(entry.get("funding_national_amount"))
                    if entry.get("funding_national_amount") else None)
        text = formatting.amount(total) if total is not None else "importo non indicato"
        if national is not None:
            text += f", di cui {formatting.amount(national)} dal Fondo nazionale per le " \
                    "politiche della famiglia"
        return text

    def description(self, record: ExportRecord, entry: dict[str, Any]) -> str:
        where = record.comune or record.istat
        if record.provincia:
            where += f" ({record.provincia}, {record.regione})"
        lines = [f"**Comune di {where}**", ""]
        areas = self.labels(entry, "areas")
        if areas:
            lines.append(f"**Aree:** {', '.join(areas)}")
        beneficiaries = self.labels(entry, "beneficiaries")
        if beneficiaries:
            lines.append(f"**Destinatari:** {', '.join(beneficiaries)}")
        lines.append(f"**Periodo:** {self.period(entry)}")
        lines.append(f"**Finanziamento:** {self.funding(entry)}")
        sources = self.labels(entry, "funding_sources")
        if sources:
            lines.append(f"**Fonti:** {CHOICE_SEPARATOR.join(sources)}")
        if entry.get("description"):
            lines += ["", plain(str(entry["description"]))]
        if entry.get("results"):
            lines += ["", f"**Risultati:** {plain(str(entry['results']))}"]
        website = str(entry.get("website") or "")
        if _SAFE_URL.match(website):
            lines += ["", f"[[{website}|Sito web della buona pratica]]"]
        return "\n".join(lines)

    def properties(self, record: ExportRecord, entry: dict[str, Any]) -> dict[str, Any]:
        start = entry.get("start_date")
        total = amount(entry["funding_amount"]) if entry.get("funding_amount") else None
        return {
            "name": plain(str(entry.get("title") or "Buona pratica")),
            "description": self.description(record, entry),
            "area": CHOICE_SEPARATOR.join(self.labels(entry, "areas")),
            "funding": CHOICE_SEPARATOR.join(self.labels(entry, "funding_sources")),
            "comune": record.comune,
            "provincia": record.provincia,
            "regione": record.regione,
            "istat": record.istat,
            "anno_inizio": int(str(start)[:4]) if start else None,
            "importo": float(total) if isinstance(total, Decimal) else None,
        }


def build_feature_collection(
    records: Sequence[ExportRecord], questionnaire: Questionnaire
) -> tuple[dict[str, Any], MapSummary]:
    practices = _Practices(questionnaire)
    features: list[dict[str, Any]] = []
    placed: dict[str, int] = {}  # markers so far per municipality
    without_consent = without_position = 0
    for record in records:
        if record.draft:
            continue  # never publish what was not submitted
        if record.answers.get(CONSENT) is not True:
            without_consent += 1
            continue
        entries = record.answers.get(PRACTICES) or []
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
                "properties": practices.properties(record, entry),
            })
    collection = {"type": "FeatureCollection", "features": features}
    return collection, MapSummary(len(features), without_consent, without_position)


def write_geojson(
    records: Sequence[ExportRecord], questionnaire: Questionnaire, out: Path
) -> MapSummary:
    collection, summary = build_feature_collection(records, questionnaire)
    out.write_text(json.dumps(collection, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return summary
