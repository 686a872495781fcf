"""A state's view (its visible slots, which are answered, their positions),
reused while the answers it was derived from stay the same.

Deriving a view finds the layout of the answers (conditions evaluated, or the
layout kept for them, see layout.py) and checks every visible item's answer;
the engine needs one on every step. Most steps change no answer (navigation,
the review, a tick of a multiple choice) or only answers no condition reads.
So a view keeps a private copy of the answers it was derived from, travels
with the state (`State.view_cache`) to the next step, and is checked there:
- the same answers: the view is reused as it is;
- only answers no condition reads changed, with the same entries and the same
  closed groups: the same slots, with those items' "answered" flags redone;
- anything else (an answer a condition reads, an entry added or removed, a
  group closed or reopened, another questionnaire object): derived afresh.
The check compares contents, never serials or versions, so a state changed by
any route (another officer's answers merged in, a questionnaire update, an
edit in place) cannot be shown a stale view. The copies are shallow: answer
values are replaced, never mutated in place (see state.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress

from conversations import effects as fx
from conversations.layout import Compiled, Layout
from conversations.state import AnswerSet, Cursor, State


@dataclass(frozen=True, slots=True)
class _Answers:
    """What a view was derived from: copies nobody mutates."""

    top: AnswerSet
    repeats: dict[str, tuple[AnswerSet, ...]]
    closed: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Tally:
    answered: int
    required_done: int


# Review lines and the refs still missing: what the engine's scan of a view finds.
Scan = tuple[tuple[fx.ReviewLine, ...], tuple[fx.ItemRef, ...]]


class View:
    """A layout with the "answered" flags of one set of answers. Shared between
    steps and runs: never mutated after it is built (bar what it computes once)."""

    __slots__ = ("_tally", "answers", "compiled", "done", "index", "layout", "scan", "slots")

    def __init__(
        self, compiled: Compiled, layout: Layout, done: tuple[bool, ...], answers: _Answers
    ) -> None:
        self.compiled = compiled
        self.layout = layout
        self.slots = layout.slots
        self.index = layout.index
        self.done = done
        self.answers = answers
        self._tally: _Tally | None = None
        self.scan: Scan | None = None  # the engine's, once taken

    def progress(self, cursor: Cursor) -> fx.Progress:
        """Where `cursor` stands among the visible questions; counted once per view."""
        layout = self.layout
        tally = self._tally
        if tally is None:
            tally = self._tally = self._count()
        at = layout.index.get(cursor)
        position = layout.positions[at] if at is not None else 0
        section = layout.slots[at].section if at is not None else 0
        total = len(layout.questions)
        if position == 0:  # a note or a menu: show the position of the next question
            position = min(tally.answered + 1, total)
        return fx.Progress(position, total, section + 1, len(self.compiled.q.sections),
                           tally.answered, len(layout.required) + len(layout.groups),
                           tally.required_done)

    def _count(self) -> _Tally:
        done, layout, entries = self.done, self.layout, self.answers.repeats
        groups = 0  # a group short of entries counts as one required answer
        for repeat_id, least in layout.groups:
            if len(entries.get(repeat_id, ())) >= least:
                groups += 1
        return _Tally(sum(compress(done, layout.asks)),
                      sum(compress(done, layout.needs)) + groups)


def view_of(compiled: Compiled, state: State) -> View:
    """The view of the state's answers; the one the state carries when it still
    holds. The result goes with the state (and its copies) to the next step."""
    last = state.view_cache
    view = _refresh(last, state) if last is not None and last.compiled is compiled else None
    if view is None:
        view = _derive(compiled, state)
    state.view_cache = view
    return view


def _derive(compiled: Compiled, state: State) -> View:
    layout = compiled.layout(state)
    answers = _Answers(
        state.top.copy(),
        {rid: tuple(e.copy() for e in entries) for rid, entries in state.repeats.items()},
        frozenset(state.closed_repeats),
    )
    return View(compiled, layout, compiled.answered(state, layout), answers)


# An answer set that changed since the view: (its repeat, its entry, it now, item ids).
_Change = tuple[str | None, int | None, AnswerSet, set[str]]


def _refresh(last: View, state: State) -> View | None:
    """`last` brought up to the state's answers, or None when it must be derived afresh.
    Written for speed: it runs on every step, mostly to find nothing changed."""
    kept = last.answers
    repeats, kept_repeats = state.repeats, kept.repeats
    if kept.closed != state.closed_repeats or len(kept_repeats) != len(repeats):
        return None
    changes: list[_Change] = []
    if not _same(kept.top, state.top):
        changes.append((None, None, state.top, _changed_items(kept.top, state.top)))
    for repeat_id, entries in repeats.items():
        before = kept_repeats.get(repeat_id)
        if before is None or len(before) != len(entries):
            return None
        for number, new in enumerate(entries):
            old = before[number]
            if not _same(old, new):
                changes.append((repeat_id, number, new, _changed_items(old, new)))
    if not changes:
        return last
    referenced = last.compiled.referenced
    if any(not referenced.isdisjoint(items) for *_, items in changes):
        return None  # a condition reads one of them: visibility may differ
    return _patched(last, changes)


def _same(old: AnswerSet, new: AnswerSet) -> bool:
    """The same answers (an entry's key aside, which no view reads)."""
    return (old.values == new.values and old.skipped == new.skipped
            and old.unknown == new.unknown and old.other == new.other)


def _changed_items(old: AnswerSet, new: AnswerSet) -> set[str]:
    """Items whose answer differs between two answer sets."""
    items = (old.skipped ^ new.skipped) | (old.unknown ^ new.unknown)
    items |= old.other.keys() ^ new.other.keys()
    before, after = old.values, new.values
    items |= before.keys() ^ after.keys()
    for item_id, value in after.items():
        if item_id in before and before[item_id] != value:
            items.add(item_id)
    return items


def _patched(last: View, changes: list[_Change]) -> View:
    """The same layout; the changed items' "answered" flags and the kept answers redone."""
    compiled, index = last.compiled, last.index
    done = list(last.done)
    top = last.answers.top
    repeats = dict(last.answers.repeats)
    for repeat_id, entry, answers, items in changes:
        answered = compiled.answered_ids(
            answers, compiled.top_notes if repeat_id is None else frozenset())
        for item_id in items:
            at = index.get(Cursor("item", item_id, entry))
            if at is not None:  # visible (and an item of this answer set)
                done[at] = item_id in answered
        if repeat_id is None:
            top = answers.copy()
        else:
            assert entry is not None
            entries = list(repeats[repeat_id])
            entries[entry] = answers.copy()
            repeats[repeat_id] = tuple(entries)
    return View(compiled, last.layout, tuple(done), _Answers(top, repeats, last.answers.closed))
