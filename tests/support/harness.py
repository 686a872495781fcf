"""End-to-end harness: the real telegram.ext.Application polling the Bot API
double over HTTP on 127.0.0.1, with our real storage and engine.

Two rules keep these tests from flaking:

* `settle` waits for the bot to be idle by asking both sides, never by guessing
  from a quiet window: the double (no request in flight, every update fetched
  and confirmed) and the Application (`update_queue.join()`: every update it
  queued has been handled, concurrent ones included).
* `press` takes the exact label of a button on screen, and
  `expect_one_new_message` checks that an action produced exactly one message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot.runtime import open_services
from bot.services.codes import issue_code
from bot.settings import Settings
from bot.telegram.app import Services, build_application
from tests.support.botapi_double import BotApiDouble, JSONDict

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
# Inside the 2019 edition's window, so answers are accepted.
DEFAULT_NOW = datetime(2019, 7, 1, 9, 30, tzinfo=UTC)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Clock:
    now: datetime = DEFAULT_NOW

    def __call__(self) -> datetime:
        return self.now


async def settle(
    double: BotApiDouble,
    app: Application[Any, Any, Any, Any, Any, Any] | None,
    timeout: float = 30.0,
) -> None:
    """Return once the bot has handled every update enqueued so far.

    The double is idle when no request is in flight and every update was confirmed
    by a later getUpdates, which PTB's Updater sends only after putting the batch
    in `app.update_queue`; `update_queue.join()` returns once every queued update
    was handled (`task_done` comes after the handlers and the error handler). Both
    must hold at the same moment: a handler still running keeps the queue unjoined,
    and a request it made keeps the double busy. Work the bot starts on its own
    (broadcasts, reminder loops) is not an update: wait for its outcome with
    `double.wait_for`. `timeout` only bounds a hung bot; it decides nothing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        try:
            await double.wait_for(lambda: double.idle, timeout=max(0.0, remaining))
            if app is not None:
                await asyncio.wait_for(app.update_queue.join(), max(0.0, deadline - loop.time()))
        except (AssertionError, TimeoutError):
            raise AssertionError(
                f"the bot did not settle within {timeout} s ({double.idle_state()})\n"
                f"{double.dump_requests()}"
            ) from None
        # Updates reach the queue only through the double, which had none left to give:
        # if it is still idle, no handler started a request after join() returned.
        if double.idle:
            return


