"""CSV for Italian Excel: `;` delimiter, decimal comma, UTF-8 with BOM."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from bot.render.exports.table import Sheet
from bot.render.exports.values import Cell

# Spreadsheets run text starting with these as a formula: officers' free text
# must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return str(value)
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def sheet_path(out: Path, sheet: Sheet) -> Path:
    """FILE for the main sheet, FILE_<slug> (before the extension) for the others."""
    return out if not sheet.slug else out.with_name(f"{out.stem}_{sheet.slug}{out.suffix}")


def write_csv(sheets: list[Sheet], out: Path) -> list[Path]:
    written = []
    for sheet in sheets:
        path = sheet_path(out, sheet)
        with path.open("w", encoding="utf-8-sig", newline="") as target:
            writer = csv.writer(target, delimiter=";")
            writer.writerow(sheet.headers)
            writer.writerows([csv_cell(value) for value in row] for row in sheet.rows)
        written.append(path)
    return written
