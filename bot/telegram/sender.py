"""The one module that calls the Bot API to send, edit or delete.

Two kinds of calls, and the difference is the point of this module:

- What matters to the user (the next question, the review, the receipt, a
  relayed reply) goes through `send_screen(..., policy=RetryPolicy())`:
  transient failures (timeouts, connection errors, 5xx, 429 with
  `retry_after`, a reply that is not the Bot API's shape) are retried with
  bounded backoff; Telegram's refusals (400, 403) are not.
- What is cosmetic (an edit, a keyboard removal, a delete) is tried once; any
  failure is logged and reported as False, and never stops what follows.

`OfficerDelivery` turns an officer `Reply` into calls, after the flow has
committed the step; it tracks which messages still carry live buttons and
clears, in batches, the "prompt to deliver" mark the step left in SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any, TypeVar

import httpx
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.render.i18n import translator
from bot.render.presenter import TEXT_LIMIT, Button, Screen, echo_line, split_text
from bot.render.text import plain
from bot.services.delivery import Failure, SendFailure
from bot.services.officer_flow import Document, Notification, Reply
from bot.services.recent import Recent
from storage.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
# Telegram refused the call itself: sending it again cannot help.
REFUSED = (BadRequest, Forbidden, InvalidToken, Conflict, ChatMigrated)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries for a call that matters."""

    attempts: int = 4
    backoff: float = 0.25  # the first pause; doubled after each failure
    max_pause: float = 30.0  # a longer retry_after gives up (the step stays marked)
    sleep: Sleep = asyncio.sleep


ONCE = RetryPolicy(attempts=1)
# Chats whose live buttons are kept in memory (the others are read back from SQLite).
MEMO_CHATS = 4096


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


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy, what: str) -> T:
    """Run `call`, retrying transient failures as the policy allows; the last error raises."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except REFUSED:
            raise
        except RetryAfter as error:
            pause = retry_seconds(error)
            if attempt == policy.attempts or pause > policy.max_pause:
                raise
        except Exception as error:  # timeouts, 5xx, dropped connections, malformed replies
            if attempt == policy.attempts:
                raise
            pause = min(policy.backoff * 2 ** (attempt - 1), policy.max_pause)
            log.warning("%s failed (attempt %d of %d), retrying in %.1f s: %r",
                        what, attempt, policy.attempts, pause, error)
        await policy.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


async def cosmetic(call: Awaitable[Any], what: str) -> bool:
    """Try a call once; any failure is logged and returns False (never raises)."""
    try:
        await call
    except BadRequest as error:
        if is_not_modified(error):
            return True
        log.info("%s refused: %s", what, error)
        return False
    except Exception as error:
        log.info("%s failed: %r", what, error)
        return False
    return True


# --- markup -------------------------------------------------------------------------


def markup(screen: Screen) -> InlineKeyboardMarkup | None:
    """The screen's inline buttons (None when it has none)."""
    if not screen.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
         for row in screen.buttons]
    )


def reply_markup(screen: Screen) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """Inline buttons, or else the persistent reply keyboard the screen installs."""
    inline = markup(screen)
    if inline is not None or not screen.keyboard:
        return inline
    return ReplyKeyboardMarkup(screen.keyboard, is_persistent=True, resize_keyboard=True)


def visible(text: str) -> bool:
    """Whether Telegram would find any text left after removing the HTML tags."""
    return bool(plain(text).strip())


def empty_fallback(language: str = "it") -> str:
    return translator(language)("screen_empty")


# --- sending ----------------------------------------------------------------------------


async def send_screen(
    bot: Bot,
    chat_id: int,
    screen: Screen,
    thread_id: int | None = None,
    reply_to: int | None = None,
    *,
    policy: RetryPolicy = ONCE,
    fallback: str | None = None,
) -> Message:
    """Send one screen, split within Telegram's 4,096 characters; buttons go on the last
    part. Never sends an empty message: a screen without visible text is sent as
    `fallback` (a catalogue text)."""
    text = screen.text if visible(screen.text) else (fallback or empty_fallback())
    parts = split_text(text)
    message: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1

        async def call(part: str = part, last: bool = last, first: bool = index == 0) -> Message:
            return await bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=reply_markup(screen) if last else None,
                message_thread_id=thread_id,
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to is not None and first else None
                ),
                disable_web_page_preview=True,
            )

        message = await with_retries(call, policy, f"sendMessage to {chat_id}")
    assert message is not None
    return message


