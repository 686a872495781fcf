"""JSON: the list of central rows, the same shape the sync pushes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bot.render.exports.records import ExportRecord


def write_json(records: Sequence[ExportRecord], out: Path) -> list[Path]:
    rows = [record.central_row() for record in records]
    out.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [out]
