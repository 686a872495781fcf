"""Throughput of the survey engine: advance() steps per second on one core.

A realistic mix on the shipped questionnaire: a full walk with three good
practices (typed answers, buttons, multiple choices with "other", skips), then
cycles of review, jumps and edits, entry edits, a removal, submission and
reopening. Only the advance() calls are timed.

A state returned by advance() carries the view of its answers, which the next
step reuses when they still hold (conversations/views.py). `--reload` passes
each state through JSON between steps (untimed), as the bot does when it loads
it from SQLite, so nothing is carried from one step to the next.

    python -m bench.engine [--seconds 3] [--reload] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from conversations import effects as fx
from conversations import inputs as ev
from conversations.engine import advance, start
from conversations.schema import Questionnaire, load_questionnaire, shipped_questionnaire_path
from conversations.state import State

# An input is built from the state it is sent to, as the bot does (buttons carry its seq).
Make = Callable[[State], ev.Input]


def text(value: str) -> Make:
    return lambda s: ev.TextAnswer(value)


def choose(index: int) -> Make:
    return lambda s: ev.Choose(index, s.seq)


def toggle(index: int) -> Make:
    return lambda s: ev.Toggle(index, s.seq)


def confirm_selection() -> Make:
    return lambda s: ev.ConfirmSelection(s.seq)


def skip() -> Make:
    return lambda s: ev.Skip(s.seq)


def keep() -> Make:
    return lambda s: ev.Keep(s.seq)


def jump(item: str, entry: int | None = None) -> Make:
    return lambda s: ev.Jump(item, entry, s.seq)


def button(factory: Callable[[int], ev.Input]) -> Make:
    return lambda s: factory(s.seq)


def practice(number: int) -> list[Make]:
    steps: list[Make] = [
        button(lambda seq: ev.AddEntry("practices", seq)),
        text(f"Centro per le famiglie n. {number}"),
        toggle(0),
        toggle(2),
        toggle(5),
        confirm_selection(),
        text("Laboratori per genitori"),
        text("Apertura pomeridiana con laboratori per genitori e figli, sportello di ascolto."),
        text("1, 5"),  # beneficiaries typed as numbers
        choose(number % 2),
        text("01/09/2018"),
    ]
    if number == 2:
        steps += [choose(1), text("30 giugno 2019")]  # ended: asks the end date
    else:
        steps += [choose(0)]
    steps += [
        toggle(0),
        toggle(4),
        confirm_selection(),
        text("1.234,50"),
        text("1000"),  # the national family fund's share
        text("234,50"),  # the municipal share
        text("Scuole, ASL, associazioni di famiglie"),
        text("250"),
        skip(),
        text("www.comune.esempio.it/centro-famiglie"),
    ]
    return steps


def full_walk() -> list[Make]:
    steps: list[Make] = [
        choose(0),
        text("Mario Rossi"),
        text("Servizi Sociali, responsabile del servizio"),
        text("mario.rossi@comune.esempio.it"),
        text("055 1234567"),
        text("sì"),
        text("Ambito Territoriale Sociale n. 5"),
        choose(0),  # the district's practices are included
        choose(0),  # there are good practices to report
    ]
    for number in range(3):
        steps += practice(number)
    steps += [
        button(lambda seq: ev.FinishRepeat("practices", seq)),
        skip(),
        choose(0),  # consent: lands on the review
    ]
    return steps


def edit_cycles() -> list[Make]:
    """What officers do once everything is answered."""
    return [
        button(ev.Review),
        jump("respondent_phone"),
        text("333 1234567"),
        jump("funding_amount", 1),
        text("€ 12.000"),
        jump("is_lead_municipality"),
        choose(1),  # hides the district items and the levels
        jump("is_lead_municipality"),
        choose(0),  # shows them again, with the kept answers
        button(lambda seq: ev.EditEntry("practices", 0, seq)),
        keep(),
        keep(),
        text("Uno sportello nuovo, aperto anche il sabato."),  # the description
        keep(),
        keep(),
        keep(),
        button(lambda seq: ev.Back(seq)),
        keep(),
        button(ev.Review),
        button(lambda seq: ev.RemoveEntry("practices", 2, seq)),
        button(lambda seq: ev.Confirm(False, seq)),
        button(ev.Submit),
        button(lambda seq: ev.Confirm(True, seq)),
        text("ancora una cosa"),  # refused: already submitted
        lambda s: ev.Resume(),
        button(ev.Reopen),
        jump("notes"),
        text("Nessuna osservazione."),
        button(lambda seq: ev.Choose(0, seq - 1)),  # a double press: stale
        text("abc"),  # refused at a review: use the buttons
        button(ev.Submit),
        button(lambda seq: ev.Confirm(True, seq)),
        button(ev.Reopen),
    ]


def reloaded(state: State) -> State:
    """The state as the bot loads it from SQLite: nothing cached."""
    return State.from_json(json.loads(json.dumps(state.to_json())))


def run_once(q: Questionnaire, script: list[Make], samples: list[int],
             reload: bool = False) -> int:
    now = q.aware_deadline() - timedelta(days=10)
    deadline = q.aware_deadline()
    state = start(q, now).state
    rejected = 0
    clock = time.perf_counter_ns
    for make in script:
        if reload:
            state = reloaded(state)
        inp = make(state)
        began = clock()
        step = advance(q, state, inp, now, deadline)
        samples.append(clock() - began)
        state = step.state
        if isinstance(step.effects[0], fx.Rejected):
            rejected += 1
    return rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure")
    parser.add_argument("--reload", action="store_true",
                        help="pass each state through JSON between steps (untimed)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args()

    q = load_questionnaire(shipped_questionnaire_path())
    script = full_walk() + edit_cycles() * 3
    rejected = run_once(q, script, [])  # warm-up (compiles the questionnaire)
    expected_rejections = 3 * 3  # per cycle: already submitted, stale button, use buttons
    if rejected != expected_rejections:
        raise SystemExit(f"script drifted: {rejected} rejected, {expected_rejections} expected")

    samples: list[int] = []
    runs = 0
    began = time.perf_counter()
    while time.perf_counter() - began < args.seconds:
        run_once(q, script, samples, args.reload)
        runs += 1
    spent = sum(samples) / 1e9
    ordered = sorted(samples)
    p50 = statistics.median(ordered) / 1000
    p99 = ordered[int(len(ordered) * 0.99)] / 1000
    rate = len(samples) / spent
    mode = " (states reloaded between steps)" if args.reload else ""
    print(
        f"engine{mode}: {rate:,.0f} steps/s ({len(samples):,} steps in {spent:.2f} s, "
        f"{runs} conversations of {len(script)} inputs), p50 {p50:.1f} µs, p99 {p99:.1f} µs"
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(max(1, runs // 3)):
            run_once(q, script, [], args.reload)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
