"""The engine reuses a state's view (visible slots, answered flags) across steps
and keeps visible layouts per questionnaire (conversations/views.py, layout.py).

A reused view must never be stale: these tests change what a view was derived
from by every route the bot and the engine take (an answer a condition reads,
an answer edited in place as when a colleague's answers are merged, an entry
removed, a questionnaire edition) and check the engine behaves exactly as it
does on the same state without anything cached.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import effects as fx
from conversations import inputs as ev
from conversations.engine import (
    Step,
    advance,
    answers_snapshot,
    position,
    progress_counts,
    redraw,
    start,
)
from conversations.layout import MAX_KEPT_LAYOUTS, Slot, compiled
from conversations.schema import ItemType, Questionnaire
from conversations.state import AnswerSet, Cursor, State
from conversations.views import view_of
from tests.conversations.test_engine_properties import STARTS, an_input
from tests.conversations.test_engine_properties import C as SHIPPED_C
from tests.conversations.test_engine_properties import Q as SHIPPED

NOW = datetime.fromisoformat("2019-06-01T10:00:00+02:00")
SOURCE = """
id: views
version: "1"
languages: [it]
title: {it: "Viste"}
deadline: 2019-07-31T23:59:00+02:00
sections:
  - id: main
    title: {it: "Domande"}
    items:
      - id: lead
        type: yes_no
        text: {it: "Capofila?"}
      - id: district
        type: text
        text: {it: "Ambito?"}
        when: "lead"
      - id: phone
        type: text
        text: {it: "Telefono?"}
      - id: size
        type: integer
        required: false
        text: {it: "Abitanti?"}
      - id: why
        type: text
        text: {it: "Perché uno solo?"}
        when: "size == 1"
      - kind: repeat
        id: things
        text: {it: "Cosa"}
        add_prompt: {it: "Aggiungi?"}
        label_item: title
        items:
          - id: title
            type: text
            text: {it: "Titolo?"}
          - id: ongoing
            type: yes_no
            text: {it: "In corso?"}
          - id: end
            type: text
            text: {it: "Fine?"}
            when: "not ongoing"
