"""`surveybot import-xlsform` and `export-xlsform`: questionnaires in a spreadsheet.

openpyxl is imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from bot.settings import Settings
from conversations.schema import load_questionnaire
from conversations.validator import lint, lint_file
from conversations.xlsform import Row, Sheets, Unconvertible, from_xlsform, to_xlsform

SHEETS = ("survey", "choices", "settings")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    read = subparsers.add_parser(
        "import-xlsform", help="convert an XLSForm (ODK/Kobo spreadsheet) to a questionnaire",
        description="Exit 0 when the result validates (what could not be converted is then "
                    "listed as warnings, with row numbers); 1 when it does not.")
    read.add_argument("form", type=Path, metavar="FORM.xlsx")
    read.add_argument("--out", type=Path, required=True, metavar="questionnaire.yaml")
    read.add_argument("--deadline", help="ISO date-time, when the settings sheet has none")
    read.set_defaults(handler=_import)
    write = subparsers.add_parser(
        "export-xlsform", help="write a questionnaire as an XLSForm, to edit in a spreadsheet")
    write.add_argument("questionnaire", type=Path)
    write.add_argument("--out", type=Path, required=True, metavar="FORM.xlsx")
    write.set_defaults(handler=_export)


def _import(settings: Settings, args: argparse.Namespace) -> int:
    deadline = args.deadline or (settings.deadline.isoformat() if settings.deadline else None)
    return import_xlsform(args.form, args.out, deadline=deadline)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    del settings
    return export_xlsform(args.questionnaire, args.out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_sheets(path: Path) -> tuple[list[Row], list[Row], list[Row]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    found: dict[str, list[Row]] = {}
    for name in SHEETS:
        if name not in workbook.sheetnames:
            found[name] = []
            continue
        rows = list(workbook[name].iter_rows(values_only=True))
        headers = [_cell(h) for h in rows[0]] if rows else []
        found[name] = [
            {h: _cell(v) for h, v in zip(headers, row, strict=False) if h and _cell(v)}
            for row in rows[1:]
        ]
    workbook.close()
    return found["survey"], found["choices"], found["settings"]


def import_xlsform(
    form: Path, out: Path, *, deadline: str | None = None, stdout: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    try:
        survey, choices, settings = read_sheets(form)
    except Exception as error:  # a file that is not a workbook: say so, no traceback
        print(f"{form}: cannot read the workbook: {error}", file=stdout)
        return 1
    if not survey:
        print(f"{form}: no 'survey' sheet with rows", file=stdout)
        return 1
    imported = from_xlsform(survey, choices, settings, deadline)
    out.write_text(
        yaml.safe_dump(imported.raw, allow_unicode=True, sort_keys=False, width=100),
        encoding="utf-8")
    for warning in imported.warnings:
        print(f"{form}: warning: {warning}", file=stdout)
    problems = lint(yaml.safe_load(out.read_text(encoding="utf-8")))
    for problem in problems:
        print(f"{out}: {problem}", file=stdout)
    if problems:
        print(f"{out}: written, but it does not validate: fix the spreadsheet or the file",
              file=stdout)
        return 1
    print(f"wrote {out}: ok ({len(imported.warnings)} warnings)", file=stdout)
    return 0


def write_sheets(sheets: Sheets, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in (("survey", sheets.survey), ("choices", sheets.choices),
                       ("settings", sheets.settings)):
        sheet = workbook.create_sheet(name)
        headers = list(dict.fromkeys(column for row in rows for column in row))
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([row.get(header, "") for header in headers])
            for cell in sheet[sheet.max_row]:
                cell.data_type = "s"  # "=" in a label must stay text
        sheet.freeze_panes = "A2"
    workbook.save(out)


def export_xlsform(source: Path, out: Path, *, stdout: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    problems = lint_file(source)
    if problems:
        for problem in problems:
            print(f"{source}: {problem}", file=stdout)
        return 2
    try:
        sheets = to_xlsform(load_questionnaire(source))
    except Unconvertible as error:
        print(f"{source}: {error}", file=stdout)
        return 1
    write_sheets(sheets, out)
    print(f"wrote {out}: {len(sheets.survey)} survey rows, {len(sheets.choices)} choices",
          file=stdout)
    return 0
