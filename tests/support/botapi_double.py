"""In-process Telegram Bot API test double for surveybot.

A raw asyncio HTTP/1.1 server that speaks enough of the Bot API for a real
``telegram.ext.Application`` (python-telegram-bot 22) to long-poll it and call the usual
methods. Tests drive simulated users (``user_sends``, ``user_presses`` ...) and assert on what
the user sees (``sent``, ``texts``, ``buttons``, ``document_bytes`` ...).

Typical use::

    double = BotApiDouble()
    await double.start()
    app = double.application_builder().build()   # token + base_url + base_file_url set
    ...  # add handlers; initialize(), start(), updater.start_polling(poll_interval=0, timeout=1)
    double.user_sends(42, "/start")
    await tests.support.harness.settle(double, app)   # HTTP side and PTB's queue
    assert double.texts(42) == ["Benvenuto!"]

Design notes:

* Everything runs on the event loop that called :meth:`BotApiDouble.start`; the simulation
  methods (``user_sends`` ...) must be called from that loop's thread (they are plain
  functions, no ``await`` needed).
* Rate limits (``enforce_limits=True``) are a strict sliding 1 s window overall, a minimum
  interval per private chat and a 60 s window per group. A leaky-bucket limiter such as PTB's
  ``AIORateLimiter`` at exactly 30/s bursts past a strict window at start-up: give it
  ``max_retries`` or a lower rate.
* Errors use the real HTTP status code and the Bot API error body, so PTB raises the same
  exceptions as against Telegram (``BadRequest``, ``Forbidden``, ``RetryAfter`` ...).
* Like Telegram, text is stored *after* entity parsing: HTML tags / Markdown markers are
  stripped, leading and trailing whitespace trimmed, formatting kept in ``entities``.
* Like Telegram, ``editMessageText`` / ``editMessageCaption`` without ``reply_markup`` remove
  the inline keyboard of the message.
* Only inline keyboards are part of Telegram's Message object. Reply keyboards
  (``ReplyKeyboardMarkup`` / ``ForceReply``) are tracked separately: :meth:`keyboard` gives the
  keyboard currently shown in a chat, and :meth:`sent` adds the non-wire key
  ``"reply_keyboard"`` to messages that carried one.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import logging
import math
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram import Bot
from telegram.ext import ApplicationBuilder

if TYPE_CHECKING:
    from telegram.ext._applicationbuilder import InitApplicationBuilder

__all__ = ["ApiError", "BotApiDouble", "JSONDict", "UploadedFile"]

JSONDict = dict[str, Any]
Params = dict[str, Any]
_T = TypeVar("_T")

_LOGGER: Final = logging.getLogger(__name__)

TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
CALLBACK_DATA_LIMIT: Final = 64
CALLBACK_ANSWER_LIMIT: Final = 200

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
MESSAGE_TO_EDIT_NOT_FOUND: Final = "Bad Request: message to edit not found"
MESSAGE_CANT_BE_EDITED: Final = "Bad Request: message can't be edited"
MESSAGE_TO_DELETE_NOT_FOUND: Final = "Bad Request: message to delete not found"
CANT_PARSE_ENTITIES: Final = (
    "Bad Request: can't parse entities: can't find end tag corresponding to start tag \"b\""
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
GETUPDATES_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)

# Updates Telegram does not send unless explicitly listed in ``allowed_updates``.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Methods that create a message in the target chat (rate limited when enforce_limits=True).
_SEND_METHODS: Final = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendaudio",
        "sendvideo",
        "sendvoice",
        "sendanimation",
        "sendsticker",
        "sendvideonote",
        "sendlocation",
        "sendcontact",
        "copymessage",
        "forwardmessage",
    }
)

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Message keys that make up the "content" (copied by copyMessage / forwardMessage).
_CONTENT_KEYS: Final = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "document",
    "photo",
    "audio",
    "video",
    "voice",
    "animation",
    "sticker",
    "video_note",
    "location",
    "contact",
    "venue",
    "poll",
)

# Form/multipart values are strings; these keys are converted back to their JSON types.
_INT_KEYS: Final = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "offset",
        "limit",
        "message_thread_id",
        "reply_to_message_id",
        "user_id",
        "cache_time",
        "icon_color",
        "max_connections",
        "duration",
        "width",
        "height",
        "length",
        "until_date",
        "live_period",
        "heading",
        "proximity_alert_radius",
    }
)
_FLOAT_KEYS: Final = frozenset({"timeout", "latitude", "longitude", "horizontal_accuracy"})
_BOOL_KEYS: Final = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "disable_content_type_detection",
        "supports_streaming",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "is_big",
        "only_if_banned",
        "revoke_messages",
        "for_channels",
        "remove_caption",
    }
)
_JSON_KEYS: Final = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "menu_button",
        "link_preview_options",
        "media",
        "message_ids",
        "rights",
        "results",
        "options",
        "explanation_entities",
        "question_entities",
        "reaction",
    }
)

_INLINE_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class ApiError(Exception):
    """A Bot API error answered with the real HTTP status and Telegram's error body."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True, repr=False)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass
class _Fault:
    """An injected failure for the next matching requests.

    ``kind``: "error" answers ``error`` (its real HTTP status); "drop" closes the
    connection without an answer; "timeout" holds the request ``delay`` seconds, then
    drops it (past the client's read timeout it sees a timeout); "malformed" answers
    HTTP 200 with ``body``, which is not the Bot API's shape. Only "error" (as Telegram)
    and the others (as a broken network or server) leave the world unchanged.
    """

    methods: frozenset[str] | None  # lower-case method names, None = any send method
    chat_id: int | None
    error: ApiError
    remaining: int
    kind: str = "error"
    delay: float = 0.0
    body: bytes = b""


class _ParseEntitiesError(Exception):
    pass


class _ClientGone(Exception):
    """The client closed the connection while its request was parked."""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _u16(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Telegram entity offsets)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _clone_any(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clone_any(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone_any(v) for v in obj]
    return obj


def _clone(obj: _T) -> _T:
    """Cheap deep copy of JSON-like data."""
    return cast(_T, _clone_any(obj))


def _now() -> int:
    return int(time.time())


def _to_number(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _coerce_params(raw: dict[str, Any]) -> Params:
    """Convert string values of form/multipart requests (and sloppy JSON) to JSON types."""
    params: Params = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _JSON_KEYS:
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            elif key in _INT_KEYS or key in _FLOAT_KEYS:
                value = _to_number(value)
            elif key in _BOOL_KEYS and value.lower() in ("true", "false"):
                value = value.lower() == "true"
        params[key] = value
    return params


def _get_int(params: Params, key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, f"Bad Request: invalid {key} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    raise ApiError(400, f"Bad Request: invalid {key} specified")


def _get_bool(params: Params, key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _get_str(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid grey RGB PNG (so bots that open received photos with Pillow can do so)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image, None if not recognised."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + seg_len
    return None


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    biggest = max(width, height, 1)
    if biggest <= side:
        return width, height
    factor = side / biggest
    return max(1, round(width * factor)), max(1, round(height * factor))


# --------------------------------------------------------------------------------------------
# Entity parsing (HTML, MarkdownV2, legacy Markdown)
# --------------------------------------------------------------------------------------------

_HTML_TOKEN_RE: Final = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?\s*/?>"
    r"|&(#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,9}|[a-zA-Z][a-zA-Z0-9]{0,31});"
    r"|<"
)
_HTML_ATTR_RE: Final = re.compile(
    r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)
_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    out: list[str] = []
    u16 = 0
    pos = 0
    # (tag name, entity or None, start offset)
    stack: list[tuple[str, JSONDict | None, int]] = []
    entities: list[JSONDict] = []

    def emit(piece: str) -> None:
        nonlocal u16
        out.append(piece)
        u16 += _u16(piece)

    for match in _HTML_TOKEN_RE.finditer(src):
        if match.start() > pos:
            emit(src[pos : match.start()])
        pos = match.end()
        tag = match.group(2)
        ref = match.group(4)
        if tag is not None:
            name = tag.lower()
            closing = match.group(1) == "/"
            if name not in _HTML_TAGS:
                kind = "end" if closing else "start"
                raise _ParseEntitiesError(
                    f'Unsupported {kind} tag "{name}" at byte offset '
                    f"{_byte_offset(src, match.start())}"
                )
            if closing:
                if not stack:
                    raise _ParseEntitiesError(
                        f'Unexpected end tag "{name}" at byte offset '
                        f"{_byte_offset(src, match.start())}"
                    )
                open_name, entity, start = stack.pop()
                if open_name != name:
                    raise _ParseEntitiesError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, match.start())}, "
                        f'expected "</{open_name}>", found "</{name}>"'
                    )
                if entity is not None and u16 > start:
                    entity["offset"] = start
                    entity["length"] = u16 - start
                    entities.append(entity)
                continue
            attrs: dict[str, str] = {}
            for attr in _HTML_ATTR_RE.finditer(match.group(3) or ""):
                value = attr.group(2) or attr.group(3) or attr.group(4) or ""
                attrs[attr.group(1).lower()] = html.unescape(value)
            entity_type = _HTML_TAGS[name]
            new_entity: JSONDict | None = {"type": entity_type}
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _ParseEntitiesError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(src, match.start())}"
                )
            if name == "a":
                href = attrs.get("href", "")
                new_entity = {"type": "text_link", "url": href} if href else None
            elif name == "blockquote" and "expandable" in attrs:
                new_entity = {"type": "expandable_blockquote"}
            elif name == "tg-emoji":
                new_entity = {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
            elif name == "code" and stack and stack[-1][0] == "pre":
                language = attrs.get("class", "")
                parent = stack[-1][1]
                if language.startswith("language-") and parent is not None:
                    parent["language"] = language.removeprefix("language-")
                    new_entity = None
            stack.append((name, new_entity, u16))
        elif ref is not None:
            if ref[:2] in ("#x", "#X"):
                code_point = int(ref[2:], 16)
            elif ref.startswith("#"):
                code_point = int(ref[1:])
            elif ref.lower() in _HTML_NAMED_ENTITIES:
                emit(_HTML_NAMED_ENTITIES[ref.lower()])
                continue
            else:
                emit(match.group(0))
                continue
            try:
                emit(chr(code_point))
            except (ValueError, OverflowError):
                emit(match.group(0))
        else:
            raise _ParseEntitiesError(
                f'Unsupported start tag "" at byte offset {_byte_offset(src, match.start())}'
            )
    if pos < len(src):
        emit(src[pos:])
    if stack:
        raise _ParseEntitiesError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"'
        )
    return "".join(out), _sort_entities(entities)


