"""Text helpers shared by every renderer: HTML to plain text, shortening."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")


def plain(html_text: str) -> str:
    """What a Telegram HTML text reads as without markup: tags dropped, entities
    decoded (for the terminal, an image, a snippet)."""
    return html.unescape(_TAG.sub("", html_text))


def shorten(text: str, limit: int, *, one_line: bool = False) -> str:
    """At most `limit` characters, an ellipsis marking the cut; `one_line` first folds
    every run of white space (new lines included) into one space."""
    if one_line:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
