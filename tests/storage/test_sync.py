"""Outbox push against a real HTTP server on 127.0.0.1, with injected faults.

Outbox rows come from `Store.record_step` with a Submission, as in the bot.
The clock is fake: backoff and Retry-After move it instead of waiting.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import SecretStr

from bot.cli.sync import run_push, run_retry, run_status
from bot.services.sync_loop import central_from_settings, install_sync, sync_forever
from bot.settings import Settings
from bot.telegram.app import Services
from conversations.state import AnswerSet, Cursor, State
from storage.store import Store, Submission, response_id
from storage.sync import (
    Backoff,
    Central,
    OutboxPusher,
    central_client,
    idempotency_key,
    outbox_status,
    retry_after_seconds,
    retry_dead,
)
from tests.support.central_double import CentralDouble, Fault

QID = "family_policies"
TOKEN = "eyJ.test-token.sig"
START = datetime(2019, 7, 1, 8, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 30
) -> None:
    """Poll `condition`; `timeout` only bounds a hang, it is no assertion on speed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        met = condition()
        if not isinstance(met, bool):
            met = await met
        if met:
            return
        assert loop.time() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.01)


async def submit(store: Store, istat: str, revision: int, now: datetime, **answers: Any) -> None:
    """One submission through the real store path (state, submission, outbox row)."""
    values = {"publish_consent": True, **answers}
    state = State(QID, "2019.1", Cursor("done"), top=AnswerSet(values=values),
                  status="submitted", revision=revision, submitted_at=now.isoformat())
    shared, nav = state.split()
    payload = {
        "response_id": response_id(QID, istat), "revision": revision, "istat": istat,
        "comune": f"Comune {istat}", "provincia": "Firenze", "regione": "Toscana",
        "questionnaire_id": QID, "questionnaire_version": "2019.1",
        "submitted_at": now.isoformat(), "answers": values,
    }
    await store.record_step(
        questionnaire_id=QID, istat=istat, state=shared, nav=nav, answered=1, total=1,
        user_id=1000 + revision, now=now, changes=[],
        submission=Submission(revision, now.isoformat(), values, payload),
    )


async def outbox(store: Store) -> list[dict[str, Any]]:
    rows = await store.fetchall(
        "SELECT id, response_id, revision, status, attempts, next_attempt_at, last_error "
        "FROM outbox ORDER BY id")
    return [dict(row) for row in rows]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3")
    yield opened
    await opened.close()


@pytest.fixture
async def central() -> AsyncIterator[CentralDouble]:
    async with CentralDouble(token=TOKEN) as double:
        yield double


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pusher_for(
    store: Store, client: Any, url: str, clock: FakeClock, **kwargs: Any
) -> OutboxPusher:
    return OutboxPusher(store, client, Central(url, TOKEN, timeout=kwargs.pop("timeout", 5.0)),
                        clock=clock, rand=lambda: 0.5, **kwargs)


async def assert_all_delivered(store: Store) -> None:
    rows = await outbox(store)
    assert rows and {row["status"] for row in rows} == {"delivered"}, rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the normal path -----------------------------------------------------------------------


async def test_push_sends_latest_revision_once(store: Store, central: CentralDouble,
                                               clock: FakeClock) -> None:
    await submit(store, "048017", 1, START)
    await submit(store, "048017", 2, START + timedelta(minutes=5), notes="seconda")
    await submit(store, "015146", 1, START)
    clock.advance(600)
    async with central_client(Central(central.url, TOKEN)) as client:
        report = await pusher_for(store, client, central.url, clock).push_due()

    assert (report.requests, report.sent, report.superseded, report.dead) == (1, 2, 1, 0)
    assert central.revisions() == {f"{QID}:048017": 2, f"{QID}:015146": 1}
    assert central.rows[f"{QID}:048017"]["answers"]["notes"] == "seconda"
    request = central.requests[0]
    assert sorted(request.pairs) == [(f"{QID}:015146", 1), (f"{QID}:048017", 2)]
    assert request.query == {"on_conflict": ["response_id"]}
    assert "resolution=merge-duplicates" in request.headers["prefer"]
    assert central.authorizations == [f"Bearer {TOKEN}"]
    assert central.idempotency_keys == [idempotency_key(request.pairs)]
    await assert_all_delivered(store)


