"""A loopback stand-in for the central database behind PostgREST.

A raw asyncio HTTP/1.1 server (keep-alive, Content-Length bodies) that
accepts `POST /responses?on_conflict=response_id` like PostgREST with
`Prefer: resolution=merge-duplicates` over the table in docs/central.sql:

* the request is one statement: all rows are stored or none;
* a row with an older revision than the stored one is ignored (the trigger);
* two rows with the same response_id in one request fail like PostgreSQL
  ("ON CONFLICT DO UPDATE command cannot affect row a second time");
* `reject(row)` returning a message makes the request fail with 400, like a
  check constraint.

Faults are queued and consumed one per request: an error status (with
headers such as Retry-After), a delay before answering (the rows are stored
anyway, like a commit the client stopped waiting for) or a dropped
connection. `go_down()` / `come_up()` stop and restart listening on the same
port. Everything runs on the event loop that called `start`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

REQUIRED = ("response_id", "revision", "istat", "questionnaire_id", "questionnaire_version",
            "submitted_at", "answers")


@dataclass(frozen=True, slots=True)
class Fault:
    status: int | None = None  # answer with this status instead of storing
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0  # seconds to wait before storing and answering
    drop: bool = False  # close the connection without an answer


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    pairs: list[tuple[str, int]]  # (response_id, revision) of the rows sent
    status: int


class CentralDouble:
    def __init__(
        self,
        *,
        token: str | None = None,
        reject: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.token = token
        self.reject = reject
        self.rows: dict[str, dict[str, Any]] = {}  # the central table
        self.applied: list[tuple[str, int]] = []  # every row write, duplicates included
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle ----------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> CentralDouble:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def go_down(self) -> None:
        """Stop listening and drop open connections (the port stays ours to reuse)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)

    async def come_up(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.go_down()

    async def __aenter__(self) -> CentralDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what tests look at -------------------------------------------------
    @property
    def idempotency_keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]

    @property
    def authorizations(self) -> list[str | None]:
        return [r.headers.get("authorization") for r in self.requests]

    def revisions(self) -> dict[str, int]:
        return {rid: int(row["revision"]) for rid, row in self.rows.items()}

    # --- HTTP ---------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._one_exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _one_exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        line = await reader.readline()
        if not line.strip():
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        fault = self.faults.popleft() if self.faults else Fault()
        if fault.drop:
            return False
        if fault.delay:
            await asyncio.sleep(fault.delay)
        split = urlsplit(target)
        query = parse_qs(split.query)
        status, extra, payload, pairs = self._handle(
            method, split.path, query, headers, body, fault)
        self.requests.append(Request(method, split.path, query, headers, pairs, status))
        reason = HTTPStatus(status).phrase
        data = payload.encode()
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(data)}",
                "Content-Type: application/json; charset=utf-8"]
        head.extend(f"{k}: {v}" for k, v in extra.items())
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    def _handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
        body: bytes, fault: Fault,
    ) -> tuple[int, dict[str, str], str, list[tuple[str, int]]]:
        try:
            rows = json.loads(body) if body else None
        except ValueError:
            rows = None
        pairs = ([(str(r.get("response_id")), int(r.get("revision", 0))) for r in rows
                  if isinstance(r, dict)] if isinstance(rows, list) else [])
        if fault.status is not None:
            return fault.status, fault.headers, fault.body, pairs
        if method != "POST" or path != "/responses":
            return 404, {}, _error("PGRST205", f"no route {method} {path}"), pairs
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, _error("PGRST301", "JWT invalid"), pairs
        if query.get("on_conflict") != ["response_id"] or "resolution=merge-duplicates" not in (
            headers.get("prefer", "")
        ):
            return 409, {}, _error("23505", "duplicate key value violates unique constraint"), pairs
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return 400, {}, _error("PGRST102", "expected a JSON array of objects"), pairs
        for row in rows:
            missing = [k for k in REQUIRED if row.get(k) is None]
            if missing:
                return 400, {}, _error("23502", f"null value in column {missing[0]!r}"), pairs
            reason = self.reject(row) if self.reject else None
            if reason:
                return 400, {}, _error("23514", reason), pairs
        if len({rid for rid, _ in pairs}) != len(pairs):
            return 500, {}, _error(
                "21000", "ON CONFLICT DO UPDATE command cannot affect row a second time"), pairs
        for row in rows:
            rid = str(row["response_id"])
            stored = self.rows.get(rid)
            if stored is not None and int(stored["revision"]) > int(row["revision"]):
                continue  # the trigger keeps the newer revision
            self.rows[rid] = row
            self.applied.append((rid, int(row["revision"])))
        return 201, {}, "", pairs


def _error(code: str, message: str) -> str:
    return json.dumps({"code": code, "message": message, "details": None, "hint": None})

