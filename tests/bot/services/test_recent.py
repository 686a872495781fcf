"""The bounded memo of per-officer values."""

from __future__ import annotations

from bot.services.recent import Recent


def test_keeps_the_most_recently_written_keys() -> None:
    memo: Recent[int, str] = Recent(3)
    for user in (1, 2, 3):
        memo[user] = f"error {user}"
    memo[1] = "error 1 again"  # written again: the most recent
    memo[4] = "error 4"  # over capacity: the oldest written (2) goes
    assert len(memo) == 3
    assert 2 not in memo and memo.get(2) is None
    assert memo.get(1) == "error 1 again"
    assert [memo.get(user) for user in (3, 4)] == ["error 3", "error 4"]
    assert memo.get(9, "—") == "—"
