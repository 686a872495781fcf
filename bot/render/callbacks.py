"""Inline-button payloads: `<seq>:<op>[:<arg>[:<arg>]]`, always under 64 bytes.

`seq` is the engine's step counter when the button was drawn, so a stale or
doubled press is refused by the engine. Anything that does not decode is a
forged press and changes nothing.
"""

from __future__ import annotations

import re

from conversations import inputs as ev

MAX_BYTES = 64
_ITEM = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def encode(seq: int, op: str, *args: object) -> str:
    data = ":".join([str(seq), op, *(str(a) for a in args)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def _int(text: str) -> int:
    if not text.isdigit() or len(text) > 4:
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
        return {"help": "help", "resume": "resume", "lang_it": "lang:it", "lang_en": "lang:en"}.get(
            parts[1]
        )
    seq, op, args = _int(parts[0]), parts[1], parts[2:]
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
    }
    if op in simple and not args:
        return simple[op]
    if op == "c" and len(args) == 1:
        return ev.Choose(_int(args[0]), seq)
    if op == "t" and len(args) == 1:
        return ev.Toggle(_int(args[0]), seq)
    if op == "j" and len(args) in (1, 2):
        entry = _int(args[1]) if len(args) == 2 else None
        return ev.Jump(_item(args[0]), entry, seq)
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
