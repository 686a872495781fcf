"""Thousands of random updates through the running Application: nothing crashes,
and stored answers change only through input that can be a valid answer.

How it is driven: one Application (the `prepared` fixture) serves the whole test;
hypothesis runs a few examples (`max_examples`), each drawing a long sequence of
updates with `st.data()` *while they run*, so a draw can look at the chat as it
is now (press a live button, a stale one, edit an earlier message...). The app
state carries over between examples, so shrinking would replay against a
different state: only the generate phase runs, and a failure reports the update
sequence of its example.

Updates are pushed in batches and the bot is allowed to settle after each. A
batch is either *inert* (updates that can never be a valid answer: media, edits,
group messages, unknown commands, forged or stale buttons, strangers' texts,
read-only commands...) or *live* (officers' texts, live buttons, /salta). Around
every inert batch the stored answers, their history, submissions and outbox
must be unchanged. Throughout, PTB's error handler must never run, nothing may
log an error, and no chat may show the internal-error message.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from telegram.ext import ContextTypes

from bot.render import callbacks as cb
from bot.render.i18n import translator
from conversations import engine
from conversations.state import State
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

FIRENZE, PRATO = "048017", "100005"
OFFICERS = {2001: FIRENZE, 2002: FIRENZE, 2003: PRATO}
STRANGERS = (2101, 2102)
GROUP = -1004242
# hypothesis caps the data one example may draw (about a hundred updates here, or the
# example is silently discarded and redrawn): many examples of 50 updates instead.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
UPDATES_PER_EXAMPLE = int(os.environ.get("FUZZ_UPDATES", "50"))  # 40 x 50 = 2,000 updates
INTERNAL_ERRORS = tuple(translator(lang)("internal_error") for lang in ("it", "en"))
MEDIA = ("sticker", "photo", "voice", "document", "video", "audio", "location", "contact")
READ_ONLY_COMMANDS = (
    "/stato",
    "/status",
    "/privacy",
    "/lingua",
    "/language",
    "/riepilogo",
    "/review",
    "/riprendi",
    "/resume",
    "/start",
    "/indietro",
    "/back",
)
LIVE_COMMANDS = ("/salta", "/skip", "/invia", "/submit")
UNKNOWN_COMMANDS = ("/foo", "/start@altro_bot", "/RIPRENDI", "/riprendi_", "/" + "x" * 40, "/")

# Texts that can be answers somewhere, mixed with anything hypothesis invents.
PLAUSIBLE = (
    "Sì",
    "no",
    "1",
    "2",
    "1, 3",
    "6",
    "Mario Rossi",
    "mario@comune.it",
    "055 1234567",
    "01/09/2018",
    "31/02/2019",
    "1.234,50",
    "250",
    "-1",
    "www.comune.it",
    "Altro",
    "Infanzia",
    " ",
    "0",
    "99999999999",
    "²",
    "٣",
    "🙂",
    "<b>x</b>",
    "&amp;",
    "\u200b",
)
ALPHABET = st.characters(exclude_categories=["Cs"])  # Telegram text is valid UTF-16


@dataclass
class Watch:
    """What the whole run saw: PTB's error handler calls and updates pushed."""

    errors: list[str] = field(default_factory=list)
    pushed: int = 0

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.errors.append(repr(context.error))


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def error_log() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


async def answers_state(h: Harness) -> dict[str, Any]:
    """What a valid answer may change: answers, their history, submissions, outbox."""
    assert h.services is not None
    q = h.services.flow.q
    shared: dict[str, Any] = {}
    for istat in sorted(set(OFFICERS.values())):
        row = await h.store.response(q.id, istat)
        if row is not None:
            state = State.join(row.state, None)
            shared[istat] = (engine.answers_snapshot(q, state), row.status, row.revision)
    history = await h.store.fetchall(
        "SELECT response_id, item_ref, old_json, new_json, user_id FROM answer_changes ORDER BY id"
    )
    submissions = await h.store.fetchall("SELECT response_id, revision FROM submissions")
    outbox = await h.store.fetchall("SELECT response_id, revision FROM outbox")
    return {
        "answers": shared,
        "history": [tuple(r) for r in history],
        "submissions": [tuple(r) for r in submissions],
        "outbox": [tuple(r) for r in outbox],
    }


async def seqs(h: Harness) -> dict[int, int]:
    rows = await h.store.fetchall("SELECT user_id, nav_json FROM navigation")
    return {int(r[0]): int(json.loads(r[1]).get("seq", 0)) for r in rows}


KINDS = (
    "text",
    "text",
    "text",
    "live_button",
    "live_button",
    "live_button",
    "stale_button",
    "forged_button",
    "media",
    "edit",
    "read_only_command",
    "live_command",
    "unknown_command",
    "group",
    "raw",
)
FORGED = (
    "garbage",
    "999:c:0",
    "x:nothing",
    "x:",
    ":",
    "1:",
    "-1:c:0",
    "99999:c:0",
    "0:c:0",
    "1:j:../../etc",
    "1:t:-1",
    "x" * 64,
    "1:c:0:0",
    "1:e:practices:9999",
    "é" * 40,
    "",
)
PAST_OPS = (
    "c:0",
    "c:1",
    "t:0",
    "ok",
    "k",
    "s",
    "u",
    "b",
    "S",
    "y",
    "n",
    "R",
    "a:practices",
    "f:practices",
    "d:practices:0",
    "e:practices:0",
    "j:respondent_name",
)
RAW = ("inline_query", "inline_button", "channel_post", "poll_answer", "chat_member")
GROUP_KINDS = ("text", "command", "media", "button")

