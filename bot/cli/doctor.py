"""`surveybot doctor` (placeholder until the checks land)."""

from __future__ import annotations

from typing import Any


def add_commands(subparsers: Any) -> None:
    pass
