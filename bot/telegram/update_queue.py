"""Backpressure on incoming updates: a bounded number in hand, the rest at Telegram.

python-telegram-bot's Updater fetches batches of up to 100 updates and its
Application turns every queued update into a task at once (the tasks then
wait for one of the `concurrent_updates` slots), so a burst (a thousand
officers logging in when the survey opens) held every update, its task and
its handler's state in memory together. `UpdateQueue` counts the updates in
hand, from `put` to PTB's `task_done` after the handlers; the bot asks
Telegram for no more than there is room for (`updates.PoisonSafeBot.get_updates`), and the
webhook receiver waits for room before it answers Telegram. Updates not
fetched yet wait at Telegram, unconfirmed: nothing is lost on a stop.

The queue itself stays unbounded, on purpose: a batch once fetched always
goes in whole (a batch cut short by a stop would be fetched again after a
restart and its first updates handled twice), and PTB's stop signal, put in
the same queue while the consumers drain it, never waits.
"""

from __future__ import annotations

import asyncio


class UpdateQueue(asyncio.Queue[object]):
    """PTB's update queue, counting what is in hand (queued or being handled)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        super().__init__()
        self.capacity = capacity
        self.in_hand = 0
        self.most_in_hand = 0  # high-water mark, for tests and benchmarks
        self._freed = asyncio.Event()

    def put_nowait(self, item: object) -> None:  # `put` ends here too
        super().put_nowait(item)
        self.in_hand += 1
        self.most_in_hand = max(self.most_in_hand, self.in_hand)

    def task_done(self) -> None:
        super().task_done()
        self.in_hand -= 1
        self._freed.set()

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.in_hand)

    async def wait_for_room(self, at_least: int = 1) -> int:
        """The room once it is at least `at_least` (at most the capacity)."""
        at_least = min(at_least, self.capacity)
        while self.room < at_least:
            self._freed.clear()
            await self._freed.wait()
        return self.room

    async def wait_for_batch_room(self) -> int:
        """Room for a batch worth a request: half the capacity, or all of it
        when more is free (fewer, larger getUpdates under a burst)."""
        return await self.wait_for_room(self.capacity // 2)