TEXTS = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.text(ALPHABET, min_size=1, max_size=60),
    st.integers(300, 10_000).map(lambda n: "x" * n),
    st.integers(1, 5000).map(lambda n: "1 " * n),
    st.text(ALPHABET, min_size=1, max_size=3).map(lambda s: s * 1500),
)
# Every update draws the same shape, whatever the chat looks like: hypothesis replays
# stay consistent even though the interpretation depends on the live state.
SPEC = st.fixed_dictionaries(
    {
        "user": st.sampled_from([*OFFICERS, *STRANGERS]),
        "kind": st.sampled_from(KINDS),
        "pick": st.integers(0, 2**16),
        "text": TEXTS,
        "forged": st.one_of(
            st.text(ALPHABET, max_size=80),
            st.sampled_from(FORGED),
            st.tuples(st.integers(0, 2**16), st.sampled_from(PAST_OPS)),
        ),
        "media": st.sampled_from(MEDIA),
        "caption": st.none() | st.text(ALPHABET, max_size=30),
        "edit": st.sampled_from([*LIVE_COMMANDS, *READ_ONLY_COMMANDS, "Sì", "1"])
        | st.text(ALPHABET, min_size=1, max_size=40),
        "command": st.integers(0, 99),
        "group": st.sampled_from(GROUP_KINDS),
        "raw": st.sampled_from(RAW),
    }
)


class Fuzzer:
    def __init__(self, h: Harness, current_seqs: dict[int, int]) -> None:
        self.h = h
        self.seqs = current_seqs
        self.log: list[str] = []
        self.ids = itertools.count(1)

    def buttons(self, user: int, live: bool) -> list[tuple[int, str]]:
        """(message id, data) of the buttons in the user's chat that are live (or stale)."""
        out: list[tuple[int, str]] = []
        live_seq = self.seqs.get(user)
        for message in self.h.double.sent(user):
            for row in self.h.double.buttons(message):
                for _, data in row:
                    decoded = cb.decode(data)
                    seq = getattr(decoded, "seq", None)
                    stale = seq is not None and live_seq is not None and seq < live_seq
                    if stale != live:
                        out.append((message["message_id"], data))
        return out

    def one(self, spec: dict[str, Any]) -> tuple[Callable[[], object], str, bool]:
        """Interpret one drawn update against the chat as it is: (enqueue, description, inert?)."""
        double = self.h.double
        user: int = spec["user"]
        pick: int = spec["pick"]
        officer = user in OFFICERS
        kind: str = spec["kind"]
        text = str(spec["text"]).strip() or "?"
        if kind == "text":
            return (
                (lambda: double.user_sends(user, text)),
                f"text {user} {text[:40]!r}…{len(text)}",
                not officer,
            )
        if kind in ("live_button", "stale_button"):
            choices = self.buttons(user, live=kind == "live_button")
            if choices:
                message_id, data = choices[pick % len(choices)]
                return (
                    (lambda: double.user_presses(user, message_id, data)),
                    f"{kind} {user} {message_id} {data!r}",
                    kind == "stale_button" or not officer,
                )
            kind = "read_only_command"
        if kind == "forged_button":
            message_id = pick % 400 + 1
            forged = spec["forged"]
            if isinstance(forged, tuple):  # well formed but from the past: never live again
                data = f"{forged[0] % max(self.seqs.get(user, 0), 1)}:{forged[1]}"
            else:
                data = forged
            decoded = cb.decode(data)
            seq = getattr(decoded, "seq", None)
            live = seq is not None and seq >= self.seqs.get(user, 0)
            return (
                (lambda: double.user_presses(user, message_id, data)),
                f"forged {user} {message_id} {data!r}",
                not (officer and live),
            )
        if kind == "media":
            media, caption = spec["media"], spec["caption"]
            return (
                (lambda: double.user_sends_media(user, media, caption=caption)),
                f"media {user} {media}",
                True,
            )
        if kind == "edit":
            mine = [
                m["message_id"] for m in double.history(user) if m.get("from", {}).get("id") == user
            ]
            message_id = mine[pick % len(mine)] if mine else 1
            edit = spec["edit"]
            return (
                (lambda: double.user_edits(user, message_id, edit)),
                f"edit {user} {message_id} {edit!r}",
                True,
            )
        if kind in ("read_only_command", "live_command", "unknown_command"):
            pool = {
                "read_only_command": READ_ONLY_COMMANDS,
                "live_command": LIVE_COMMANDS,
                "unknown_command": UNKNOWN_COMMANDS,
            }[kind]
            command = pool[spec["command"] % len(pool)]
            inert = kind != "live_command" or not officer
            return (lambda: double.user_sends(user, command)), f"{kind} {user} {command}", inert
        if kind == "group":
            what = spec["group"]
            act: Callable[[], object]
            if what == "text":
                act = partial(double.user_sends, user, text, chat_id=GROUP, chat_type="supergroup")
            elif what == "command":
                pool = (*LIVE_COMMANDS, *READ_ONLY_COMMANDS)
                act = partial(
                    double.user_sends,
                    user,
                    pool[spec["command"] % len(pool)],
                    chat_id=GROUP,
                    chat_type="supergroup",
                )
            elif what == "media":
                act = partial(
                    double.user_sends_media, user, "sticker", chat_id=GROUP, chat_type="supergroup"
                )
            else:
                live = self.buttons(user, live=True)
                data = live[pick % len(live)][1] if live else "1:c:0"
                act = partial(double.user_presses, user, 1, data, chat_id=GROUP)
            return act, f"group {user} {what}", True
        update = raw_update(spec["raw"], user, next(self.ids))
        return (lambda: double.enqueue_raw(update)), f"raw {user} {spec['raw']}", True


