"""Golden tests for the survey engine.

Each file in tests/engine_cases/ holds a small questionnaire (inline, as a YAML
block), the inputs of one conversation and, after each input, the effects the
engine must return in a compact, readable form (see `render`). Every case runs
twice: once as is and once passing the state through JSON between inputs, as
the bot does with SQLite; both runs must produce the same effects.

Regenerate the expectations with `UPDATE_GOLDEN=1 pytest tests/test_engine_golden.py`,
then read the diff: every line is what an officer would see.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from conversations import effects as fx
from conversations import inputs as ev
from conversations.engine import Step, advance, answers_snapshot, start
from conversations.schema import Questionnaire, load_questionnaire, shipped_questionnaire_path
from conversations.state import State
from conversations.validator import lint

CASES = Path(__file__).parent / "engine_cases"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
DEFAULT_NOW = "2019-06-01T10:00:00+02:00"

# --- rendering effects ---------------------------------------------------------------------


def fmt(value: Any) -> str:
    """A value as JSON, except numbers and dates written plainly."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def ref(r: fx.ItemRef) -> str:
    if r.repeat is None:
        return r.item
    if r.entry is None:
        return f"{r.repeat}.{r.item}"
    return f"{r.repeat}[{r.entry}].{r.item}"


def _params(params: dict[str, Any]) -> str:
    if not params:
        return ""
    return " {" + ", ".join(f"{k}: {fmt(v)}" for k, v in sorted(params.items())) + "}"


def render(effect: fx.Effect) -> list[str]:
    """One or more compact lines for an effect."""
    match effect:
        case fx.AskItem():
            where = ref(fx.ItemRef(effect.item, effect.repeat, effect.entry))
            p = effect.progress
            line = f"ask: {where} {p.position}/{p.total}"
            if p.sections > 1:
                line += f" §{p.section}/{p.sections}"
            line += f" {p.percent}%"
            if effect.entry_label is not None:
                line += f" label={fmt(effect.entry_label)}"
            if effect.current is not None:
                line += f" current={fmt(effect.current)}"
            if effect.current_unknown:
                line += " current=unknown"
            if effect.pending is not None:
                line += f" pending={fmt(list(effect.pending))}"
            if effect.editing:
                line += " editing"
            if not effect.can_back:
                line += " no-back"
            for computed in effect.computed:
                line += f" ${{{computed.source}}}={fmt(computed.value)}"
            if effect.offered is not None:
                line += f" offered={list(effect.offered)}"
            return [line]
        case fx.AskConfirmWarning():
            where = ref(fx.ItemRef(effect.item, effect.repeat, effect.entry))
            return [f"confirm-warning: {where} {fmt(effect.value)}"]
        case fx.AskOtherText():
            return [f"ask-other: {ref(fx.ItemRef(effect.item, effect.repeat, effect.entry))}"]
        case fx.AskRepeatMenu():
            entries = "; ".join(
                f"{e.index} {fmt(e.label) if e.label is not None else '-'} "
                + ("complete" if e.complete else "incomplete")
                for e in effect.entries
            )
            flags = (" can-add" if effect.can_add else "") + (
                " can-finish" if effect.can_finish else ""
            )
            flags += " from-review" if effect.from_review else ""
            if effect.progress is not None:
                flags += f" {effect.progress.percent}%"
            return [f"menu: {effect.repeat} [{entries}]{flags}"]
        case fx.AskConfirmSubmit():
            return [f"confirm-submit: revision {effect.revision}"]
        case fx.AskConfirmRemove():
            label = fmt(effect.label) if effect.label is not None else "-"
            return [f"confirm-remove: {effect.repeat}[{effect.entry}] {label}"]
        case fx.ShowReview():
            missing = ", ".join(ref(r) for r in effect.missing) or "none"
            lines = [f"review ({effect.status}), missing: {missing}"]
            if effect.flagged:
                lines[0] += ", flagged: " + ", ".join(sorted(ref(r) for r in effect.flagged))
            for group in effect.groups:
                lines[0] += f", group {group.repeat}: {group.count}" + (
                    " can-add" if group.can_add else "")
            for row in effect.lines:
                if row.unknown:
                    shown = "unknown"
                elif row.skipped:
                    shown = "skipped"
                elif row.value is None:
                    shown = "-"
                else:
                    shown = fmt(row.value)
                if row.other is not None:
                    shown += f" other={fmt(row.other)}"
                lines.append(f"  {ref(row.ref)}: {shown}")
            return lines
        case fx.MissingItems():
            return ["missing: " + ", ".join(ref(r) for r in effect.refs)]
        case fx.Rejected():
            return [f"rejected: {effect.key}{_params(effect.params)}"]
        case fx.AnswerSaved():
            return [f"saved: {ref(effect.ref)} {fmt(effect.old)} -> {fmt(effect.new)}"]
        case fx.EntryRemoved():
            values = effect.old.get("values", {})
            return [f"removed: {effect.repeat}[{effect.entry}] {fmt(values)}"]
        case fx.Resumed():
            return [f"resumed: {effect.answered}/{effect.total} answered, "
                    f"{effect.percent}% of the required"]
        case fx.Completed():
            return [f"completed: revision {effect.revision} at {effect.submitted_at}"]
        case fx.Reopened():
            return [f"reopened: revision {effect.revision}"]
        case fx.AlreadySubmitted():
            return [f"already-submitted: revision {effect.revision} at {effect.submitted_at}"]
        case fx.Intro():
            return [f"intro: section {effect.section + 1}"
                    + (f" repeat {effect.repeat}" if effect.repeat else "")]
        case fx.Notice():
            return [f"notice: {effect.key}{_params(effect.params)}"]
    raise AssertionError(f"unknown effect {effect!r}")