"""
Q = Questionnaire.model_validate(yaml.safe_load(SOURCE))


def fresh(state: State) -> State:
    """The same state as the bot loads it: nothing cached."""
    return State.from_json(json.loads(json.dumps(state.to_json())))


def step(state: State, inp: ev.Input, q: Questionnaire = Q) -> Step:
    """advance(), checked against the same input on the same state without a cache."""
    result = advance(q, state, inp, NOW)
    expected = advance(q, fresh(state), inp, NOW)
    assert result.effects == expected.effects
    assert result.state == expected.state
    return result


def walk(*inputs: str | Callable[[int], ev.Input]) -> State:
    """A response driven from the start: typed answers, and buttons given the live seq."""
    state = start(Q, NOW).state
    for inp in inputs:
        pressed = ev.TextAnswer(inp) if isinstance(inp, str) else inp(state.seq)
        state = step(state, pressed).state
    return state


def add_thing(seq: int) -> ev.Input:
    return ev.AddEntry("things", seq)


def finish_things(seq: int) -> ev.Input:
    return ev.FinishRepeat("things", seq)


def review(state: State, q: Questionnaire = Q) -> fx.ShowReview:
    shown = [e for e in step(state, ev.Review(), q).effects if isinstance(e, fx.ShowReview)]
    assert len(shown) == 1
    return shown[0]


def items(shown: fx.ShowReview) -> list[tuple[str, int | None]]:
    return [(line.ref.item, line.ref.entry) for line in shown.lines]


def answered() -> State:
    """At the review: lead municipality, one thing that ended, another ongoing."""
    return walk("sì", "Ambito 5", "055 1234567", "3", add_thing, "Nido", "no", "giugno",
                add_thing, "Ludoteca", "sì", finish_things)


# --- the view a state carries --------------------------------------------------------------


def test_a_state_carries_the_view_of_its_answers() -> None:
    state = answered()
    assert state.cursor == Cursor("review")
    assert state.view_cache is not None
    assert state.view_cache.slots == compiled(Q).slots(fresh(state))
    assert items(review(state)) == [
        ("lead", None), ("district", None), ("phone", None), ("size", None),
        ("title", 0), ("ongoing", 0), ("end", 0), ("title", 1), ("ongoing", 1),
    ]


def test_an_answer_a_condition_reads_changes_the_layout() -> None:
    state = answered()
    state = step(state, ev.Jump("lead", None, state.seq)).state
    state = step(state, ev.Choose(1, state.seq)).state  # not the lead municipality
    assert ("district", None) not in items(review(state))
    state = step(state, ev.Jump("ongoing", 1, state.seq)).state
    state = step(state, ev.Choose(1, state.seq)).state  # the second thing ended too
    assert state.cursor == Cursor("item", "end", 1)  # the follow-up it revealed


def test_an_answer_edited_in_place_is_seen() -> None:
    # A colleague's answer merged into the state after it was returned.
    state = answered()
    state.top.values["lead"] = False
    state.top.values["phone"] = "06 7654321"
    shown = review(state)
    assert ("district", None) not in items(shown)
    assert shown.lines[items(shown).index(("phone", None))].value == "06 7654321"
    rejected = step(state, ev.Jump("district", None, state.seq)).effects
    assert rejected == (fx.Rejected("item_not_available"),)


def test_a_colleagues_answers_merged_into_a_carried_state_are_seen() -> None:
    a = answered()  # officer A at the review, carrying its view
    b = State.join(a.split()[0], None)  # officer B on the same shared answers
    b = advance(Q, b, ev.Jump("lead", None, b.seq), NOW, actor=2).state
    b = advance(Q, b, ev.Choose(1, b.seq), NOW, actor=2).state  # not the lead
    b = advance(Q, b, ev.Jump("title", 0, b.seq), NOW, actor=2).state
    b = advance(Q, b, ev.TextAnswer("Nido d'estate"), NOW, actor=2).state
    shared = b.split()[0]
    a.top, a.repeats = State.join(shared, None).top, State.join(shared, None).repeats
    a.versions, a.change_serial = shared["versions"], shared["change_serial"]
    shown = review(a)
    assert ("district", None) not in items(shown)
    assert shown.lines[items(shown).index(("title", 0))].value == "Nido d'estate"


def test_an_unread_answer_removed_in_place_counts_as_missing() -> None:
    state = answered()
    assert review(state).missing == ()
    del state.repeats["things"][1].values["title"]
    assert review(state).missing == (fx.ItemRef("title", "things", 1),)


def test_an_entry_removed_in_place_is_seen() -> None:
    state = answered()
    state.repeats["things"] = state.repeats["things"][1:]  # a colleague removed the first
    shown = review(state)
    assert items(shown)[4:] == [("title", 0), ("ongoing", 0)]
    assert shown.groups == (fx.GroupLine("things", 1, True),)


def test_a_group_reopened_in_place_is_seen() -> None:
    state = answered()
    state.closed_repeats.discard("things")
    state = step(state, ev.Resume()).state
    assert state.cursor == Cursor("repeat_menu", "things")  # the first open question


def test_a_new_edition_gets_its_own_layout() -> None:
    data = yaml.safe_load(SOURCE)
    data["version"] = "2"
    data["sections"][0]["items"].insert(3, {"id": "email", "type": "email",
                                            "text": {"it": "Email?"}})
    edition = Questionnaire.model_validate(data)
    state = answered()  # carries a view of edition 1
    shown = review(state, edition)
    assert ("email", None) in items(shown)
    assert fx.ItemRef("email") in shown.missing


def test_a_questionnaire_copy_compiles_its_own() -> None:
    edited = Q.model_copy(update={"version": "2"})
    assert compiled(Q) is compiled(Q)
    assert compiled(edited) is not compiled(Q)
    assert compiled(edited).q is edited
    assert compiled(copy.deepcopy(Q)) is not compiled(Q)
    assert Questionnaire.model_validate(yaml.safe_load(SOURCE)) == Q  # compiling adds no value
    assert compiled(Questionnaire.model_validate(yaml.safe_load(SOURCE))) is not compiled(Q)


def test_values_equal_across_types_get_their_own_layouts() -> None:
    # True == 1 in Python, but not for a condition: `size == 1` holds only for 1.
    state = walk("sì", "Ambito 5", "055 1234567", "1")
    assert state.cursor == Cursor("item", "why")
    odd = fresh(state)
    odd.top.values["size"] = True  # a value of the wrong type, e.g. from an old state
    assert ("why", None) not in items(review(odd))
    assert ("why", None) in items(review(state))


def test_a_choice_filter_over_today_is_checked_each_day() -> None:
    # What a filter offers depends on the day too: the review's scan is not kept.
    data = yaml.safe_load(SOURCE)
    data["sections"][0]["items"] = [{"id": "name", "type": "text", "text": {"it": "Nome?"}}, {
        "id": "slot", "type": "single_choice", "text": {"it": "Quando?"},
        "choices": [{"value": "early", "label": {"it": "Presto"},
                     "when": "today() < '2019-06-15'"},
                    {"value": "any", "label": {"it": "Quando capita"}}],
    }]
    q = Questionnaire.model_validate(data)
    state = advance(q, start(q, NOW).state, ev.TextAnswer("Anna"), NOW).state
    state = advance(q, state, ev.Choose(0, state.seq), NOW).state
    assert state.top.values == {"name": "Anna", "slot": "early"}
    assert review(state, q).missing == ()
    later = datetime.fromisoformat("2019-06-20T10:00:00+02:00")
    shown = [e for e in advance(q, state, ev.Review(), later).effects
             if isinstance(e, fx.ShowReview)]
    assert shown[0].missing == (fx.ItemRef("slot"),)  # no longer offered: to answer again


def test_a_note_counts_as_seen_only_when_acknowledged() -> None:
    # A note an older edition asked as a question may still hold its answer.
    data = yaml.safe_load(SOURCE)
    data["sections"][0]["items"].insert(0, {"id": "welcome", "type": "note",
                                            "text": {"it": "Benvenuti"}})
    q = Questionnaire.model_validate(data)
    state = start(q, NOW).state
    assert state.cursor == Cursor("item", "welcome")
    state.top.values["welcome"] = "sì"
    state.top.unknown.add("welcome")
    assert step(state, ev.Resume(), q).state.cursor == Cursor("item", "welcome")
    state = step(state, ev.Keep(state.seq), q).state
    assert state.cursor == Cursor("item", "lead")


def test_kept_layouts_are_bounded() -> None:
    q = Questionnaire.model_validate(yaml.safe_load(SOURCE))
    state = start(q, NOW).state
    for size in range(MAX_KEPT_LAYOUTS + 20):
        state.top.values["size"] = size
        step(state, ev.Review(), q)
    assert len(compiled(q)._layouts) == MAX_KEPT_LAYOUTS  # each size is a new layout


def test_state_copy_keeps_every_field() -> None:
    entry = AnswerSet({"title": "Nido"}, {"end"}, {"ongoing"}, {"title": "x"}, "e3")
    state = State(
        questionnaire_id="views", questionnaire_version="1", cursor=Cursor("item", "title", 0),
        top=AnswerSet({"lead": True}), repeats={"things": [entry]}, closed_repeats={"things"},
        history=[Cursor("review")], pending=["a"], held={"value": 1}, walk="entry",
        return_to=Cursor("review"), seq=7, anchors={"cursor": "e3"}, entry_serial=4,
        status="submitted", revision=2, submitted_at="2019-06-01T10:00:00", flagged=["lead"],
        versions={"lead": [1, 2, "t"]}, change_serial=9, removed={"e1": [2, "t"]},
        drawn=["lead", 1], menu=["things", 1, []], seen=5,
    )
    copied = state.copy()
    assert copied == state
    assert copied.to_json() == state.to_json()
    assert copied.repeats["things"][0] is not entry


# --- any conversation, with answers changed behind the engine's back ------------------------

NOTE_DAY = datetime.fromisoformat("2019-06-10T10:00:00+02:00")


@st.composite
def an_edit_in_place(draw: st.DrawFn, state: State) -> tuple[str, Any]:
    """What merging a colleague's answers (or an old state) can do to a state."""
    entries = state.repeats.get("practices", [])
    kind = draw(st.sampled_from(["lead", "has", "ongoing", "sources", "title", "drop", "close"]))
    if kind == "lead":
        return kind, draw(st.sampled_from([True, False, None]))
    if kind == "has":
        return kind, draw(st.sampled_from([True, False]))
    if kind == "close":
        return kind, draw(st.booleans())
    if not entries:
        return "none", None
    entry = draw(st.integers(0, len(entries) - 1))
    if kind == "ongoing":
        return kind, (entry, draw(st.sampled_from([True, False, None])))
    if kind == "sources":
        return kind, (entry, draw(st.sampled_from([["fondi_ue"], ["altro", "fondi_comunali"], []])))
    if kind == "title":
        return kind, (entry, draw(st.sampled_from(["Ludoteca", None])))
    return kind, entry


