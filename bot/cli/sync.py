"""`surveybot sync [status|retry]`: push the outbox once, inspect it, revive dead rows."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.cli.errors import CliError
from bot.services.sync_loop import central_from_settings
from bot.settings import Settings
from storage.store import Store
from storage.sync import OutboxPusher, central_client, outbox_status, retry_dead, utc_now


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = subparsers.add_parser(
        "sync", help="push submitted responses to the central database once, then exit"
    )
    sync.add_argument("--now", action="store_true",
                      help="also push rows still waiting for their retry time")
    sync.set_defaults(handler=_push)
    actions = sync.add_subparsers(dest="sync_action", metavar="{status,retry}")
    status = actions.add_parser("status", help="pending, delivered and dead rows")
    status.set_defaults(handler=_status)
    retry = actions.add_parser("retry", help="put dead rows back to pending")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID",
                       help="only these outbox ids (default: every dead row)")
    retry.set_defaults(handler=_retry)


def _push(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_push(settings, ignore_schedule=args.now))


def _status(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_status(settings))


def _retry(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_retry(settings, args.ids))


async def run_push(settings: Settings, *, ignore_schedule: bool = False,
                   out: TextIO = sys.stdout) -> int:
    """One pass; exit status 1 if rows were rejected or the server failed."""
    central = central_from_settings(settings)
    if central is None:
        raise CliError("SURVEYBOT_CENTRAL_URL is not set")
    store = await Store.open(settings.database)
    try:
        async with central_client(central) as client:
            report = await OutboxPusher(store, client, central).push_due(
                ignore_schedule=ignore_schedule)
        status = await outbox_status(store)
    finally:
        await store.close()
    print(f"sync: {report.summary()}", file=out)
    if status.pending:
        print(f"{status.pending} rows still pending, next attempt at {status.next_attempt_at}",
              file=out)
    if status.dead:
        print(f"{status.dead} dead rows: see `surveybot sync status`", file=out)
    return 1 if report.error or report.dead else 0


async def run_status(settings: Settings, out: TextIO = sys.stdout) -> int:
    store = await Store.open(settings.database)
    try:
        status = await outbox_status(store)
    finally:
        await store.close()
    pending = f"pending:   {status.pending}"
    if status.pending:
        pending += f" (next attempt at {status.next_attempt_at}"
        pending += f"; last error: {status.last_error})" if status.last_error else ")"
    print(pending, file=out)
    print(f"delivered: {status.delivered}", file=out)
    print(f"dead:      {status.dead}", file=out)
    for row in status.dead_rows:
        print(f"  #{row.id} {row.response_id} revision {row.revision} "
              f"({row.attempts} attempts): {row.last_error}", file=out)
    return 0


async def run_retry(settings: Settings, ids: Sequence[int] = (), out: TextIO = sys.stdout) -> int:
    store = await Store.open(settings.database)
    try:
        count = await retry_dead(store, utc_now(), ids)
    finally:
        await store.close()
    print(f"{count} dead rows back to pending", file=out)
    return 0
