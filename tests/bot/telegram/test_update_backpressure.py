"""A burst of updates is taken in bounded bites: the bot holds at most
UPDATES_IN_HAND updates (queued or being handled), the rest wait at Telegram,
every one is handled once, and stopping in the middle of a burst neither
hangs nor loses nor repeats an update."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.telegram.app import CONCURRENT_UPDATES, UPDATES_IN_HAND
from bot.telegram.update_queue import UpdateQueue
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

BURST = 300  # logins at the same moment, well above UPDATES_IN_HAND
FIRST_USER = 70_000
WELCOME = "identificativo abilitante"
# Bounds a hung bot; decides nothing about speed.
HANG_GUARD = 60.0


def welcomes(h: Harness, user: int) -> int:
    return sum(WELCOME in text for text in h.texts(user))


def burst(h: Harness) -> list[int]:
    users = list(range(FIRST_USER, FIRST_USER + BURST))
    for user in users:
        h.double.user_sends(user, "/start")
    return users


async def test_a_burst_is_taken_in_bounded_bites(tmp_path: Path, double: BotApiDouble) -> None:
    async with running(tmp_path, double) as h:
        queue = h.app.update_queue
        assert isinstance(queue, UpdateQueue)
        users = burst(h)
        await h.settle(timeout=HANG_GUARD)
        assert [welcomes(h, user) for user in users] == [1] * BURST
        # Full but never over: the backlog waited at the double.
        assert queue.most_in_hand == UPDATES_IN_HAND
        assert queue.in_hand == 0
        limits = [int(p.get("limit") or 100) for p in double.calls("getUpdates")]
        assert max(limits) <= UPDATES_IN_HAND
        # Each bite was worth a request: half the capacity or more.
        assert min(limits) >= UPDATES_IN_HAND // 2


async def test_stopping_mid_burst_neither_hangs_nor_loses_nor_repeats(
    tmp_path: Path, double: BotApiDouble
) -> None:
    async with running(tmp_path, double) as h:
        users = burst(h)
        # Stop once the bot is busy with the burst, well before its end.
        await double.wait_for(lambda: sum(welcomes(h, u) for u in users) >= CONCURRENT_UPDATES,
                              timeout=HANG_GUARD)
        await asyncio.wait_for(h.stop(), HANG_GUARD)
        handled = [user for user in users if welcomes(h, user)]
        assert len(handled) < BURST  # the backlog is still at Telegram
        # Everything fetched was handled before the stop completed: nothing is
        # half-done, and the next start takes what is left.
        await h.start()
        await h.settle(timeout=HANG_GUARD)
        assert [welcomes(h, user) for user in users] == [1] * BURST


async def test_the_room_follows_what_is_in_hand() -> None:
    queue = UpdateQueue(4)
    assert (queue.room, await queue.wait_for_batch_room()) == (4, 4)
    for item in range(3):
        await queue.put(item)
    assert (queue.in_hand, queue.room) == (3, 1)
    assert queue.get_nowait() == 0  # taken, not done: still in hand
    assert queue.room == 1
    waiting = asyncio.ensure_future(queue.wait_for_batch_room())  # wants 2
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.task_done()
    assert await waiting == 2
    queue.put_nowait("stop signal")  # never waits, even over capacity
    queue.put_nowait("another")
    queue.put_nowait("and one more")
    assert (queue.in_hand, queue.room, queue.most_in_hand) == (5, 0, 5)


async def test_a_webhook_update_waits_for_room(tmp_path: Path, double: BotApiDouble) -> None:
    """The webhook receiver answers Telegram only once the update fits."""
    from bot.telegram.webhook import WebhookReceiver

    class CountingQueue(UpdateQueue):
        waits = 0

        async def wait_for_room(self, at_least: int = 1) -> int:
            self.waits += 1
            return await super().wait_for_room(at_least)

    class Stub:
        bot = None
        update_queue = CountingQueue(2)

    app = Stub()
    receiver = WebhookReceiver(app, "s3cret")
    port = await receiver.start("127.0.0.1", 0)
    try:
        app.update_queue.put_nowait("a")
        app.update_queue.put_nowait("b")

        async def post(update_id: int) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            body = b'{"update_id": %d, "message": {"message_id": 1, "date": 0, ' \
                   b'"chat": {"id": 1, "type": "private"}, "text": "hi"}}' % update_id
            writer.write(b"POST /telegram HTTP/1.1\r\nHost: x\r\n"
                         b"X-Telegram-Bot-Api-Secret-Token: s3cret\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            answer = await reader.read()
            writer.close()
            return answer

        pending = asyncio.ensure_future(post(7))
        async with asyncio.timeout(HANG_GUARD):
            while app.update_queue.waits == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        assert not pending.done()
        assert app.update_queue.qsize() == 2
        app.update_queue.get_nowait()
        app.update_queue.task_done()
        answer = await asyncio.wait_for(pending, HANG_GUARD)
        assert answer.startswith(b"HTTP/1.1 200")
        assert app.update_queue.qsize() == 2
    finally:
        await receiver.stop()


@pytest.mark.parametrize("capacity", [0, 1])
def test_a_queue_needs_room_for_two(capacity: int) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        UpdateQueue(capacity)