def render_all(effects: tuple[fx.Effect, ...]) -> list[str]:
    return [line for effect in effects for line in render(effect)]


# --- parsing inputs ----------------------------------------------------------------------------

_SIMPLE: dict[str, type] = {
    "resume": ev.Resume,
    "confirm_selection": ev.ConfirmSelection,
    "keep": ev.Keep,
    "skip": ev.Skip,
    "dont_know": ev.DontKnow,
    "back": ev.Back,
    "review": ev.Review,
    "submit": ev.Submit,
    "reopen": ev.Reopen,
    "go_missing": ev.GoMissing,
}


def parse_input(spec: Any, state: State) -> ev.Input:
    """`back`, `{text: "Mario"}`, `{choose: 0, seq: stale}`, `{jump: {item: x, entry: 0}}`..."""
    if isinstance(spec, str):
        spec = {spec: None}
    assert isinstance(spec, dict), spec
    spec = dict(spec)
    seq_spec = spec.pop("seq", "current")
    (kind, arg), *rest = spec.items()
    assert not rest, f"one input per step: {spec}"
    if kind == "text":
        return ev.TextAnswer(str(arg))
    if seq_spec == "current":
        seq: int | None = state.seq
    elif seq_spec == "stale":
        seq = state.seq - 1
    elif seq_spec == "none":
        seq = None
    else:
        seq = int(seq_spec)
    if kind in _SIMPLE:
        assert arg is None, spec
        cls: Any = _SIMPLE[kind]
        return cls() if cls is ev.Resume else cls(seq=seq)
    match kind:
        case "choose":
            return ev.Choose(int(arg), seq=seq)
        case "toggle":
            return ev.Toggle(int(arg), seq=seq)
        case "confirm":
            return ev.Confirm(bool(arg), seq=seq)
        case "jump":
            return ev.Jump(arg["item"], arg.get("entry"), seq=seq)
        case "add_entry":
            return ev.AddEntry(arg, seq=seq)
        case "edit_entry":
            return ev.EditEntry(arg["repeat"], int(arg["entry"]), seq=seq)
        case "remove_entry":
            return ev.RemoveEntry(arg["repeat"], int(arg["entry"]), seq=seq)
        case "finish_repeat":
            return ev.FinishRepeat(arg, seq=seq)
        case "open_group":
            return ev.OpenGroup(arg, seq=seq)
    raise AssertionError(f"unknown input {spec!r}")


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# --- running a case ------------------------------------------------------------------------------


@dataclass
class Outcome:
    start: list[str]
    steps: list[list[str]]
    snapshots: dict[int, Any]


