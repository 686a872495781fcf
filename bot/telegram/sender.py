"""The one place that turns a `Reply` into Bot API calls.

Runs after the flow committed its transaction. A new question retires the
previous question's keyboard, so old buttons cannot be pressed again (and if
an edit fails, the engine still refuses the stale press by its seq).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from io import BytesIO

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.render.presenter import Button, Screen, split_text
from bot.services.delivery import Failure, SendFailure
from bot.services.officer_flow import Notification, Reply
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
        if is_not_modified(error):
            return True
        log.info("could not edit message %s in chat %s: %s", message_id, chat_id, error)
        return False
    return True


# --- assistance group and staff -------------------------------------------------------
# Staff-side sends: the staff outbox's transport (ticket cards, relays), replies to
# staff commands, and the failures of all of them as `SendFailure`s the services
# understand without knowing Telegram.

# Failures raised before the request left: by httpx (PTB's HTTPXRequest, used for
# uploads and by the broadcast transport) and by our LeanRequest (bot/telegram/
# transport.py), whose messages say so; test_send_failures runs both for real.
_NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_NOT_SENT_WORDS = ("request not sent", "while connecting", "cannot connect")
_NO_ANSWER = "before the answer"  # LeanRequest: dropped, maybe after the request was taken


def is_not_modified(error: BadRequest) -> bool:
    """An edit that changes nothing: Telegram refuses it, and there is nothing to do."""
    return "not modified" in str(error).lower()


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, plus a little (without the int deprecation)."""
    value = getattr(error, "_retry_after", None)
    if not isinstance(value, timedelta):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = error.retry_after
        value = raw if isinstance(raw, timedelta) else timedelta(seconds=raw)
    return value.total_seconds() + 0.1


def classify(error: TelegramError) -> SendFailure:
    """What a failed call means for sending it again."""
    detail = str(error)
    if isinstance(error, RetryAfter):
        return SendFailure(Failure.RETRY_AFTER, detail, retry_seconds(error))
    if isinstance(error, Forbidden):
        return SendFailure(Failure.UNREACHABLE, detail)
    if isinstance(error, BadRequest):
        lowered = detail.lower()
        if "chat not found" in lowered or "user is deactivated" in lowered:
            return SendFailure(Failure.UNREACHABLE, detail)
        return SendFailure(Failure.REJECTED, detail)
    if isinstance(error, NetworkError):  # TimedOut included
        cause = error.__cause__
        if isinstance(cause, _NOT_DELIVERED) or any(w in detail for w in _NOT_SENT_WORDS):
            return SendFailure(Failure.NOT_SENT, detail)
        answered = cause is None or isinstance(cause, TelegramError)
        if answered and not isinstance(error, TimedOut) and _NO_ANSWER not in detail:
            # PTB raises these for an error status (5xx): Telegram answered, took nothing.
            return SendFailure(Failure.SERVER, detail)
        # A read timeout, a dropped connection: the request may have been processed.
        return SendFailure(Failure.AMBIGUOUS, detail)
    if detail == "Invalid server response":  # answered, but not readably: maybe taken
        return SendFailure(Failure.AMBIGUOUS, detail)
    return SendFailure(Failure.REJECTED, detail)


def staff_markup(buttons: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    return markup(Screen("", [list(row) for row in buttons]))


class StaffPost:
    """The staff outbox's Bot API calls, with the application's bot. Deliveries raise
    `SendFailure`; cosmetic calls (edits, closing a topic) log and return."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, buttons: Sequence[Sequence[Button]] = (),
                   *, thread_id: int | None = None, reply_to: int | None = None) -> int:
        try:
            message = await self.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=staff_markup(buttons),
                message_thread_id=thread_id, disable_web_page_preview=True,
                reply_parameters=_reply(reply_to),
            )
        except TelegramError as error:
            raise classify(error) from error
        return message.message_id

    async def copy(self, chat_id: int, from_chat_id: int, message_id: int, *,
                   thread_id: int | None = None, reply_to: int | None = None) -> int:
        try:
            copied = await self.bot.copy_message(
                chat_id, from_chat_id, message_id, message_thread_id=thread_id,
                reply_parameters=_reply(reply_to),
            )
        except TelegramError as error:
            raise classify(error) from error
        return copied.message_id

    async def is_forum(self, chat_id: int) -> bool | None:
        """Whether the group has topics; None when Telegram could not say."""
        try:
            return bool((await self.bot.get_chat(chat_id)).is_forum)
        except TelegramError as error:
            log.info("could not look at chat %s: %s", chat_id, error)
            return None

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        try:
            topic = await self.bot.create_forum_topic(chat_id, name)
        except TelegramError as error:
            log.warning("could not create a topic in %s (%s): using a card", chat_id, error)
            return None
        return topic.message_thread_id

    async def close_topic(self, chat_id: int, thread_id: int) -> None:
        try:
            await self.bot.close_forum_topic(chat_id, thread_id)
        except TelegramError as error:
            log.info("could not close topic %s in %s: %s", thread_id, chat_id, error)

    async def edit(self, chat_id: int, message_id: int, text: str,
                   buttons: Sequence[Sequence[Button]] = ()) -> None:
        screen = Screen(text, [list(row) for row in buttons])
        await edit_for_staff(self.bot, chat_id, message_id, screen)


def _reply(message_id: int | None) -> ReplyParameters | None:
    # The card may have been deleted meanwhile: the message goes out anyway.
    if message_id is None:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)


async def send_to_staff(bot: Bot, chat_id: int, screens: Sequence[Screen], *,
                        thread_id: int | None = None) -> Message | None:
    """Answers to a staff command: not durable (the command can be given again), so a
    failure is logged, never raised; the last message sent, if any."""
    last: Message | None = None
    for screen in screens:
        try:
            last = await send_screen(bot, chat_id, screen, thread_id=thread_id)
        except TelegramError as error:
            log.warning("could not answer staff in %s: %s", chat_id, error)
            return last
    return last


async def edit_for_staff(bot: Bot, chat_id: int, message_id: int, screen: Screen) -> bool:
    """Redraw a staff message in place (cosmetic: never raises); False when it could
    not be edited."""
    try:
        return await edit_prompt(bot, chat_id, message_id, screen)
    except TelegramError as error:  # edit_prompt lets all but BadRequest through
        log.info("could not edit message %s in %s: %s", message_id, chat_id, error)
        return False


async def send_file_to_staff(bot: Bot, chat_id: int, data: bytes, *, filename: str,
                             caption: str, photo: bool = False) -> None:
    """A chart or a list as a file for a coordinator (logged, never raised)."""
    try:
        if photo:
            await bot.send_photo(chat_id, data, caption=caption[:1024])
        else:
            await bot.send_document(chat_id, BytesIO(data), filename=filename,
                                    caption=caption[:1024])
    except TelegramError as error:
        log.warning("could not send %s to %s: %s", filename, chat_id, error)


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
async def notify(bot: Bot, store: Store, notifications: list[Notification]) -> None:
    """Tell the other officers of a municipality what a colleague did. Runs after
    the acting officer's reply; a failure here never reaches that officer."""
    for notification in notifications:
        try:
            await send_screen(bot, notification.user_id, notification.screen)
        except Forbidden:
            await store.mark_unreachable(notification.user_id, datetime.now(UTC))
        except TelegramError as error:
            log.warning("could not notify officer %s: %s", notification.user_id, error)
