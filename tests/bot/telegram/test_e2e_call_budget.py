"""Bot API calls per answer, counted at the double (issue 13: "chat calls per answer").

Counted are the calls Telegram's limits count: every call carrying the officer's
chat_id (answerCallbackQuery carries none). These are counts, not timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.bot.telegram.test_e2e_officer import FIRENZE, add_practice, answer_respondent, finish
from tests.support.harness import Harness

OFFICER = 1001
BUDGET = 1.5  # chat calls per accepted action over the walk


@dataclass
class Meter:
    """Stands in for the harness in the officer tests' helpers: acts the same, and
    counts the chat calls each accepted action costs."""

    h: Harness
    actions: int = 0
    calls: int = 0
    per_kind: dict[str, list[int]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:  # what the helpers read: texts, labels...
        return getattr(self.h, name)

    def _count(self) -> int:
        return len(self.h.double.calls_in_chat(OFFICER))

    def _note(self, kind: str, cost: int) -> None:
        self.actions += 1
        self.calls += cost
        self.per_kind.setdefault(kind, []).append(cost)

    async def send(self, user: int, text: str) -> None:
        plain = not self.h.double.buttons(self.h.double.last(user))
        before = self._count()
        await self.h.send(user, text)
        cost = self._count() - before
        if plain:  # a question without answer buttons: one message, nothing to edit
            assert cost == 1, (text, self.h.double.dump_requests(4))
        self._note("typed" if plain else "typed on buttons", cost)

    async def press(self, user: int, label: str) -> None:
        before = self._count()
        await self.h.press(user, label)
        kind = "tick" if label.startswith("▫️") else "pressed"
        self._note(kind, self._count() - before)

    async def press_key(self, user: int, label: str) -> None:
        before = self._count()
        await self.h.press_key(user, label)
        self._note("key", self._count() - before)


@pytest.mark.parametrize("deep_link", [True, False], ids=["deep link", "typed code"])
async def test_start_reaches_the_first_question_in_at_most_three_messages(
    harness: Harness, deep_link: bool
) -> None:
    h = harness
    code = await h.issue(FIRENZE)
    if deep_link:
        await h.send(OFFICER, f"/start {code}")
    else:
        await h.send(OFFICER, "/start")
        await h.send(OFFICER, code)
    assert "Domanda 1 di" in h.last_text(OFFICER)
    assert len(h.double.calls_in_chat(OFFICER)) <= 3, h.double.calls_in_chat(OFFICER)
    assert len(h.double.sent(OFFICER)) <= 3


async def test_a_walk_of_the_shipped_questionnaire_stays_within_the_call_budget(
    harness: Harness,
) -> None:
    """From the first question to the review with one practice, through the officer
    tests' own steps."""
    h = harness
    code = await h.issue(FIRENZE)
    await h.send(OFFICER, f"/start {code}")
    meter = Meter(h)
    await answer_respondent(meter, OFFICER)  # type: ignore[arg-type]
    await add_practice(meter, OFFICER, "Centro per le famiglie")  # type: ignore[arg-type]
    await finish(meter, OFFICER)  # type: ignore[arg-type]
    assert "Riepilogo delle risposte" in h.screen(OFFICER, 2)
    ratio = meter.calls / meter.actions
    print(f"\nchat calls per accepted action: {meter.calls}/{meter.actions} = {ratio:.2f}; "
          f"by kind: { {k: sum(v) / len(v) for k, v in meter.per_kind.items()} }")
    assert ratio <= BUDGET, meter.per_kind
    assert set(meter.per_kind["typed"]) == {1}
    assert set(meter.per_kind["tick"]) == {1}  # a tick edits the question in place
    assert set(meter.per_kind["pressed"]) == {2}  # one edit shows the answer, then the next
