"""Child processes (`python -m bot ...`) that run the tree under test.

A child started with another working directory imports `bot` from wherever the
interpreter finds it: the installed package (an editable install may point at
another checkout), not necessarily this tree. Putting this tree's root first on
PYTHONPATH fixes that, and `assert_child_imports_this_tree` proves it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/support/ -> the repository root


def child_env(base: Mapping[str, str] | None = None, **settings: str) -> dict[str, str]:
    """`base` (default: this process's environment) plus `settings`, with this tree's
    root first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    env.update(settings)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *rest])
    return env


def imported_bot(env: Mapping[str, str], cwd: Path) -> Path:
    """Where a child with that environment and working directory imports `bot` from."""
    done = subprocess.run(
        [sys.executable, "-c", "import bot; print(bot.__file__)"],
        env=dict(env), cwd=cwd, capture_output=True, text=True, check=True,
    )
    return Path(done.stdout.strip()).resolve()


def assert_child_imports_this_tree(env: Mapping[str, str], cwd: Path) -> None:
    found = imported_bot(env, cwd)
    assert found == ROOT / "bot" / "__init__.py", (
        f"a child in {cwd} would run bot from {found}, not from the tree under test {ROOT}"
    )
