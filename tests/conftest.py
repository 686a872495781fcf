from __future__ import annotations

from collections.abc import AsyncIterator
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
