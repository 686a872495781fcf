"""The one place that turns a `Reply` into Bot API calls.

Runs after the flow committed its transaction. A new question retires the
previous question's keyboard, so old buttons cannot be pressed again (and if
an edit fails, the engine still refuses the stale press by its seq).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from io import BytesIO

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

from bot.officer_flow import Reply
from bot.presenter import Screen, split_text
from storage.store import Store

log = logging.getLogger(__name__)


def markup(screen: Screen) -> InlineKeyboardMarkup | None:
    if not screen.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in screen.buttons]
    )


async def send_screen(
    bot: Bot, chat_id: int, screen: Screen, thread_id: int | None = None
) -> Message:
    """Send one screen, split within Telegram's 4,096 characters; buttons go last."""
    parts = split_text(screen.text)
    message: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = await bot.send_message(
            chat_id,
            part,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(screen) if last else None,
            message_thread_id=thread_id,
            disable_web_page_preview=True,
        )
    assert message is not None
    return message


async def retire_keyboard(bot: Bot, chat_id: int, message_id: int) -> None:
    try:
        await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except BadRequest:
        pass  # already without keyboard, or deleted by the officer


async def deliver(
    bot: Bot,
    store: Store,
    chat_id: int,
    reply: Reply,
    *,
    pressed: Message | None = None,
) -> None:
    try:
        await _deliver(bot, store, chat_id, reply, pressed)
    except Forbidden:
        log.info("officer %s blocked the bot: marked unreachable", chat_id)
        await store.mark_unreachable(chat_id, datetime.now(UTC))


async def _deliver(
    bot: Bot, store: Store, chat_id: int, reply: Reply, pressed: Message | None
) -> None:
    screens = list(reply.screens)
    has_prompt = any(screen.is_prompt for screen in screens)
    previous = await store.prompt_message(chat_id) if has_prompt else None
    if reply.edit_in_place and pressed is not None and screens and screens[0].is_prompt:
        first = screens.pop(0)
        try:
            await bot.edit_message_text(
                first.text, chat_id, pressed.message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup(first), disable_web_page_preview=True,
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise
        previous = None
    elif has_prompt:
        for message_id in {previous, pressed.message_id if pressed else None} - {None}:
            assert message_id is not None
            await retire_keyboard(bot, chat_id, message_id)
    last_prompt: int | None = None
    for screen in screens:
        message = await send_screen(bot, chat_id, screen)
        if screen.is_prompt:
            last_prompt = message.message_id
    if reply.document is not None:
        await bot.send_document(
            chat_id,
            BytesIO(reply.document.data),
            filename=reply.document.filename,
            caption=reply.document.caption[:1024],
        )
    if last_prompt is not None:
        await store.set_prompt_message(chat_id, last_prompt)
