"""How background loops hand an error to the one error handler without Telegram types:
a callback (error, where it happened), set by the application when it starts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Report = Callable[[BaseException, str], Awaitable[None]]


async def report(sink: Report | None, error: BaseException, where: str) -> None:
    """To the error handler (it logs, alerts and redacts); only logged without one."""
    if sink is None:
        log.error("unhandled error in %s", where, exc_info=error)
        return
    await sink(error, where)
