"""The flow's locks serialise what shares a key and are not kept once unused."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime import open_services
from bot.services.officer_flow import OfficerFlow
from tests.support.coordination_helpers import plain_settings


@pytest.fixture
async def flow(tmp_path: Path) -> AsyncIterator[OfficerFlow]:
    services = await open_services(plain_settings(tmp_path))
    yield services.flow
    await services.store.close()


async def test_one_key_one_lock_while_in_use(flow: OfficerFlow) -> None:
    order: list[str] = []
    entered = asyncio.Event()

    async def first() -> None:
        async with flow.lock("istat:048017"):
            entered.set()
            await asyncio.sleep(0.01)
            order.append("first done")

    async def second() -> None:
        await entered.wait()
        async with flow.lock("istat:048017"):
            order.append("second in")

    await asyncio.gather(first(), second())
    assert order == ["first done", "second in"]
    assert flow.lock("istat:048017") is not flow.lock("istat:058091")


async def test_a_lock_no_one_holds_is_not_kept(flow: OfficerFlow) -> None:
    async with flow.lock("user:1001") as _:
        held = weakref.ref(flow.lock("user:1001"))
        assert flow.lock("user:1001") is held()
    gc.collect()
    assert held() is None  # a thousand officers leave no thousand locks behind
