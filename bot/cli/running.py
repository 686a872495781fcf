"""The lock a running bot holds on its database, so `restore` can refuse.

An `flock` on `<database>.lock`: the kernel drops it when the process ends,
even on SIGKILL, so a crash never leaves a stale lock behind. The file holds
the pid, for the message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.cli.errors import OUTSIDE, CliError


@contextmanager
def holding(lock: Path) -> Iterator[None]:
    """Hold the lock for the block; a `CliError` if another bot holds it."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(f"{lock}: another bot (pid {_pid(lock) or '?'}) is running on this "
                           "database", OUTSIDE) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def running_pid(lock: Path) -> int | None:
    """The pid of the bot holding the lock (0 if unknown), or None if none does."""
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid(lock) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _pid(lock: Path) -> int | None:
    try:
        text = lock.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
