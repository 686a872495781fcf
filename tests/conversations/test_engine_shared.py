"""The engine with two officers on one response (issue 11): answers carry
versions, a prompt remembers the version it was drawn on, and an answer given
on a prompt drawn before someone else's change is a `Conflict`, not a write.

Each officer is a navigation of their own joined to the shared answers, as the
bot stores them (`State.split` / `State.join`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from conversations import effects as fx
from conversations import inputs as ev
from conversations.engine import advance, start
from conversations.schema import Questionnaire
from conversations.state import State

A, B = 1, 2
NOW = datetime.fromisoformat("2019-06-01T10:00:00+02:00")
LATER = datetime.fromisoformat("2019-06-01T10:42:00+02:00")
Q = Questionnaire.model_validate(yaml.safe_load("""
id: shared
version: "1"
languages: [it]
title: {it: "Condiviso"}
deadline: 2019-07-31T23:59:00+02:00
sections:
  - id: main
    title: {it: "Domande"}
    items:
      - id: consent
        type: yes_no
        text: {it: "Acconsenti?"}
      - id: role
        type: text
        text: {it: "Ruolo?"}
      - id: kind
        type: single_choice
        text: {it: "Tipo?"}
        choices:
          - {value: a, label: {it: "A"}}
          - {value: other, label: {it: "Altro"}, other: true}
      - kind: repeat
        id: things
        text: {it: "Cosa"}
        add_prompt: {it: "Aggiungi?"}
        label_item: title
        items:
          - id: title
            type: text
            text: {it: "Titolo?"}
"""))


class Office:
    """Shared answers plus each officer's own navigation."""

    def __init__(self) -> None:
        self.shared, _ = start(Q, NOW).state.split()
        self.nav: dict[int, dict[str, Any] | None] = {A: None, B: None}

    def state(self, who: int) -> State:
        return State.join(self.shared, self.nav[who])

    def do(self, who: int, inp: ev.Input | str, now: datetime = NOW) -> tuple[fx.Effect, ...]:
        """Apply `inp`; a string builds a button input with the officer's live seq.
        An officer's first input follows their login's Resume, as in the bot."""
        if self.nav[who] is None and not isinstance(inp, ev.Resume):
            self.do(who, ev.Resume())
        state = self.state(who)
        if isinstance(inp, str):
            inp = _button(inp, state.seq)
        step = advance(Q, state, inp, now, actor=who)
        if step.state is not state:
            self.shared, self.nav[who] = step.state.split()
        return step.effects

    def value(self, item: str) -> Any:
        return self.state(A).top.values.get(item)


def _button(name: str, seq: int) -> ev.Input:
    kind, _, arg = name.partition(" ")
    inputs: dict[str, ev.Input] = {
        "yes": ev.Choose(0, seq), "no": ev.Choose(1, seq), "confirm": ev.Confirm(True, seq),
        "decline": ev.Confirm(False, seq), "review": ev.Review(seq), "submit": ev.Submit(seq),
    }
    if kind == "choose":
        return ev.Choose(int(arg), seq)
    if kind == "remove":
        return ev.RemoveEntry("things", int(arg), seq)
    if kind == "edit":
        return ev.EditEntry("things", int(arg), seq)
    if kind == "add":
        return ev.AddEntry("things", seq)
    return inputs[kind]


def kinds(effects: tuple[fx.Effect, ...]) -> list[str]:
    return [type(e).__name__ for e in effects]


def both_on_consent() -> Office:
    office = Office()
    office.do(A, ev.Resume())
    office.do(B, ev.Resume())
    return office


