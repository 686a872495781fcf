"""Callback payloads: signed per officer, within Telegram's 64 bytes."""

from __future__ import annotations

import pytest

from bot.render import callbacks as cb
from conversations import inputs as ev

KEY = cb.button_key(b"secret")
LONGEST_ITEM = "a" + "b" * 39  # the longest item id the codec accepts


def test_the_longest_payload_fits_in_64_bytes_once_signed() -> None:
    payload = cb.encode(999_999, "e", LONGEST_ITEM, 9999)
    signed = cb.sign(KEY, 9_999_999_999, payload)
    assert len(signed.encode()) <= cb.MAX_BYTES
    assert cb.decode(cb.verify(KEY, 9_999_999_999, signed) or "") == ev.EditEntry(
        LONGEST_ITEM, 9999, 999_999)


def test_a_payload_that_would_not_fit_once_signed_is_refused() -> None:
    with pytest.raises(ValueError):
        cb.encode(999_999, "e", LONGEST_ITEM + "x" * 10, 9999)


def test_a_mac_verifies_only_for_its_officer_payload_and_key() -> None:
    signed = cb.sign(KEY, 1001, "3:c:0")
    assert cb.verify(KEY, 1001, signed) == "3:c:0"
    assert cb.verify(KEY, 1002, signed) is None  # copied by another officer
    assert cb.verify(cb.button_key(b"other"), 1001, signed) is None  # another deployment
    assert cb.verify(KEY, 1001, signed.replace("3:c:0", "3:c:1")) is None
    assert cb.verify(KEY, 1001, "3:c:0") is None  # no mac at all
    assert cb.verify(KEY, 1001, "") is None


def test_bot_actions_need_no_mac() -> None:
    assert cb.sign(KEY, 1001, "x:help") == "x:help"
    assert cb.verify(KEY, 1001, "x:help") == "x:help"


@pytest.mark.parametrize("data", ["0:c:1|é", "0:c:1|ééééééé", "é|abcdefgh", "|", "0:c:1|"])
def test_a_mac_with_any_characters_is_refused_not_raised(data: str) -> None:
    assert cb.verify(KEY, 7, data) is None