async def test_batches_hold_at_most_one_hundred_rows(store: Store, central: CentralDouble,
                                                     clock: FakeClock) -> None:
    for n in range(250):
        await submit(store, f"{n:06d}", 1, START)
    async with central_client(Central(central.url, TOKEN)) as client:
        report = await pusher_for(store, client, central.url, clock).push_due()
    assert [len(r.pairs) for r in central.requests] == [100, 100, 50]
    assert report.sent == 250 and len(central.rows) == 250
    await assert_all_delivered(store)


async def test_same_push_twice_leaves_each_revision_once(store: Store, central: CentralDouble,
                                                         clock: FakeClock) -> None:
    for istat in ("048017", "015146", "058091"):
        await submit(store, istat, 1, START)
    await submit(store, "058091", 2, START + timedelta(minutes=1))
    clock.advance(60)  # the outbox row is due from its submission time
    async with central_client(Central(central.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock)
        await pusher.push_due()
        # A lost acknowledgement: the outbox forgets it delivered and pushes again.
        async with store.transaction() as db:
            await db.execute("UPDATE outbox SET status = 'pending', delivered_at = NULL")
        await pusher.push_due()

    assert len(central.requests) == 2
    assert central.idempotency_keys[0] == central.idempotency_keys[1]
    assert len(central.applied) == 6  # the server saw every row twice...
    assert central.revisions() == {f"{QID}:048017": 1, f"{QID}:015146": 1, f"{QID}:058091": 2}
    await assert_all_delivered(store)  # ...and ends with each response once


async def test_older_revision_never_overwrites_newer(store: Store, central: CentralDouble,
                                                     clock: FakeClock) -> None:
    await submit(store, "048017", 1, START)
    async with central_client(Central(central.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock)
        central.faults.append(Fault(status=503))
        await pusher.push_due()  # revision 1 waits for its retry
        await submit(store, "048017", 2, START + timedelta(seconds=1))
        clock.advance(1)
        report = await pusher.push_due()  # revision 2 is due, revision 1 is not
        assert report.sent == 1 and central.revisions() == {f"{QID}:048017": 2}
        clock.advance(3600)
        report = await pusher.push_due()  # revision 1 is settled without a request
    assert (report.requests, report.superseded) == (0, 1)
    assert central.revisions() == {f"{QID}:048017": 2}
    await assert_all_delivered(store)


# --- transient failures --------------------------------------------------------------------


async def test_server_error_backs_off_then_delivers(store: Store, central: CentralDouble,
                                                    clock: FakeClock) -> None:
    await submit(store, "048017", 1, START)
    await submit(store, "015146", 1, START)
    central.faults.extend([Fault(status=500, body="boom"), Fault(status=502)])
    async with central_client(Central(central.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock, backoff=Backoff(base=10, cap=600))
        report = await pusher.push_due()
        assert report.error == "HTTP 500: boom" and report.deferred == 2
        rows = await outbox(store)
        assert [r["attempts"] for r in rows] == [1, 1]
        # rand() = 0.5: half of 10 s fixed plus a quarter of it: 7.5 s.
        due = datetime.fromisoformat(rows[0]["next_attempt_at"])
        assert due == START + timedelta(seconds=7.5)
        assert (await pusher.push_due()).requests == 0  # not due yet
        clock.advance(8)
        assert (await pusher.push_due()).error == "HTTP 502"
        rows = await outbox(store)
        assert datetime.fromisoformat(rows[0]["next_attempt_at"]) == clock.now + timedelta(
            seconds=15)  # 20 s with equal jitter at 0.5
        clock.advance(15)
        report = await pusher.push_due()
    assert report.sent == 2 and len(central.rows) == 2
    await assert_all_delivered(store)


@pytest.mark.parametrize("http_date", [False, True])
async def test_429_honours_retry_after(store: Store, central: CentralDouble, clock: FakeClock,
                                       http_date: bool) -> None:
    await submit(store, "048017", 1, START)
    wait = format_datetime(clock.now + timedelta(seconds=120), usegmt=True) if http_date else "120"
    central.faults.append(Fault(status=429, headers={"Retry-After": wait}))
    async with central_client(Central(central.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock)
        report = await pusher.push_due()
        assert report.error is not None and report.error.startswith("HTTP 429")
        rows = await outbox(store)
        assert datetime.fromisoformat(rows[0]["next_attempt_at"]) == START + timedelta(seconds=120)
        clock.advance(119)
        assert (await pusher.push_due()).requests == 0
        clock.advance(1)
        assert (await pusher.push_due()).sent == 1
    await assert_all_delivered(store)


async def test_timeout_retries_and_server_ends_with_one_copy(
    store: Store, central: CentralDouble, clock: FakeClock
) -> None:
    await submit(store, "048017", 1, START)
    await submit(store, "048017", 2, START)
    await submit(store, "015146", 1, START)
    central.faults.append(Fault(delay=0.5))  # stores the rows after the client gave up
    async with central_client(Central(central.url, TOKEN, timeout=0.1)) as client:
        pusher = pusher_for(store, client, central.url, clock, timeout=0.1)
        report = await pusher.push_due()
        assert report.error is not None and report.error.startswith("timeout")
        assert report.deferred == 3
        await until(lambda: bool(central.requests), "the late request reached the server")
        clock.advance(3600)
        report = await pusher.push_due()
    assert report.sent == 2
    assert central.revisions() == {f"{QID}:048017": 2, f"{QID}:015146": 1}
    await assert_all_delivered(store)


async def test_refused_connection_then_server_comes_up(store: Store, clock: FakeClock) -> None:
    await submit(store, "048017", 1, START)
    double = CentralDouble(token=TOKEN)
    double.port = free_port()  # nothing listens there yet
    async with central_client(Central(double.url, TOKEN)) as client:
        pusher = pusher_for(store, client, double.url, clock)
        report = await pusher.push_due()
        assert report.error is not None and "ConnectError" in report.error
        assert (await outbox(store))[0]["status"] == "pending"
        await double.start()
        try:
            clock.advance(3600)
            assert (await pusher.push_due()).sent == 1
        finally:
            await double.stop()
    assert double.revisions() == {f"{QID}:048017": 1}
    await assert_all_delivered(store)


async def test_loop_rides_out_an_outage(store: Store, central: CentralDouble,
                                        clock: FakeClock) -> None:
    """The server goes down, stays down for a while, comes back: nothing is lost."""
    for istat in ("048017", "015146", "058091"):
        await submit(store, istat, 1, START)
    await central.go_down()
    sleeps = 0
    done = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        clock.advance(seconds)
        if sleeps == 3:
            await submit(store, "015146", 2, clock.now)  # an officer resubmits meanwhile
        if sleeps == 6:
            await central.come_up()
        if (await outbox_status(store)).pending == 0:
            done.set()
        await asyncio.sleep(0)

    async with central_client(Central(central.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock, backoff=Backoff(base=10, cap=120))
        task = asyncio.create_task(sync_forever(pusher, 30.0, fake_sleep))
        await asyncio.wait_for(done.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert central.revisions() == {f"{QID}:048017": 1, f"{QID}:015146": 2, f"{QID}:058091": 1}
    await assert_all_delivered(store)
    attempts = {r["response_id"]: r["attempts"] for r in await outbox(store)}
    assert attempts[f"{QID}:048017"] >= 2


async def test_install_sync_starts_and_stops_the_loop(
    store: Store, central: CentralDouble, tmp_path: Path
) -> None:
    await submit(store, "048017", 1, START)
    settings = Settings(database=tmp_path / "bot.sqlite3", central_url=central.url,
                        central_token=SecretStr(TOKEN), sync_interval=0.01)
    services = Services(settings=settings, store=store, flow=cast(Any, None))
    services.shutdown.append(lambda _app: asyncio.sleep(0))
    install_sync(services)
    assert len(services.startup) == 1 and len(services.shutdown) == 2
    await services.startup[0](cast(Any, None))
    async def delivered() -> bool:
        return (await outbox_status(store)).delivered == 1

    await until(delivered, "the loop delivered the row")
    await services.shutdown[0](cast(Any, None))
    assert central.revisions() == {f"{QID}:048017": 1}
    assert central.authorizations[0] == f"Bearer {TOKEN}"


def test_install_sync_without_url_does_nothing(tmp_path: Path) -> None:
    services = Services(settings=Settings(central_url=None), store=cast(Any, None),
                        flow=cast(Any, None))
    install_sync(services)
    assert services.startup == [] and services.shutdown == []


# --- rejected rows --------------------------------------------------------------------------


async def test_rejected_row_is_isolated_dead_lettered_and_retried(
    store: Store, clock: FakeClock
) -> None:
    bad = {"rejecting": True}

    def reject(row: dict[str, Any]) -> str | None:
        if bad["rejecting"] and row["istat"] == "999999":
            return 'new row for relation "responses" violates check constraint "istat_known"'
        return None

    for istat in ("048017", "999999", "015146"):
        await submit(store, istat, 1, START)
    double = CentralDouble(token=TOKEN, reject=reject)
    async with double as central, central_client(Central(double.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock)
        report = await pusher.push_due()
        assert (report.requests, report.sent, report.dead) == (4, 2, 1)
        assert [len(r.pairs) for r in central.requests] == [3, 1, 1, 1]
        assert set(central.revisions()) == {f"{QID}:048017", f"{QID}:015146"}

        status = await outbox_status(store)
        assert (status.pending, status.delivered, status.dead) == (0, 2, 1)
        [dead] = status.dead_rows
        assert dead.response_id == f"{QID}:999999"
        assert dead.last_error is not None and dead.last_error.startswith("HTTP 400")
        assert "istat_known" in dead.last_error

        clock.advance(3600)
        assert (await pusher.push_due()).requests == 0  # dead rows stay put
        bad["rejecting"] = False
        assert await retry_dead(store, clock.now) == 1
        assert (await pusher.push_due()).sent == 1
    assert central.revisions()[f"{QID}:999999"] == 1
    await assert_all_delivered(store)


async def test_wrong_token_dead_letters_with_the_status(store: Store, central: CentralDouble,
                                                        clock: FakeClock) -> None:
    await submit(store, "048017", 1, START)
    async with central_client(Central(central.url, "wrong")) as client:
        pusher = OutboxPusher(store, client, Central(central.url, "wrong"), clock=clock)
        report = await pusher.push_due()
    assert report.dead == 1
    status = await outbox_status(store)
    assert status.dead_rows[0].last_error is not None
    assert status.dead_rows[0].last_error.startswith("HTTP 401")


async def test_corrupt_payload_goes_dead_others_go_through(store: Store, central: CentralDouble,
                                                           clock: FakeClock) -> None:
    await submit(store, "048017", 1, START)
    async with store.transaction() as db:  # corrupt data can only be made by hand
        await db.execute(
            "INSERT INTO outbox (response_id, revision, payload_json, next_attempt_at, created_at)"
            " VALUES ('x:1', 1, '{not json', ?, ?)", (START.isoformat(), START.isoformat()))
    async with central_client(Central(central.url, TOKEN)) as client:
        report = await pusher_for(store, client, central.url, clock).push_due()
    assert report.sent == 1
    status = await outbox_status(store)
    assert status.dead == 1 and status.delivered == 1
    assert status.dead_rows[0].last_error is not None
    assert status.dead_rows[0].last_error.startswith("invalid payload")


# --- command line ---------------------------------------------------------------------------


async def test_cli_push_status_and_retry(tmp_path: Path, central: CentralDouble) -> None:
    path = tmp_path / "cli.sqlite3"
    store = await Store.open(path)
    await submit(store, "048017", 1, START)
    await submit(store, "015146", 1, START)
    async with store.transaction() as db:
        await db.execute("UPDATE outbox SET status = 'dead', last_error = 'HTTP 400: nope' "
                         "WHERE response_id LIKE '%015146'")
    await store.close()
    settings = Settings(database=path, central_url=central.url, central_token=SecretStr(TOKEN))

    out = io.StringIO()
    assert await run_push(settings, out=out) == 0
    assert out.getvalue().startswith("sync: 1 delivered")
    out = io.StringIO()
    assert await run_status(settings, out=out) == 0
    text = out.getvalue()
    assert "pending:   0" in text and "delivered: 1" in text and "dead:      1" in text
    assert f"{QID}:015146 revision 1 (0 attempts): HTTP 400: nope" in text
    out = io.StringIO()
    assert await run_retry(settings, out=out) == 0
    assert out.getvalue() == "1 dead rows back to pending\n"
    assert await run_push(settings, out=io.StringIO()) == 0
    assert set(central.revisions()) == {f"{QID}:048017", f"{QID}:015146"}


async def test_cli_push_reports_failure(tmp_path: Path, central: CentralDouble) -> None:
    store = await Store.open(tmp_path / "cli.sqlite3")
    await submit(store, "048017", 1, START)
    await store.close()
    central.faults.append(Fault(status=503))
    settings = Settings(database=tmp_path / "cli.sqlite3", central_url=central.url,
                        central_token=SecretStr(TOKEN))
    out = io.StringIO()
    assert await run_push(settings, out=out) == 1
    assert "stopped: HTTP 503" in out.getvalue() and "1 rows still pending" in out.getvalue()
    # --now ignores the backoff schedule.
    assert await run_push(settings, ignore_schedule=True, out=io.StringIO()) == 0


# --- details --------------------------------------------------------------------------------


def test_token_is_not_in_repr_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    central = central_from_settings(Settings(central_url="https://db.example/rest/v1",
                                             central_token=SecretStr(TOKEN)))
    assert central is not None and central.token == TOKEN
    assert TOKEN not in repr(central)


async def test_token_stays_out_of_logs(store: Store, central: CentralDouble, clock: FakeClock,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await submit(store, "048017", 1, START)
    central.faults.extend([Fault(status=500, body="failure"), Fault(drop=True)])
    async with central_client(Central(central.url, TOKEN)) as client:
        pusher = pusher_for(store, client, central.url, clock)
        for _ in range(3):
            await pusher.push_due()
            clock.advance(3600)
    assert central.revisions() == {f"{QID}:048017": 1}
    assert caplog.records and TOKEN not in caplog.text


def test_retry_after_parsing() -> None:
    now = datetime(2019, 7, 1, 8, 0, tzinfo=UTC)
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds(" 0 ", now) == 0
    assert retry_after_seconds("Mon, 01 Jul 2019 08:01:30 GMT", now) == 90
    assert retry_after_seconds("Mon, 01 Jul 2019 07:00:00 GMT", now) == 0  # in the past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("99999999", now) == 24 * 3600


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    backoff = Backoff(base=10, cap=300)
    assert [backoff.delay(n, 1.0) for n in (1, 2, 3, 6, 20)] == [10, 20, 40, 300, 300]
    assert [backoff.delay(n, 0.0) for n in (1, 2, 3)] == [5, 10, 20]


def test_idempotency_key_ignores_order() -> None:
    pairs = [("a:1", 2), ("b:2", 1)]
    assert idempotency_key(pairs) == idempotency_key(list(reversed(pairs)))
    assert idempotency_key(pairs) != idempotency_key([("a:1", 1), ("b:2", 1)])
    assert json.loads(json.dumps(idempotency_key(pairs))) == idempotency_key(pairs)
