"""The command line parses every command; `run` does it without loading the
extensions' modules (exports, XLSForm, doctor...), which a long-lived bot
would otherwise carry for nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import _parser
from tests.support.tree_under_test import child_env

EXTENSION_MODULES = ("bot.cli.export", "bot.cli.xlsform", "bot.cli.doctor",
                     "bot.render.exports", "conversations.xlsform")


@pytest.mark.parametrize("argv", [
    ["run", "--listen", "0.0.0.0:8443"],
    ["preview", "--lang", "en"],
    ["validate", "q.yaml"],
    ["codes", "issue", "--istat", "048017"],
    ["export", "--format", "csv", "--out", "x.csv"],
    ["status"],
    ["sync"],
    ["backup", "copy.sqlite3"],
    ["doctor"],
    ["import-xlsform", "form.xlsx", "--out", "q.yaml"],
])
def test_every_command_parses(argv: list[str]) -> None:
    assert _parser(argv).parse_args(argv).command == argv[0]


def test_help_and_unknown_commands_list_every_command(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    for argv in ([], ["--help"], ["exprot"]):
        with pytest.raises(SystemExit):
            _parser(argv).parse_args(argv or ["--help"])
        shown = capsys.readouterr()
        assert "export" in shown.out + shown.err and "doctor" in shown.out + shown.err


def test_run_parses_without_the_extensions(tmp_path: Path) -> None:
    probe = ("import sys; from bot.cli.main import _parser; "
             "_parser(['run']).parse_args(['run']); "
             f"print(sorted(m for m in {EXTENSION_MODULES!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], env=child_env(), cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