async def send_document(
    bot: Bot, chat_id: int, document: Document, *, policy: RetryPolicy = ONCE
) -> Message:
    async def call() -> Message:
        return await bot.send_document(
            chat_id, BytesIO(document.data), filename=document.filename,
            caption=document.caption[:1024],
        )

    return await with_retries(call, policy, f"sendDocument to {chat_id}")


async def edit_screen(bot: Bot, chat_id: int, message_id: int, screen: Screen) -> bool:
    """Redraw a message in place (cosmetic): False when it could not be edited."""
    if not visible(screen.text) or len(screen.text) > TEXT_LIMIT:
        return False
    return await cosmetic(
        bot.edit_message_text(
            screen.text, chat_id, message_id, parse_mode=ParseMode.HTML,
            reply_markup=markup(screen), disable_web_page_preview=True,
        ),
        f"edit of message {message_id} in chat {chat_id}",
    )


async def remove_keyboard(bot: Bot, chat_id: int, message_id: int) -> bool:
    """Take the inline buttons off a message (cosmetic)."""
    return await cosmetic(
        bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None),
        f"keyboard removal of message {message_id} in chat {chat_id}",
    )


async def delete_message(bot: Bot, chat_id: int, message_id: int) -> bool:
    """Delete a message (cosmetic: Telegram refuses after 48 hours)."""
    return await cosmetic(
        bot.delete_message(chat_id, message_id),
        f"delete of message {message_id} in chat {chat_id}",
    )


async def show_choice(bot: Bot, message: Message, echo: str) -> bool:
    """One edit that shows what was chosen under the pressed question and takes its
    buttons away; a keyboard removal when the text cannot be redrawn."""
    html = message.text_html if message.text else None
    if html:
        text = f"{html}\n\n{echo_line(echo)}"
        if len(plain(text)) <= TEXT_LIMIT:
            return await cosmetic(
                bot.edit_message_text(
                    text, message.chat_id, message.message_id, parse_mode=ParseMode.HTML,
                    reply_markup=None, disable_web_page_preview=True,
                ),
                f"edit of pressed message {message.message_id} in chat {message.chat_id}",
            )
    return await remove_keyboard(bot, message.chat_id, message.message_id)


def pressed_label(message: Message, data: str | None) -> str | None:
    """The label of the pressed button, read from the message it was pressed on."""
    keyboard = message.reply_markup
    if data is None or keyboard is None:
        return None
    for row in keyboard.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def merge(screens: list[Screen]) -> list[Screen]:
    """Consecutive screens become one message when they fit: a notice followed by a
    question costs one call, not two. Each message carries at most one markup; a
    notice's buttons (not a question's) may take a plain notice under its text."""
    out: list[Screen] = []
    for screen in screens:
        if out:
            previous = out[-1]
            text = f"{previous.text}\n\n{screen.text}"
            fits = len(text) <= TEXT_LIMIT and visible(previous.text)
            other_keys = screen.keyboard and screen.keyboard != previous.keyboard
            one_markup = not previous.buttons and not (
                previous.keyboard and (screen.buttons or other_keys)
            )
            plain_after_notice = (
                bool(previous.buttons) and not previous.is_prompt and not screen.buttons
                and not screen.keyboard and not screen.is_prompt
            )
            if fits and (one_markup or plain_after_notice):
                out[-1] = Screen(
                    text, screen.buttons or previous.buttons,
                    is_prompt=screen.is_prompt or previous.is_prompt,
                    keyboard=previous.keyboard or screen.keyboard,
                )
                continue
        out.append(screen)
    return out


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


# --- the officer path ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pressed:
    """The message a button was pressed on, and the button's data."""

    message: Message
    data: str | None


