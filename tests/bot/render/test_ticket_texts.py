"""Long texts between officers and the team: cut into messages Telegram accepts,
never inside an HTML entity, nothing lost."""

from __future__ import annotations

import html

from bot.render.tickets import PART_CHARS, escaped_parts


def test_a_short_text_is_one_escaped_part() -> None:
    assert escaped_parts("Costi < 5 € & più\nseconda riga") == [
        "Costi &lt; 5 € &amp; più\nseconda riga"]


def test_long_texts_are_cut_within_the_budget_and_read_back_whole() -> None:
    raw = "\n".join(f"Riga {n}: " + "a & b < c " * 60 for n in range(40))
    parts = escaped_parts(raw)
    assert len(parts) > 1
    assert all(len(part) <= PART_CHARS for part in parts)
    assert all(not part.startswith("\n") for part in parts)
    # No entity is cut: every part unescapes on its own, and together they are the text.
    joined = "\n".join(html.unescape(part) for part in parts)
    assert joined.replace("\n", "") == raw.replace("\n", "")


def test_one_long_line_of_ampersands() -> None:
    raw = "&" * 5000  # 25,000 characters once escaped
    parts = escaped_parts(raw)
    assert all(len(part) <= PART_CHARS for part in parts)
    assert all(part.count("&amp;") * 5 == len(part) for part in parts)
    assert "".join(html.unescape(part) for part in parts) == raw
