"""The webhook receiver: Telegram POSTs updates here (behind an HTTPS proxy).

python-telegram-bot's own webhook server answers 400 to an update it cannot
parse, so Telegram sends the same update again and again and nothing after it
arrives. This receiver checks the secret token, skips an unreadable update
the way long polling does (`updates.parse_update`: logged once, without its
content) and always answers 200 to Telegram for it, then hands readable
updates to the Application's queue. Plain HTTP/1.1 with keep-alive, bodies
with a Content-Length up to `MAX_BODY`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from typing import Any

from bot.telegram.update_queue import UpdateQueue
from bot.telegram.updates import parse_update

log = logging.getLogger(__name__)

SECRET_HEADER = b"x-telegram-bot-api-secret-token"
MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024  # Telegram's updates are a few KiB
IDLE_TIMEOUT = 75.0


class WebhookReceiver:
    def __init__(self, app: Any, secret: str, path: str = "/telegram") -> None:
        self.app = app
        self.secret = secret.encode()
        self.path = path.encode()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_HEAD)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """No new connections; requests in hand finish (their updates are queued)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(IDLE_TIMEOUT):
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, TimeoutError):
                    return  # the client closed or went quiet
                except asyncio.LimitOverrunError:
                    await _answer(writer, 431, keep=False)
                    return
                status, keep = await self._request(head, reader)
                await _answer(writer, status, keep=keep)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _request(self, head: bytes, reader: asyncio.StreamReader) -> tuple[int, bool]:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            return 400, False
        method, target, _ = parts
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower()] = value.strip()
        keep = headers.get(b"connection", b"").lower() != b"close"
        if b"transfer-encoding" in headers:
            return 411, False  # Telegram always sends a Content-Length
        try:
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            return 400, False
        if length < 0:
            return 400, False
        if length > MAX_BODY:
            return 413, False
        body = await reader.readexactly(length)
        if target.split(b"?", 1)[0] != self.path:
            return 404, keep
        if method != b"POST":
            return 405, keep
        if not hmac.compare_digest(headers.get(SECRET_HEADER, b""), self.secret):
            log.warning("webhook request without the right secret token refused")
            return 403, keep
        try:
            raw = json.loads(body)
        except ValueError:
            log.warning("webhook body that is not JSON skipped (%d bytes)", len(body))
            return 200, keep  # answering 400 would only make Telegram send it again
        update = parse_update(raw, self.app.bot)
        if update is None:
            return 200, keep  # logged by parse_update(); nothing to handle
        queue = self.app.update_queue
        if isinstance(queue, UpdateQueue):
            # Telegram waits for our answer (and retries without one): backpressure.
            await queue.wait_for_room()
        await queue.put(update)
        return 200, keep


_REASONS = {200: b"OK", 400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found",
            405: b"Method Not Allowed", 411: b"Length Required", 413: b"Payload Too Large",
            431: b"Request Header Fields Too Large"}


async def _answer(writer: asyncio.StreamWriter, status: int, *, keep: bool) -> None:
    body = b"{}" if status == 200 else b""
    writer.write(
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: %s\r\n\r\n%s"
        % (status, _REASONS.get(status, b"Error"), len(body),
           b"keep-alive" if keep else b"close", body)
    )
    await writer.drain()
