"""XLSX: one worksheet per sheet, numbers as numbers, amounts in euro."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from bot.render.exports.table import Sheet

EURO = '#,##0.00 "€"'
DAY = "DD/MM/YYYY"
MOMENT = "DD/MM/YYYY HH:MM"
MAX_WIDTH = 50


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Foglio"


def write_xlsx(sheets: list[Sheet], out: Path) -> list[Path]:
    # openpyxl costs ~15 MiB: loaded only when a spreadsheet is written.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        ws = workbook.create_sheet(_sheet_title(sheet.title))
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        widths = [min(MAX_WIDTH, max(10, len(h) // 2)) for h in sheet.headers]
        for r, row in enumerate(sheet.rows, start=2):
            for c, value in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, Decimal):
                    cell.number_format = EURO
                elif isinstance(value, datetime):
                    cell.number_format = MOMENT
                elif isinstance(value, date):
                    cell.number_format = DAY
                elif isinstance(value, str):
                    # Officers' text starting with "=" must not become a formula.
                    cell.data_type = "s"
                    widths[c - 1] = min(MAX_WIDTH, max(widths[c - 1], len(value)))
        for c, width in enumerate(widths, start=1):
            ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width = width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
    workbook.save(out)
    return [out]