def test_an_answer_on_a_stale_prompt_is_a_conflict_not_a_write() -> None:
    office = both_on_consent()
    assert kinds(office.do(A, "yes", LATER))[0] == "AnswerSaved"
    effects = office.do(B, "no")
    conflict = effects[-1]
    assert isinstance(conflict, fx.Conflict)
    assert (conflict.current, conflict.proposed, conflict.by, conflict.at) == (
        True, False, A, LATER.isoformat())
    assert not any(isinstance(e, fx.AnswerSaved) for e in effects)
    assert office.value("consent") is True
    # Keep: nothing written, B moves on to the next question.
    effects = office.do(B, "decline")
    assert office.value("consent") is True
    assert isinstance(effects[-1], fx.AskItem) and effects[-1].item == "role"


def test_replacing_after_the_conflict_writes_with_the_new_author() -> None:
    office = both_on_consent()
    office.do(A, "yes")
    office.do(B, "no")
    effects = office.do(B, "confirm")
    assert fx.AnswerSaved(fx.ItemRef("consent"), True, False) in effects
    assert office.value("consent") is False
    assert office.shared["versions"]["consent"][1] == B


def test_a_second_change_during_the_conflict_question_asks_again() -> None:
    office = both_on_consent()
    office.do(A, "yes")
    office.do(B, "no")  # B is asked: replace "Sì"?
    office.do(A, ev.Jump("consent", None, office.state(A).seq))
    office.do(A, "no")  # A changes it meanwhile...
    office.do(A, ev.Jump("consent", None, office.state(A).seq))
    office.do(A, "yes")  # ...and back: B saw "Sì", but not this version of it
    effects = office.do(B, "confirm")
    assert isinstance(effects[-1], fx.Conflict)
    assert office.value("consent") is True


def test_the_same_answer_as_the_colleague_is_accepted_without_a_question() -> None:
    office = both_on_consent()
    office.do(A, "yes")
    effects = office.do(B, "yes")
    assert not any(isinstance(e, fx.Conflict | fx.AnswerSaved) for e in effects)
    assert isinstance(effects[-1], fx.AskItem) and effects[-1].item == "role"


def test_an_officer_alone_never_meets_a_conflict_and_versions_grow() -> None:
    office = Office()
    script: list[ev.Input | str] = ["yes", ev.TextAnswer("Sindaco"), "choose 0", "review"]
    seen: list[str] = []
    for inp in script:
        seen += kinds(office.do(A, inp))
    office.do(A, ev.Jump("consent", None, office.state(A).seq))
    seen += kinds(office.do(A, "no"))
    assert "Conflict" not in seen
    versions = office.shared["versions"]
    assert [versions[k][0] for k in ("role", "kind", "consent")] == [2, 3, 4]
    assert {v[1] for v in versions.values()} == {A}


def test_other_text_after_a_colleague_changed_the_choice_asks_again() -> None:
    office = Office()
    office.do(A, "yes")
    office.do(A, ev.TextAnswer("Sindaco"))
    office.do(B, ev.Resume())  # B on "kind" too
    office.do(A, "choose 1")  # "Altro": A is asked for the text
    office.do(B, ev.Jump("kind", None, office.state(B).seq))
    office.do(B, "choose 0")
    effects = office.do(A, ev.TextAnswer("Consorzio"))
    conflict = effects[0]
    assert isinstance(conflict, fx.Conflict) and not conflict.replaceable
    assert conflict.by == B and conflict.current == "a"
    assert isinstance(effects[-1], fx.AskItem) and effects[-1].item == "kind"
    assert office.value("kind") == "a"
    assert "kind" not in office.state(A).top.other


def add_things(office: Office, *titles: str) -> None:
    office.do(A, "yes")
    office.do(A, ev.TextAnswer("Sindaco"))
    office.do(A, "choose 0")
    for title in titles:
        office.do(A, "add")
        office.do(A, ev.TextAnswer(title))


def office_with_stale_menu() -> Office:
    """B's menu shows Nido, Ludoteca, Centro; then A removes Nido."""
    office = Office()
    add_things(office, "Nido", "Ludoteca", "Centro")
    assert isinstance(office.do(B, ev.Resume())[-1], fx.AskRepeatMenu)
    office.do(A, "remove 0")
    office.do(A, "confirm")
    assert [e.values["title"] for e in office.state(A).repeats["things"]] == [
        "Ludoteca", "Centro"]
    return office


