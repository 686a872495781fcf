"""conversations/migration.py: stored answers brought from v1 to v2, and the plan."""

from __future__ import annotations

from typing import Any

from conversations.effects import ShowReview
from conversations.engine import advance, answers_snapshot
from conversations.inputs import Review
from conversations.migration import Move, carry_snapshot, migrate, needs_reask, plan
from conversations.schema import parse_questionnaire
from conversations.state import AnswerSet, Cursor, State
from tests.support.editions import V1, V2

OLD = parse_questionnaire(V1)
NEW = parse_questionnaire(V2)


def v1_state(staff: str, *, service_kind: str = "consulenza") -> dict[str, Any]:
    top = AnswerSet(values={"name": "Il Melograno", "staff": staff, "kind": "pubblico",
                            "referente": "Anna Neri", "fax": "055 123", "open_saturday": True})
    entry = AnswerSet(values={"service_name": "Sportello", "service_kind": service_kind}, key="e0")
    state = State("centres", "1", Cursor("review"), top=top, repeats={"services": [entry]},
                  closed_repeats={"services"}, entry_serial=1)
    return state.split()[0]


def test_each_kind_of_change() -> None:
    result = migrate(OLD, NEW, v1_state("12", service_kind="altro"))
    state = State.join(result.state, None)
    assert state.questionnaire_version == "2"
    assert state.top.values == {"name": "Il Melograno", "staff": 12, "kind": "comunale",
                                "contact_name": "Anna Neri", "open_saturday": True}
    assert state.repeats["services"][0].values == {"service_name": "Sportello"}
    assert result.moves == [
        Move("staff", "value_mapped", "12", 12),
        Move("kind", "value_mapped", "pubblico", "comunale"),
        Move("contact_name", "renamed", "Anna Neri", "Anna Neri"),
        Move("fax", "dropped", "055 123", None),
        Move("services[0].service_kind", "reask", "altro", None),
        Move("budget", "new", None, None),
    ]
    assert result.flagged == ["services#e0.service_kind", "budget"]
    assert result.to_review == 2


def test_an_answer_that_does_not_fit_the_new_type_is_cleared_and_flagged() -> None:
    result = migrate(OLD, NEW, v1_state("dodici"))
    state = State.join(result.state, None)
    assert "staff" not in state.top.values
    assert Move("staff", "reask", "dodici", None) in result.moves
    assert "staff" in result.flagged


def test_the_review_marks_flagged_items_until_they_are_answered() -> None:
    state = State.join(migrate(OLD, NEW, v1_state("dodici")).state, None)
    review = next(e for e in advance(NEW, state, Review(), _now()).effects
                  if isinstance(e, ShowReview))
    assert {ref.item for ref in review.flagged} == {"staff", "budget"}
    assert {ref.item for ref in review.missing} == {"staff", "budget"}


def test_migrating_twice_changes_nothing_more() -> None:
    once = migrate(OLD, NEW, v1_state("12"))
    twice = migrate(NEW, NEW, once.state)
    assert twice.state == once.state and twice.moves == []


def test_without_the_old_file_items_are_matched_by_id_and_declarations() -> None:
    result = migrate(None, NEW, v1_state("12"))
    state = State.join(result.state, None)
    assert state.top.values["contact_name"] == "Anna Neri"
    assert state.top.values["kind"] == "comunale"
    assert "fax" not in state.top.values


def test_plan_item_by_item() -> None:
    lines = [str(line) for line in plan(OLD, NEW)]
    assert lines == [
        "name: kept",
        "staff: to be asked again (type text -> integer: answers that do not convert are "
        "asked again)",
        "kind: values mapped ('pubblico' -> 'comunale')",
        "contact_name: renamed (from 'referente')",
        "fax: dropped (answers stay in the history)",
        "open_saturday: kept",
        "services.service_name: kept",
        "services.service_kind: to be asked again (choice values 'altro' removed without "
        "previous_values)",
        "budget: new (required, will be asked)",
    ]
    assert [line.item for line in needs_reask(plan(OLD, NEW))] == [
        "staff", "services.service_kind"]


def test_plan_hints_at_a_forgotten_previous_id() -> None:
    renamed = V2.replace("        previous_id: referente\n", "")
    [line] = [line for line in plan(OLD, parse_questionnaire(renamed)) if line.item == "referente"]
    assert line.detail == ("answers stay in the history; if 'contact_name' is its new name, "
                           "declare previous_id: referente")


def test_an_old_submission_reads_under_the_new_ids_for_display() -> None:
    state = State.join(v1_state("12"), None)
    snapshot = answers_snapshot(OLD, state)
    carried = carry_snapshot(NEW, snapshot)
    assert carried["contact_name"] == "Anna Neri" and carried["kind"] == "comunale"
    assert snapshot["kind"] == "pubblico"  # the stored one is untouched


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def test_a_renamed_repeat_keeps_its_entries_and_unknown_answers() -> None:
    renamed = V2.replace("        id: services\n",
                         "        id: offers\n        previous_id: services\n")
    new = parse_questionnaire(renamed.replace(
        "      - {id: name, type: text,",
        "      - {id: name, type: text, allow_unknown: true,"))
    state = State.join(v1_state("12"), None)
    state.top.values.pop("name")
    state.top.unknown.add("name")
    result = migrate(OLD, new, state.split()[0])
    after = State.join(result.state, None)
    assert "name" in after.top.unknown  # "non so" still allowed
    assert list(after.repeats) == ["offers"] and after.closed_repeats == {"offers"}
    assert after.repeats["offers"][0].values == {"service_name": "Sportello",
                                                 "service_kind": "consulenza"}
    # The same "non so" under v2 as shipped (no allow_unknown) is asked again.
    strict = migrate(OLD, NEW, state.split()[0])
    assert Move("name", "reask", {"unknown": True}, None) in strict.moves