def roundtrip(state: State) -> State:
    return State.from_json(json.loads(json.dumps(state.to_json())))


def advance_checked(
    q: Questionnaire, state: State, inp: ev.Input, now: datetime, deadline: datetime | None
) -> Step:
    """advance(), plus the invariants every step must keep."""
    before = json.dumps(state.to_json(), sort_keys=True)
    step = advance(q, state, inp, now, deadline)
    assert json.dumps(state.to_json(), sort_keys=True) == before, "advance mutated its input"
    if any(isinstance(e, fx.Rejected) for e in step.effects):
        assert len(step.effects) == 1
        assert step.state is state, "a rejected input must return the very same state"
    else:
        assert step.state.seq == state.seq + 1
    return step


def run_case(case: dict[str, Any], through_json: bool) -> Outcome:
    q = Questionnaire.model_validate(yaml.safe_load(case["questionnaire"]))
    now = parse_time(case.get("now", DEFAULT_NOW))
    deadline = parse_time(case["deadline"]) if "deadline" in case else None
    first = start(q, now)
    state = first.state
    outcome = Outcome(render_all(first.effects), [], {})
    for number, step_spec in enumerate(case["steps"]):
        if through_json:
            copy = roundtrip(state)
            assert copy == state
            state = copy
        step_now = parse_time(step_spec["now"]) if "now" in step_spec else now
        inp = parse_input(step_spec["input"], state)
        step = advance_checked(q, state, inp, step_now, deadline)
        state = step.state
        outcome.steps.append(render_all(step.effects))
        if "snapshot" in step_spec:
            outcome.snapshots[number] = answers_snapshot(q, state)
    return outcome


# --- golden files ---------------------------------------------------------------------------------