def _parse_markdown(src: str, *, v2: bool) -> tuple[str, list[JSONDict]]:
    """Parse Telegram MarkdownV2 (``v2=True``) or legacy Markdown into text + entities."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    open_marks: dict[str, tuple[int, int]] = {}  # entity type -> (start u16, byte offset)
    links: list[tuple[int, int, bool]] = []  # (start u16, byte offset, is custom emoji)
    quote_start: int | None = None
    line_start = True
    i = 0
    n = len(src)
    escapable = None if v2 else "_*`["

    def emit(piece: str) -> None:
        nonlocal u16
        out.append(piece)
        u16 += _u16(piece)

    def toggle(kind: str, at: int) -> None:
        if kind in open_marks:
            start, _ = open_marks.pop(kind)
            if u16 > start:
                entities.append({"type": kind, "offset": start, "length": u16 - start})
        else:
            open_marks[kind] = (u16, _byte_offset(src, at))

    def unescape_until(start: int, closer: str) -> tuple[str, int]:
        """Read from ``start`` up to an unescaped ``closer``; return (text, closer index)."""
        buf: list[str] = []
        j = start
        while j < n:
            if src[j] == "\\" and j + 1 < n and (v2 or src[j + 1] == closer[0]):
                buf.append(src[j + 1])
                j += 2
                continue
            if src.startswith(closer, j):
                return "".join(buf), j
            buf.append(src[j])
            j += 1
        raise _ParseEntitiesError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, start)}"
        )

    while i < n:
        c = src[i]
        if v2 and line_start and c == ">":
            if quote_start is None:
                quote_start = u16
            line_start = False
            i += 1
            continue
        line_start = False
        if c == "\n":
            if quote_start is not None and not src.startswith(">", i + 1):
                if u16 > quote_start:
                    entities.append(
                        {"type": "blockquote", "offset": quote_start, "length": u16 - quote_start}
                    )
                quote_start = None
            emit(c)
            line_start = True
            i += 1
            continue
        if c == "\\" and i + 1 < n and (escapable is None or src[i + 1] in escapable):
            emit(src[i + 1])
            i += 2
            continue
        if c == "`":
            if src.startswith("```", i):
                body, end = unescape_until(i + 3, "```")
                language = ""
                first, newline, rest = body.partition("\n")
                if newline and first.strip() and " " not in first.strip():
                    language, body = first.strip(), rest
                start = u16
                emit(body)
                if u16 > start:
                    pre: JSONDict = {"type": "pre", "offset": start, "length": u16 - start}
                    if language:
                        pre["language"] = language
                    entities.append(pre)
                i = end + 3
                continue
            body, end = unescape_until(i + 1, "`")
            start = u16
            emit(body)
            if u16 > start:
                entities.append({"type": "code", "offset": start, "length": u16 - start})
            i = end + 1
            continue
        if c == "*":
            toggle("bold", i)
            i += 1
            continue
        if c == "_":
            if v2 and src.startswith("__", i):
                toggle("underline", i)
                i += 2
                continue
            toggle("italic", i)
            i += 1
            continue
        if v2 and c == "~":
            toggle("strikethrough", i)
            i += 1
            continue
        if v2 and src.startswith("||", i):
            toggle("spoiler", i)
            i += 2
            continue
        if v2 and src.startswith("![", i):
            links.append((u16, _byte_offset(src, i), True))
            i += 2
            continue
        if c == "[":
            links.append((u16, _byte_offset(src, i), False))
            i += 1
            continue
        if c == "]" and links:
            if not src.startswith("(", i + 1):
                if v2:
                    raise _ParseEntitiesError(
                        "Character ']' is reserved and must be escaped with the preceding '\\'"
                    )
                start, _, _ = links.pop()
                continue
            url, end = unescape_until(i + 2, ")")
            start, _, emoji = links.pop()
            if u16 > start:
                if emoji:
                    emoji_id = url.rpartition("id=")[2]
                    entities.append(
                        {
                            "type": "custom_emoji",
                            "offset": start,
                            "length": u16 - start,
                            "custom_emoji_id": emoji_id,
                        }
                    )
                else:
                    entities.append(
                        {"type": "text_link", "offset": start, "length": u16 - start, "url": url}
                    )
            i = end + 1
            continue
        if v2 and c in _MDV2_RESERVED:
            raise _ParseEntitiesError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(c)
        i += 1
    if quote_start is not None and u16 > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": u16 - quote_start})
    pending = [offset for _, offset in open_marks.values()] + [b for _, b, _ in links]
    if pending:
        raise _ParseEntitiesError(
            f"Can't find end of the entity starting at byte offset {min(pending)}"
        )
    return "".join(out), _sort_entities(entities)


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip leading/trailing whitespace like Telegram, shifting/clipping entities."""
    left = text.lstrip()
    lead = _u16(text[: len(text) - len(left)])
    result = left.rstrip()
    total = _u16(result)
    trimmed: list[JSONDict] = []
    for entity in entities:
        start = max(int(entity.get("offset", 0)) - lead, 0)
        end = min(int(entity.get("offset", 0)) + int(entity.get("length", 0)) - lead, total)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return result, trimmed


def _format_text(
    raw: str, parse_mode: str | None, entities: Any
) -> tuple[str, list[JSONDict]]:
    mode = (parse_mode or "").strip().lower()
    try:
        if mode == "html":
            text, parsed = _parse_html(raw)
        elif mode == "markdownv2":
            text, parsed = _parse_markdown(raw, v2=True)
        elif mode == "markdown":
            text, parsed = _parse_markdown(raw, v2=False)
        elif mode == "":
            text = raw
            given = entities if isinstance(entities, list) else []
            parsed = [e for e in given if isinstance(e, dict)]
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
    except _ParseEntitiesError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    return _trim(text, parsed)


# --------------------------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------------------------


def _disposition_param(disposition: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}\*=([^;]+)', disposition, re.IGNORECASE)
    if match:
        value = match.group(1).strip().strip('"')
        _, _, encoded = value.partition("''")
        return unquote(encoded or value)
    match = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', disposition, re.IGNORECASE)
    if match:
        return match.group(1).replace("%22", '"').replace('\\"', '"').replace("\\\\", "\\")
    match = re.search(rf"(?:^|;)\s*{name}=([^;\s]+)", disposition, re.IGNORECASE)
    return match.group(1) if match else None


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    match = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not match:
        raise ApiError(400, "Bad Request: multipart boundary not found")
    boundary = (match.group(1) or match.group(2)).encode("latin-1")
    fields: dict[str, Any] = {}
    parts = (b"\r\n" + body).split(b"\r\n--" + boundary)
    for part in parts[1:]:
        if part.startswith(b"--"):
            break
        _, _, part = part.partition(b"\r\n")  # rest of the boundary line
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        filename = _disposition_param(disposition, "filename")
        if filename is not None:
            fields[name] = UploadedFile(
                filename, headers.get("content-type", "application/octet-stream"), data
            )
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields


