"""The one place that turns a `Reply` into Bot API calls.

Runs after the flow committed its transaction. A new question retires the
previous question's keyboard, so old buttons cannot be pressed again (and if
an edit fails, the engine still refuses the stale press by its seq).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from io import BytesIO

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.render.presenter import Screen, split_text
from bot.services.officer_flow import Reply
from storage.store import Store

log = logging.getLogger(__name__)


def markup(screen: Screen) -> InlineKeyboardMarkup | None:
    if not screen.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
         for row in screen.buttons]
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
    # BadRequest: already without keyboard, or deleted by the officer.
    with contextlib.suppress(BadRequest):
        await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)


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
    edited = False
    if reply.edit_in_place and pressed is not None and screens and screens[0].is_prompt:
        edited = await edit_prompt(bot, chat_id, pressed.message_id, screens[0])
        if edited:
            screens.pop(0)
    has_prompt = any(screen.is_prompt for screen in screens)
    if has_prompt or (reply.closes_prompt and not edited):
        # Every keyboard drawn before (all parts of a long review, the pressed
        # message) goes: old buttons cannot be pressed any more.
        live = set(await store.prompt_messages(chat_id))
        if pressed is not None:
            live.add(pressed.message_id)
        for message_id in sorted(live):
            await retire_keyboard(bot, chat_id, message_id)
    prompts: list[int] = []
    for screen in screens:
        message = await send_screen(bot, chat_id, screen)
        if screen.is_prompt:
            prompts.append(message.message_id)
    if reply.document is not None:
        await bot.send_document(
            chat_id,
            BytesIO(reply.document.data),
            filename=reply.document.filename,
            caption=reply.document.caption[:1024],
        )
    if has_prompt or (reply.closes_prompt and not edited):
        await store.set_prompt_messages(chat_id, prompts)


async def edit_prompt(bot: Bot, chat_id: int, message_id: int, screen: Screen) -> bool:
    """Redraw a prompt in place (a toggle); False when that message cannot be edited
    (deleted meanwhile, too old), so the caller sends it anew."""
    try:
        await bot.edit_message_text(
            screen.text, chat_id, message_id, parse_mode=ParseMode.HTML,
            reply_markup=markup(screen), disable_web_page_preview=True,
        )
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return True
        log.info("could not edit message %s in chat %s: %s", message_id, chat_id, error)
        return False
    return True


async def alert_staff(bot: Bot, chat_id: int | None, text: str) -> None:
    """A line for the assistance chat; without one, the log has it. Never raises:
    the officer's reply has gone out already."""
    if chat_id is None:
        log.warning("alert (no assistance chat set): %s", text)
        return
    try:
        await bot.send_message(chat_id, text)
    except TelegramError as error:
        log.warning("could not alert the assistance chat (%s): %s", error, text)