class _Flow(dict[str, Any]):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _flow_representer(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(_Flow, _flow_representer)


def _flowed(spec: Any) -> Any:
    return _Flow(spec) if isinstance(spec, dict) else spec


def write_case(path: Path, case: dict[str, Any], outcome: Outcome) -> None:
    out: dict[str, Any] = {}
    for key in ("description", "now", "deadline", "questionnaire"):
        if key in case:
            out[key] = case[key]
    out["start"] = outcome.start
    steps = []
    for number, spec in enumerate(case["steps"]):
        step: dict[str, Any] = {}
        if "note" in spec:
            step["note"] = spec["note"]
        step["input"] = _flowed(spec["input"])
        if "now" in spec:
            step["now"] = spec["now"]
        step["expect"] = outcome.steps[number]
        if number in outcome.snapshots:
            step["snapshot"] = outcome.snapshots[number]
        steps.append(step)
    out["steps"] = steps
    text = yaml.dump(out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")


def _case_files() -> list[Path]:
    return sorted(CASES.glob("*.yaml"))


def test_there_are_enough_cases() -> None:
    assert len(_case_files()) >= 12


@pytest.mark.parametrize("path", _case_files(), ids=lambda p: p.stem)
def test_case_questionnaires_lint_clean(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert lint(yaml.safe_load(case["questionnaire"])) == []


@pytest.mark.parametrize("through_json", [False, True], ids=["direct", "json"])
@pytest.mark.parametrize("path", _case_files(), ids=lambda p: p.stem)
def test_golden(path: Path, through_json: bool) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    outcome = run_case(case, through_json)
    if UPDATE and not through_json:
        write_case(path, case, outcome)
        return
    assert outcome.start == case.get("start"), "effects of start()"
    for number, spec in enumerate(case["steps"]):
        label = f"step {number + 1} ({spec.get('note') or spec['input']})"
        assert outcome.steps[number] == spec.get("expect"), label
        if "snapshot" in spec:
            assert outcome.snapshots[number] == spec["snapshot"], f"snapshot after {label}"


# --- the shipped questionnaire, end to end ---------------------------------------------------


def test_shipped_questionnaire_end_to_end() -> None:
    q = load_questionnaire(shipped_questionnaire_path())
    now = datetime.fromisoformat("2019-07-10T09:30:00+02:00")
    deadline = q.aware_deadline()
    state = start(q, now).state
    seen: list[str] = []

    def send(inp: ev.Input) -> tuple[fx.Effect, ...]:
        nonlocal state
        step = advance_checked(q, state, inp, now, deadline)
        rejected = [e for e in step.effects if isinstance(e, fx.Rejected)]
        assert not rejected, (inp, rejected)
        state = step.state
        seen.extend(e.item for e in step.effects if isinstance(e, fx.AskItem))
        return step.effects

    def text(value: str) -> None:
        send(ev.TextAnswer(value))

    def choose(index: int) -> None:
        send(ev.Choose(index, seq=state.seq))

    def toggle(*indexes: int) -> None:
        for index in indexes:
            send(ev.Toggle(index, seq=state.seq))
        send(ev.ConfirmSelection(seq=state.seq))

    choose(0)  # municipality confirmed
    text("Mario Rossi")
    text("Servizi Sociali, responsabile del servizio")
    text("mario.rossi@comune.esempio.it")
    text("055 1234567")
    text("sì")  # lead municipality
    text("Ambito Territoriale Sociale n. 5")
    choose(0)  # district practices included
    choose(0)  # the municipality has practices to report
    practices = [
        ("Centro per le famiglie", (0, 4), "01/09/2018", "1.234,50", "250"),
        ("Nido aperto d'estate", (0, 5), "1 giugno 2019", "€ 12.000", "40"),
    ]
    for number, (title, areas, started, amount, people) in enumerate(practices):
        send(ev.AddEntry("practices", seq=state.seq))
        text(title)
        toggle(*areas)
        if 5 in areas:
            text("Conciliazione vita-lavoro")
        text("Apertura pomeridiana con laboratori per genitori e figli.")
        toggle(0, 4)  # beneficiaries
        choose(number % 2)  # level
        text(started)
        choose(0)  # ongoing
        toggle(0, 4)  # funding sources: Intese + municipal
        text(amount)
        text("1.000" if number == 0 else "0")
        text("200" if number == 0 else "0")  # the share from municipal funds
        send(ev.Skip(seq=state.seq))  # partners
        text(people)
        send(ev.Skip(seq=state.seq))  # results
        if number == 0:
            text("www.comune.esempio.it/centro-famiglie")
        else:
            send(ev.Skip(seq=state.seq))  # website
    effects = send(ev.FinishRepeat("practices", seq=state.seq))
    assert any(isinstance(e, fx.AskItem) and e.item == "notes" for e in effects)
    send(ev.Skip(seq=state.seq))  # notes
    effects = send(ev.Choose(0, seq=state.seq))  # publish consent
    review = [e for e in effects if isinstance(e, fx.ShowReview)]
    assert review and review[0].missing == ()
    assert "end_date" not in seen
    send(ev.Submit(seq=state.seq))
    effects = send(ev.Confirm(True, seq=state.seq))
    assert effects == (fx.Completed(1, now.isoformat()),)

    snapshot = answers_snapshot(q, state)
    assert snapshot["municipality_confirmed"] is True
    assert snapshot["respondent_email"] == "mario.rossi@comune.esempio.it"
    assert snapshot["respondent_phone"] == "+390551234567"
    assert snapshot["is_lead_municipality"] is True
    assert snapshot["publish_consent"] is True
    assert "notes" not in snapshot
    first, second = snapshot["practices"]
    assert first["title"] == "Centro per le famiglie"
    assert first["areas"] == ["infanzia", "centri_famiglie"]
    assert first["level"] == "comunale"
    assert first["funding_municipal_amount"] == "200.00"
    assert first["start_date"] == "2018-09-01"
    assert first["funding_sources"] == ["fondo_famiglia_intese", "fondi_comunali"]
    assert first["funding_amount"] == "1234.50"
    assert first["funding_national_amount"] == "1000.00"
    assert first["people_reached"] == 250
    assert first["website"] == "https://www.comune.esempio.it/centro-famiglie"
    assert "partners" not in first and "end_date" not in first
    assert second["areas"] == ["infanzia", "altro"]
    assert second["areas_other"] == "Conciliazione vita-lavoro"
    assert second["level"] == "ambito_distretto"
    assert second["start_date"] == "2019-06-01"
    assert second["funding_amount"] == "12000.00"
    assert "website" not in second
