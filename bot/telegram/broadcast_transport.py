"""The broadcast pacer's transport: the second (and last) module that sends.

A plain `telegram.Bot` (same token and server, no rate limiter): PTB's
AIORateLimiter has no per-private-chat limit and retries a 429 by itself, so
the paced courier of `bot.services.delivery` does the pacing and the retries,
and records every outcome. It talks through our lean transport, as the
application's bot does: an httpx client of its own would load httpx's
connection machinery (about 1.5 MiB) into every running bot.
"""

from __future__ import annotations

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.render.presenter import Button, Screen
from bot.telegram.sender import classify, is_not_modified, markup
from bot.telegram.transport import LeanRequest


class BotTransport:
    """Bot API calls of a plain `telegram.Bot`, failures as `SendFailure`."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @classmethod
    async def open(cls, token: str, api_root: str) -> BotTransport:
        bot = Bot(
            token, base_url=f"{api_root}/bot", base_file_url=f"{api_root}/file/bot",
            request=LeanRequest(pool_size=64, pool_timeout=10.0),
            # Never asks for updates; without it PTB would make an httpx client.
            get_updates_request=LeanRequest(pool_size=1),
        )
        await bot.initialize()
        return cls(bot)

    async def close(self) -> None:
        await self.bot.shutdown()

    async def send(self, chat_id: int, text: str, buttons: list[list[Button]] | None = None
                   ) -> int:
        try:
            message = await self.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
                reply_markup=markup(Screen(text, buttons or [])),
            )
        except TelegramError as error:
            raise classify(error) from error
        return message.message_id

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        try:
            await self.bot.edit_message_text(
                text, chat_id, message_id, parse_mode=ParseMode.HTML,
                disable_web_page_preview=True,
            )
        except BadRequest as error:
            if not is_not_modified(error):
                raise classify(error) from error
        except TelegramError as error:
            raise classify(error) from error
