"""Broadcast benchmark: `python -m bench.broadcast [--recipients 8000]`.

Sends one announcement to N officers through the real broadcast code (pacer,
plain `telegram.Bot`, SQLite bookkeeping) against the in-process Bot API double
with Telegram's limits enforced (30 messages/s overall, 1/s per chat), and
prints the achieved rate against the allowed 30/s (target: at least 95%) and
how many recipients got no message or more than one (target: 0).

A second run is interrupted at about half way (the sending task is cancelled,
as a shutdown does: requests already started finish and are recorded), the
services are closed and opened again on the same database, and the broadcast
resumes from there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.runtime import open_services
from bot.services.broadcasts import ALL, ANNOUNCEMENT
from bot.services.coordination import CoordinationService
from bot.settings import Settings
from bot.telegram.app import Services
from bot.telegram.broadcast_transport import BotTransport
from storage.municipalities import MunicipalityRegistry
from tests.support.botapi_double import BotApiDouble

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
COORDINATOR = 1
FIRST_ID = 10_000_000
ALLOWED = 30.0


@dataclass
class Result:
    recipients: int
    seconds: float  # first to last send, as the server saw them
    lost: int
    duplicated: int
    breaches: int
    violations: int
    unknown: int

    @property
    def rate(self) -> float:
        return (self.recipients - 1) / self.seconds if self.seconds > 0 else 0.0


@contextlib.asynccontextmanager
async def running_double() -> AsyncIterator[BotApiDouble]:
    double = BotApiDouble(TOKEN, enforce_limits=True, global_rate=ALLOWED, per_chat_interval=1.0)
    await double.start()
    try:
        yield double
    finally:
        await double.stop()


def settings_for(folder: Path, double: BotApiDouble) -> Settings:
    return Settings(
        token=SecretStr(TOKEN), telegram_api_url=double.root,
        database=folder / "bench.sqlite3", code_secret=SecretStr("bench"),
        coordinators=[COORDINATOR],
    )


async def open_bench(settings: Settings, double: BotApiDouble
                     ) -> tuple[Services, CoordinationService, Bot]:
    services = await open_services(settings)
    coord = services.coordination
    assert coord is not None
    bot = Bot(TOKEN, base_url=f"{double.root}/bot",
              request=HTTPXRequest(connection_pool_size=64, pool_timeout=10.0))
    await bot.initialize()
    coord.courier.transport = BotTransport(bot)
    return services, coord, bot


async def close_bench(services: Services, bot: Bot) -> None:
    await bot.shutdown()
    await services.store.close()


async def add_officers(services: Services, count: int) -> None:
    """N officers bound to municipalities (two to some when N exceeds them)."""
    codes = [m.istat for m in MunicipalityRegistry.load()]
    now = datetime.now(UTC).isoformat()
    rows = [(FIRST_ID + i, codes[i % len(codes)], "it", f"Referente {i}", now, now)
            for i in range(count)]
    async with services.store.transaction() as db:
        await db.executemany(
            "INSERT INTO officers (user_id, istat, language, first_name, last_seen_at, bound_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


async def start_broadcast(coord: CoordinationService, text: str) -> int:
    message_id = await coord.courier.notify(COORDINATOR, "…")
    broadcast_id = await coord.broadcasts.create(
        coordinator_id=COORDINATOR, kind=ANNOUNCEMENT, text=text, audience=ALL, region=None,
        language="it", progress=(COORDINATOR, message_id) if message_id else None,
    )
    assert broadcast_id is not None
    coord.broadcasts.start(broadcast_id)
    return broadcast_id


async def watch(double: BotApiDouble, count: int, task: asyncio.Task[None], label: str) -> None:
    while not task.done():
        await asyncio.sleep(10)
        served = sum(1 for uid in range(FIRST_ID, FIRST_ID + count) if double.send_times.get(uid))
        print(f"  [{label}] {served}/{count} sent", flush=True)


def measure(double: BotApiDouble, count: int, unknown: int) -> Result:
    times = sorted(t for uid in range(FIRST_ID, FIRST_ID + count)
                   for t in double.send_times.get(uid, []))
    per_user = [len(double.send_times.get(uid, [])) for uid in range(FIRST_ID, FIRST_ID + count)]
    return Result(
        recipients=count, seconds=times[-1] - times[0] if times else 0.0,
        lost=sum(1 for n in per_user if n == 0), duplicated=sum(1 for n in per_user if n > 1),
        breaches=len(double.limit_breaches()), violations=double.violations, unknown=unknown,
    )


async def full_run(count: int, folder: Path) -> Result:
    async with running_double() as double:
        settings = settings_for(folder, double)
        services, coord, bot = await open_bench(settings, double)
        try:
            await add_officers(services, count)
            broadcast_id = await start_broadcast(coord, "Benchmark: messaggio a tutti i referenti.")
            run = coord.broadcasts.start(broadcast_id)  # the running task
            await asyncio.gather(run, watch(double, count, run, "full"))
            counts = await coord.cstore.recipient_counts(broadcast_id)
        finally:
            await close_bench(services, bot)
        return measure(double, count, counts.get("unknown", 0))


async def interrupted_run(count: int, folder: Path) -> tuple[Result, int, float]:
    async with running_double() as double:
        settings = settings_for(folder, double)
        services, coord, bot = await open_bench(settings, double)
        await add_officers(services, count)
        broadcast_id = await start_broadcast(coord, "Benchmark: interrotto e ripreso.")
        half = count // 2

        def served() -> int:
            return sum(1 for uid in range(FIRST_ID, FIRST_ID + count) if double.send_times.get(uid))

        while served() < half:
            await asyncio.sleep(0.2)
        await coord.broadcasts.stop()  # cancel the sending task (a shutdown)
        at_stop = served()
        await close_bench(services, bot)
        print(f"  [interrupted] stopped after {at_stop}/{count}; reopening the database",
              flush=True)
        gap_started = time.monotonic()
        services, coord, bot = await open_bench(settings, double)
        try:
            await coord.recover()  # what the start-up hook does
            gap = time.monotonic() - gap_started
            run = coord.broadcasts.start(broadcast_id)  # the running task
            await asyncio.gather(run, watch(double, count, run, "resumed"))
            counts = await coord.cstore.recipient_counts(broadcast_id)
        finally:
            await close_bench(services, bot)
        return measure(double, count, counts.get("unknown", 0)), at_stop, gap


def report(title: str, result: Result) -> None:
    print(f"{title}")
    print(f"  recipients          {result.recipients}")
    print(f"  first→last send     {result.seconds:.1f} s")
    print(f"  achieved rate       {result.rate:.2f} msg/s = {100 * result.rate / ALLOWED:.1f}% "
          f"of the allowed {ALLOWED:.0f}/s")
    print(f"  lost / duplicated   {result.lost} / {result.duplicated}")
    print(f"  unknown outcome     {result.unknown}")
    print(f"  limit breaches      {result.breaches} (429 answered: {result.violations})")


async def main_async(count: int, skip_interrupted: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "full").mkdir()
        (folder / "interrupted").mkdir()
        print(f"broadcast to {count} officers, double enforcing 30 msg/s and 1 msg/s per chat",
              flush=True)
        full = await full_run(count, folder / "full")
        report("full run", full)
        ok = full.lost == 0 and full.duplicated == 0 and full.breaches == 0
        ok = ok and full.rate >= 0.95 * ALLOWED
        if not skip_interrupted:
            interrupted, at_stop, gap = await interrupted_run(count, folder / "interrupted")
            report(f"interrupted at {at_stop}/{count} and resumed (restart took {gap:.2f} s)",
                   interrupted)
            ok = ok and interrupted.lost == 0 and interrupted.duplicated == 0
            ok = ok and interrupted.breaches == 0
        print("OK" if ok else "FAILED")
        return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=8000)
    parser.add_argument("--skip-interrupted", action="store_true",
                        help="only the full run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args.recipients, args.skip_interrupted))


if __name__ == "__main__":
    sys.exit(main())
