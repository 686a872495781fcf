"""Which updates the bot asks for, a bot that survives one it cannot read, and who
and where an update comes from (shared by the handlers of every audience).

python-telegram-bot parses a whole `getUpdates` batch at once: one update it
cannot parse fails the batch, the Updater asks for the same batch again, and
no reply goes out while the log fills with the batch (personal data
included). `PoisonSafeBot` parses each update of a batch on its own, once, and
replaces one that fails by a bare update with the same id, which no handler
matches: it is logged once, without its content, and the offset moves on.
It also asks for no more updates than the Application has room for
(`bot.telegram.update_queue`).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, CallbackQuery, Update
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import BaseRequest

from bot.services.officer_flow import Sender
from bot.telegram.update_queue import UpdateQueue

log = logging.getLogger(__name__)

# The update types some handler of ours reads; Telegram sends nothing else.
ALLOWED_UPDATES: list[str] = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]


def parse_update(raw: Any, bot: Bot | None) -> Update | None:
    """The update when it parses; None (logged once, without its content) when it
    does not or has no usable id."""
    if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
        log.warning("skipped an update without a usable update_id")
        return None
    try:
        return Update.de_json(raw, bot)
    except Exception as error:
        # The keys say which kind of update it was; values may be personal.
        kinds = ",".join(sorted(key for key in raw if key != "update_id")) or "empty"
        log.warning("skipped update %s (%s): it could not be read (%s)",
                    raw["update_id"], kinds, type(error).__name__)
        return None


def _in_batch(raw: Any, bot: Bot) -> Update | None:
    """A batch's update; one that cannot be read becomes a bare update with its id,
    which no handler matches, so the offset moves past it."""
    update = parse_update(raw, bot)
    if update is None and isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
        return Update(raw["update_id"])
    return update


class PoisonSafeBot(ExtBot[Any]):
    """PTB's getUpdates, with each update of the batch parsed here, once and on its own:
    `_post` keeps the parsed batch and hands PTB's own parser nothing to redo (PTB
    still computes the timeouts and the request). It asks for no more updates than
    the Application's queue has room for."""

    _batch: tuple[Update, ...] = ()

    def __init__(self, *args: Any, updates: UpdateQueue | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._updates = updates  # a frozen TelegramObject still takes "_" attributes

    async def _post(self, endpoint: str, data: Any = None, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            self._batch = tuple(u for u in (_in_batch(raw, self) for raw in result)
                                if u is not None)
            return []
        return result

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        if self._updates is not None and len(args) < 2:
            # Wait for room first; the rest stays at Telegram, unconfirmed.
            room = await self._updates.wait_for_batch_room()
            kwargs["limit"] = min(kwargs.get("limit") or 100, room)
        self._batch = ()
        await super().get_updates(*args, **kwargs)
        batch, self._batch = self._batch, ()
        return batch


def build_bot(
    token: str, root: str, *, request: BaseRequest, get_updates_request: BaseRequest,
    rate_limiter: AIORateLimiter | None = None, updates: UpdateQueue | None = None,
) -> PoisonSafeBot:
    """The bot for the Application: the Bot API server at `root`; `updates`, the
    Application's queue, bounds how many updates a getUpdates asks for."""
    return PoisonSafeBot(
        token,
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=request,
        get_updates_request=get_updates_request,
        rate_limiter=rate_limiter,
        updates=updates,
    )


def sender_of(update: Update) -> Sender:
    user = update.effective_user
    assert user is not None
    return Sender(user.id, user.first_name or "", user.username, user.language_code)


def private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == "private"


async def answer_query(query: CallbackQuery, text: str | None = None, *,
                       show_alert: bool = False) -> None:
    """Stop the button's spinner (cosmetic). A query Telegram no longer accepts (too
    old after a restart), a timeout or any other failure must not keep the user from
    seeing the reply."""
    try:
        await query.answer(text, show_alert=show_alert)
    except Exception as error:
        log.info("could not answer callback query %s: %r", query.id, error)
