"""A lean HTTP/1.1 keep-alive transport for python-telegram-bot's Bot API calls.

Profiling `surveybot run` under load (bench/load.py with py-spy) put about
three quarters of the time spent in Bot API calls inside httpx's client
machinery, far more than the requests themselves need: every call is one small
JSON POST to one host. This transport sends exactly that over pooled
keep-alive connections (asyncio streams, TLS for https), and hands anything
else (file uploads: receipts, charts, CSV lists) to PTB's own `HTTPXRequest`.

It follows PTB's `BaseRequest` contract: `do_request` returns the HTTP status
and the body, PTB maps statuses to `BadRequest`, `Forbidden`, `RetryAfter`...;
transport failures become `TimedOut` or `NetworkError` as with httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    tls: bool
    path: str
    host_header: str


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every connection of the process (each costs about
    0.75 MiB with its CA store), made on the first https connection."""
    return ssl.create_default_context()


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _StaleConnection(Exception):
    """A pooled connection the server had closed before our request reached it."""


class LeanRequest(BaseRequest):
    def __init__(
        self,
        *,
        pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: dict[tuple[str, int, bool], deque[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        # Built at the first upload: an httpx client costs a TLS context with the CA
        # store (memory and start-up time) and most processes never upload.
        self._uploads: HTTPXRequest | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        for pool in self._idle.values():
            while pool:
                pool.pop().close()
        if self._uploads is not None:
            await self._uploads.shutdown()
            self._uploads = None

    def _uploader(self) -> HTTPXRequest:
        if self._uploads is None:  # a fresh client needs no initialize()
            self._uploads = HTTPXRequest(
                connection_pool_size=4, read_timeout=self._read_timeout,
                write_timeout=self._write_timeout, connect_timeout=self._connect_timeout,
                pool_timeout=self._pool_timeout, httpx_kwargs={"verify": tls_context()},
            )
        return self._uploads

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            return await self._uploader().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )
        read = self._read_timeout if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        pool = self._pool_timeout if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        target = self._target(url)
        body = request_data.json_payload if request_data is not None else b""
        head = (
            f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n"
            f"User-Agent: {self.USER_AGENT}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        ).encode("latin-1")
        try:
            async with asyncio.timeout(pool):
                await self._slots.acquire()
        except TimeoutError as error:
            raise TimedOut("Pool timeout: all connections are busy; request not sent") from error
        try:
            # A pooled connection may have been closed by the server meanwhile: one retry
            # on a fresh connection, only when nothing of the answer was received.
            for attempt in range(2):
                connection = await self._connection(target, fresh=attempt > 0)
                try:
                    status, payload, keep = await self._exchange(connection, head + body, read)
                except _StaleConnection:
                    connection.close()
                    continue
                except BaseException:
                    connection.close()
                    raise
                if keep:
                    self._idle.setdefault(_key(target), deque()).append(connection)
                else:
                    connection.close()
                return status, payload
            raise NetworkError("connection closed by the server before the answer")
        finally:
            self._slots.release()

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            tls = parts.scheme == "https"
            host = parts.hostname or "localhost"
            port = parts.port or (443 if tls else 80)
            default = (tls and port == 443) or (not tls and port == 80)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            target = _Target(host, port, tls, path or "/", host if default else f"{host}:{port}")
            if len(self._targets) < 1024:  # one per Bot API method: bounded in practice
                self._targets[url] = target
        return target

    async def _connection(self, target: _Target, *, fresh: bool) -> _Connection:
        idle = self._idle.get(_key(target))
        while idle and not fresh:
            connection = idle.pop()
            if not connection.reader.at_eof():
                return connection
            connection.close()
        context = tls_context() if target.tls else None
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(
                    target.host, target.port, ssl=context, limit=MAX_HEADER_BYTES
                )
        except TimeoutError as error:
            raise TimedOut("Timed out while connecting") from error
        except OSError as error:
            raise NetworkError(f"cannot connect to {target.host}:{target.port}: {error}") from error
        return _Connection(reader, writer)

    async def _exchange(
        self, connection: _Connection, request: bytes, read_timeout: float | None
    ) -> tuple[int, bytes, bool]:
        reader, writer = connection.reader, connection.writer
        try:
            try:
                writer.write(request)
                async with asyncio.timeout(self._write_timeout):
                    await writer.drain()
            except (ConnectionResetError, BrokenPipeError) as error:
                raise _StaleConnection from error
            async with asyncio.timeout(read_timeout):
                try:
                    status_line = await reader.readline()
                except ConnectionResetError as error:
                    raise _StaleConnection from error
                if not status_line:
                    raise _StaleConnection
                status = int(status_line.split(b" ", 2)[1])
                length: int | None = None
                chunked = False
                keep = True
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"transfer-encoding":
                        chunked = b"chunked" in value.lower()
                    elif name == b"connection":
                        keep = value.strip().lower() != b"close"
                if chunked:
                    payload = await _read_chunked(reader)
                elif length is not None:
                    payload = await reader.readexactly(length)
                else:
                    payload, keep = await reader.read(), False
        except TimeoutError as error:
            raise TimedOut from error
        except (_StaleConnection, TimedOut):
            raise
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            raise NetworkError(f"Bot API transport: {error.__class__.__name__}: {error}") from error
        return status, payload, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk


def _key(target: _Target) -> tuple[str, int, bool]:
    return (target.host, target.port, target.tls)
