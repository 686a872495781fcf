"""`surveybot validate NEW --against OLD`: what an update does to stored answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from conversations.migration import needs_reask, plan
from conversations.schema import load_questionnaire
from conversations.validator import lint_file


def compare_versions(
    old_path: Path, new_path: Path, *, allow_reask: bool, stdout: TextIO | None = None
) -> int:
    """Item by item: kept, renamed, values mapped, to be asked again, dropped, new.

    Exit 1 when answers would be cleared without a declared mapping (unless
    `allow_reask`), or when OLD itself does not load."""
    stdout = stdout or sys.stdout
    problems = lint_file(old_path)
    if problems:
        for problem in problems:
            print(f"{old_path}: {problem}", file=stdout)
        return 1
    old, new = load_questionnaire(old_path), load_questionnaire(new_path)
    if old.id != new.id:
        print(f"{new_path}: questionnaire id '{new.id}' is not '{old.id}': responses to "
              f"'{old.id}' would not carry over at all", file=stdout)
        return 1
    print(f"update {old.version} -> {new.version}:", file=stdout)
    lines = plan(old, new)
    for line in lines:
        print(f"  {line}", file=stdout)
    reask = needs_reask(lines)
    if old.version == new.version and any(line.kind != "kept" for line in lines):
        print(f"the version is still '{new.version}': raise it, or the bot will not apply "
              "the changes to stored answers", file=stdout)
        return 1
    if reask and not allow_reask:
        print(f"{len(reask)} items would have answers cleared and asked again without a "
              "declared mapping (previous_values / previous_id); pass --allow-reask if that is "
              "intended", file=stdout)
        return 1
    return 0
