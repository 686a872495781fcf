"""The lean Bot API transport against a loopback HTTP server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.telegram.transport import LeanRequest

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


@asynccontextmanager
async def server(respond: Respond) -> AsyncIterator[tuple[str, list[bytes], list[int]]]:
    """A loopback server; `respond(reader, writer, n)` answers request n of a connection
    and returns False to close it. Yields the base URL, the bodies received, and the
    number of connections opened so far (one element per connection)."""
    bodies: list[bytes] = []
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1]) for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                bodies.append(await reader.readexactly(length))
                if not await respond(reader, writer, n):
                    break
                n += 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/bot", bodies, connections
    finally:
        srv.close()
        await srv.wait_closed()


TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MESSAGE = b'{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":7,"type":"private"}}}'


def ok(body: bytes = MESSAGE, *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def bot(url: str, request: LeanRequest) -> Bot:
    return Bot(TOKEN, base_url=url, request=request)


async def test_posts_json_and_reuses_the_connection() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok())
        await writer.drain()
        return True

    async with server(respond) as (url, bodies, connections):
        request = LeanRequest(pool_size=2)
        await request.initialize()
        for text in ("uno", "due", "tre"):
            sent = await bot(url, request).send_message(7, text)
            assert sent.message_id == 1
        await request.shutdown()
    assert [json.loads(b)["text"] for b in bodies] == ["uno", "due", "tre"]
    assert json.loads(bodies[0])["chat_id"] == "7"  # PTB sends every value as a string
    assert len(connections) == 1


async def test_error_statuses_reach_ptb_which_raises_its_errors() -> None:
    body = (b'{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3",'
            b'"parameters":{"retry_after":3}}')

    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        return True

    async with server(respond) as (url, _, _):
        request = LeanRequest()
        with pytest.raises(RetryAfter) as caught:
            await bot(url, request).send_message(7, "ciao")
        await request.shutdown()
    assert caught.value.retry_after == 3


async def test_chunked_answers_are_decoded() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"
                     % (10, MESSAGE[:10], len(MESSAGE) - 10, MESSAGE[10:]))
        await writer.drain()
        return True

    async with server(respond) as (url, _, _):
        request = LeanRequest()
        sent = await bot(url, request).send_message(7, "ciao")
        await request.shutdown()
    assert sent.chat.id == 7


async def test_a_connection_the_server_closed_is_replaced_once() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok(extra=b"Connection: keep-alive\r\n"))
        await writer.drain()
        return False  # closes after each answer although it promised keep-alive

    async with server(respond) as (url, bodies, connections):
        request = LeanRequest()
        for _ in range(3):
            assert (await bot(url, request).send_message(7, "ciao")).message_id == 1
        await request.shutdown()
    assert len(bodies) == 3  # each request reached the server exactly once
    assert len(connections) == 3


async def test_connection_close_is_honoured() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok(extra=b"Connection: close\r\n"))
        await writer.drain()
        return n < 5

    async with server(respond) as (url, _, connections):
        request = LeanRequest()
        for _ in range(2):
            assert (await bot(url, request).send_message(7, "ciao")).message_id == 1
        await request.shutdown()
    assert len(connections) == 2


async def test_a_silent_server_times_out() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        await asyncio.sleep(5)
        return False

    async with server(respond) as (url, _, _):
        request = LeanRequest(read_timeout=0.05)
        with pytest.raises(TimedOut):
            await bot(url, request).send_message(7, "ciao")
        await request.shutdown()


async def test_a_garbled_answer_is_a_network_error() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort")
        await writer.drain()
        return False

    async with server(respond) as (url, _, _):
        request = LeanRequest()
        with pytest.raises(NetworkError):
            await bot(url, request).send_message(7, "ciao")
        await request.shutdown()


async def test_refused_connection_is_a_network_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    request = LeanRequest()
    with pytest.raises(NetworkError) as caught:
        await bot(f"http://127.0.0.1:{port}/bot", request).send_message(7, "ciao")
    assert not isinstance(caught.value, TimedOut)
    await request.shutdown()


async def test_uploads_go_through_httpx_made_on_the_first_one() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok())
        await writer.drain()
        return True

    async with server(respond) as (url, bodies, _):
        request = LeanRequest()
        await request.initialize()
        api = bot(url, request)
        await api.send_message(7, "solo testo")
        await api.send_document(7, document=b"istat,comune\n048017,Firenze\n",
                                filename="comuni.csv")
        await request.shutdown()
        await request.initialize()  # as PTB does on a restart: uploads work again
        await api.send_document(7, document=b"second", filename="two.txt")
        await request.shutdown()
    assert json.loads(bodies[0])["text"] == "solo testo"
    assert b"048017,Firenze" in bodies[1] and b'filename="comuni.csv"' in bodies[1]
    assert b"second" in bodies[2]