class OfficerDelivery:
    """Sends what the officer flow committed; survives whatever the Bot API does.

    `live` remembers, per officer, the messages whose buttons can still be pressed,
    so a new question takes them away (old buttons would be refused by the engine's
    seq anyway). It and the cleared marks reach SQLite in batches: one transaction
    for many answers, none of its own per answer.
    """

    def __init__(
        self, store: Store, policy: RetryPolicy | None = None, flush_after: float = 0.2
    ) -> None:
        self.store = store
        self.policy = policy or RetryPolicy()
        self.flush_after = flush_after
        # Live buttons per chat; a chat not kept here is read back from SQLite.
        self._live: Recent[int, list[int]] = Recent(MEMO_CHATS)
        self._done: dict[int, tuple[int | None, list[int]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def deliver(
        self, bot: Bot, chat_id: int, reply: Reply, pressed: Pressed | None = None
    ) -> bool:
        """Send the reply; False when what matters could not be delivered (the step
        stays marked, so /riprendi or the next start-up draws it again)."""
        try:
            await self._deliver(bot, chat_id, reply, pressed)
        except Forbidden:
            log.info("officer %s blocked the bot: marked unreachable", chat_id)
            await self.store.mark_unreachable(chat_id, datetime.now(UTC))
            self._record(chat_id, reply.committed_seq, [])
            return False
        except Exception as error:
            log.warning("could not deliver to officer %s (kept for a redraw): %r", chat_id, error)
            return False
        return True

    async def _deliver(
        self, bot: Bot, chat_id: int, reply: Reply, pressed: Pressed | None
    ) -> None:
        screens = merge(list(reply.screens))
        live = await self.live(chat_id)
        kept: list[int] = []
        pressed_id = pressed.message.message_id if pressed is not None else None
        if reply.edit_in_place and pressed is not None and screens and screens[0].is_prompt:
            # A toggle redraws the question in place; sent anew if the edit fails.
            if await edit_screen(bot, chat_id, pressed.message.message_id, screens[0]):
                screens.pop(0)
                kept.append(pressed.message.message_id)
        elif reply.closes_prompt and pressed is not None:
            echo = reply.echo or pressed_label(pressed.message, pressed.data)
            if echo and await show_choice(bot, pressed.message, echo):
                live = [m for m in live if m != pressed_id]
        moves_on = reply.closes_prompt or any(screen.is_prompt for screen in screens)
        if moves_on:
            for message_id in live:
                if message_id not in kept:
                    await remove_keyboard(bot, chat_id, message_id)
        fallback = empty_fallback(reply.language)
        for screen in screens:
            message = await send_screen(bot, chat_id, screen, policy=self.policy,
                                        fallback=fallback)
            if screen.is_prompt and screen.buttons:
                kept.append(message.message_id)
        if reply.document is not None:
            await send_document(bot, chat_id, reply.document, policy=self.policy)
        if moves_on or reply.committed_seq is not None:
            self._record(chat_id, reply.committed_seq, kept if moves_on else live)

    async def live(self, chat_id: int) -> list[int]:
        """Messages of this chat whose buttons are still live (SQLite after a restart)."""
        known = self._live.get(chat_id)
        if known is None:
            known = await self.store.prompt_messages(chat_id)
            self._live[chat_id] = known
        return list(known)

    def _record(self, chat_id: int, seq: int | None, live: list[int]) -> None:
        self._live[chat_id] = list(live)
        earlier = self._done.get(chat_id)
        if seq is None and earlier is not None:
            seq = earlier[0]  # a later delivery without a step keeps the earlier step's mark
        self._done[chat_id] = (seq, list(live))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later(), name="surveybot-delivered")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_after)
        await self.flush()

    async def flush(self) -> None:
        """Write what was delivered since the last flush, in one transaction."""
        done, self._done = self._done, {}
        if not done:
            return
        try:
            await self.store.mark_delivered(
                [(user_id, seq, live) for user_id, (seq, live) in done.items()]
            )
        except BaseException as error:
            # Kept for the next flush (a newer delivery of the same officer wins).
            for user_id, entry in done.items():
                self._done.setdefault(user_id, entry)
            if not isinstance(error, Exception):
                raise
            log.exception("could not record %d deliveries (they may be redrawn)", len(done))

    async def close(self) -> None:
        """Write the last deliveries (at shutdown, before the store closes)."""
        task, self._flusher = self._flusher, None
        if task is not None and not task.done():
            # At most `flush_after` seconds: cancelling could drop a batch being written.
            with contextlib.suppress(Exception):
                await task
        await self.flush()


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
    return await edit_screen(bot, chat_id, message_id, screen)


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