@dataclass
class Harness:
    double: BotApiDouble
    settings: Settings
    clock: Clock
    services: Services | None = None
    app: Any = None
    codes: dict[str, str] = field(default_factory=dict)
    # Per chat: the highest message id when the last send/press began.
    marks: dict[int, int] = field(default_factory=dict)
    read_timeout: float | None = None  # the client's, to test timeouts quickly

    async def start(self) -> None:
        self.services = await open_services(self.settings, self.clock)
        self.app = build_application(self.services, token=TOKEN, read_timeout=self.read_timeout)
        await self.app.initialize()
        await self.app.post_init(self.app)
        await self.app.start()
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)
        self.double.settle_with = self.settle

    async def stop(self) -> None:
        if self.app is not None:
            self.double.settle_with = None
            await self.app.updater.stop()
            await self.app.stop()
            await self.app.shutdown()
            await self.app.post_shutdown(self.app)
            self.app = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def store(self) -> Any:
        assert self.services is not None
        return self.services.store

    async def issue(self, istat: str) -> str:
        assert self.services is not None
        code = await issue_code(self.services.store, self.settings, istat, "test")
        self.codes[istat] = code
        return code

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the bot handled everything sent so far (see `settle`)."""
        await settle(self.double, self.app, timeout)

    # --- acting as an officer ---------------------------------------------------
    async def send(self, user: int, text: str, **kwargs: Any) -> None:
        self.marks[kwargs.get("chat_id", user)] = self.mark(kwargs.get("chat_id", user))
        self.double.user_sends(user, text, **kwargs)
        await self.settle()

    def button(
        self, chat: int, label: str, *, message_id: int | None = None
    ) -> tuple[int, str]:
        """(message id, data) of the button labelled exactly `label` on the newest message
        of `chat` that shows it (or on message `message_id`); fails listing the labels
        on screen."""
        for message in reversed(self.double.sent(chat)):
            if message_id is not None and message["message_id"] != message_id:
                continue
            for row in self.double.buttons(message):
                for text, data in row:
                    if text == label:
                        return message["message_id"], data
        on_screen = [
            (m["message_id"], [t for row in self.double.buttons(m) for t, _ in row])
            for m in self.double.sent(chat)
            if self.double.buttons(m)
        ]
        raise AssertionError(
            f"no button labelled exactly {label!r} in chat {chat}; buttons on screen "
            f"(message id, labels): {on_screen}\nlast messages:\n{self.screen(chat, 3)}"
        )

    async def press(
        self, user: int, label: str, *, message_id: int | None = None, chat_id: int | None = None
    ) -> None:
        """Press the button labelled exactly `label` (see `button`) and settle."""
        chat = user if chat_id is None else chat_id
        pressed, data = self.button(chat, label, message_id=message_id)
        await self.press_data(user, pressed, data, chat_id=chat_id)

    async def press_data(
        self, user: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> None:
        chat = user if chat_id is None else chat_id
        self.marks[chat] = self.mark(chat)
        self.double.user_presses(user, message_id, data, chat_id=chat_id)
        await self.settle()

    # --- new messages -----------------------------------------------------------------
    def mark(self, chat: int) -> int:
        """The newest bot message id in `chat` (0 if none): pass it to `new_messages`."""
        return max((m["message_id"] for m in self.double.sent(chat)), default=0)

    def new_messages(self, chat: int, since: int | None = None) -> list[JSONDict]:
        """Bot messages in `chat` newer than the mark `since` (default: the mark taken
        when the last `send`/`press` into that chat began). Edits are not new messages."""
        floor = self.marks.get(chat, 0) if since is None else since
        return [m for m in self.double.sent(chat) if m["message_id"] > floor]

    def expect_one_new_message(self, chat: int, since: int | None = None) -> JSONDict:
        """Assert that exactly one new message arrived (see `new_messages`); return it."""
        fresh = self.new_messages(chat, since)
        if len(fresh) != 1:
            shown = [_TAG.sub("", m.get("text") or m.get("caption") or "") for m in fresh]
            raise AssertionError(f"expected exactly one new message in {chat}, got "
                                 f"{len(fresh)}: {shown}")
        return fresh[0]

    async def press_key(self, user: int, label: str) -> None:
        """Press a key of the reply keyboard shown in the chat (exact label): like
        Telegram, it sends the key's text as a message."""
        keyboard = self.double.keyboard(user) or []
        if not any(label in row for row in keyboard):
            raise AssertionError(f"no key {label!r} on the reply keyboard {keyboard}")
        await self.send(user, label)

    async def keep_until(self, user: int, marker: str, *, limit: int = 20) -> None:
        """Walk on through the questions shown, keeping each answer (and skipping the
        optional ones never answered), until the last message holds `marker`."""
        for _ in range(limit):
            if marker in self.last_text(user):
                return
            if "Mantieni risposta ➡️" in self.labels(user):
                await self.press(user, "Mantieni risposta ➡️")
            else:
                await self.press_key(user, "⏭ Salta")
        raise AssertionError(f"{marker!r} not reached in {limit} steps: {self.last_text(user)}")

    # --- what the officer sees ------------------------------------------------------
    def texts(self, user: int) -> list[str]:
        return [_TAG.sub("", t) for t in self.double.texts(user)]

    def last_text(self, user: int) -> str:
        return self.texts(user)[-1]

    def screen(self, user: int, count: int = 2) -> str:
        return "\n---\n".join(self.texts(user)[-count:])

    def live_keyboards(self, user: int) -> list[dict[str, Any]]:
        return [m for m in self.double.sent(user) if self.double.buttons(m)]

    def labels(self, user: int) -> list[str]:
        """Button labels of the newest message with buttons."""
        keyboards = self.live_keyboards(user)
        if not keyboards:
            return []
        return [text for row in self.double.buttons(keyboards[-1]) for text, _ in row]

    def toasts(self) -> list[str]:
        return [str(a.get("text") or "") for a in self.double.callback_answers]


@asynccontextmanager
async def running(
    tmp_path: Path, double: BotApiDouble, **settings: Any
) -> AsyncIterator[Harness]:
    """A started Harness on a database in `tmp_path`, with `settings` overriding the
    defaults of `make_settings`; stopped on the way out."""
    h = Harness(double, make_settings(tmp_path, double, **settings), Clock())
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


def make_settings(tmp_path: Path, double: BotApiDouble, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": SecretStr(TOKEN),
        "telegram_api_url": double.root,
        "database": tmp_path / "surveybot.sqlite3",
        "code_secret": SecretStr("test-secret"),
    }
    values.update(overrides)
    return Settings(**values)