def apply_edit(state: State, edit: tuple[str, Any]) -> None:
    kind, arg = edit
    top, entries = state.top.values, state.repeats.get("practices", [])
    if kind == "lead":
        _set(top, "is_lead_municipality", arg)
    elif kind == "has":
        top["has_practices"] = arg
    elif kind == "close":
        (state.closed_repeats.add if arg else state.closed_repeats.discard)("practices")
    elif kind in ("ongoing", "sources", "title"):
        entry, value = arg
        name = {"ongoing": "ongoing", "sources": "funding_sources", "title": "title"}[kind]
        _set(entries[entry].values, name, value)
    elif kind == "drop":
        state.repeats["practices"] = entries[:arg] + entries[arg + 1:]


def _set(values: dict[str, Any], name: str, value: Any) -> None:
    if value is None:
        values.pop(name, None)
    else:
        values[name] = value


def reference_done(state: State, slots: tuple[Slot, ...]) -> tuple[bool, ...]:
    """Whether each slot is answered, spelled out slot by slot."""
    done = []
    for slot in slots:
        item, repeat = slot.item, slot.repeat
        if item is None:
            assert repeat is not None
            done.append(repeat.id in state.closed_repeats)
            continue
        answers = state.top if repeat is None else state.repeats[repeat.id][slot.cursor.entry or 0]
        others = {choice.value for choice in item.choices if choice.other}
        value = answers.values.get(item.id)
        chosen = set(value) if isinstance(value, list) else {value}
        if repeat is None and item.type is ItemType.NOTE:
            done.append(item.id in answers.skipped)
        elif item.id in answers.values:
            done.append(item.id in answers.other or not chosen & others)
        else:
            done.append(item.id in answers.skipped or item.id in answers.unknown)
    return tuple(done)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), steps=st.integers(1, 40), initial=st.sampled_from(STARTS))
