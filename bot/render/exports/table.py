"""Responses as sheets: one row per response, one sheet per repeat group."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.render.exports.records import ExportRecord
from bot.render.exports.values import Cell, ItalianValues
from conversations.migration import carry_snapshot
from conversations.schema import Item, Questionnaire, Repeat, Section

RESPONSES_TITLE = "Risposte"
PLACE_HEADERS = ["Codice ISTAT", "Comune", "Provincia", "Regione"]
STATUS_HEADER = "Stato"  # only when drafts are exported
STATUS = {False: "Inviato", True: "In compilazione"}
# The version each row was submitted under: an item it did not have stays blank.
VERSION_HEADER = "Versione"


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str  # the XLSX sheet name
    slug: str  # the CSV file suffix ("" for the main file)
    headers: list[str]
    rows: list[list[Cell]]


def slugify(text: str) -> str:
    """"Buone pratiche" -> "buone_pratiche" (for file names)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_") or "dati"


def _readable(record: ExportRecord, questionnaire: Questionnaire) -> dict[str, Any]:
    """A submission of an earlier version under today's columns: renamed items and
    choice values follow the file's previous_id / previous_values (display only)."""
    if record.questionnaire_version == questionnaire.version:
        return record.answers
    return carry_snapshot(questionnaire, record.answers)


def _asked(items: Sequence[Item]) -> list[Item]:
    return [item for item in items if item.asks]


def _repeats(q: Questionnaire) -> list[tuple[Repeat, Section]]:
    return [(e, s) for s in q.sections for e in s.items if isinstance(e, Repeat)]


def build_sheets(
    records: Sequence[ExportRecord], questionnaire: Questionnaire, *, with_status: bool = False
) -> list[Sheet]:
    """The responses sheet, then one sheet per repeat group (the good practices)."""
    values = ItalianValues(questionnaire)
    top = _asked([e for s in questionnaire.sections for e in s.items if isinstance(e, Item)])
    repeats = _repeats(questionnaire)
    status = [STATUS_HEADER] if with_status else []

    headers = [*PLACE_HEADERS, *status, "Revisione", "Inviato il", VERSION_HEADER]
    headers += [values.header(item) for item in top]
    headers += [f"{values.text(section.title)} (n.) [{repeat.id}]" for repeat, section in repeats]
    rows: list[list[Cell]] = []
    shown = [_readable(record, questionnaire) for record in records]
    for record, answers in zip(records, shown, strict=True):
        row: list[Cell] = [record.istat, record.comune, record.provincia, record.regione]
        row += [STATUS[record.draft]] if with_status else []
        row += [record.revision or None, values.moment(record.submitted_at),
                record.questionnaire_version]
        row += [values.cell(item, answers) for item in top]
        row += [len(answers.get(repeat.id) or []) for repeat, _ in repeats]
        rows.append(row)
    sheets = [Sheet(RESPONSES_TITLE, "", headers, rows)]

    for repeat, section in repeats:
        items = _asked(repeat.items)
        entry_headers = [*PLACE_HEADERS, *status, "N."] + [values.header(i) for i in items]
        entry_rows: list[list[Cell]] = []
        for record, answers in zip(records, shown, strict=True):
            for number, entry in enumerate(answers.get(repeat.id) or [], start=1):
                entry_row: list[Cell] = [record.istat, record.comune, record.provincia,
                                         record.regione]
                entry_row += [STATUS[record.draft]] if with_status else []
                entry_row += [number] + [values.cell(item, entry) for item in items]
                entry_rows.append(entry_row)
        title = values.text(section.title)
        if any(sheet.title == title for sheet in sheets):  # two groups in one section
            title = f"{title} {values.text(repeat.text)}"
        sheets.append(Sheet(title, slugify(title), entry_headers, entry_rows))
    return sheets
