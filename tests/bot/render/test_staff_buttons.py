"""The staff buttons' payloads go through the one codec: `tk:` for ticket cards,
`co:` for the coordinators' dialogue, under Telegram's 64 bytes."""

from __future__ import annotations

import pytest

from bot.render import callbacks as cb
from bot.render.text import plain, shorten


def test_round_trip() -> None:
    assert cb.staff(cb.TICKET, "take", 12) == "tk:take:12"
    assert cb.decode_staff(cb.TICKET, "tk:take:12") == ("take", "12")
    assert cb.decode_staff(cb.COORDINATOR, cb.staff(cb.COORDINATOR, "ok")) == ("ok",)
    assert cb.decode_staff(cb.COORDINATOR, "co:r:3") == ("r", "3")


@pytest.mark.parametrize("data", ["tk:take:12", "co", "co:", "co:a:all:", "x:help",
                                  "co:a:<b>", "co:" + "a" * 70, "1:c:0"])
def test_foreign_or_forged_data_does_not_decode_as_coordinator(data: str) -> None:
    assert cb.decode_staff(cb.COORDINATOR, data) is None


def test_payloads_stay_within_limits() -> None:
    with pytest.raises(ValueError):
        cb.staff(cb.TICKET, "take", "9" * 70)
    with pytest.raises(ValueError):
        cb.staff(cb.COORDINATOR, "a", "two words")
    assert cb.decode(cb.staff(cb.TICKET, "close", 3)) is None  # never an engine input


def test_plain_and_shorten() -> None:
    assert plain("<b>Ticket</b> &lt;1&gt; &amp; <i>due</i>") == "Ticket <1> & due"
    assert shorten("abc", 3) == "abc"
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("una\nriga   sola", 40, one_line=True) == "una riga sola"
    assert shorten("a\nb", 40) == "a\nb"
