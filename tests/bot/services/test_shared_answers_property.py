"""Property test: two officers of one municipality interleave random inputs through
the officer flow, on a real SQLite store (issue 11).

Inputs are what an officer can do: press any button of the screens they were
last shown (or an older, stale one), type a plausible answer for the question
they are on, or a command. After every step:

(a) every stored answer that changed was changed by the officer who acted, and
    its old value is the one that officer was shown: the response as it stood
    when that officer last received a prompt (a prompt shows the answer it
    asks about; answering needs the prompt of that very item to be the latest);
(b) `answer_changes` gained exactly one row per changed answer, with that
    officer as author and the old and new values.

Answers are named by entry key, not entry position, so that removals by the
colleague do not shift them. Entry removals are checked by (b) only.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.cli.codes import issue_code
from bot.render import callbacks as cb
from bot.runtime import open_services
from bot.services.officer_flow import OfficerFlow, Reply, Sender
from bot.settings import Settings
from conversations.layout import compiled
from conversations.schema import ItemType, load_questionnaire, shipped_questionnaire_path
from conversations.state import State
from storage.store import response_id

FIRENZE = "048017"
OFFICERS = (1001, 1002)
NOW = datetime(2019, 7, 1, 9, 30, tzinfo=UTC)
TEXTS: dict[ItemType, list[str]] = {
    ItemType.TEXT: ["Mario Rossi", "Anna Bianchi", "Centro famiglie"],
    ItemType.LONG_TEXT: ["Laboratori per genitori e figli.", "Doposcuola."],
    ItemType.INTEGER: ["250", "12"],
    ItemType.AMOUNT: ["1.234,50", "8000"],
    ItemType.DATE: ["01/09/2018", "30/06/2019"],
    ItemType.EMAIL: ["mario.rossi@comune.fi.it", "anna@comune.fi.it"],
    ItemType.PHONE: ["055 1234567"],
    ItemType.URL: ["www.comune.fi.it/famiglie"],
    ItemType.YES_NO: ["sì", "no"],
    ItemType.SINGLE_CHOICE: ["1", "2"],
    ItemType.MULTIPLE_CHOICE: ["1", "1,2"],
    ItemType.NOTE: ["ok"],
}
COMMANDS = ("review", "back", "skip", "submit", "resume")


NOTES = {i for i, located in compiled(load_questionnaire(shipped_questionnaire_path())).items
         .items() if located.item.type is ItemType.NOTE}


def public_answers(shared: dict[str, Any]) -> dict[str, Any]:
    """Every answer of the shared state by stable name, in comparable form (a note
    marked as seen is not an answer)."""
    state = State.join(shared, None)
    out: dict[str, Any] = {}
    sets = [("", state.top)] + [
        (f"{rid}#{entry.key}.", entry) for rid, entries in state.repeats.items()
        for entry in entries
    ]
    for prefix, answers in sets:
        for item_id in (answers.values.keys() | answers.unknown) - NOTES:
            # Skipped counts as no value, as in the engine's public form of answers.
            out[prefix + item_id] = (
                "unknown" if item_id in answers.unknown else answers.values.get(item_id),
                answers.other.get(item_id),
            )
    return out


class Officers:
    """Two officers, what each was last shown, and the checks after each step."""

    def __init__(self, flow: OfficerFlow) -> None:
        self.flow = flow
        self.rid = response_id(flow.q.id, FIRENZE)
        self.buttons: dict[int, list[str]] = {user: [] for user in OFFICERS}
        self.old_buttons: dict[int, list[str]] = {user: [] for user in OFFICERS}
        self.view: dict[int, dict[str, Any]] = {user: {} for user in OFFICERS}
        self.conflicts = 0

    async def answers(self) -> dict[str, Any]:
        row = await self.flow.store.response(self.flow.q.id, FIRENZE)
        return public_answers(row.state) if row is not None else {}

    async def change_rows(self) -> list[tuple[Any, ...]]:
        rows = await self.flow.store.fetchall(
            "SELECT item_ref, old_json, new_json, user_id FROM answer_changes "
            "WHERE response_id = ? ORDER BY id", self.rid)
        return [tuple(r) for r in rows]

    async def item_type(self, user: int) -> ItemType | None:
        nav = await self.flow.store.navigation(user, self.rid)
        cursor = (nav or {}).get("cursor") or {}
        located = compiled(self.flow.q).items.get(cursor.get("item") or "")
        if cursor.get("kind") not in ("item", "other_text") or located is None:
            return None
        return ItemType.TEXT if cursor["kind"] == "other_text" else located.item.type

    async def act(self, user: int, data: st.DataObject) -> Reply:
        kind = data.draw(st.sampled_from(["button", "button", "text", "command", "stale"]))
        sender = Sender(user, "Mario" if user == OFFICERS[0] else "Anna")
        if kind == "button" and self.buttons[user]:
            return await self.flow.button(sender, data.draw(st.sampled_from(self.buttons[user])))
        if kind == "stale" and self.old_buttons[user]:
            choice = data.draw(st.sampled_from(self.old_buttons[user]))
            return await self.flow.button(sender, choice)
        if kind == "command":
            return await self.flow.command(sender, data.draw(st.sampled_from(COMMANDS)))
        item_type = await self.item_type(user)
        pool = TEXTS.get(item_type, ["ok"]) if item_type else ["ok"]
        return await self.flow.text(sender, data.draw(st.sampled_from(pool)))

    async def step(self, user: int, data: st.DataObject) -> None:
        before, rows_before = await self.answers(), await self.change_rows()
        reply = await self.act(user, data)
        after, rows_after = await self.answers(), await self.change_rows()
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        for key in changed:  # (a)
            assert before.get(key) == self.view[user].get(key), (
                f"officer {user} replaced {key}={before.get(key)!r} without having seen it "
                f"(they saw {self.view[user].get(key)!r})"
            )
        new_rows = rows_after[len(rows_before):]
        assert rows_after[:len(rows_before)] == rows_before  # history is append-only
        assert all(r[3] == user for r in new_rows), new_rows  # (b): the author
        item_rows = [r for r in new_rows if "." in r[0] or "[" not in r[0]]
        removed = [r for r in new_rows if r not in item_rows]
        if not removed:
            assert len(item_rows) == len(changed), (item_rows, changed)
        for ref, old, new, _ in item_rows:
            assert json.loads(old) != json.loads(new), ref
        if any("Nel frattempo" in screen.text for screen in reply.screens):
            self.conflicts += 1
        prompts = [s for s in reply.screens if s.is_prompt]
        if prompts:
            self.view[user] = after
            self.old_buttons[user] = (self.old_buttons[user] + self.buttons[user])[-30:]
            self.buttons[user] = [
                b.data for s in prompts for row in s.buttons for b in row
                if not b.data.startswith("x:") or b.data == cb.bot_action("resume")
            ]


async def run(data: st.DataObject, steps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Settings(
            token=SecretStr("1:A"), database=Path(tmp) / "db.sqlite3",
            code_secret=SecretStr("test-secret"),
        )
        services = await open_services(config, lambda: NOW)
        try:
            flow = services.flow
            code = await issue_code(services.store, config, FIRENZE, "test")
            officers = Officers(flow)
            for user in OFFICERS:
                reply = await flow.text(Sender(user, "x"), code)
                prompts = [s for s in reply.screens if s.is_prompt]
                officers.view[user] = await officers.answers()
                officers.buttons[user] = [b.data for s in prompts for row in s.buttons
                                          for b in row]
            for number in range(steps):
                user = data.draw(st.sampled_from(OFFICERS), label=f"officer {number}")
                await officers.step(user, data)
        finally:
            await services.store.close()


@settings(
    max_examples=int(os.environ.get("SHARED_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), steps=st.integers(5, 60))
def test_two_officers_never_overwrite_unseen_answers(data: st.DataObject, steps: int) -> None:
    asyncio.run(run(data, steps))
