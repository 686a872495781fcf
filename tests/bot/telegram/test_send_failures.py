"""How a failed Bot API call is read: send again, give up, or never again."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.services.delivery import Failure
from bot.telegram.sender import classify, is_not_modified
from bot.telegram.transport import LeanRequest


def caused(error: TelegramError, cause: BaseException) -> TelegramError:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (RetryAfter(7), Failure.RETRY_AFTER),
        (Forbidden("Forbidden: bot was blocked by the user"), Failure.UNREACHABLE),
        (BadRequest("Bad Request: chat not found"), Failure.UNREACHABLE),
        (BadRequest("Bad Request: can't parse entities"), Failure.REJECTED),
        # An error status: Telegram answered, and took nothing.
        (NetworkError("Internal Server Error"), Failure.SERVER),
        (NetworkError("Bad Gateway"), Failure.SERVER),
        # The request never left.
        (caused(NetworkError("connect"), httpx.ConnectError("refused")), Failure.NOT_SENT),
        (caused(TimedOut("pool"), httpx.PoolTimeout("pool")), Failure.NOT_SENT),
        (caused(TimedOut("connect"), httpx.ConnectTimeout("connect")), Failure.NOT_SENT),
        # It left, and no answer came: it may have been delivered.
        (caused(TimedOut("read"), httpx.ReadTimeout("read")), Failure.AMBIGUOUS),
        (TimedOut(), Failure.AMBIGUOUS),
        (caused(NetworkError("dropped"), httpx.RemoteProtocolError("eof")), Failure.AMBIGUOUS),
        (TelegramError("Invalid server response"), Failure.AMBIGUOUS),
    ],
)
def test_classify(error: TelegramError, failure: Failure) -> None:
    assert classify(error).failure is failure


def test_retry_after_carries_the_wait() -> None:
    assert classify(RetryAfter(7)).retry_after == pytest.approx(7.1)


def test_transient_means_surely_not_delivered() -> None:
    assert {f for f in Failure if f.transient} == {
        Failure.RETRY_AFTER, Failure.NOT_SENT, Failure.SERVER}


def test_not_modified() -> None:
    assert is_not_modified(BadRequest("Bad Request: message is not modified: specified new"))
    assert not is_not_modified(BadRequest("Bad Request: message to edit not found"))


# --- the real transports, against loopback servers that misbehave ----------------------------
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(handle: Handler) -> AsyncIterator[str]:
    """A loopback HTTP server that answers (or not) as `handle` does; its base URL."""
    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/bot123:ABC"
    finally:
        listening.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listening.wait_closed(), 1)


async def read_request(reader: asyncio.StreamReader) -> None:
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)


async def failure_of(url: str, request: BaseRequest) -> Failure:
    await request.initialize()
    try:
        with pytest.raises(TelegramError) as caught:
            await request.post(f"{url}/sendMessage", RequestData([]))
    finally:
        await request.shutdown()
    return classify(caught.value).failure


def transports() -> list[BaseRequest]:
    return [LeanRequest(pool_size=1, read_timeout=0.2, pool_timeout=0.1),
            HTTPXRequest(read_timeout=0.2, pool_timeout=0.1)]


@pytest.mark.parametrize("request_index", [0, 1])
async def test_a_refused_connection_was_not_sent(request_index: int) -> None:
    async with server(read_request) as url:
        closed = url
    assert await failure_of(closed, transports()[request_index]) is Failure.NOT_SENT


@pytest.mark.parametrize("request_index", [0, 1])
async def test_an_error_status_was_answered(request_index: int) -> None:
    async def answer_500(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = json.dumps({"ok": False, "error_code": 500,
                           "description": "Internal Server Error"}).encode()
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async with server(answer_500) as url:
        assert await failure_of(url, transports()[request_index]) is Failure.SERVER


@pytest.mark.parametrize("request_index", [0, 1])
async def test_no_answer_may_have_been_delivered(request_index: int) -> None:
    release = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()

    async with server(never_answer) as url:
        try:
            assert await failure_of(url, transports()[request_index]) is Failure.AMBIGUOUS
        finally:
            release.set()


async def test_a_dropped_connection_may_have_been_delivered() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()  # the request was read (maybe processed), no answer comes

    async with server(hang_up) as url:
        assert await failure_of(url, transports()[0]) is Failure.AMBIGUOUS


async def test_a_busy_pool_was_not_sent() -> None:
    release = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()

    request = LeanRequest(pool_size=1, read_timeout=5.0, pool_timeout=0.1)
    async with server(never_answer) as url:
        await request.initialize()
        busy = asyncio.create_task(request.post(f"{url}/sendMessage", RequestData([])))
        await asyncio.sleep(0.05)  # let it take the only connection
        try:
            with pytest.raises(TelegramError) as caught:
                await request.post(f"{url}/sendMessage", RequestData([]))
            assert classify(caught.value).failure is Failure.NOT_SENT
        finally:
            release.set()
            busy.cancel()
            with contextlib.suppress(BaseException):
                await busy
            await request.shutdown()
