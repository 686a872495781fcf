"""The subprocess tests' guard: a child `python -m bot` runs this tree, and the
check notices when it would not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.tree_under_test import (
    ROOT,
    assert_child_imports_this_tree,
    child_env,
    imported_bot,
)


def test_this_tree_comes_first_on_the_path() -> None:
    env = child_env({"PYTHONPATH": "/elsewhere", "HOME": "/home/x"}, SURVEYBOT_TOKEN="1:a")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/elsewhere"]
    assert env["SURVEYBOT_TOKEN"] == "1:a" and env["HOME"] == "/home/x"
    assert (ROOT / "bot" / "__init__.py").is_file()


def test_a_child_in_another_directory_imports_this_tree(tmp_path: Path) -> None:
    env = child_env()
    assert imported_bot(env, tmp_path) == ROOT / "bot" / "__init__.py"
    assert_child_imports_this_tree(env, tmp_path)


def test_a_child_importing_another_tree_is_caught(tmp_path: Path) -> None:
    other = tmp_path / "other-checkout"
    (other / "bot").mkdir(parents=True)
    (other / "bot" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(other)}
    assert imported_bot(env, tmp_path) == other / "bot" / "__init__.py"
    with pytest.raises(AssertionError, match="not from the tree under test"):
        assert_child_imports_this_tree(env, tmp_path)
