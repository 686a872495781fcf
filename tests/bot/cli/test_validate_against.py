"""`surveybot validate NEW --against OLD`: the update item by item, exit 1 on reasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from tests.support.editions import V1, V2


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    old.write_text(V1, encoding="utf-8")
    new.write_text(V2, encoding="utf-8")
    return old, new


def test_update_summary_and_exit_status(files: tuple[Path, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    old, new = files
    assert main(["validate", str(new), "--against", str(old)]) == 1
    out = capsys.readouterr().out
    assert "  kind: values mapped ('pubblico' -> 'comunale')\n" in out
    assert "  contact_name: renamed (from 'referente')\n" in out
    assert "  fax: dropped (answers stay in the history)\n" in out
    assert "  services.service_kind: to be asked again (choice values 'altro' removed" in out
    assert "  budget: new (required, will be asked)\n" in out
    assert "2 items would have answers cleared" in out
    assert main(["validate", str(new), "--against", str(old), "--allow-reask"]) == 0


def test_mapped_changes_alone_pass(files: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = files
    gentle = tmp_path / "v2b.yaml"
    gentle.write_text(V1.replace('version: "1"', 'version: "1.1"').replace(
        "{value: pubblico,", "{value: comunale, previous_values: [pubblico],"), encoding="utf-8")
    assert main(["validate", str(gentle), "--against", str(old)]) == 0
    assert "  kind: values mapped ('pubblico' -> 'comunale')" in capsys.readouterr().out


def test_changes_under_the_same_version_label_are_refused(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = files
    same = tmp_path / "same.yaml"
    same.write_text(V1.replace("{value: pubblico,", "{value: comunale, previous_values: "
                                                    "[pubblico],"), encoding="utf-8")
    assert main(["validate", str(same), "--against", str(old)]) == 1
    assert "the version is still '1'" in capsys.readouterr().out
