from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.botapi_double import BotApiDouble
from tests.support.harness import TOKEN, Harness, running


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    api = BotApiDouble(TOKEN)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def harness(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    async with running(tmp_path, double) as h:
        yield h


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """A command run in-process (`bot.cli.main.main`) installs its own log handler on
    the root logger, writing to the stderr pytest captured for that test; left
    there, a later test's log record (aiosqlite's debug lines from its thread)
    fails on the closed capture. Each test leaves the root logger as it found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
