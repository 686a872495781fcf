"""Property tests: random conversations on the shipped questionnaire.

Each example drives the engine with up to ~60 inputs, a mix of plausible ones
(valid answers for the item on screen, the buttons it offers) and garbage
(texts in any alphabet up to 5,000 characters, indexes and sequence numbers of
any size, unknown ids, entries out of range). After every step:

(a) advance() did not raise;
(b) a stored answer changed only if the step said so with AnswerSaved or
    EntryRemoved, and a rejected input returned the very same state;
(c) Completed was emitted only with every visible required item answered;
(d) the state survives a JSON round trip unchanged.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import effects as fx
from conversations import inputs as ev
from conversations.engine import Step, advance, answers_snapshot, start
from conversations.layout import compiled
from conversations.schema import ItemType, Questionnaire, load_questionnaire
from conversations.schema import shipped_questionnaire_path as _shipped
from conversations.state import AnswerSet, State

Q: Questionnaire = load_questionnaire(_shipped())
C = compiled(Q)
DEADLINE = Q.aware_deadline()
NOW = DEADLINE - timedelta(days=20)
LATE = DEADLINE + timedelta(minutes=1)
IDS = sorted(C.items) + sorted(C.repeats)

VALID_TEXT: dict[ItemType, list[str]] = {
    ItemType.TEXT: ["Centro per le famiglie", "Mario Rossi"],
    ItemType.LONG_TEXT: ["Laboratori pomeridiani per genitori e figli."],
    ItemType.INTEGER: ["250", "1.200", "0"],
    ItemType.AMOUNT: ["1.234,50", "€ 12.000", "0", "1000"],
    ItemType.DATE: ["01/09/2018", "1 settembre 2018", "2019-06-30"],
    ItemType.EMAIL: ["mario.rossi@comune.esempio.it"],
    ItemType.PHONE: ["055 1234567", "+39 333 1234567"],
    ItemType.URL: ["www.comune.esempio.it/famiglie"],
    ItemType.YES_NO: ["sì", "no", "1", "2"],
    ItemType.SINGLE_CHOICE: ["1", "2", "Comunale"],
    ItemType.MULTIPLE_CHOICE: ["1", "1,2", "6", "1 5"],
    ItemType.NOTE: ["ok"],
}
TRICKY_TEXT = [
    "",
    " ",
    "\x00",
    "0",
    "-1",
    "1,2,3,4,5,6,7,8,9,10",
    "١",  # an Arabic-Indic digit one
    "²",  # a superscript two: isdigit() but not int()-able
    "9" * 5000,  # more digits than int() accepts
    "1" + "0" * 30,
    "€",
    "31/02/2019",
    "a" * 5000,
    "Altro, specificare",
]

ANY_INT = st.one_of(st.integers(-3, 12), st.integers(-(2**70), 2**70))


def _garbage_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.text(max_size=5000),
        st.text(alphabet="0123456789.,;- €/²١", max_size=30),
        st.sampled_from(TRICKY_TEXT),
    )


def _visible_items(state: State) -> list[tuple[str, int | None]]:
    return [
        (slot.cursor.item or "", slot.cursor.entry)
        for slot in C.slots(state)
        if slot.item is not None
    ]


def _pick(draw: st.DrawFn, options: list[ev.Input]) -> ev.Input:
    return draw(st.sampled_from(options))


@st.composite
def _plausible(draw: st.DrawFn, state: State, seq: int | None) -> ev.Input:
    """What an officer would likely press or type where the state stands."""
    cursor = state.cursor
    roll = draw(st.integers(0, 9))
    if state.status == "submitted":
        return _pick(draw, [ev.Reopen(seq), ev.Review(seq), ev.Resume()])
    if cursor.kind == "other_text":
        return ev.TextAnswer(draw(st.sampled_from(["Sportello", "Sportello", "", "x" * 201])))
    if cursor.kind == "item" and cursor.item in C.items:
        item = C.items[cursor.item].item
        if roll == 0:
            return _pick(draw, [ev.Skip(seq), ev.DontKnow(seq), ev.Keep(seq)])
        if item.type is ItemType.NOTE:
            return ev.Keep(seq)
        if item.type in (ItemType.SINGLE_CHOICE, ItemType.YES_NO) and roll <= 7:
            return ev.Choose(draw(st.integers(0, max(len(item.choices), 2) - 1)), seq)
        if item.type is ItemType.MULTIPLE_CHOICE and roll <= 7:
            if state.pending and roll <= 4:
                return ev.ConfirmSelection(seq)
            return ev.Toggle(draw(st.integers(0, len(item.choices) - 1)), seq)
        return ev.TextAnswer(draw(st.sampled_from(VALID_TEXT[item.type])))
    if cursor.kind in ("repeat_menu", "group"):
        rid = cursor.item or ""
        if cursor.kind == "group" and roll == 8:
            return ev.Review(seq)  # back to the hub
        entries = len(state.repeats.get(rid, ()))
        if entries == 0 or (entries < 3 and roll <= 3):
            return ev.AddEntry(rid, seq)
        if roll == 9:
            entry = draw(st.integers(0, entries - 1))
            return _pick(draw, [ev.EditEntry(rid, entry, seq), ev.RemoveEntry(rid, entry, seq)])
        return ev.FinishRepeat(rid, seq)
    if cursor.kind == "confirm_submit":
        return ev.Confirm(roll <= 7, seq)
    if cursor.kind == "confirm_remove":
        return ev.Confirm(roll <= 4, seq)
    # review (or anywhere else): submit, the hub's buttons, or edit something
    if roll <= 2:
        return ev.Submit(seq)
    if roll == 3:
        return _pick(draw, [ev.OpenGroup("practices", seq), ev.GoMissing(seq), ev.Back(seq)])
    visible = _visible_items(state)
    if roll <= 8 and visible:
        item_id, item_entry = draw(st.sampled_from(visible))
        return ev.Jump(item_id, item_entry, seq)
    entries = len(state.repeats.get("practices", ()))
    if entries:
        entry = draw(st.integers(0, entries - 1))
        edits: list[ev.Input] = [ev.EditEntry("practices", entry, seq)]
        return _pick(draw, [*edits, ev.RemoveEntry("practices", entry, seq)])
    return ev.Resume()


@st.composite
def _garbage(draw: st.DrawFn, state: State, seq: int | None) -> ev.Input:
    """Anything at all: wrong buttons, unknown ids, garbage text."""
    kind = draw(st.integers(0, 9))
    if kind <= 1:
        return ev.TextAnswer(draw(_garbage_text()))
    if kind == 2:
        buttons: list[ev.Input] = [ev.Keep(seq), ev.Skip(seq), ev.DontKnow(seq), ev.Back(seq)]
        buttons += [ev.Review(seq), ev.Resume(), ev.Submit(seq), ev.Reopen(seq)]
        buttons += [ev.GoMissing(seq)]
        buttons.append(ev.ConfirmSelection(seq))
        return _pick(draw, buttons)
    if kind == 3:
        item_id = draw(st.one_of(st.sampled_from(IDS), st.text(max_size=50)))
        return ev.Jump(item_id, draw(st.one_of(st.none(), ANY_INT)), seq)
    if kind == 4:
        return ev.Confirm(draw(st.booleans()), seq)
    if kind == 5:
        return ev.Choose(draw(ANY_INT), seq)
    if kind == 6:
        return ev.Toggle(draw(ANY_INT), seq)
    if kind == 7:
        rid = draw(st.one_of(st.sampled_from(IDS), st.text(max_size=20)))
        return _pick(draw, [ev.AddEntry(rid, seq), ev.FinishRepeat(rid, seq),
                            ev.OpenGroup(rid, seq)])
    rid = draw(st.one_of(st.sampled_from(sorted(C.repeats)), st.text(max_size=20)))
    entry = draw(st.one_of(st.integers(-1, 4), ANY_INT))
    return _pick(draw, [ev.EditEntry(rid, entry, seq), ev.RemoveEntry(rid, entry, seq)])


@st.composite
def an_input(draw: st.DrawFn, state: State) -> ev.Input:
    """Mostly a plausible input for where the state stands, sometimes garbage."""
    seq_roll = draw(st.integers(0, 19))
    seq: int | None
    if seq_roll <= 16:
        seq = state.seq
    elif seq_roll == 17:
        seq = None
    elif seq_roll == 18:
        seq = state.seq - 1  # a double press
    else:
        seq = draw(ANY_INT)
    if draw(st.integers(0, 9)) <= 6:
        return draw(_plausible(state, seq))
    located = C.items.get(state.cursor.item or "") if state.cursor.kind == "item" else None
    choice = located is not None and located.item.type in (ItemType.YES_NO, ItemType.SINGLE_CHOICE)
    if choice and draw(st.booleans()):
        return ev.TextAnswer(draw(_garbage_text()))  # text typed at a choice item
    return draw(_garbage(state, seq))


def _scripted_states() -> list[State]:
    """Starting points deep in the questionnaire: a fresh response, one answered up to
    the review with two practices, and a submitted one."""
    fresh = start(Q, NOW).state
    state = fresh
    answers: list[str] = ["1", "Mario Rossi", "Servizi sociali", "mario.rossi@comune.esempio.it"]
    answers += ["055 1234567", "sì", "Ambito 5", "sì", "sì"]  # ..., has practices
    for inp in [ev.TextAnswer(a) for a in answers]:
        state = advance(Q, state, inp, NOW).state
    for title in ("Centro famiglie", "Nido estivo"):
        state = advance(Q, state, ev.AddEntry("practices", state.seq), NOW).state
        for text in [title, "1,6", "Altro ancora", "Descrizione.", "1 5", "2", "01/09/2018"]:
            state = advance(Q, state, ev.TextAnswer(text), NOW).state
        for text in ["no", "30/06/2019", "1", "1.234,50", "1000"]:
            state = advance(Q, state, ev.TextAnswer(text), NOW).state
        state = advance(Q, state, ev.Skip(state.seq), NOW).state  # partners
        state = advance(Q, state, ev.TextAnswer("250"), NOW).state
        state = advance(Q, state, ev.Skip(state.seq), NOW).state  # results
        state = advance(Q, state, ev.Skip(state.seq), NOW).state  # website
    state = advance(Q, state, ev.FinishRepeat("practices", state.seq), NOW).state
    state = advance(Q, state, ev.Skip(state.seq), NOW).state  # notes
    reviewed = advance(Q, state, ev.TextAnswer("sì"), NOW).state
    assert reviewed.cursor.kind == "review", reviewed.cursor
    submitted = advance(Q, reviewed, ev.Submit(reviewed.seq), NOW).state
    submitted = advance(Q, submitted, ev.Confirm(True, submitted.seq), NOW).state
    assert submitted.status == "submitted"
    return [fresh, reviewed, submitted]


STARTS = _scripted_states()


# --- what a step may change --------------------------------------------------------------

_MISSING = object()


def _stored(answers: AnswerSet, item_id: str) -> tuple[Any, ...]:
    return (
        answers.values.get(item_id, _MISSING),
        item_id in answers.unknown,
        answers.other.get(item_id),
    )


def stored_answers(state: State) -> dict[tuple[str | None, int | None, str], tuple[Any, ...]]:
    """Every stored answer (value, "don't know", other text), by repeat, entry and item.

    Notes are left out: acknowledging one is not an answer. So is the "skipped"
    mark, which only records that the officer moved past an optional item.
    """
    out: dict[tuple[str | None, int | None, str], tuple[Any, ...]] = {}

    def collect(repeat: str | None, entry: int | None, answers: AnswerSet) -> None:
        for item_id in set(answers.values) | answers.unknown | set(answers.other):
            located = C.items.get(item_id)
            if located is not None and located.item.type is ItemType.NOTE:
                continue
            out[(repeat, entry, item_id)] = _stored(answers, item_id)

    collect(None, None, state.top)
    for repeat, entries in state.repeats.items():
        for number, answers in enumerate(entries):
            collect(repeat, number, answers)
    return out


def check_changes(before: State, step: Step) -> None:
    effects = step.effects
    if any(isinstance(e, fx.Rejected) for e in effects):
        assert len(effects) == 1, effects
        assert step.state is before, "a rejected input must return the very same state"
        return
    old, new = stored_answers(before), stored_answers(step.state)
    saved = {
        (e.ref.repeat, e.ref.entry, e.ref.item) for e in effects if isinstance(e, fx.AnswerSaved)
    }
    removed = [(e.repeat, e.entry) for e in effects if isinstance(e, fx.EntryRemoved)]
    for key in set(old) | set(new):
        if old.get(key) == new.get(key):
            continue
        repeat, entry, _ = key
        covered = key in saved or any(
            repeat == r and entry is not None and entry >= e for r, e in removed
        )
        assert covered, f"{key} changed from {old.get(key)} to {new.get(key)} silently: {effects}"


def check_completed(state: State) -> None:
    """Every visible required item is in the submission."""
    snapshot = answers_snapshot(Q, state)
    for slot in C.slots(state):
        if slot.item is None:
            assert slot.repeat is not None
            assert len(snapshot.get(slot.repeat.id, [])) >= slot.repeat.min_entries
            continue
        item = slot.item
        if not item.asks or not item.required:
            continue
        target = snapshot if slot.repeat is None else snapshot[slot.repeat.id][slot.cursor.entry]
        assert item.id in target, f"{item.id} (entry {slot.cursor.entry}) missing from {target}"
        value = target[item.id]
        if value is None:
            assert item.id in target.get("_unknown", ())
        others = {c.value for c in item.choices if c.other}
        chosen = set(value) if isinstance(value, list) else {value}
        if chosen & others:
            assert target.get(f"{item.id}_other"), f"{item.id}: other text missing"
    review = advance(Q, state, ev.Review(), NOW)
    shown = [e for e in review.effects if isinstance(e, fx.ShowReview)]
    assert shown and shown[0].missing == ()


def roundtrip(state: State) -> State:
    return State.from_json(json.loads(json.dumps(state.to_json())))


@settings(
    max_examples=int(os.environ.get("ENGINE_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    steps=st.integers(1, 60),
    late_from=st.integers(0, 400),
    initial=st.sampled_from(STARTS),
)
def test_random_conversations(
    data: st.DataObject, steps: int, late_from: int, initial: State
) -> None:
    state = initial
    for number in range(steps):
        inp = data.draw(an_input(state), label=f"input {number}")
        now = LATE if number >= late_from else NOW
        before_json = json.dumps(state.to_json(), sort_keys=True)
        step = advance(Q, state, inp, now, DEADLINE)  # (a): must not raise
        assert json.dumps(state.to_json(), sort_keys=True) == before_json, "input state mutated"
        check_changes(state, step)  # (b)
        if any(isinstance(e, fx.Completed) for e in step.effects):
            check_completed(step.state)  # (c)
        copy = roundtrip(step.state)  # (d)
        assert copy == step.state
        assert roundtrip(copy) == copy
        state = copy if number % 2 else step.state


# --- inputs that made advance() raise --------------------------------------------------------


def _at_first_item() -> State:
    return start(Q, NOW).state  # municipality_confirmed, a yes/no item


@pytest.mark.parametrize(
    "text", ["²", "9" * 5000, "1 ³"], ids=["superscript", "5000-digits", "mixed"]
)
def test_typed_choice_with_odd_digits_is_rejected_not_raised(text: str) -> None:
    step = advance(Q, _at_first_item(), ev.TextAnswer(text), NOW)
    assert [type(e) for e in step.effects] == [fx.Rejected]


def test_round_trip_keeps_behaviour_mid_conversation() -> None:
    state = _at_first_item()
    script: list[ev.Input] = [
        ev.Choose(0, 0),
        ev.TextAnswer("Mario Rossi"),
        ev.Back(2),
        ev.Keep(3),
    ]
    for inp in script:
        state = advance(Q, state, inp, NOW).state
    copy = roundtrip(state)
    assert copy == state
    nxt = ev.TextAnswer("mario.rossi@comune.esempio.it")
    assert advance(Q, copy, nxt, NOW).effects == advance(Q, state, nxt, NOW).effects


# --- two officers of one municipality share the answers ------------------------------------------


def _three_practices() -> State:
    state = STARTS[1]
    state = advance(Q, state, ev.AddEntry("practices", state.seq), NOW).state
    state = advance(Q, state, ev.TextAnswer("Ludoteca"), NOW).state
    titles = [entry.values.get("title") for entry in state.repeats["practices"]]
    assert titles == ["Centro famiglie", "Nido estivo", "Ludoteca"]
    return state


def _titles(state: State) -> list[Any]:
    return [entry.values.get("title") for entry in state.repeats["practices"]]


def _officer_b_removes_first_entry(shared: dict[str, Any]) -> dict[str, Any]:
    b = State.join(shared, None)
    b = advance(Q, b, ev.RemoveEntry("practices", 0, b.seq), NOW).state
    b = advance(Q, b, ev.Confirm(True, b.seq), NOW).state
    assert _titles(b) == ["Nido estivo", "Ludoteca"]
    return b.split()[0]


def test_removal_confirmed_after_another_officer_removed_an_entry() -> None:
    shared = _three_practices().split()[0]
    a = State.join(shared, None)
    step = advance(Q, a, ev.RemoveEntry("practices", 1, a.seq), NOW)
    assert step.effects == (fx.AskConfirmRemove("practices", 1, "Nido estivo", step.state.seq),)
    nav = step.state.split()[1]
    a = State.join(_officer_b_removes_first_entry(shared), nav)
    step = advance(Q, a, ev.Confirm(True, a.seq), NOW)
    # Officer A confirmed removing "Nido estivo": "Ludoteca" must survive.
    assert "Ludoteca" in _titles(step.state)


def test_answer_typed_after_another_officer_removed_an_entry() -> None:
    shared = _three_practices().split()[0]
    a = State.join(shared, None)
    a = advance(Q, a, ev.Jump("title", 1, a.seq), NOW).state  # editing "Nido estivo"
    a = State.join(_officer_b_removes_first_entry(shared), a.split()[1])
    step = advance(Q, a, ev.TextAnswer("Nido estivo 2019"), NOW)
    # The new title belongs to "Nido estivo", not to "Ludoteca".
    assert "Ludoteca" in _titles(step.state)
