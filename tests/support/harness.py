"""End-to-end harness: the real telegram.ext.Application polling the Bot API
double over HTTP on 127.0.0.1, with our real storage and engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.cli.codes import issue_code
from bot.runtime import open_services
from bot.settings import Settings
from bot.telegram.app import Services, build_application
from tests.support.botapi_double import BotApiDouble

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
# Inside the 2019 edition's window, so answers are accepted.
DEFAULT_NOW = datetime(2019, 7, 1, 9, 30, tzinfo=UTC)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Clock:
    now: datetime = DEFAULT_NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    double: BotApiDouble
    settings: Settings
    clock: Clock
    services: Services | None = None
    app: Any = None
    codes: dict[str, str] = field(default_factory=dict)

    async def start(self) -> None:
        self.services = await open_services(self.settings, self.clock)
        self.app = build_application(self.services, token=TOKEN)
        await self.app.initialize()
        await self.app.post_init(self.app)
        await self.app.start()
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)

    async def stop(self) -> None:
        if self.app is not None:
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

    # --- acting as an officer ---------------------------------------------------
    async def send(self, user: int, text: str, **kwargs: Any) -> None:
        self.double.user_sends(user, text, **kwargs)
        await self.double.wait_idle()

    async def press(self, user: int, label: str, *, message_id: int | None = None) -> None:
        """Press the button with that label (exact, or the start of it) on the newest
        message that shows it."""
        for message in reversed(self.double.sent(user)):
            if message_id is not None and message["message_id"] != message_id:
                continue
            for row in self.double.buttons(message):
                for text, data in row:
                    if text == label or text.startswith(label):
                        self.double.user_presses(user, message["message_id"], data)
                        await self.double.wait_idle()
                        return
        raise AssertionError(f"no button {label!r} for {user}: {self.screen(user, 3)}")

    async def press_data(self, user: int, message_id: int, data: str) -> None:
        self.double.user_presses(user, message_id, data)
        await self.double.wait_idle()

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


def make_settings(tmp_path: Path, double: BotApiDouble, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": SecretStr(TOKEN),
        "telegram_api_url": double.root,
        "database": tmp_path / "surveybot.sqlite3",
        "code_secret": SecretStr("test-secret"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
