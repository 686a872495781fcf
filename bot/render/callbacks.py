"""Inline-button payloads: `<seq>:<op>[:<arg>[:<arg>]]|<mac>`, at most 64 bytes.

`seq` is the engine's step counter when the button was drawn, so a stale or
doubled press is refused by the engine. The mac (`sign`) is a keyed hash of
the officer's user id and the payload: a payload copied from another
officer's screen, made up with the right counter, or for a button that was
never drawn does not verify (`verify`) and changes nothing. Bot-level actions
(`x:help`, `x:resume`, `x:lang_it`) change no answer and are also drawn by
reminders and broadcasts, so they are accepted without a mac.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from conversations import inputs as ev

if TYPE_CHECKING:  # the presenter imports this module
    from bot.render.presenter import Screen

MAX_BYTES = 64
MAC_SEPARATOR = "|"
MAC_CHARS = 8  # 48 bits of base64url: forging one takes ~10^14 presses
PAYLOAD_BYTES = MAX_BYTES - len(MAC_SEPARATOR) - MAC_CHARS
_BOT_ACTION = "x:"
SEQ_DIGITS = 6
_ITEM = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def encode(seq: int, op: str, *args: object) -> str:
    data = ":".join([str(seq), op, *(str(a) for a in args)])
    if len(data.encode()) > PAYLOAD_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def _int(text: str, digits: int = 4) -> int:
    if not text.isdigit() or len(text) > digits:
        raise ValueError(text)
    return int(text)


def _item(text: str) -> str:
    if not _ITEM.match(text):
        raise ValueError(text)
    return text


def decode(data: str) -> ev.Input | str | None:
    """The engine input for a button; a plain string for bot-level actions
    (`help`, `lang:it`, `resume`); None when it does not decode."""
    try:
        return _decode(data)
    except (ValueError, IndexError):
        return None


def _decode(data: str) -> ev.Input | str | None:
    if len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if parts[0] == "x":  # bot-level, no engine state involved
        return {"help": "help", "resume": "resume", "lang_it": "lang:it", "lang_en": "lang:en",
                "privacy": "privacy"}.get(
            parts[1]
        )
    # The step counter grows with every step of a response: room for a million.
    seq, op, args = _int(parts[0], SEQ_DIGITS), parts[1], parts[2:]
    simple: dict[str, ev.Input] = {
        "ok": ev.ConfirmSelection(seq),
        "k": ev.Keep(seq),
        "s": ev.Skip(seq),
        "u": ev.DontKnow(seq),
        "b": ev.Back(seq),
        "r": ev.Review(seq),
        "S": ev.Submit(seq),
        "y": ev.Confirm(True, seq),
        "n": ev.Confirm(False, seq),
        "R": ev.Reopen(seq),
        "M": ev.GoMissing(seq),
    }
    if op in simple and not args:
        return simple[op]
    if op == "Rq" and not args:  # "Riapri per modificare": asks first, no engine step
        return f"reopen:{seq}"
    if op == "c" and len(args) == 1:
        return ev.Choose(_int(args[0]), seq)
    if op == "t" and len(args) == 1:
        return ev.Toggle(_int(args[0]), seq)
    if op == "j" and len(args) in (1, 2):
        entry = _int(args[1]) if len(args) == 2 else None
        return ev.Jump(_item(args[0]), entry, seq)
    if op == "m" and len(args) == 1:
        return ev.OpenGroup(_item(args[0]), seq)
    if op == "a" and len(args) == 1:
        return ev.AddEntry(_item(args[0]), seq)
    if op == "f" and len(args) == 1:
        return ev.FinishRepeat(_item(args[0]), seq)
    if op == "e" and len(args) == 2:
        return ev.EditEntry(_item(args[0]), _int(args[1]), seq)
    if op == "d" and len(args) == 2:
        return ev.RemoveEntry(_item(args[0]), _int(args[1]), seq)
    return None


def bot_action(name: str) -> str:
    return f"x:{name}"


# --- staff buttons: `<prefix>:<op>[:<arg>...]` -------------------------------------------
# Ticket cards (`tk:take:12`) and the coordinators' dialogues (`co:a:all`) carry no
# seq: their state lives in their own rows, which each press checks.
TICKET = "tk"
COORDINATOR = "co"
_STAFF_PART = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def staff(prefix: str, op: str, *args: object) -> str:
    data = ":".join([prefix, op, *(str(a) for a in args)])
    if len(data.encode()) > MAX_BYTES or not all(_STAFF_PART.match(p) for p in data.split(":")):
        raise ValueError(f"bad staff button data: {data!r}")
    return data


def decode_staff(prefix: str, data: str) -> tuple[str, ...] | None:
    """(op, *args) of a staff button with that prefix; None when it does not decode."""
    if len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) < 2 or parts[0] != prefix or not all(_STAFF_PART.match(p) for p in parts[1:]):
        return None
    return tuple(parts[1:])


def staff_pattern(prefix: str) -> str:
    """The regular expression a handler routes this prefix's presses with."""
    return rf"^{prefix}:"


def button_key(code_secret: bytes) -> bytes:
    """The mac key, derived so it is never the key access codes are hashed with."""
    return hmac.new(code_secret, b"surveybot/callback-data/v1", hashlib.sha256).digest()


def _mac(key: bytes, user_id: int, payload: str) -> str:
    digest = hmac.new(key, f"{user_id}\n{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_CHARS]


def sign(key: bytes, user_id: int, payload: str) -> str:
    """The payload with the mac of this officer appended."""
    if payload.startswith(_BOT_ACTION) or MAC_SEPARATOR in payload:
        return payload
    return f"{payload}{MAC_SEPARATOR}{_mac(key, user_id, payload)}"


def verify(key: bytes, user_id: int, data: str) -> str | None:
    """The payload when its mac is this officer's (or it is a bot action); else None."""
    if data.startswith(_BOT_ACTION):
        return data
    payload, separator, mac = data.rpartition(MAC_SEPARATOR)
    # Bytes: compare_digest refuses str with non-ASCII characters (a forged press may
    # carry any text).
    expected = _mac(key, user_id, payload).encode()
    if not separator or not hmac.compare_digest(mac.encode(), expected):
        return None
    return payload


def sign_screens(key: bytes, user_id: int, screens: Sequence[Screen]) -> list[Screen]:
    """The screens with every button signed for this officer."""
    return [
        replace(screen, buttons=[[replace(b, data=sign(key, user_id, b.data)) for b in row]
                                 for row in screen.buttons])
        for screen in screens
    ]