def test_cached_and_fresh_engines_agree(data: st.DataObject, steps: int, initial: State) -> None:
    state = initial.copy()
    for number in range(steps):
        if data.draw(st.integers(0, 4), label=f"edit? {number}") == 0:
            apply_edit(state, data.draw(an_edit_in_place(state), label=f"edit {number}"))
        inp = data.draw(an_input(state), label=f"input {number}")
        cached = advance(SHIPPED, state, inp, NOTE_DAY)
        uncached = advance(SHIPPED, fresh(state), inp, NOTE_DAY)
        assert cached.effects == uncached.effects
        assert cached.state == uncached.state
        # Whatever view the state carries, the one taken from it is the view of its answers.
        view = view_of(SHIPPED_C, cached.state.copy())
        plain = fresh(cached.state)
        assert view.slots == SHIPPED_C._visible(plain)  # the pass without any cache
        assert view.done == reference_done(plain, view.slots)
        state = cached.state


def test_a_first_question_filtered_by_today_starts_and_redraws_by_the_day() -> None:
    # start(), redraw() and the clockless readings once raised on such a filter.
    data = yaml.safe_load(SOURCE)
    data["sections"][0]["items"] = [{
        "id": "slot", "type": "single_choice", "text": {"it": "Quando?"},
        "choices": [{"value": "early", "label": {"it": "Presto"},
                     "when": "today() < '2019-06-15'"},
                    {"value": "any", "label": {"it": "Quando capita"}}],
    }]
    q = Questionnaire.model_validate(data)
    later = datetime.fromisoformat("2019-06-20T10:00:00+02:00")

    def offered(effects: tuple[fx.Effect, ...]) -> list[str]:
        asked = next(e for e in effects if isinstance(e, fx.AskItem))
        choices = q.sections[0].items[0].choices
        indexes = asked.offered if asked.offered is not None else range(len(choices))
        return [choices[i].value for i in indexes]

    assert offered(start(q, NOW).effects) == ["early", "any"]
    assert offered(start(q, later).effects) == ["any"]
    state = start(q, NOW).state
    assert offered(redraw(q, state, NOW)) == ["early", "any"]
    assert offered(redraw(q, state, later)) == ["any"]
    # Without a clock the day is unknown: no error, and what depends on it is not offered.
    assert offered(redraw(q, state)) == ["any"]
    assert position(q, state)[0] == "slot"
    assert progress_counts(q, state) == (0, 1)
    state = advance(q, state, ev.Choose(0, state.seq), NOW).state
    assert answers_snapshot(q, state, NOW)["slot"] == "early"
    assert answers_snapshot(q, state)["slot"] == "early"