def raw_update(kind: str, user: int, number: int) -> dict[str, Any]:
    person = {"id": user, "is_bot": False, "first_name": "Mario"}
    if kind == "inline_query":
        return {"inline_query": {"id": f"iq{number}", "from": person, "query": "ci", "offset": ""}}
    if kind == "inline_button":
        return {
            "callback_query": {
                "id": f"cq{number}",
                "from": person,
                "chat_instance": "1",
                "inline_message_id": "AAAA",
                "data": "1:c:0",
            }
        }
    if kind == "channel_post":
        return {
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "text": "/invia",
                "chat": {"id": -1001, "type": "channel", "title": "Canale"},
            }
        }
    if kind == "poll_answer":
        return {
            "poll_answer": {
                "poll_id": "p",
                "user": person,
                "option_ids": [0],
                "option_persistent_ids": ["0"],
            }
        }
    return {
        "my_chat_member": {
            "chat": {"id": user, "type": "private", "first_name": "Mario"},
            "from": person,
            "date": 0,
            "old_chat_member": {"status": "member", "user": person},
            "new_chat_member": {"status": "kicked", "user": person, "until_date": 0},
        }
    }


@dataclass
class FuzzRun:
    h: Harness
    watch: Watch


@pytest.fixture
async def prepared(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[FuzzRun]:
    # Telegram's 30 messages/s (PTB's AIORateLimiter) would make 2,000 updates take
    # minutes; the cap only delays requests, it is not what is under test here.
    async with running(tmp_path, double, max_messages_per_second=0) as h:
        watch = Watch()
        h.app.add_error_handler(watch.on_error)
        for user, istat in OFFICERS.items():
            code = h.codes.get(istat) or await h.issue(istat)
            h.double.user_sends(user, f"/start {code}")
        await h.settle()
        for user in OFFICERS:
            assert "Domanda" in h.last_text(user) or "Bentornato" in h.screen(user, 3)
        yield FuzzRun(h, watch)
        # Thousands of updates really went through (an example hypothesis discards still ran).
        assert watch.pushed >= EXAMPLES * UPDATES_PER_EXAMPLE


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_random_updates_never_crash_and_only_valid_input_changes_answers(
    prepared: FuzzRun, error_log: ErrorRecords, data: st.DataObject
) -> None:
    h, watch = prepared.h, prepared.watch
    fuzzer = Fuzzer(h, await seqs(h))
    sent = 0
    while sent < UPDATES_PER_EXAMPLE:
        inert_batch = data.draw(st.booleans(), label="inert batch")
        specs = data.draw(
            st.lists(SPEC, min_size=1, max_size=40 if inert_batch else 10), label="batch"
        )
        before = await answers_state(h) if inert_batch else None
        batch: list[str] = []
        for spec in specs:
            act, described, inert = fuzzer.one(spec)
            if inert_batch and not inert:
                continue  # an inert batch holds only updates that cannot be answers
            act()
            batch.append(described)
        await h.settle()
        sent += len(batch)
        watch.pushed += len(batch)
        fuzzer.log.extend(batch)
        if before is not None:
            after = await answers_state(h)
            assert after == before, f"answers changed by an inert batch: {batch}"
        fuzzer.seqs = await seqs(h)
        assert not watch.errors, (watch.errors, fuzzer.log[-30:])
        assert not error_log.records, (error_log.records, fuzzer.log[-30:])
        assert not h.double.errors, h.double.errors
    for chat in [*OFFICERS, *STRANGERS, GROUP]:
        shown = h.double.texts(chat)
        assert not any(e in t for t in shown for e in INTERNAL_ERRORS), fuzzer.log[-30:]
        for message in h.double.sent(chat):
            assert len(message.get("text") or "") <= 4096
    # Every change is attributed to an officer of that municipality.
    history = await h.store.fetchall("SELECT response_id, user_id FROM answer_changes")
    for response, user in history:
        assert response.endswith(OFFICERS[int(user)])