def _http_response(status: int, body: bytes, content_type: str, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "Server: botapi-double\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --------------------------------------------------------------------------------------------
# The double
# --------------------------------------------------------------------------------------------


def _message_text(params: Params, too_long: str) -> tuple[str, Any]:
    """The text as Telegram stores it (entities parsed) and its entities; Telegram's
    errors for an empty or too long one (sendMessage and editMessageText word the
    length error differently)."""
    raw = _get_str(params, "text")
    if not raw:
        raise ApiError(400, "Bad Request: message text is empty")
    text, entities = _format_text(raw, _get_str(params, "parse_mode"), params.get("entities"))
    if not text:
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > TEXT_LIMIT:
        raise ApiError(400, too_long)
    return text, entities


class BotApiDouble:
    """A fake Telegram Bot API server for one bot token."""

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        bot_username: str = "surveybot_test_bot",
        enforce_limits: bool = False,
        global_rate: float = 30.0,
        per_chat_interval: float = 1.0,
        group_per_minute: int = 20,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.enforce_limits = enforce_limits
        self.global_rate = global_rate
        self.per_chat_interval = per_chat_interval
        self.group_per_minute = group_per_minute
        self.root = ""
        try:
            bot_id = int(token.split(":", 1)[0])
        except ValueError:
            bot_id = 123456
        self._bot_sender: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Surveybot",
            "username": bot_username,
        }
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Surveybot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        # --- what the bot did (public, for assertions) ---
        self.requests: list[tuple[str, Params]] = []
        self.callback_answers: list[Params] = []
        self.files: dict[str, bytes] = {}
        self.send_times: dict[int, list[float]] = {}
        self.violations = 0
        self.errors: list[str] = []  # internal errors of the double (answered with HTTP 500)
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.bot_settings: dict[tuple[str, str], str] = {}  # (name/description/..., lang)
        self.webhook_url = ""
        # getChatMember answers, by (chat id, user id); default {"status": "member"}.
        self.chat_members: dict[tuple[int, int], JSONDict] = {}
        self.webhook_params: Params = {}
        self.topics: dict[int, dict[int, JSONDict]] = {}

        # --- simulated world ---
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._next_message_id: dict[int, int] = {}
        self._reply_keyboards: dict[tuple[int, int], JSONDict] = {}
        self._chat_keyboard: dict[int, JSONDict | None] = {}
        self._blocked: set[int] = set()
        self._open_queries: set[str] = set()
        self._query_ids = itertools.count(7_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._file_meta: dict[str, JSONDict] = {}
        self._file_paths: dict[str, str] = {}
        self._photo_sizes: dict[str, list[JSONDict]] = {}

        # --- updates / long polling ---
        self._pending: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._delivered_upto = 0
        self._allowed_updates: frozenset[str] | None = None
        self._poll_waiters: list[asyncio.Future[str]] = []

        # --- rate limiting / fault injection ---
        self._global_window: deque[float] = deque()
        self._group_windows: dict[int, deque[float]] = {}
        self._faults: list[_Fault] = []

        # --- server ---
        self._server: asyncio.base_events.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._inflight = 0
        self._observers: dict[str, list[Callable[[Params, Any], None]]] = {}
        # Set by tests.support.harness.Harness while its Application polls this double.
        self.settle_with: Callable[[float], Awaitable[None]] | None = None

        self._handlers: dict[str, tuple[str, Callable[[Params], Any]]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("logOut", self._true),
            ("close", self._true),
            ("deleteWebhook", self._delete_webhook),
            ("setWebhook", self._set_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("setChatMenuButton", self._set_chat_menu_button),
            ("getChatMenuButton", self._get_chat_menu_button),
            ("setMyName", self._set_bot_setting("name")),
            ("getMyName", self._get_bot_setting("name")),
            ("setMyDescription", self._set_bot_setting("description")),
            ("getMyDescription", self._get_bot_setting("description")),
            ("setMyShortDescription", self._set_bot_setting("short_description")),
            ("getMyShortDescription", self._get_bot_setting("short_description")),
            ("sendMessage", self._send_message),
            ("sendDocument", self._send_media("document")),
            ("sendPhoto", self._send_media("photo")),
            ("sendAudio", self._send_media("audio")),
            ("sendVideo", self._send_media("video")),
            ("sendVoice", self._send_media("voice")),
            ("sendAnimation", self._send_media("animation")),
            ("sendSticker", self._send_media("sticker")),
            ("sendVideoNote", self._send_media("video_note")),
            ("sendLocation", self._send_location),
            ("sendContact", self._send_contact),
            ("sendChatAction", self._send_chat_action),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("deleteMessages", self._delete_messages),
            ("answerCallbackQuery", self._answer_callback_query),
            ("copyMessage", self._copy_message),
            ("forwardMessage", self._forward_message),
            ("createForumTopic", self._create_forum_topic),
            ("editForumTopic", self._edit_forum_topic),
            ("closeForumTopic", self._set_topic_closed(True)),
            ("reopenForumTopic", self._set_topic_closed(False)),
            ("deleteForumTopic", self._delete_forum_topic),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getFile", self._get_file),
        ):
            self._handlers[name.lower()] = (name, handler)

    # ========================================================================================
    # Lifecycle
    # ========================================================================================

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and serve; afterwards ``self.root`` is e.g. ``"http://127.0.0.1:PORT"``."""
        if self._server is not None:
            raise RuntimeError("BotApiDouble already started")
        self._server = await asyncio.start_server(
            self._on_connect, host, port, backlog=2048
        )
        bound_port = self._server.sockets[0].getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.root = f"http://{shown_host}:{bound_port}"

    async def stop(self) -> None:
        """Stop serving: close the listener and every client connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for waiter in self._poll_waiters:
            if not waiter.done():
                waiter.set_result("shutdown")
        for writer in list(self._connections.values()):
            writer.close()
        tasks = list(self._connections)
        if tasks:
            _, still_running = await asyncio.wait(tasks, timeout=1.0)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running, timeout=1.0)
        await server.wait_closed()

    async def __aenter__(self) -> BotApiDouble:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def application_builder(self) -> InitApplicationBuilder:
        """An ``ApplicationBuilder`` already pointed at this double (call after ``start``)."""
        self._require_started()
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.root + "/bot")
            .base_file_url(self.root + "/file/bot")
        )

    def make_bot(self) -> Bot:
        """A ``telegram.Bot`` pointed at this double (use ``async with`` or initialize it)."""
        self._require_started()
        return Bot(self.token, base_url=self.root + "/bot", base_file_url=self.root + "/file/bot")

    @property
    def open_connections(self) -> int:
        """Number of client connections currently open (keep-alive reuse keeps it low)."""
        return len(self._connections)

    def _require_started(self) -> None:
        if not self.root:
            raise RuntimeError("call `await double.start()` first")

    # ========================================================================================
    # Simulated users
    # ========================================================================================

    def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Mario",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        entities_for_commands: bool = True,
        language_code: str | None = None,
        chat_title: str | None = None,
    ) -> JSONDict:
        """Enqueue a ``message`` update with a text message; return the message dict.

        Text starting with ``/`` gets a ``bot_command`` entity (unless
        ``entities_for_commands=False``). For groups pass a negative ``chat_id`` and
        ``chat_type="group"`` or ``"supergroup"``.
        """
        user = self._touch_user(user_id, first_name, username, language_code)
        cid = self._resolve_user_chat(user_id, chat_id, chat_type)
        self._touch_chat(
            cid, self._chat_type(cid, chat_type), user, chat_title,
            forum=message_thread_id is not None,
        )
        content: JSONDict = {"text": text}
        if entities_for_commands and text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16(command)}]
        return self._user_message(
            cid, user, content, reply_to_message_id=reply_to_message_id,
            message_thread_id=message_thread_id,
        )

    def user_sends_media(
        self,
        user_id: int,
        kind: str,
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        chat_type: str = "private",
        first_name: str = "Mario",
        username: str | None = None,
        language_code: str | None = None,
        file_name: str | None = None,
        content: bytes | None = None,
        extra: JSONDict | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> JSONDict:
        """Enqueue a message with media; ``kind`` is one of sticker, photo, voice, document,
        video, audio, animation, video_note, location, contact.

        File kinds get downloadable bytes (``content`` or a small realistic default) reachable
        through ``getFile`` + the file URL. ``extra`` is merged into the media object.
        """
        user = self._touch_user(user_id, first_name, username, language_code)
        cid = self._resolve_user_chat(user_id, chat_id, chat_type)
        self._touch_chat(
            cid, self._chat_type(cid, chat_type), user, None, forum=message_thread_id is not None
        )
        body: JSONDict
        if kind == "location":
            body = {"latitude": 41.902782, "longitude": 12.496366}
        elif kind == "contact":
            body = {
                "phone_number": "+393331234567",
                "first_name": user["first_name"],
                "user_id": user_id,
            }
        elif kind == "photo":
            data = content if content is not None else _tiny_png()
            dims = (_image_size(data) if content is not None else None) or (1280, 960)
            sizes = self._register_photo(data, dims=dims)
            if extra:
                sizes[-1].update(extra)
            message_content: JSONDict = {"photo": sizes}
            if caption is not None:
                message_content["caption"] = caption
            return self._user_message(
                cid, user, message_content, reply_to_message_id=reply_to_message_id,
                message_thread_id=message_thread_id,
            )
        elif kind in _USER_MEDIA_DEFAULTS:
            default_name, mime, default_data, fields = _USER_MEDIA_DEFAULTS[kind]
            data = content if content is not None else default_data
            described: JSONDict = {}
            if kind in ("document", "audio", "video", "animation"):
                described["file_name"] = file_name or default_name
            if mime:
                described["mime_type"] = mime
            meta = self._register_file(kind, data, described)
            body = {"file_id": meta["file_id"], "file_unique_id": meta["file_unique_id"]}
            body.update(fields)
            body.update(described)
            body["file_size"] = len(data)
        else:
            raise ValueError(f"unsupported media kind {kind!r}")
        if extra:
            body.update(extra)
        message_content = {kind: body}
        if caption is not None and kind not in ("sticker", "location", "contact", "video_note"):
            message_content["caption"] = caption
        return self._user_message(
            cid, user, message_content, reply_to_message_id=reply_to_message_id,
            message_thread_id=message_thread_id,
        )

    def user_edits(
        self, user_id: int, message_id: int, new_text: str, *, chat_id: int | None = None
    ) -> JSONDict:
        """Enqueue an ``edited_message`` update for a message the user sent earlier."""
        cid = chat_id if chat_id is not None else user_id
        user = self._touch_user(user_id, None, None, None)
        chat = self._touch_chat(cid, None, user, None)
        stored = self._messages.get(cid, {}).get(message_id)
        if stored is None:
            stored = {"message_id": message_id, "from": user, "chat": chat, "date": _now()}
            self._messages.setdefault(cid, {})[message_id] = stored
        stored["text"] = new_text
        stored.pop("entities", None)
        if new_text.startswith("/"):
            command = new_text.split(maxsplit=1)[0] if new_text.strip() else new_text
            stored["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16(command)}]
        stored["edit_date"] = _now()
        self._enqueue({"edited_message": _clone(stored)})
        return _clone(stored)

    def user_presses(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> str:
        """Enqueue a ``callback_query`` on the bot message ``message_id``; return the query id.

        The query carries the current (post-edit) copy of the message if known.
        """
        cid = chat_id if chat_id is not None else user_id
        user = self._touch_user(user_id, None, None, None)
        chat = self._touch_chat(cid, None, user, None)
        stored = self._messages.get(cid, {}).get(message_id)
        message = (
            _clone(stored)
            if stored is not None
            else {
                "message_id": message_id,
                "from": _clone(self._bot_sender),
                "chat": _clone(chat),
                "date": _now(),
                "text": "",
            }
        )
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": _clone(user),
            "chat_instance": str(-abs(cid) * 7919 - 1),
            "message": message,
            "data": data,
        }
        self._enqueue({"callback_query": query})
        return query_id

    def user_presses_button(
        self, user_id: int, message_id: int, button_text: str, *, chat_id: int | None = None
    ) -> str:
        """Press the inline button labelled ``button_text`` (AssertionError if absent)."""
        cid = chat_id if chat_id is not None else user_id
        message = self.message(cid, message_id)
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if button.get("text") == button_text and "callback_data" in button:
                    return self.user_presses(
                        user_id, message_id, button["callback_data"], chat_id=chat_id
                    )
        raise AssertionError(
            f"no callback button {button_text!r} in message {message_id}: "
            f"{self.buttons(message)}"
        )

    def enqueue_raw(self, update: JSONDict) -> None:
        """Enqueue any update dict (``update_id`` assigned if missing)."""
        update = _clone(update)
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._open_queries.add(str(query["id"]))
        self._enqueue(update)

    def block_user(self, user_id: int) -> None:
        """From now on, calls into that private chat get 403 'bot was blocked by the user'."""
        self._blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def set_group(self, chat_id: int, *, title: str | None = None, forum: bool = False) -> None:
        """Make ``chat_id`` a supergroup, with topics (a forum) or without, as its admins
        would set it up."""
        chat = self._touch_chat(chat_id, "supergroup", None, title, forum=forum)
        if not forum:
            chat.pop("is_forum", None)

    def set_rate_limited(
        self, retry_after: int = 5, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Answer the next ``times`` send requests (to ``chat_id`` or any chat) with HTTP 429."""
        self._faults.append(
            _Fault(
                methods=None,
                chat_id=chat_id,
                error=ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                ),
                remaining=times,
            )
        )

    def inject_error(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        times: int = 1,
        chat_id: int | None = None,
        parameters: JSONDict | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (optionally only for ``chat_id``)
        with that error, e.g. ``inject_error("sendMessage", 502, "Bad Gateway")``."""
        self._faults.append(
            _Fault(
                methods=frozenset({method.lower()}),
                chat_id=chat_id,
                error=ApiError(error_code, description, parameters),
                remaining=times,
            )
        )

    def _add_fault(self, method: str, kind: str, times: int, chat_id: int | None,
                   **extra: Any) -> None:
        error = extra.pop("error", ApiError(500, "Internal Server Error"))
        self._faults.append(
            _Fault(frozenset({method.lower()}), chat_id, error, times, kind, **extra)
        )

    def inject_timeout(
        self, method: str, *, times: int = 1, delay: float = 0.3, chat_id: int | None = None
    ) -> None:
        """Hold the next ``times`` calls of ``method`` for ``delay`` seconds, then close the
        connection unanswered (nothing is done): a client whose read timeout is shorter
        than ``delay`` sees a timeout, otherwise a dropped connection."""
        self._add_fault(method, "timeout", times, chat_id, delay=delay)

    def inject_disconnect(self, method: str, *, times: int = 1, chat_id: int | None = None
                          ) -> None:
        """Close the connection of the next ``times`` calls of ``method`` unanswered."""
        self._add_fault(method, "drop", times, chat_id)

    def inject_server_error(
        self, method: str, *, times: int = 1, status: int = 500, chat_id: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with a 5xx (nothing is done)."""
        phrase = HTTPStatus(status).phrase
        self._add_fault(method, "error", times, chat_id, error=ApiError(status, phrase))

    def inject_retry_after(
        self, method: str, retry_after: int = 1, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``retry_after``."""
        error = ApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
        self._add_fault(method, "error", times, chat_id, error=error)

    def inject_malformed(
        self, method: str, *, times: int = 1, body: bytes = b'{"ok": true}',
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 200 and ``body``, which
        is not a Bot API reply (default: no ``result``; try ``b"<html>"`` too). Nothing
        is done."""
        self._add_fault(method, "malformed", times, chat_id, body=body)

    def clear_faults(self) -> None:
        """Forget every injected failure not yet used up (an outage ends)."""
        self._faults.clear()

    def pending_faults(self) -> int:
        """Injected failures not yet used up."""
        return sum(fault.remaining for fault in self._faults)

    def calls_in_chat(self, chat_id: int) -> list[str]:
        """Methods called with this ``chat_id`` (the calls Telegram's limits count),
        ``answerCallbackQuery`` excluded as it carries none, in order."""
        return [name for name, params in self.requests
                if params.get("chat_id") == chat_id and name != "answerCallbackQuery"]

    # ========================================================================================
    # Assertions helpers
    # ========================================================================================

    def sent(self, chat_id: int) -> list[JSONDict]:
        """Bot messages currently in the chat (after edits, without deleted ones), in order.

        Messages that carried a reply keyboard / force reply get a non-wire ``"reply_keyboard"``
        key with that markup.
        """
        bot_id = self.bot_user["id"]
        result: list[JSONDict] = []
        for message_id, message in self._messages.get(chat_id, {}).items():
            if message.get("from", {}).get("id") != bot_id:
                continue
            copy: JSONDict = _clone(message)
            keyboard = self._reply_keyboards.get((chat_id, message_id))
            if keyboard is not None:
                copy["reply_keyboard"] = _clone(keyboard)
            result.append(copy)
        return result

    def history(self, chat_id: int) -> list[JSONDict]:
        """All messages currently in the chat (user and bot), in order."""
        return [_clone(m) for m in self._messages.get(chat_id, {}).values()]

    def message(self, chat_id: int, message_id: int) -> JSONDict:
        """One message of the chat (AssertionError if unknown or deleted)."""
        stored = self._messages.get(chat_id, {}).get(message_id)
        if stored is None:
            raise AssertionError(f"no message {message_id} in chat {chat_id}")
        return _clone(stored)

    def last(self, chat_id: int) -> JSONDict:
        """The last bot message in the chat (AssertionError if none)."""
        messages = self.sent(chat_id)
        if not messages:
            raise AssertionError(
                f"the bot sent nothing to chat {chat_id}\n{self.dump_requests()}"
            )
        return messages[-1]

    def texts(self, chat_id: int) -> list[str]:
        """Text (or caption, or "") of every message in ``sent(chat_id)``."""
        return [m.get("text") or m.get("caption") or "" for m in self.sent(chat_id)]

    @staticmethod
    def buttons(message: JSONDict) -> list[list[tuple[str, str]]]:
        """Inline keyboard rows as ``(text, callback_data or url or "")``."""
        rows: list[list[tuple[str, str]]] = []
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            out: list[tuple[str, str]] = []
            for button in row:
                value: Any = button.get("callback_data")
                if value is None:
                    value = button.get("url")
                if value is None:
                    for key in ("web_app", "login_url"):
                        if isinstance(button.get(key), dict):
                            value = button[key].get("url")
                if value is None and isinstance(button.get("copy_text"), dict):
                    value = button["copy_text"].get("text")
                if value is None:
                    value = button.get("switch_inline_query")
                out.append((str(button.get("text", "")), "" if value is None else str(value)))
            rows.append(out)
        return rows

    def keyboard(self, chat_id: int) -> list[list[str]] | None:
        """Reply-keyboard button texts currently shown in the chat (None if none)."""
        markup = self._chat_keyboard.get(chat_id)
        if not markup:
            return None
        return [
            [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
            for row in markup.get("keyboard", [])
        ]

    def document_bytes(self, message: JSONDict) -> bytes:
        """Bytes of the document/photo/... of a message (uploaded or user-sent)."""
        for kind in ("document", "photo", "audio", "video", "voice", "animation", "sticker",
                     "video_note"):
            media = message.get(kind)
            if media is None:
                continue
            file_id = media[-1]["file_id"] if isinstance(media, list) else media["file_id"]
            if file_id in self.files:
                return self.files[file_id]
            raise AssertionError(f"no bytes stored for file_id {file_id!r}")
        raise AssertionError(f"message has no file: {message}")

    def calls(self, method: str) -> list[Params]:
        """Params of every call of ``method`` (case-insensitive), in order."""
        wanted = method.lower()
        return [params for name, params in self.requests if name.lower() == wanted]

    def my_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands stored by setMyCommands for that scope and language."""
        return _clone(self.commands.get((self._scope_key(scope), language_code), []))

    def limit_breaches(self) -> list[str]:
        """Post-hoc check of ``send_times`` against the configured limits (works with
        ``enforce_limits=False``): a description of each breach, empty if none."""
        breaches: list[str] = []
        all_times = sorted(t for times in self.send_times.values() for t in times)
        cap = max(1, int(self.global_rate))
        for i in range(cap, len(all_times)):
            if all_times[i] - all_times[i - cap] < 1.0:
                breaches.append(f"more than {cap} sends within 1 s at t={all_times[i]:.3f}")
        for chat_id, times in self.send_times.items():
            if chat_id > 0:
                for a, b in itertools.pairwise(times):
                    if b - a < self.per_chat_interval:
                        breaches.append(f"chat {chat_id}: sends {b - a:.3f} s apart")
            else:
                m = self.group_per_minute
                for i in range(m, len(times)):
                    if times[i] - times[i - m] < 60.0:
                        breaches.append(f"group {chat_id}: more than {m} sends within 60 s")
        return breaches

    def dump_requests(self, last: int = 20) -> str:
        lines = [f"last {min(last, len(self.requests))} of {len(self.requests)} requests:"]
        for name, params in self.requests[-last:]:
            text = json.dumps(params, ensure_ascii=False, default=repr)
            lines.append(f"  {name} {text[:300]}")
        if self.errors:
            lines.append(f"internal errors of the double: {self.errors[-5:]}")
        return "\n".join(lines)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll ``predicate`` until true; AssertionError with a request dump on timeout (a
        guard against a hung bot, generous so that a busy machine never trips it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                raise AssertionError(
                    f"condition not met within {timeout} s\n{self.dump_requests()}"
                )
            await asyncio.sleep(0.005)

    @property
    def idle(self) -> bool:
        """No bot request in flight and every enqueued update confirmed: fetched by one
        getUpdates and acknowledged by the offset of a later one (a poller such as PTB's
        Updater asks for the next offset only after handing the batch on). Whether the
        bot finished handling them is for the caller to ask the bot
        (``tests.support.harness.settle``)."""
        return self._inflight == 0 and not self._pending

    async def wait_idle(self, timeout: float = 30.0, *, quiet: float = 0.0) -> None:
        """Thin alias for callers written before ``settle`` (tests.support.harness): the
        harness's settle while a Harness drives this double, else only the HTTP side
        (``idle``). ``quiet`` is ignored: nothing is guessed from a quiet window."""
        del quiet
        if self.settle_with is not None:
            await self.settle_with(timeout)
        else:
            await self.wait_for(lambda: self.idle, timeout)

    def idle_state(self) -> str:
        """What ``idle`` looks at, for failure messages."""
        return (
            f"unconfirmed updates: {len(self._pending)}, delivered up to "
            f"{self._delivered_upto}, requests in flight: {self._inflight}"
        )

    def observe(self, method: str, callback: Callable[[Params, Any], None]) -> None:
        """Call ``callback(params, result)`` right after the double served a successful
        ``method`` call, before the answer goes back to the bot (e.g. to kill the bot
        between Telegram's side effect and the bot hearing of it)."""
        self._observers.setdefault(method.lower(), []).append(callback)

    # ========================================================================================
    # Internal world model
    # ========================================================================================

    def _touch_user(
        self,
        user_id: int,
        first_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSONDict:
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or "Mario"}
            self._users[user_id] = user
        elif first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _user_dict(self, user_id: int) -> JSONDict:
        if user_id == self.bot_user["id"]:
            return _clone(self.bot_user)
        return _clone(self._users.get(user_id) or {"id": user_id, "is_bot": False,
                                                   "first_name": "User"})

    @staticmethod
    def _chat_type(chat_id: int, chat_type: str) -> str | None:
        """The chat type to apply; a negative id never becomes a private chat."""
        if chat_id < 0 and chat_type == "private":
            return None
        return chat_type

    @staticmethod
    def _resolve_user_chat(user_id: int, chat_id: int | None, chat_type: str) -> int:
        if chat_id is not None:
            return chat_id
        if chat_type != "private":
            raise ValueError("pass a (negative) chat_id for group chats")
        return user_id

    def _touch_chat(
        self,
        chat_id: int,
        chat_type: str | None,
        user: JSONDict | None,
        title: str | None,
        *,
        forum: bool = False,
    ) -> JSONDict:
        chat = self._chat(chat_id)
        if chat_type is not None and chat_type != chat["type"]:
            chat["type"] = chat_type
            if chat_type == "private":
                chat.pop("title", None)
                chat.pop("is_forum", None)
            else:
                chat.pop("first_name", None)
                chat.pop("username", None)
                chat.setdefault("title", f"Test group {chat_id}")
        if chat["type"] == "private" and user is not None and user["id"] == chat_id:
            chat["first_name"] = user["first_name"]
            if "username" in user:
                chat["username"] = user["username"]
        if title and chat["type"] != "private":
            chat["title"] = title
        if forum and chat["type"] == "supergroup":
            chat["is_forum"] = True
        return chat

    def _chat(self, chat_id: int) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                user = self._users.get(chat_id)
                chat = {"id": chat_id, "type": "private",
                        "first_name": user["first_name"] if user else "User"}
                if user and "username" in user:
                    chat["username"] = user["username"]
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Test group {chat_id}"}
            self._chats[chat_id] = chat
        return chat

    def _alloc_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _store_message(self, chat_id: int, sender: JSONDict, content: JSONDict) -> JSONDict:
        message: JSONDict = {
            "message_id": self._alloc_message_id(chat_id),
            "from": sender,
            "chat": self._chat(chat_id),
            "date": _now(),
        }
        message.update(content)
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message
        return message

    def _reply_copy(self, chat_id: int, message_id: int) -> JSONDict | None:
        stored = self._messages.get(chat_id, {}).get(message_id)
        if stored is None:
            return None
        copy: JSONDict = _clone(stored)
        copy.pop("reply_to_message", None)
        return copy

    def _user_message(
        self,
        chat_id: int,
        user: JSONDict,
        content: JSONDict,
        *,
        reply_to_message_id: int | None,
        message_thread_id: int | None,
    ) -> JSONDict:
        if message_thread_id is not None:
            content["message_thread_id"] = message_thread_id
            if self._chat(chat_id).get("is_forum"):
                content["is_topic_message"] = True
        if reply_to_message_id is not None:
            reply = self._reply_copy(chat_id, reply_to_message_id) or {
                "message_id": reply_to_message_id,
                "from": _clone(self._bot_sender),
                "chat": _clone(self._chat(chat_id)),
                "date": _now(),
                "text": "",
            }
            content["reply_to_message"] = reply
        message = self._store_message(chat_id, user, content)
        self._enqueue({"message": _clone(message)})
        return _clone(message)

    def _enqueue(self, update: JSONDict) -> None:
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._pending.append(update)
        self._wake_pollers("wake")

    def _wake_pollers(self, reason: str) -> None:
        waiters, self._poll_waiters = self._poll_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(reason)

    # --- files ---

    def _register_file(self, kind: str, data: bytes, extra: JSONDict | None = None) -> JSONDict:
        number = next(self._file_ids)
        file_id = f"{kind}-{number:06d}-{self.bot_user['id']}"
        meta: JSONDict = {
            "file_id": file_id,
            "file_unique_id": f"uq{kind[:3]}{number:06d}",
            "file_size": len(data),
            "kind": kind,
        }
        if extra:
            meta.update(extra)
        self.files[file_id] = data
        self._file_meta[file_id] = meta
        return meta

    def _register_photo(self, data: bytes, dims: tuple[int, int]) -> list[JSONDict]:
        width, height = dims
        wanted = sorted({_scaled(width, height, side) for side in (90, 320, 1280)})
        sizes: list[JSONDict] = []
        for w, h in wanted:
            meta = self._register_file("photo", data)
            sizes.append(
                {
                    "file_id": meta["file_id"],
                    "file_unique_id": meta["file_unique_id"],
                    "file_size": len(data),
                    "width": w,
                    "height": h,
                }
            )
        self._photo_sizes[sizes[-1]["file_id"]] = sizes
        for size in sizes:
            self._photo_sizes.setdefault(size["file_id"], sizes)
        return _clone(sizes)

    # ========================================================================================
    # HTTP server
    # ========================================================================================

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Own task per connection (not the one asyncio.start_server would create for a
        # coroutine callback) so that stop() can await and, if needed, cancel it cleanly.
        task = asyncio.get_running_loop().create_task(self._serve_connection(reader, writer))
        self._connections[task] = writer
        task.add_done_callback(self._connection_done)

    def _connection_done(self, task: asyncio.Task[None]) -> None:
        self._connections.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("BotApiDouble connection task failed", exc_info=task.exception())

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    writer.write(_http_response(431, b"", "text/plain", False))
                    break
                request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
                parts = request_line.split(" ")
                if len(parts) != 3:
                    writer.write(_http_response(400, b"", "text/plain", False))
                    break
                http_method, target, version = parts
                headers: dict[str, str] = {}
                for line in header_lines:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                connection = headers.get("connection", "").lower()
                keep_alive = (
                    "close" not in connection
                    if version == "HTTP/1.1"
                    else "keep-alive" in connection
                )
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await _read_chunked(reader)
                else:
                    length = int(headers.get("content-length", "0") or "0")
                    body = await reader.readexactly(length) if length else b""
                try:
                    status, payload, content_type = await self._dispatch(
                        http_method, target, headers, body, reader
                    )
                except _ClientGone:
                    break
                writer.write(_http_response(status, payload, content_type, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except Exception:  # malformed request etc.: drop the connection, keep serving
            _LOGGER.exception("BotApiDouble connection handler failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(
        self,
        http_method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        reader: asyncio.StreamReader,
    ) -> tuple[int, bytes, str]:
        url = urlsplit(target)
        path = unquote(url.path)
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot") :].partition("/")
            file_id = self._file_paths.get(file_path)
            if token != self.token or file_id is None:
                return 404, _json_bytes(ApiError(404, "Not Found").body()), "application/json"
            return 200, self.files.get(file_id, b""), "application/octet-stream"
        if not path.startswith("/bot"):
            return 404, _json_bytes(ApiError(404, "Not Found").body()), "application/json"
        token, _, raw_method = path[len("/bot") :].partition("/")
        entry = self._handlers.get(raw_method.lower())
        is_poll = raw_method.lower() == "getupdates"
        method_name = "getUpdates" if is_poll else entry[0] if entry else raw_method
        if not is_poll:
            self._inflight += 1
        try:
            try:
                params = self._parse_params(url.query, headers, body)
            except ApiError as exc:
                self.requests.append((method_name, {}))
                return exc.code, _json_bytes(exc.body()), "application/json"
            self.requests.append((method_name, params))
            try:
                if token != self.token:
                    raise ApiError(401, "Unauthorized")
                if is_poll:
                    result: Any = await self._get_updates(params, reader)
                elif entry is None:
                    raise ApiError(404, "Not Found")
                else:
                    fault = self._apply_faults(raw_method.lower(), params)
                    if fault is not None and fault.kind == "malformed":
                        return 200, fault.body, "application/json"
                    if fault is not None and fault.kind in ("drop", "timeout"):
                        await asyncio.sleep(fault.delay)
                        raise _ClientGone
                    result = entry[1](params)
                    for observer in self._observers.get(raw_method.lower(), ()):
                        observer(params, result)
            except ApiError as exc:
                return exc.code, _json_bytes(exc.body()), "application/json"
            except _ClientGone:
                raise
            except Exception as exc:  # a bug in the double: report it loudly
                _LOGGER.exception("BotApiDouble failed handling %s", method_name)
                self.errors.append(f"{method_name}: {exc!r}")
                error = ApiError(500, f"Internal Server Error: {exc!r}")
                return 500, _json_bytes(error.body()), "application/json"
            return 200, _json_bytes({"ok": True, "result": result}), "application/json"
        finally:
            if not is_poll:
                self._inflight -= 1

    @staticmethod
    def _parse_params(query: str, headers: dict[str, str], body: bytes) -> Params:
        raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        content_type = headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime == "multipart/form-data":
            raw.update(_parse_multipart(body, content_type))
        elif mime == "application/x-www-form-urlencoded":
            raw.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif body.strip():
            try:
                decoded = json.loads(body)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(decoded, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            raw.update(decoded)
        return _coerce_params(raw)

    def _apply_faults(self, method: str, params: Params) -> _Fault | None:
        """Raise an injected error, or return the injected fault the caller acts out."""
        if not self._faults:
            return None
        chat_id = params.get("chat_id")
        for fault in self._faults:
            if fault.methods is None:
                if method not in _SEND_METHODS:
                    continue
            elif method not in fault.methods:
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            if fault.kind != "error":
                return fault
            if fault.error.code == 429:
                self.violations += 1
            raise fault.error
        return None

    # ========================================================================================
    # Long polling
    # ========================================================================================

    async def _get_updates(self, params: Params, reader: asyncio.StreamReader) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        # A newer getUpdates terminates a parked older one, like Telegram.
        self._wake_pollers("conflict")
        offset = _get_int(params, "offset")
        limit = max(1, min(100, _get_int(params, "limit") or 100))
        timeout_value = params.get("timeout") or 0
        try:
            timeout = max(0.0, float(timeout_value))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: invalid timeout specified") from None
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(a) for a in allowed) or None
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._collect(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                break
            waiter: asyncio.Future[str] = loop.create_future()
            self._poll_waiters.append(waiter)
            try:
                done, _ = await asyncio.wait({waiter}, timeout=remaining)
            finally:
                if waiter in self._poll_waiters:
                    self._poll_waiters.remove(waiter)
            reason = waiter.result() if done else "timeout"
            if not done:
                waiter.cancel()
            if reader.at_eof():
                raise _ClientGone
            if reason == "conflict":
                raise ApiError(409, GETUPDATES_CONFLICT)
            if reason == "shutdown":
                return []
        if batch:
            self._delivered_upto = max(self._delivered_upto, batch[-1]["update_id"])
        return batch

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        pending = self._pending
        if offset < 0:
            keep = -offset
            while len(pending) > keep:
                pending.popleft()
            return
        while pending and pending[0]["update_id"] < offset:
            pending.popleft()

    def _update_allowed(self, update: JSONDict) -> bool:
        kinds = [k for k in update if k != "update_id"]
        kind = kinds[0] if kinds else ""
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _collect(self, limit: int) -> list[JSONDict]:
        batch: list[JSONDict] = []
        dropped = False
        for update in self._pending:
            if not self._update_allowed(update):
                dropped = True
                continue
            batch.append(update)
            if len(batch) >= limit:
                break
        if dropped:
            kept = deque(u for u in self._pending if self._update_allowed(u))
            _LOGGER.warning(
                "BotApiDouble dropped %d update(s) not in allowed_updates",
                len(self._pending) - len(kept),
            )
            self._pending = kept
        return batch

    # ========================================================================================
    # Validation helpers
    # ========================================================================================

    def _target_chat(self, params: Params, key: str = "chat_id", *, check_block: bool = True
                     ) -> int:
        value = params.get(key)
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: {key} is empty")
        if isinstance(value, str) and value.startswith("@"):
            for chat in self._chats.values():
                if chat.get("username") == value[1:] and chat["type"] != "private":
                    return int(chat["id"])
            raise ApiError(400, "Bad Request: chat not found")
        chat_id = _get_int(params, key)
        if chat_id is None or chat_id == 0:
            raise ApiError(400, "Bad Request: chat not found")
        if check_block and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        self._chat(chat_id)
        return chat_id

    @staticmethod
    def _validate_markup(raw: Any) -> tuple[JSONDict | None, JSONDict | None]:
        """Return (inline markup for the message, other reply markup)."""
        if raw is None or raw == "":
            return None, None
        if not isinstance(raw, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            rows = raw["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400, "Bad Request: can't parse inline keyboard button: "
                    "field \"inline_keyboard\" must be an Array of Arrays"
                )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise ApiError(
                            400, "Bad Request: can't parse inline keyboard button: "
                            "Field \"text\" must be of type String"
                        )
                    if not any(key in button for key in _INLINE_BUTTON_ACTIONS):
                        raise ApiError(
                            400, "Bad Request: can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                        if not 1 <= size <= CALLBACK_DATA_LIMIT:
                            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = button["url"]
                        if not isinstance(url, str) or not re.match(
                            r"^(https?|tg)://[^\s]+$", url, re.IGNORECASE
                        ):
                            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
            return {"inline_keyboard": _clone(rows)}, None
        if "keyboard" in raw:
            rows = raw["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else (
                        button.get("text") if isinstance(button, dict) else None
                    )
                    if not isinstance(text, str):
                        raise ApiError(
                            400, "Bad Request: can't parse keyboard button: "
                            "Field \"text\" must be of type String"
                        )
                    if not text.strip():
                        raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
            for flag in ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"):
                if flag in raw and not isinstance(raw[flag], bool):
                    raise ApiError(
                        400, f"Bad Request: can't parse reply keyboard markup JSON object: "
                        f"Field \"{flag}\" must be of type Boolean"
                    )
            return None, _clone(raw)
        if "remove_keyboard" in raw:
            if raw["remove_keyboard"] is not True:
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
            return None, _clone(raw)
        if "force_reply" in raw:
            return None, _clone(raw)
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _thread_id(self, chat_id: int, params: Params) -> int | None:
        thread_id = _get_int(params, "message_thread_id")
        if thread_id is None:
            return None
        topic = self.topics.get(chat_id, {}).get(thread_id)
        if topic is not None and topic.get("is_closed"):
            raise ApiError(400, "Bad Request: TOPIC_CLOSED")
        return thread_id

    def _reply_target(self, chat_id: int, params: Params) -> JSONDict | None:
        reply = params.get("reply_parameters")
        message_id: int | None
        allow_missing = _get_bool(params, "allow_sending_without_reply")
        source_chat = chat_id
        if isinstance(reply, dict):
            message_id = _get_int(reply, "message_id")
            allow_missing = allow_missing or _get_bool(reply, "allow_sending_without_reply")
            source_chat = _get_int(reply, "chat_id") or chat_id
        else:
            message_id = _get_int(params, "reply_to_message_id")
        if message_id is None:
            return None
        copy = self._reply_copy(source_chat, message_id)
        if copy is None and not allow_missing:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return copy

    def _check_limits(self, chat_id: int) -> None:
        if not self.enforce_limits:
            return
        now = time.monotonic()
        wait = 0.0
        window = self._global_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        cap = max(1, int(self.global_rate))
        if len(window) >= cap:
            wait = max(wait, window[-cap] + 1.0 - now)
        if chat_id > 0:
            times = self.send_times.get(chat_id)
            if times and now - times[-1] < self.per_chat_interval:
                wait = max(wait, times[-1] + self.per_chat_interval - now)
        else:
            group = self._group_windows.get(chat_id)
            if group is not None:
                while group and group[0] <= now - 60.0:
                    group.popleft()
                if len(group) >= self.group_per_minute:
                    wait = max(wait, group[-self.group_per_minute] + 60.0 - now)
        if wait > 0:
            self.violations += 1
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _record_send(self, chat_id: int) -> None:
        now = time.monotonic()
        self.send_times.setdefault(chat_id, []).append(now)
        window = self._global_window
        window.append(now)
        while window and window[0] <= now - 1.0:
            window.popleft()
        if chat_id < 0:
            group = self._group_windows.setdefault(chat_id, deque())
            group.append(now)
            while group and group[0] <= now - 60.0:
                group.popleft()

    def _deliver_bot_message(
        self,
        chat_id: int,
        content: JSONDict,
        params: Params,
        *,
        inline: JSONDict | None,
        other_markup: JSONDict | None,
        thread_id: int | None,
        reply: JSONDict | None,
    ) -> JSONDict:
        """Rate-limit check, then store the bot message and update reply keyboards."""
        self._check_limits(chat_id)
        if thread_id is None and reply is not None and "message_thread_id" in reply:
            thread_id = reply["message_thread_id"]
        if thread_id is not None:
            content["message_thread_id"] = thread_id
            if self._chat(chat_id).get("is_forum"):
                content["is_topic_message"] = True
        if reply is not None:
            content["reply_to_message"] = reply
        if inline is not None:
            content["reply_markup"] = inline
        if _get_bool(params, "protect_content"):
            content["has_protected_content"] = True
        message = self._store_message(chat_id, self._bot_sender, content)
        if other_markup is not None:
            if "keyboard" in other_markup:
                self._chat_keyboard[chat_id] = other_markup
            elif "remove_keyboard" in other_markup:
                self._chat_keyboard[chat_id] = None
            self._reply_keyboards[(chat_id, message["message_id"])] = other_markup
        self._record_send(chat_id)
        return message

    def _find_message(self, params: Params, not_found: str) -> tuple[int, JSONDict]:
        chat_id = self._target_chat(params)
        message_id = _get_int(params, "message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get(chat_id, {}).get(message_id)
        if stored is None:
            raise ApiError(400, not_found)
        return chat_id, stored

    def _resolve_upload(self, params: Params, kind: str) -> tuple[JSONDict, bytes | None]:
        """Return (file meta, uploaded bytes or None if an existing file is reused)."""
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            return {"file_name": value.filename, "mime_type": value.content_type}, value.data
        if isinstance(value, str):
            meta = self._file_meta.get(value)
            if meta is not None:
                return meta, None
            if re.match(r"^https?://", value):
                name = urlsplit(value).path.rsplit("/", 1)[-1] or "file"
                return {"file_name": name, "mime_type": "application/octet-stream"}, b""
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _caption(self, params: Params) -> JSONDict:
        raw = _get_str(params, "caption")
        if raw is None:
            return {}
        caption, entities = _format_text(
            raw, _get_str(params, "parse_mode"), params.get("caption_entities")
        )
        if len(caption) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        out: JSONDict = {}
        if caption:
            out["caption"] = caption
            if entities:
                out["caption_entities"] = entities
        return out

    # ========================================================================================
    # Bot API methods
    # ========================================================================================

    @staticmethod
    def _true(params: Params) -> bool:
        return True

    def _get_me(self, params: Params) -> JSONDict:
        return self.bot_user

    def _delete_webhook(self, params: Params) -> bool:
        self.webhook_url = ""
        self.webhook_params = {}
        if _get_bool(params, "drop_pending_updates"):
            self._pending.clear()
        return True

    def _set_webhook(self, params: Params) -> bool:
        url = _get_str(params, "url") or ""
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for "
                                "webhook")
        self.webhook_url = url
        self.webhook_params = {k: v for k, v in params.items() if k != "certificate"}
        if _get_bool(params, "drop_pending_updates"):
            self._pending.clear()
        return True

    def _get_webhook_info(self, params: Params) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = self.webhook_params.get("max_connections", 40)
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not isinstance(scope, dict) or not scope:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        cleaned: list[JSONDict] = []
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = (self._scope_key(params.get("scope")), _get_str(params, "language_code") or "")
        self.commands[key] = cleaned
        return True

    def _get_my_commands(self, params: Params) -> list[JSONDict]:
        key = (self._scope_key(params.get("scope")), _get_str(params, "language_code") or "")
        return self.commands.get(key, [])

    def _delete_my_commands(self, params: Params) -> bool:
        key = (self._scope_key(params.get("scope")), _get_str(params, "language_code") or "")
        self.commands.pop(key, None)
        return True

    def _set_chat_menu_button(self, params: Params) -> bool:
        chat_id = _get_int(params, "chat_id")
        button = params.get("menu_button")
        self.menu_buttons[chat_id] = button if isinstance(button, dict) else {"type": "default"}
        return True

    def _get_chat_menu_button(self, params: Params) -> JSONDict:
        chat_id = _get_int(params, "chat_id")
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {
            "type": "commands"
        }

    def _set_bot_setting(self, name: str) -> Callable[[Params], bool]:
        def handler(params: Params) -> bool:
            key = (name, _get_str(params, "language_code") or "")
            self.bot_settings[key] = _get_str(params, name) or ""
            return True

        return handler

    def _get_bot_setting(self, name: str) -> Callable[[Params], JSONDict]:
        def handler(params: Params) -> JSONDict:
            lang = _get_str(params, "language_code") or ""
            value = self.bot_settings.get((name, lang), self.bot_settings.get((name, ""), ""))
            if name == "name" and not value:
                value = self.bot_user["first_name"]
            return {name: value}

        return handler

    def _send_message(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params)
        text, entities = _message_text(params, "Bad Request: message is too long")
        inline, other = self._validate_markup(params.get("reply_markup"))
        thread_id = self._thread_id(chat_id, params)
        reply = self._reply_target(chat_id, params)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._deliver_bot_message(
            chat_id, content, params, inline=inline, other_markup=other, thread_id=thread_id,
            reply=reply,
        )

    def _send_media(self, kind: str) -> Callable[[Params], JSONDict]:
        def handler(params: Params) -> JSONDict:
            chat_id = self._target_chat(params)
            meta, data = self._resolve_upload(params, kind)
            caption = self._caption(params) if kind not in ("sticker", "video_note") else {}
            inline, other = self._validate_markup(params.get("reply_markup"))
            thread_id = self._thread_id(chat_id, params)
            reply = self._reply_target(chat_id, params)
            self._check_limits(chat_id)
            content: JSONDict = {kind: self._media_object(kind, meta, data, params)}
            content.update(caption)
            if _get_bool(params, "has_spoiler"):
                content["has_media_spoiler"] = True
            return self._deliver_bot_message(
                chat_id, content, params, inline=inline, other_markup=other,
                thread_id=thread_id, reply=reply,
            )

        return handler

    def _media_object(
        self, kind: str, meta: JSONDict, data: bytes | None, params: Params
    ) -> Any:
        """Build the media object; ``data`` is None when an existing file_id is reused."""
        if kind == "photo":
            if data is None:
                sizes = self._photo_sizes.get(meta["file_id"])
                if sizes is None:
                    raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
                return _clone(sizes)
            return self._register_photo(data, _image_size(data) or (800, 600))
        if data is not None:
            extra = {k: v for k, v in meta.items() if k in ("file_name", "mime_type")}
            if kind == "voice" or kind == "video_note" or kind == "sticker":
                extra.pop("file_name", None)
            if kind == "sticker":
                extra.pop("mime_type", None)
            meta = self._register_file(kind, data, extra)
        obj: JSONDict = {k: v for k, v in meta.items() if k not in ("kind", "file_path")}
        defaults = _USER_MEDIA_DEFAULTS.get(kind)
        if defaults is not None:
            for key, value in defaults[3].items():
                obj.setdefault(key, value)
        for key in ("duration", "width", "height", "length"):
            value = _get_int(params, key)
            if value is not None and key in obj:
                obj[key] = value
        return obj

    def _send_location(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params)
        try:
            location = {
                "latitude": float(params["latitude"]),
                "longitude": float(params["longitude"]),
            }
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: wrong latitude or longitude specified") from None
        inline, other = self._validate_markup(params.get("reply_markup"))
        return self._deliver_bot_message(
            chat_id, {"location": location}, params, inline=inline, other_markup=other,
            thread_id=self._thread_id(chat_id, params), reply=self._reply_target(chat_id, params),
        )

    def _send_contact(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params)
        phone = _get_str(params, "phone_number")
        first_name = _get_str(params, "first_name")
        if not phone or not first_name:
            raise ApiError(400, "Bad Request: phone number and first name must be non-empty")
        contact: JSONDict = {"phone_number": phone, "first_name": first_name}
        if params.get("last_name"):
            contact["last_name"] = _get_str(params, "last_name")
        inline, other = self._validate_markup(params.get("reply_markup"))
        return self._deliver_bot_message(
            chat_id, {"contact": contact}, params, inline=inline, other_markup=other,
            thread_id=self._thread_id(chat_id, params), reply=self._reply_target(chat_id, params),
        )

    def _send_chat_action(self, params: Params) -> bool:
        chat_id = self._target_chat(params)
        if _get_str(params, "action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self._thread_id(chat_id, params)
        return True

    def _edit_target(self, params: Params) -> tuple[int, JSONDict] | None:
        """The message to edit, or None for inline messages (no-op, answered True)."""
        if params.get("inline_message_id"):
            return None
        chat_id, message = self._find_message(params, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat_id, message

    def _edit_message_text(self, params: Params) -> Any:
        target = self._edit_target(params)
        text, entities = _message_text(params, "Bad Request: MESSAGE_TOO_LONG")
        inline, other = self._validate_markup(params.get("reply_markup"))
        if other is not None:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if target is None:
            return True
        _, message = target
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if (
            message.get("text") == text
            and message.get("entities", []) == entities
            and message.get("reply_markup") == inline
        ):
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        self._set_optional(message, "entities", entities or None)
        self._set_optional(message, "reply_markup", inline)
        message["edit_date"] = _now()
        return message

    def _edit_message_caption(self, params: Params) -> Any:
        target = self._edit_target(params)
        caption = self._caption(params)
        inline, other = self._validate_markup(params.get("reply_markup"))
        if other is not None:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if target is None:
            return True
        _, message = target
        if "text" in message or not any(k in message for k in _CONTENT_KEYS):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        if (
            message.get("caption") == caption.get("caption")
            and message.get("caption_entities") == caption.get("caption_entities")
            and message.get("reply_markup") == inline
        ):
            raise ApiError(400, NOT_MODIFIED)
        self._set_optional(message, "caption", caption.get("caption"))
        self._set_optional(message, "caption_entities", caption.get("caption_entities"))
        self._set_optional(message, "reply_markup", inline)
        message["edit_date"] = _now()
        return message

    def _edit_message_reply_markup(self, params: Params) -> Any:
        target = self._edit_target(params)
        inline, other = self._validate_markup(params.get("reply_markup"))
        if other is not None:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if target is None:
            return True
        _, message = target
        if message.get("reply_markup") == inline:
            raise ApiError(400, NOT_MODIFIED)
        self._set_optional(message, "reply_markup", inline)
        message["edit_date"] = _now()
        return message

    @staticmethod
    def _set_optional(message: JSONDict, key: str, value: Any) -> None:
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value

    def _delete_message(self, params: Params) -> bool:
        chat_id, message = self._find_message(
            params, "Bad Request: message to delete not found"
        )
        self._forget_message(chat_id, message["message_id"])
        return True

    def _delete_messages(self, params: Params) -> bool:
        chat_id = self._target_chat(params, check_block=False)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        for message_id in ids:
            if isinstance(message_id, int):
                self._forget_message(chat_id, message_id)
        return True

    def _forget_message(self, chat_id: int, message_id: int) -> None:
        self._messages.get(chat_id, {}).pop(message_id, None)
        self._reply_keyboards.pop((chat_id, message_id), None)

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = _get_str(params, "callback_query_id")
        if not query_id or query_id not in self._open_queries:
            raise ApiError(400, QUERY_TOO_OLD)
        text = _get_str(params, "text") or ""
        if len(text) > CALLBACK_ANSWER_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        self.callback_answers.append(params)
        return True

    def _copy_message(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params)
        source = self._source_message(params, "Bad Request: message to copy not found")
        content: JSONDict = {k: _clone(source[k]) for k in _CONTENT_KEYS if k in source}
        if "caption" in params and "text" not in content:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(params))
        inline, other = self._validate_markup(params.get("reply_markup"))
        message = self._deliver_bot_message(
            chat_id, content, params, inline=inline, other_markup=other,
            thread_id=self._thread_id(chat_id, params), reply=self._reply_target(chat_id, params),
        )
        return {"message_id": message["message_id"]}

    def _forward_message(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params)
        source = self._source_message(params, "Bad Request: message to forward not found")
        content: JSONDict = {k: _clone(source[k]) for k in _CONTENT_KEYS if k in source}
        sender = source.get("from") or self._bot_sender
        content["forward_origin"] = {
            "type": "user",
            "sender_user": _clone(sender),
            "date": source.get("date", _now()),
        }
        return self._deliver_bot_message(
            chat_id, content, params, inline=None, other_markup=None,
            thread_id=self._thread_id(chat_id, params), reply=None,
        )

    def _source_message(self, params: Params, not_found: str) -> JSONDict:
        from_chat = self._target_chat(params, "from_chat_id", check_block=False)
        message_id = _get_int(params, "message_id")
        source = self._messages.get(from_chat, {}).get(message_id or 0)
        if source is None:
            raise ApiError(400, not_found)
        return source

    def _create_forum_topic(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params)
        chat = self._chat(chat_id)
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = _get_str(params, "name") or ""
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        chat["type"] = "supergroup"
        chat["is_forum"] = True
        thread_id = self._alloc_message_id(chat_id)  # the id of the service message
        topic: JSONDict = {
            "message_thread_id": thread_id,
            "name": name,
            "icon_color": _get_int(params, "icon_color") or 7322096,
        }
        emoji = _get_str(params, "icon_custom_emoji_id")
        if emoji:
            topic["icon_custom_emoji_id"] = emoji
        self.topics.setdefault(chat_id, {})[thread_id] = {**topic, "is_closed": False}
        return topic

    def _topic(self, params: Params) -> tuple[int, JSONDict]:
        chat_id = self._target_chat(params)
        thread_id = _get_int(params, "message_thread_id")
        if thread_id is None:
            raise ApiError(400, "Bad Request: message thread not found")
        topics = self.topics.setdefault(chat_id, {})
        topic = topics.get(thread_id)
        if topic is None:
            topic = {"message_thread_id": thread_id, "name": f"Topic {thread_id}",
                     "icon_color": 7322096, "is_closed": False}
            topics[thread_id] = topic
        return chat_id, topic

    def _edit_forum_topic(self, params: Params) -> bool:
        _, topic = self._topic(params)
        name = _get_str(params, "name")
        emoji = _get_str(params, "icon_custom_emoji_id")
        if name is not None and not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        if (name is None or name == topic["name"]) and (
            emoji is None or emoji == topic.get("icon_custom_emoji_id")
        ):
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        if name is not None:
            topic["name"] = name
        if emoji is not None:
            topic["icon_custom_emoji_id"] = emoji
        return True

    def _set_topic_closed(self, closed: bool) -> Callable[[Params], bool]:
        def handler(params: Params) -> bool:
            _, topic = self._topic(params)
            if topic["is_closed"] == closed:
                raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic["is_closed"] = closed
            return True

        return handler

    def _delete_forum_topic(self, params: Params) -> bool:
        chat_id, topic = self._topic(params)
        thread_id = topic["message_thread_id"]
        self.topics[chat_id].pop(thread_id, None)
        for message_id, message in list(self._messages.get(chat_id, {}).items()):
            if message.get("message_thread_id") == thread_id:
                self._forget_message(chat_id, message_id)
        return True

    def _get_chat(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params, check_block=False)
        info: JSONDict = _clone(self._chat(chat_id))
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def _get_chat_member(self, params: Params) -> JSONDict:
        chat_id = self._target_chat(params, check_block=False)
        user_id = _get_int(params, "user_id")
        if user_id is None:
            raise ApiError(400, "Bad Request: user not found")
        member = self.chat_members.get((chat_id, user_id), {"status": "member"})
        return {**_clone(member), "user": self._user_dict(user_id)}

    def _get_file(self, params: Params) -> JSONDict:
        file_id = _get_str(params, "file_id") or ""
        meta = self._file_meta.get(file_id)
        if meta is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if meta["file_size"] > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        path = meta.get("file_path")
        if path is None:
            folder = _FILE_FOLDERS.get(meta["kind"], "documents")
            name = meta.get("file_name")
            suffix = "." + name.rsplit(".", 1)[1] if isinstance(name, str) and "." in name else ""
            path = f"{folder}/file_{meta['file_unique_id']}{suffix}"
            meta["file_path"] = path
            self._file_paths[path] = file_id
        return {
            "file_id": file_id,
            "file_unique_id": meta["file_unique_id"],
            "file_size": meta["file_size"],
            "file_path": path,
        }


# (default file name, mime type, default bytes, extra required fields) per user media kind
_USER_MEDIA_DEFAULTS: Final[dict[str, tuple[str, str, bytes, JSONDict]]] = {
    "document": (
        "documento.pdf",
        "application/pdf",
        b"%PDF-1.4\n% surveybot test document\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        {},
    ),
    "sticker": (
        "sticker.webp",
        "",
        b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00",
        {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        },
    ),
    "voice": ("voice.ogg", "audio/ogg", b"OggS\x00\x02" + b"\x00" * 58, {"duration": 3}),
    "audio": ("audio.mp3", "audio/mpeg", b"ID3\x04\x00\x00" + b"\x00" * 58, {"duration": 30}),
    "video": (
        "video.mp4",
        "video/mp4",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40,
        {"width": 640, "height": 360, "duration": 5},
    ),
    "animation": (
        "animation.mp4",
        "video/mp4",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40,
        {"width": 320, "height": 240, "duration": 2},
    ),
    "video_note": (
        "video_note.mp4",
        "",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40,
        {"length": 240, "duration": 4},
    ),
}

_FILE_FOLDERS: Final = {
    "document": "documents",
    "photo": "photos",
    "voice": "voice",
    "audio": "music",
    "video": "videos",
    "animation": "animations",
    "sticker": "stickers",
    "video_note": "video_notes",
}