def test_a_menu_button_of_an_entry_removed_meanwhile_changes_nothing() -> None:
    office = office_with_stale_menu()
    effects = office.do(B, "remove 0")  # "Nido", already removed by A
    assert effects[0] == fx.Notice("entry_removed_meanwhile", {"by": A, "at": NOW.isoformat()})
    assert isinstance(effects[-1], fx.AskRepeatMenu)  # redrawn as it is now
    assert [e.label for e in effects[-1].entries] == ["Ludoteca", "Centro"]
    assert [e.values["title"] for e in office.state(A).repeats["things"]] == [
        "Ludoteca", "Centro"]


def test_a_menu_button_still_means_the_entry_it_showed() -> None:
    office = office_with_stale_menu()
    effects = office.do(B, "edit 2")  # "Centro", third when B's menu was drawn
    assert isinstance(effects[-1], fx.AskItem)
    assert effects[-1].entry == 1 and effects[-1].entry_label == "Centro"


def test_removing_an_entry_changed_since_the_menu_was_drawn_says_so() -> None:
    office = Office()
    add_things(office, "Nido")
    office.do(B, ev.Resume())  # B on the menu
    office.do(A, ev.Jump("title", 0, office.state(A).seq))
    office.do(A, ev.TextAnswer("Nido estivo"), LATER)
    ask = office.do(B, "remove 0")[-1]
    assert isinstance(ask, fx.AskConfirmRemove)
    assert (ask.label, ask.changed_by, ask.changed_at) == ("Nido estivo", A, LATER.isoformat())


def test_review_names_authors_only_when_two_officers_answered() -> None:
    office = Office()
    office.do(A, "yes")
    review = office.do(A, "review")[-1]
    assert isinstance(review, fx.ShowReview) and review.authors == {}
    office.do(B, ev.Resume())
    office.do(B, ev.TextAnswer("Sindaco"))
    review = office.do(B, "review")[-1]
    assert isinstance(review, fx.ShowReview)
    assert review.authors == {fx.ItemRef("consent"): A, fx.ItemRef("role"): B}


def test_submission_lists_what_others_changed_since_the_review() -> None:
    office = Office()
    add_things(office, "Nido")
    office.do(A, ev.FinishRepeat("things", office.state(A).seq))
    assert isinstance(office.do(A, "review")[-1], fx.ShowReview)
    office.do(B, ev.Resume())
    office.do(B, ev.Jump("role", None, office.state(B).seq))
    office.do(B, ev.TextAnswer("Assessore"), LATER)
    office.do(A, "submit")
    effects = office.do(A, "confirm")
    assert kinds(effects) == ["Completed", "ChangedByOthers"]
    changed = effects[1]
    assert isinstance(changed, fx.ChangedByOthers)
    assert changed.changes == (fx.ChangedAnswer(fx.ItemRef("role"), B, LATER.isoformat()),)


def test_an_answer_typed_in_an_entry_a_colleague_removed_is_not_applied_elsewhere() -> None:
    office = Office()
    add_things(office, "Nido", "Ludoteca")
    office.do(B, ev.Resume())
    office.do(B, "edit 0")  # B is on the title of "Nido"
    office.do(A, "remove 0")
    office.do(A, "confirm", LATER)
    effects = office.do(B, ev.TextAnswer("Nido estivo"))
    assert effects[0] == fx.Notice("entry_removed_meanwhile", {"by": A, "at": LATER.isoformat()})
    assert isinstance(effects[-1], fx.AskRepeatMenu)
    assert not any(isinstance(e, fx.AnswerSaved) for e in effects)
    assert [e.values["title"] for e in office.state(A).repeats["things"]] == ["Ludoteca"]
