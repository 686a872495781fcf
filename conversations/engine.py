"""The survey engine: a pure state machine.

`start` opens a response; `advance` applies one typed input and returns the
new state plus typed effects. Nothing here sends, stores or reads the clock:
the caller passes `now` (and the deadline in force) and renders the effects.
Wrong input never raises: it yields a `Rejected` effect and the state as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from conversations import effects as fx
from conversations import inputs as ev
from conversations.answer_parsing import choice_indexes, is_unknown_word, parse_text_answer
from conversations.expressions import Expression
from conversations.layout import Compiled, Slot, compiled, needs_other_text, typed, typed_value
from conversations.parsing import InputError
from conversations.schema import Item, ItemType, Questionnaire
from conversations.state import MAX_REMOVED, AnswerSet, Cursor, State
from conversations.views import Scan, View, view_of

MAX_HISTORY = 50
MAX_OTHER_LENGTH = 200
REVIEW = Cursor("review")


@dataclass(frozen=True, slots=True)
class Step:
    state: State
    effects: tuple[fx.Effect, ...]


class _Reject(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class _Conflicted(Exception):
    """The answer changed under the officer: the run is redirected to the conflict
    question (already set up in the state), which is a normal, accepted step."""


class _Run:
    """One advance: a private copy of the state and the effects so far."""

    def __init__(
        self, q: Questionnaire, state: State, now: datetime, actor: int | None = None
    ) -> None:
        self.c: Compiled = compiled(q)
        self.s = state.copy()
        self.now = now
        self.actor = actor
        self.effects: list[fx.Effect] = []
        self.prompt = True
        self.kept = False  # the input was Keep ("Mantieni risposta" / "Avanti")
        # Where the officer stood before this input, and how they moved: a
        # section's intro is shown when a forward walk or a resume enters it.
        self.before = state.cursor
        self.resumed = False
        self.quiet_intro = False  # Back and edits from the review show no intro
        self.repeat_intro: str | None = None
        self._view: View | None = None

    # --- layout helpers -------------------------------------------------
    # The view (visible slots, their positions, which are answered) is taken
    # once per state change, not once per question asked of it; `changed()`
    # marks a change of the answers. It comes from the previous step when the
    # answers it was derived from still hold (conversations/views.py).
    def view(self) -> View:
        if self._view is None:
            self._view = view_of(self.c, self.s)
        return self._view

    def slots(self) -> tuple[Slot, ...]:
        return self.view().slots

    def done(self) -> tuple[bool, ...]:
        return self.view().done

    def changed(self) -> None:
        self._view = None

    def index_of(self, cursor: Cursor) -> int:
        return self.view().index.get(cursor, -1)

    def answers(self, cursor: Cursor) -> AnswerSet:
        located = self.c.items[cursor.item or ""]
        repeat_id = located.repeat.id if located.repeat else None
        return self.s.answers_for(repeat_id, cursor.entry)

    def slot_answers(self, slot: Slot) -> AnswerSet:
        if slot.repeat is None:
            return self.s.top
        return self.s.repeats[slot.repeat.id][slot.cursor.entry or 0]

    def answered(self, slot: Slot) -> bool:
        index = self.index_of(slot.cursor)
        return index >= 0 and self.done()[index]

    def current_item(self) -> Item:
        cursor = self.s.cursor
        if cursor.kind not in ("item", "other_text") or cursor.item not in self.c.items:
            raise _Reject("use_buttons", at=cursor.kind)
        return self.c.items[cursor.item].item

    # --- moving ---------------------------------------------------------
    def move(self, cursor: Cursor) -> None:
        current = self.s.cursor
        if current != cursor and current.kind in ("item", "repeat_menu", "review", "group"):
            self.s.history.append(current)
            del self.s.history[:-MAX_HISTORY]
        self.s.cursor = cursor
        self.s.pending = None
        if cursor.kind != "confirm_warning":
            self.s.held = None

    def first_unanswered(self, start: int = 0) -> Cursor | None:
        slots, done = self.slots(), self.done()
        order = [*range(start, len(slots)), *range(min(start, len(slots)))]
        for index in order:
            if not done[index]:
                cursor: Cursor = slots[index].cursor
                return cursor
        return None

    def advance_from(self, cursor: Cursor) -> None:
        """Pick the next cursor after `cursor` was answered, per the walk mode."""
        self.changed()
        slots = self.slots()
        index = self.index_of(cursor)
        following = slots[index + 1] if 0 <= index < len(slots) - 1 else None
        if self.s.walk == "followups":
            # After an edit from the review: ask what the edit newly revealed.
            if following and following.item is not None and not self.answered(following):
                self.move(following.cursor)
                return
            if (following and following.repeat is not None and following.item is None
                    and not self.s.repeats.get(following.repeat.id)):
                # The edit opened an empty group: its menu, as from the review.
                self.open_group(following.repeat.id)
                return
            self.return_back()
            return
        if self.s.walk == "sequential" and not self.kept:
            self.s.walk = "next_unanswered"  # a new answer: on to what is still open
        if self.s.walk == "sequential":
            # After Back, "keep" walks forward through what the officer already saw.
            if following is None:
                self.move(REVIEW)
                return
            if not self.done()[index + 1]:
                self.s.walk = "next_unanswered"
            self.move(following.cursor)
            return
        if self.s.walk == "entry":
            if following and following.item is not None and following.cursor.entry == cursor.entry:
                self.move(following.cursor)
                return
            self.return_back()
            return
        self.move(self.first_unanswered(index + 1 if index >= 0 else 0) or REVIEW)

    def open_group(self, repeat_id: str) -> None:
        self.move(Cursor("group", repeat_id))
        self.s.walk, self.s.return_to = "next_unanswered", None

    def return_back(self) -> None:
        target = self.s.return_to or REVIEW
        self.s.walk = "next_unanswered"
        self.s.return_to = None
        self.move(target)

    # --- versions -----------------------------------------------------------
    def key_of(self, item_id: str, answers: AnswerSet) -> str:
        """The stable name of an answer: entry keys survive other officers' removals."""
        repeat = self.c.items[item_id].repeat
        return item_id if repeat is None else f"{repeat.id}#{answers.key}.{item_id}"

    def version(self, key: str) -> list[Any]:
        return self.s.versions.get(key) or [0, None, None]

    def stale(self, key: str) -> bool:
        """True when the answer changed after this officer's prompt was drawn on it."""
        drawn = self.s.drawn
        if drawn is None or drawn[0] != key:
            return False  # no prompt of this answer on record (states of old versions)
        serial, author, _ = self.version(key)
        return bool(serial != drawn[1] and author != self.actor)

    def bump(self, key: str) -> None:
        self.s.change_serial += 1
        self.s.versions[key] = [self.s.change_serial, self.actor, self.now.isoformat()]
        if self.s.drawn is not None and self.s.drawn[0] == key:
            self.s.drawn = [key, self.s.change_serial]  # this officer's own change

    def conflict(self, item: Item, proposed: dict[str, Any]) -> None:
        """Hold the officer's answer and ask whether to replace the newer one."""
        self.s.held = proposed
        self.s.pending = None
        self.s.cursor = Cursor("confirm_conflict", item.id, self.s.cursor.entry)
        raise _Conflicted

    # --- answers ----------------------------------------------------------
    def save(self, item: Item, value: Any, *, unknown: bool = False, skip: bool = False) -> None:
        cursor = self.s.cursor
        answers = self.answers(cursor)
        old: Any = _public_value(answers, item.id)
        key = self.key_of(item.id, answers)
        if self.stale(key) and _would_change(answers, item.id, value, unknown, skip):
            self.conflict(item, {"unknown": True} if unknown else
                          {"skip": True} if skip else {"value": value})
        answers.values.pop(item.id, None)
        answers.unknown.discard(item.id)
        answers.skipped.discard(item.id)
        if unknown:
            answers.unknown.add(item.id)
        elif skip:
            answers.skipped.add(item.id)
        else:
            answers.values[item.id] = value
        if not _keeps_other(item, answers):
            answers.other.pop(item.id, None)
        new = _public_value(answers, item.id)
        if new != old:
            repeat = self.c.items[item.id].repeat
            ref = fx.ItemRef(item.id, repeat.id if repeat else None, cursor.entry)
            self.effects.append(fx.AnswerSaved(ref, old, new))
            self.bump(key)
        if self.s.flagged:
            self.unflag(item.id, answers.key if self.c.items[item.id].repeat else None)
        self.changed()

    def unflag(self, item_id: str, entry_key: str | None) -> None:
        repeat = self.c.items[item_id].repeat
        flag = item_id if repeat is None else f"{repeat.id}#{entry_key}.{item_id}"
        self.s.flagged = [f for f in self.s.flagged if f != flag]

    def flagged_refs(self) -> frozenset[fx.ItemRef]:
        if not self.s.flagged:
            return frozenset()
        flags = set(self.s.flagged)
        refs = set()
        for slot in self.slots():
            if slot.item is None:
                continue
            if slot.repeat is None:
                flag = slot.item.id
            else:
                key = self.slot_answers(slot).key
                flag = f"{slot.repeat.id}#{key}.{slot.item.id}"
            if flag in flags:
                refs.add(slot.ref)
        return frozenset(refs)

    def give(self, item: Item, value: Any) -> None:
        """An answer from the officer: checked, maybe held for a warning, then saved."""
        entry = self.s.cursor.entry
        stop = self.c.stops.get(item.id)
        if stop is not None and not _fails(stop, self.check_context(item, value, entry)):
            raise _Reject("stopped", item=item.id)
        condition = self.c.constraints.get(item.id)
        if condition is not None and _fails(condition, self.check_context(item, value, entry)):
            raise _Reject("constraint_failed", constraint=item.id)
        warning = self.c.warnings.get(item.id)
        if warning is not None and not _fails(warning, self.check_context(item, value, entry),
                                              undecided=True):
            self.s.held = value
            self.move(Cursor("confirm_warning", item.id, entry))
            return
        self.save(item, value)
        self.after_save(item)

    def still_offered(self, item: Item, slot: Slot, value: Any) -> bool:
        offered = self.offered(item, slot.cursor.entry)
        if offered is None:
            return True
        allowed = {item.choices[i].value for i in offered}
        chosen = value if isinstance(value, list) else [value]
        return all(v in allowed for v in chosen)

    def offered(self, item: Item, entry: int | None) -> tuple[int, ...] | None:
        """The choices a choice filter offers now (None: every choice)."""
        conditions = self.c.choice_conditions.get(item.id)
        if conditions is None:
            return None
        ctx = self.check_context(None, None, entry)
        return tuple(i for i, condition in enumerate(conditions)
                     if condition is None or condition.evaluate(ctx))

    def check_context(self, item: Item | None, value: Any, entry: int | None) -> _CheckContext:
        return _CheckContext(self, item, value, entry)

    def after_save(self, item: Item) -> None:
        cursor = Cursor("item", item.id, self.s.cursor.entry)
        if needs_other_text(item, self.answers(cursor)):
            self.move(Cursor("other_text", item.id, cursor.entry))  # Back returns to the choice
            return
        self.advance_from(cursor)

    def missing(self) -> tuple[fx.ItemRef, ...]:
        return self.scan()[1]

    def scan(self) -> Scan:
        """Review lines and missing answers, taken once per view: both read only the
        answers the view was derived from (unless a choice filter reads today())."""
        view = self.view()
        if view.scan is not None:
            return view.scan
        scan = self._scan()
        if not self.c.filters_read_today:
            view.scan = scan
        return scan

    def _scan(self) -> Scan:
        """Review lines and missing answers in one pass over the layout."""
        lines: list[fx.ReviewLine] = []
        refs: list[fx.ItemRef] = []
        top, repeats = self.s.top, self.s.repeats
        filtered = self.c.choice_conditions
        note = ItemType.NOTE
        for slot, done in zip(self.slots(), self.done(), strict=True):
            item, repeat = slot.item, slot.repeat
            if item is None:
                assert repeat is not None
                if len(repeats.get(repeat.id, ())) < repeat.min_entries:
                    refs.append(slot.ref)
                continue
            if item.type is note:
                continue
            answers = top if repeat is None else repeats[repeat.id][slot.cursor.entry or 0]
            item_id = item.id
            given = item_id in answers.values
            unknown = item_id in answers.unknown
            # A given answer that is not "done" lacks its "Altro, specificare" text;
            # one a choice filter no longer offers must be given again.
            if (item.required and not (given or unknown)) or (given and not done) or (
                given and item_id in filtered
                and not self.still_offered(item, slot, answers.values[item_id])
            ):
                refs.append(slot.ref)
            lines.append(
                fx.ReviewLine(
                    slot.ref,
                    answers.values.get(item_id),
                    unknown,
                    item_id in answers.skipped,
                    answers.other.get(item_id),
                )
            )
        return tuple(lines), tuple(refs)

    # --- prompts ------------------------------------------------------------
    def render_prompt(self) -> None:
        s = self.s
        cursor = s.cursor
        if cursor.kind == "confirm_warning" and s.held is None:
            s.cursor = cursor = Cursor("item", cursor.item, cursor.entry)
        if cursor.kind in ("item", "other_text", "confirm_warning", "confirm_conflict") and (
            self.index_of(cursor if cursor.kind == "item"
                          else Cursor("item", cursor.item, cursor.entry)) < 0
        ):
            # The item was hidden by an edit (or a new questionnaire version).
            s.cursor = self.first_unanswered() or REVIEW
            cursor = s.cursor
        if cursor.kind in ("item", "other_text", "confirm_warning", "confirm_conflict"):
            self.draw(cursor)
        self.intro(cursor)
        if cursor.kind == "item":
            self.effects.append(self.ask_item(cursor))
        elif cursor.kind == "confirm_conflict":
            self.effects.append(self.conflict_prompt(cursor))
        elif cursor.kind == "other_text":
            repeat = self.c.items[cursor.item or ""].repeat
            self.effects.append(
                fx.AskOtherText(
                    cursor.item or "", repeat.id if repeat else None, cursor.entry, s.seq
                )
            )
        elif cursor.kind in ("repeat_menu", "group"):
            repeat_id = cursor.item or ""
            keys = [entry.key for entry in s.repeats.get(repeat_id, [])]
            s.menu = [repeat_id, s.change_serial, keys]
            self.effects.append(self.repeat_menu(repeat_id, cursor.kind == "group"))
        elif cursor.kind == "review":
            s.seen = s.change_serial
            self.effects.append(self.review())
        elif cursor.kind == "confirm_submit":
            self.effects.append(fx.AskConfirmSubmit(s.revision + 1, s.seq))
        elif cursor.kind == "confirm_warning":
            repeat = self.c.items[cursor.item or ""].repeat
            self.effects.append(fx.AskConfirmWarning(
                cursor.item or "", repeat.id if repeat else None, cursor.entry, s.held, s.seq))
        elif cursor.kind == "confirm_remove":
            repeat_id, entry = cursor.item or "", cursor.entry or 0
            label = self.entry_label(repeat_id, entry)
            by, at = self.entry_changed(repeat_id, entry)
            self.effects.append(fx.AskConfirmRemove(repeat_id, entry, label, s.seq, by, at))

    def draw(self, cursor: Cursor) -> None:
        """Note the version of the answer the prompt is drawn on. The conflict
        question shows the newest answer, so it counts as drawn on it; a warning
        or an "Altro" text keep the version of the question that led to them."""
        key = self.key_of(cursor.item or "", self.answers(cursor))
        drawn = self.s.drawn
        if cursor.kind in ("item", "confirm_conflict") or drawn is None or drawn[0] != key:
            self.s.drawn = [key, self.version(key)[0]]

    def conflict_prompt(self, cursor: Cursor) -> fx.Conflict:
        located = self.c.items[cursor.item or ""]
        answers = self.answers(cursor)
        held = self.s.held or {}
        proposed = _public_value(_held_answers(located.item.id, held), located.item.id)
        _, by, at = self.version(self.key_of(located.item.id, answers))
        ref = fx.ItemRef(located.item.id, located.repeat.id if located.repeat else None,
                         cursor.entry)
        return fx.Conflict(ref, _public_value(answers, located.item.id), proposed, by, at,
                           self.s.seq)

    def entry_changed(self, repeat_id: str, entry: int) -> tuple[int | None, str | None]:
        """Who last changed the entry after this officer's menu was drawn, and when."""
        menu = self.s.menu
        entries = self.s.repeats.get(repeat_id, [])
        if menu is None or menu[0] != repeat_id or entry >= len(entries):
            return None, None
        prefix = f"{repeat_id}#{entries[entry].key}."
        newest: list[Any] | None = None
        for key, version in self.s.versions.items():
            fresh = version[0] > menu[1] and version[1] != self.actor
            if key.startswith(prefix) and fresh and (newest is None or version[0] > newest[0]):
                newest = version
        return (newest[1], newest[2]) if newest else (None, None)

    def changed_by_others(self) -> tuple[fx.ChangedAnswer, ...]:
        """Visible answers others changed since this officer last saw the review."""
        out = []
        for slot in self.slots():
            if slot.item is None or not slot.item.asks:
                continue
            serial, by, at = self.version(self.key_of(slot.item.id, self.slot_answers(slot)))
            if serial > self.s.seen and by != self.actor:
                out.append(fx.ChangedAnswer(slot.ref, by, at))
        return tuple(out)

    def section_of(self, cursor: Cursor | None) -> int | None:
        if cursor is None:
            return None
        if cursor.kind in ("item", "other_text", "confirm_warning"):
            located = self.c.items.get(cursor.item or "")
            return located.section if located else None
        if cursor.kind in ("repeat_menu", "group", "confirm_remove"):
            repeat = self.c.repeats.get(cursor.item or "")
            return repeat[1] if repeat else None
        return None

    def intro(self, cursor: Cursor) -> None:
        """A section's intro when the officer enters it (or resumes into it);
        a repeat group's intro before its first entry."""
        if cursor.kind not in ("item", "repeat_menu", "group"):
            return
        section = self.section_of(cursor)
        if section is None:
            return
        entering = self.resumed or (
            not self.quiet_intro and self.section_of(self.before) != section
        )
        if entering and self.c.q.sections[section].intro:
            self.effects.append(fx.Intro(section))
        if self.repeat_intro is not None and self.c.repeats[self.repeat_intro][0].intro:
            self.effects.append(fx.Intro(section, self.repeat_intro))

    def progress(self, cursor: Cursor) -> fx.Progress:
        return self.view().progress(cursor)

    def ask_item(self, cursor: Cursor) -> fx.AskItem:
        located = self.c.items[cursor.item or ""]
        item = located.item
        answers = self.answers(cursor)
        label = None
        if located.repeat is not None and cursor.entry is not None:
            label = self.entry_label(located.repeat.id, cursor.entry)
        pending = tuple(self.s.pending) if self.s.pending is not None else None
        return fx.AskItem(
            item=item.id,
            repeat=located.repeat.id if located.repeat else None,
            entry=cursor.entry,
            progress=self.progress(cursor),
            seq=self.s.seq,
            current=answers.values.get(item.id),
            current_unknown=item.id in answers.unknown,
            pending=pending,
            editing=self.s.walk != "next_unanswered" or answers.has(item.id),
            can_back=bool(self.s.history),
            entry_label=label,
            computed=self.computed(item, cursor.entry),
            offered=self.offered(item, cursor.entry),
        )

    def computed(self, item: Item, entry: int | None) -> tuple[fx.Computed, ...]:
        """`${...}` in an item's text and help: their values now."""
        sources = self.c.computed.get(item.id)
        if not sources:
            return ()
        ctx = self.check_context(None, None, entry)
        out = []
        for source, expression in sources:
            try:
                value = expression.value(ctx)
            except Exception:  # a foreign value in an old state must not cost the question
                value = None
            out.append(fx.Computed(source, value, self.c.value_kinds.get(source)))
        return tuple(out)

    def entry_label(self, repeat_id: str, entry: int) -> str | None:
        repeat = self.c.repeats[repeat_id][0]
        entries = self.s.repeats.get(repeat_id, [])
        if repeat.label_item is None or entry >= len(entries):
            return None
        value = entries[entry].values.get(repeat.label_item)
        return str(value) if value is not None else None

    def repeat_menu(self, repeat_id: str, from_review: bool = False) -> fx.AskRepeatMenu:
        repeat = self.c.repeats[repeat_id][0]
        entries = self.s.repeats.get(repeat_id, [])
        incomplete = {ref.entry for ref in self.missing() if ref.repeat == repeat_id}
        summaries = tuple(
            fx.EntrySummary(i, self.entry_label(repeat_id, i), i not in incomplete)
            for i in range(len(entries))
        )
        return fx.AskRepeatMenu(
            repeat_id,
            summaries,
            can_add=len(entries) < repeat.max_entries,
            can_finish=len(entries) >= repeat.min_entries,
            seq=self.s.seq,
            progress=self.progress(Cursor("repeat_menu", repeat_id)),
            from_review=from_review,
        )

    def review(self) -> fx.ShowReview:
        lines, missing = self.scan()
        authors: dict[fx.ItemRef, int] = {}
        # One officer alone (the common case) skips this at the cost of one pass.
        if len({version[1] for version in self.s.versions.values()}) > 1:
            for line in lines:
                answers = self.s.answers_for(line.ref.repeat, line.ref.entry)
                author = self.version(self.key_of(line.ref.item, answers))[1]
                if author is not None and answers.has(line.ref.item):
                    authors[line.ref] = author
            if len(set(authors.values())) < 2:
                authors = {}  # one officer alone: nothing to tell
        groups = tuple(
            fx.GroupLine(
                slot.repeat.id,
                count := len(self.s.repeats.get(slot.repeat.id, ())),
                count < slot.repeat.max_entries,
            )
            for slot in self.slots()
            if slot.item is None and slot.repeat is not None
        )
        return fx.ShowReview(
            lines, missing, self.s.status, self.s.seq, self.flagged_refs(),
            authors=authors, groups=groups,
        )


class _Undecided(Exception):
    """A check reads an answer that is not given: it is not applied."""


class _CheckContext:
    """What a constraint, a warning or a computed note sees: `.` is the value
    being given; other answers only where they are visible."""

    def __init__(self, run: _Run, item: Item | None, value: Any, entry: int | None) -> None:
        self.run = run
        self.item = item
        self.raw = value
        self.entry = entry
        self.strict = False  # raise _Undecided on an empty answer

    def current(self) -> object:
        if self.item is None:
            return None
        return typed(self.item, self.raw)

    def today(self) -> object:
        if self.run.now == datetime.min:  # read without a clock (exports, listings): unknown
            return None
        return self.run.now.astimezone(ZoneInfo(self.run.c.q.timezone)).date()

    def value(self, item_id: str) -> object:
        run = self.run
        located = run.c.items.get(item_id)
        if located is None:
            return None
        if located.repeat is None:
            entry, answers = None, run.s.top
        else:
            entries = run.s.repeats.get(located.repeat.id, [])
            current = run.c.items.get(self.item.id) if self.item else None
            if self.entry is None or self.entry >= len(entries):
                return self._empty()
            if current is not None and current.repeat is not located.repeat:
                return self._empty()
            entry, answers = self.entry, entries[self.entry]
        if run.index_of(Cursor("item", item_id, entry)) < 0:
            return self._empty()
        value = typed_value(located.item, answers)
        return self._empty() if value is None else value

    def _empty(self) -> object:
        if self.strict:
            raise _Undecided
        return None

    def count(self, repeat_id: str) -> int:
        return len(self.run.s.repeats.get(repeat_id, ()))

    def total(self, parts: tuple[str, ...]) -> object:
        total: Any = 0
        for part in parts:
            if "." in part:
                repeat_id, item_id = part.split(".", 1)
                located = self.run.c.items.get(item_id)
                if located is None:
                    continue
                values = [typed_value(located.item, entry)
                          for entry in self.run.s.repeats.get(repeat_id, [])]
            else:
                values = [self.value(part)]
            for value in values:
                if isinstance(value, int | Decimal) and not isinstance(value, bool):
                    total += value
        return total


def _fails(expression: Expression, ctx: _CheckContext, *, undecided: bool = False) -> bool:
    """True when the expression is false with every answer it reads given;
    `undecided` is returned when it reads an answer that is not given."""
    ctx.strict = True
    try:
        return not expression.evaluate(ctx)
    except _Undecided:
        return undecided
    finally:
        ctx.strict = False


def _public_value(answers: AnswerSet, item_id: str) -> Any:
    if item_id in answers.unknown:
        return {"unknown": True}
    value = answers.values.get(item_id)
    other = answers.other.get(item_id)
    return {"value": value, "other": other} if other is not None else value


def _would_change(answers: AnswerSet, item_id: str, value: Any, unknown: bool,
                  skip: bool) -> bool:
    if unknown:
        return item_id not in answers.unknown
    if skip:
        return item_id not in answers.skipped
    return item_id not in answers.values or answers.values[item_id] != value


def _held_answers(item_id: str, held: dict[str, Any]) -> AnswerSet:
    """The answer a conflict holds, as an answer set (for its public form)."""
    answers = AnswerSet()
    if held.get("unknown"):
        answers.unknown.add(item_id)
    elif held.get("skip"):
        answers.skipped.add(item_id)
    elif "other" in held:
        answers.other[item_id] = held["other"]
    else:
        answers.values[item_id] = held.get("value")
    return answers


def _other_values(item: Item) -> set[str]:
    return {choice.value for choice in item.choices if choice.other}


def _keeps_other(item: Item, answers: AnswerSet) -> bool:
    value = answers.values.get(item.id)
    chosen = set(value) if isinstance(value, list) else {value}
    return any(c.other and c.value in chosen for c in item.choices)


# --- input handlers: each mutates run.s or raises _Reject --------------------


def _on_resume(run: _Run, _: ev.Resume) -> None:
    s = run.s
    if s.status == "submitted":
        run.effects.append(fx.AlreadySubmitted(s.revision, s.submitted_at))
        run.prompt = False
        return
    s.walk, s.return_to = "next_unanswered", None
    run.resumed = True
    askable = [slot for slot in run.slots() if slot.item is not None and slot.item.asks]
    answered = sum(1 for slot in askable if run.answered(slot))
    run.effects.append(fx.Resumed(answered, len(askable), run.progress(REVIEW).percent))
    if s.cursor.kind == "other_text":
        return
    run.move(run.first_unanswered() or REVIEW)


def _on_text(run: _Run, inp: ev.TextAnswer) -> None:
    s = run.s
    if s.cursor.kind == "other_text":
        text = inp.text.strip()
        if not text:
            raise _Reject("empty_text")
        if len(text) > MAX_OTHER_LENGTH:
            raise _Reject("too_long", max=MAX_OTHER_LENGTH, length=len(text))
        item = run.current_item()
        cursor = Cursor("item", item.id, s.cursor.entry)
        answers = run.answers(cursor)
        old = _public_value(answers, item.id)
        key = run.key_of(item.id, answers)
        repeat = run.c.items[item.id].repeat
        ref = fx.ItemRef(item.id, repeat.id if repeat else None, cursor.entry)
        if run.stale(key):
            # The choice this text completes was changed meanwhile: show the newer
            # answer and ask the question again rather than guess what to keep.
            _, by, at = run.version(key)
            run.effects.append(fx.Conflict(ref, old, {"other": text}, by, at, s.seq,
                                           replaceable=False))
            s.cursor = cursor
            return
        answers.other[item.id] = text
        run.effects.append(fx.AnswerSaved(ref, old, _public_value(answers, item.id)))
        run.bump(key)
        s.cursor = cursor
        run.advance_from(cursor)
        return
    item = run.current_item()
    if item.allow_unknown and is_unknown_word(inp.text):  # typed "non so", "n/a"
        run.save(item, None, unknown=True)
        run.after_save(item)
        return
    try:
        if item.type in (ItemType.SINGLE_CHOICE, ItemType.YES_NO):
            picked = choice_indexes(item, inp.text, run.offered(item, s.cursor.entry))
            if len(picked) != 1:
                raise _Reject("invalid_choice", options=len(item.choices) or 2)
            _choose(run, item, picked[0])
            return
        if item.type is ItemType.MULTIPLE_CHOICE:
            offered = run.offered(item, s.cursor.entry)
            s.pending = [item.choices[i].value for i in choice_indexes(item, inp.text, offered)]
            _confirm_selection(run, item)
            return
        if item.type is ItemType.NOTE:
            raise _Reject("use_buttons", at="note")
        value = parse_text_answer(item, inp.text)
    except InputError as error:
        raise _Reject(error.key, **error.params) from None
    run.give(item, value)


def _choose(run: _Run, item: Item, index: int) -> None:
    if item.type is ItemType.YES_NO:
        if index not in (0, 1):
            raise _Reject("invalid_choice", options=2)
        run.give(item, index == 0)
    elif item.type is ItemType.SINGLE_CHOICE:
        offered = run.offered(item, run.s.cursor.entry)
        if not 0 <= index < len(item.choices) or (offered is not None and index not in offered):
            raise _Reject("invalid_choice", options=len(item.choices if offered is None
                                                        else offered))
        run.give(item, item.choices[index].value)
    else:
        raise _Reject("stale_button")


def _on_choose(run: _Run, inp: ev.Choose) -> None:
    _choose(run, _item_at_cursor(run), inp.index)


def _item_at_cursor(run: _Run) -> Item:
    if run.s.cursor.kind != "item":
        # A live button never lands here: a command typed off a question does.
        raise _Reject("use_buttons", at=run.s.cursor.kind)
    return run.current_item()


def _on_toggle(run: _Run, inp: ev.Toggle) -> None:
    item = _item_at_cursor(run)
    if item.type is not ItemType.MULTIPLE_CHOICE or not 0 <= inp.index < len(item.choices):
        raise _Reject("stale_button")
    offered = run.offered(item, run.s.cursor.entry)
    if offered is not None and inp.index not in offered:
        raise _Reject("stale_button")
    s = run.s
    if s.pending is None:
        current = run.answers(s.cursor).values.get(item.id)
        s.pending = list(current) if isinstance(current, list) else []
    value = item.choices[inp.index].value
    if value in s.pending:
        s.pending = [v for v in s.pending if v != value]
    else:
        if item.max_selections is not None and len(s.pending) >= item.max_selections:
            raise _Reject("too_many_selections", max=item.max_selections)
        s.pending = [*s.pending, value]


def _on_confirm_selection(run: _Run, _: ev.ConfirmSelection) -> None:
    item = _item_at_cursor(run)
    if item.type is not ItemType.MULTIPLE_CHOICE:
        raise _Reject("stale_button")
    if run.s.pending is None:
        current = run.answers(run.s.cursor).values.get(item.id)
        run.s.pending = list(current) if isinstance(current, list) else []
    _confirm_selection(run, item)


def _confirm_selection(run: _Run, item: Item) -> None:
    chosen = set(run.s.pending or ())
    offered = run.offered(item, run.s.cursor.entry)
    ordered = [c.value for i, c in enumerate(item.choices)
               if c.value in chosen and (offered is None or i in offered)]
    least = item.min_selections if item.min_selections is not None else int(item.required)
    if len(ordered) < least:
        raise _Reject("select_at_least", min=max(least, 1))
    if item.max_selections is not None and len(ordered) > item.max_selections:
        raise _Reject("too_many_selections", max=item.max_selections)
    run.s.pending = None
    if not ordered:
        run.save(item, None, skip=True)
        run.after_save(item)
    else:
        run.give(item, ordered)


def _on_keep(run: _Run, _: ev.Keep) -> None:
    run.kept = True
    item = _item_at_cursor(run)
    answers = run.answers(run.s.cursor)
    if item.type is ItemType.NOTE:
        answers.skipped.add(item.id)
        run.changed()
    elif not answers.has(item.id):
        raise _Reject("nothing_to_keep")
    run.after_save(item)


def _on_skip(run: _Run, _: ev.Skip) -> None:
    item = _item_at_cursor(run)
    if item.type is ItemType.NOTE:
        _on_keep(run, ev.Keep())
        return
    if item.required:
        raise _Reject("required")
    run.save(item, None, skip=True)
    run.after_save(item)


def _on_dont_know(run: _Run, _: ev.DontKnow) -> None:
    item = _item_at_cursor(run)
    if not item.allow_unknown:
        raise _Reject("unknown_not_allowed")
    run.save(item, None, unknown=True)
    run.after_save(item)


def _on_back(run: _Run, _: ev.Back) -> None:
    s = run.s
    run.quiet_intro = True
    if s.status == "submitted":  # nothing to go back to until it is reopened
        raise _Reject("already_submitted", revision=s.revision)
    if s.cursor.kind == "review":
        # From the review, Back is the last question (history may be empty
        # after a submission and a reopen).
        last = next((sl for sl in reversed(run.slots()) if sl.item is not None), None)
        if last is not None:
            s.cursor, s.pending = last.cursor, None
            s.walk, s.return_to = "sequential", None
            return
    visible = {slot.cursor for slot in run.slots()} | {REVIEW}
    while s.history:
        target = s.history.pop()
        if target in visible and target != s.cursor:
            s.cursor, s.pending = target, None
            s.walk, s.return_to = "sequential", None
            return
    raise _Reject("no_previous")


def _on_jump(run: _Run, inp: ev.Jump) -> None:
    cursor = Cursor("item", inp.item, inp.entry)
    if run.index_of(cursor) < 0:
        raise _Reject("item_not_available")
    run.move(cursor)
    run.quiet_intro = True
    run.s.walk, run.s.return_to = "followups", REVIEW


def _on_review(run: _Run, _: ev.Review) -> None:
    cursor = run.s.cursor
    if cursor.kind == "group":  # back from the hub's menu: the group counts as seen
        repeat = run.c.repeats[cursor.item or ""][0]
        if len(run.s.repeats.get(repeat.id, ())) >= repeat.min_entries:
            run.s.closed_repeats.add(repeat.id)
    run.move(REVIEW)


def _on_open_group(run: _Run, inp: ev.OpenGroup) -> None:
    _repeat(run, inp.repeat)
    run.quiet_intro = True  # the hub's menu, not a walk into the section
    run.open_group(inp.repeat)


def _on_go_missing(run: _Run, _: ev.GoMissing) -> None:
    missing = run.missing()
    if not missing:
        raise _Reject("nothing_missing")
    slot = next(sl for sl in run.slots() if sl.ref == missing[0])
    if slot.item is None and slot.repeat is not None:
        run.open_group(slot.repeat.id)  # a group short of entries
        return
    run.move(slot.cursor)
    run.s.walk, run.s.return_to = "next_unanswered", None


def _on_submit(run: _Run, _: ev.Submit) -> None:
    missing = run.missing()
    if missing:
        run.effects.append(fx.MissingItems(missing))
        run.move(REVIEW)
        return
    run.move(Cursor("confirm_submit"))


def _on_confirm(run: _Run, inp: ev.Confirm) -> None:
    s = run.s
    if s.cursor.kind == "confirm_submit":
        if not inp.yes:
            run.move(REVIEW)
            return
        if run.missing():  # another officer changed something meanwhile
            _on_submit(run, ev.Submit())
            return
        changed = run.changed_by_others()
        s.status, s.revision = "submitted", s.revision + 1
        s.submitted_at = run.now.isoformat()
        s.cursor, s.history, s.walk, s.return_to = Cursor("done"), [], "next_unanswered", None
        run.effects.append(fx.Completed(s.revision, s.submitted_at))
        if changed:  # listed with the confirmation: the officer vouches for them too
            run.effects.append(fx.ChangedByOthers(changed))
        run.prompt = False
    elif s.cursor.kind == "confirm_warning":
        item = run.c.items[s.cursor.item or ""].item
        held, s.held = s.held, None
        s.cursor = Cursor("item", item.id, s.cursor.entry)
        if inp.yes and held is not None:
            run.save(item, held)
            run.after_save(item)
        # "Modifico": the question again, for another answer.
    elif s.cursor.kind == "confirm_conflict":
        item = run.c.items[s.cursor.item or ""].item
        held, s.held = s.held or {}, None
        s.cursor = Cursor("item", item.id, s.cursor.entry)
        if inp.yes:  # replace: the officer saw the newer answer on the question
            run.save(item, held.get("value"), unknown=bool(held.get("unknown")),
                     skip=bool(held.get("skip")))
        run.after_save(item)
    elif s.cursor.kind == "confirm_remove":
        repeat_id, entry = s.cursor.item or "", s.cursor.entry or 0
        if inp.yes:
            removed = s.repeats[repeat_id].pop(entry)
            s.removed[removed.key] = [run.actor, run.now.isoformat()]
            for old_key in list(s.removed)[:-MAX_REMOVED]:
                del s.removed[old_key]
            prefix = f"{repeat_id}#{removed.key}."
            s.versions = {k: v for k, v in s.versions.items() if not k.startswith(prefix)}
            run.effects.append(fx.EntryRemoved(repeat_id, entry, removed.to_json()))
            repeat = run.c.repeats[repeat_id][0]
            if len(s.repeats[repeat_id]) < repeat.min_entries:
                s.closed_repeats.discard(repeat_id)
            s.history = []  # entry numbers shifted: old positions are meaningless
            run.changed()
        menu = s.return_to
        s.return_to = None
        s.cursor = menu if menu is not None and menu.item == repeat_id else Cursor(
            "repeat_menu", repeat_id)
    else:
        raise _Reject("stale_button")


def _repeat(run: _Run, repeat_id: str) -> None:
    if repeat_id not in run.c.repeats or run.index_of(Cursor("repeat_menu", repeat_id)) < 0:
        raise _Reject("stale_button")


def _on_add_entry(run: _Run, inp: ev.AddEntry) -> None:
    _repeat(run, inp.repeat)
    repeat = run.c.repeats[inp.repeat][0]
    entries = run.s.repeats.setdefault(inp.repeat, [])
    if len(entries) >= repeat.max_entries:
        raise _Reject("max_entries", max=repeat.max_entries)
    from_review = run.s.cursor.kind == "group"
    entries.append(AnswerSet(key=f"e{run.s.entry_serial}"))
    run.s.entry_serial += 1
    if len(entries) == 1:
        run.repeat_intro = inp.repeat
    if from_review:
        # The hub: the new entry's items, then back to the review.
        run.s.closed_repeats.add(inp.repeat)
        run.s.walk, run.s.return_to = "entry", REVIEW
    else:
        run.s.closed_repeats.discard(inp.repeat)
        run.s.walk, run.s.return_to = "next_unanswered", None
    run.changed()
    entry = len(entries) - 1
    first = next(
        (
            sl
            for sl in run.slots()
            if sl.cursor.entry == entry and sl.repeat is repeat and sl.item is not None
        ),
        None,
    )
    run.move(first.cursor if first else Cursor("repeat_menu", inp.repeat))


def _entry_exists(run: _Run, repeat_id: str, entry: int) -> int:
    """The entry's position now: menu buttons name entries as the menu was drawn,
    and another officer may have removed one since."""
    _repeat(run, repeat_id)
    menu = run.s.menu
    entries = run.s.repeats.get(repeat_id, [])
    if menu is not None and menu[0] == repeat_id and 0 <= entry < len(menu[2]):
        key = menu[2][entry]
        for index, answers in enumerate(entries):
            if answers.key == key:
                return index
        by, at = run.s.removed.get(key) or [None, None]
        run.effects.append(fx.Notice("entry_removed_meanwhile", {"by": by, "at": at}))
        here = run.s.cursor
        run.move(here if here.kind == "group" else Cursor("repeat_menu", repeat_id))
        raise _Conflicted
    if not 0 <= entry < len(entries):
        raise _Reject("stale_button")
    return entry


def _on_edit_entry(run: _Run, inp: ev.EditEntry) -> None:
    entry = _entry_exists(run, inp.repeat, inp.entry)
    first = next(
        (
            sl
            for sl in run.slots()
            if sl.cursor.entry == entry
            and sl.repeat is not None
            and sl.repeat.id == inp.repeat
            and sl.item is not None
        ),
        None,
    )
    if first is None:
        raise _Reject("item_not_available")
    menu = run.s.cursor if run.s.cursor.kind == "group" else Cursor("repeat_menu", inp.repeat)
    run.quiet_intro = True
    run.move(first.cursor)
    run.s.walk, run.s.return_to = "entry", menu


def _on_remove_entry(run: _Run, inp: ev.RemoveEntry) -> None:
    entry = _entry_exists(run, inp.repeat, inp.entry)
    menu = run.s.cursor if run.s.cursor.kind in ("repeat_menu", "group") else None
    run.move(Cursor("confirm_remove", inp.repeat, entry))
    run.s.return_to = menu  # the menu the confirmation returns to


def _on_finish_repeat(run: _Run, inp: ev.FinishRepeat) -> None:
    _repeat(run, inp.repeat)
    repeat = run.c.repeats[inp.repeat][0]
    if len(run.s.repeats.get(inp.repeat, ())) < repeat.min_entries:
        raise _Reject("min_entries", min=repeat.min_entries)
    run.s.closed_repeats.add(inp.repeat)
    run.s.walk, run.s.return_to = "next_unanswered", None
    run.advance_from(Cursor("repeat_menu", inp.repeat))


def _on_reopen(run: _Run, _: ev.Reopen) -> None:
    if run.s.status != "submitted":
        raise _Reject("not_submitted")
    run.s.status = "in_progress"
    run.s.cursor = REVIEW
    run.effects.append(fx.Reopened(run.s.revision))


_Handler = Callable[[_Run, Any], None]
_HANDLERS: dict[type, _Handler] = {
    ev.Resume: _on_resume,
    ev.TextAnswer: _on_text,
    ev.Choose: _on_choose,
    ev.Toggle: _on_toggle,
    ev.ConfirmSelection: _on_confirm_selection,
    ev.Keep: _on_keep,
    ev.Skip: _on_skip,
    ev.DontKnow: _on_dont_know,
    ev.Back: _on_back,
    ev.Jump: _on_jump,
    ev.Review: _on_review,
    ev.Submit: _on_submit,
    ev.Confirm: _on_confirm,
    ev.AddEntry: _on_add_entry,
    ev.EditEntry: _on_edit_entry,
    ev.RemoveEntry: _on_remove_entry,
    ev.FinishRepeat: _on_finish_repeat,
    ev.Reopen: _on_reopen,
    ev.OpenGroup: _on_open_group,
    ev.GoMissing: _on_go_missing,
}
# Inputs that only look: allowed after the deadline and after submission.
_READ_ONLY = (ev.Resume, ev.Review, ev.Back)


def _valid(run: _Run, cursor: Cursor | None) -> bool:
    """False for a position that no longer exists (another officer removed an
    entry, or a questionnaire version dropped the item)."""
    if cursor is None or cursor.kind in ("review", "confirm_submit", "done"):
        return True
    if cursor.kind == "confirm_conflict" and run.s.held is None:
        return False
    if cursor.kind in ("repeat_menu", "group", "confirm_remove"):
        entries = run.s.repeats.get(cursor.item or "", [])
        ok = cursor.item in run.c.repeats
        return ok and (cursor.kind != "confirm_remove" or (cursor.entry or 0) < len(entries))
    located = run.c.items.get(cursor.item or "")
    if located is None:
        return False
    if located.repeat is None:
        return cursor.entry is None
    return cursor.entry is not None and cursor.entry < len(run.s.repeats.get(located.repeat.id, []))


def _repeat_of(run: _Run, cursor: Cursor) -> str | None:
    if cursor.kind in ("repeat_menu", "group", "confirm_remove"):
        return cursor.item
    located = run.c.items.get(cursor.item or "")
    return located.repeat.id if located and located.repeat else None


def _stamp(run: _Run) -> None:
    """Remember which entry the officer's positions point at, by key."""
    s = run.s
    anchors: dict[str, str] = {}
    for name, cursor in (("cursor", s.cursor), ("return_to", s.return_to)):
        if cursor is None or cursor.entry is None:
            continue
        repeat_id = _repeat_of(run, cursor)
        entries = s.repeats.get(repeat_id or "", [])
        if cursor.entry < len(entries):
            anchors[name] = entries[cursor.entry].key
    s.anchors = anchors


def _reanchor(run: _Run, cursor: Cursor | None, anchor: str | None) -> Cursor | None:
    """The same entry's position after other officers' removals (None: it is gone)."""
    if cursor is None or cursor.entry is None or not anchor:
        return cursor
    entries = run.s.repeats.get(_repeat_of(run, cursor) or "", [])
    for index, entry in enumerate(entries):
        if entry.key == anchor:
            return cursor if index == cursor.entry else cursor._replace(entry=index)
    return None


def _sanitize(run: _Run) -> str | None:
    """Make the officer's positions valid again; the key of the entry the officer
    was in when another officer removed it (None otherwise)."""
    # History is checked when it is used (Back keeps only visible positions).
    s = run.s
    gone: str | None = None
    for entries in s.repeats.values():
        for entry in entries:
            if not entry.key:  # entries stored before keys existed
                entry.key = f"e{s.entry_serial}"
                s.entry_serial += 1
    if s.anchors:
        moved = _reanchor(run, s.cursor, s.anchors.get("cursor"))
        if moved is None:
            gone = s.anchors.get("cursor")
            repeat_id = _repeat_of(run, s.cursor)
            moved = Cursor("repeat_menu", repeat_id) if repeat_id in run.c.repeats else REVIEW
        s.cursor = moved
        s.return_to = _reanchor(run, s.return_to, s.anchors.get("return_to"))
    if not _valid(run, s.return_to):
        s.return_to, s.walk = None, "next_unanswered"
    if not _valid(run, s.cursor):
        s.cursor, s.pending, s.walk, s.return_to = REVIEW, None, "next_unanswered", None
    return gone


def position(questionnaire: Questionnaire, state: State, now: datetime | None = None
             ) -> tuple[str | None, fx.Progress | None]:
    """The item the officer is on and its progress (None off an item), for help tickets."""
    run = _Run(questionnaire, state, now or datetime.min)
    _sanitize(run)
    cursor = run.s.cursor
    item_cursor = Cursor("item", cursor.item, cursor.entry)
    if cursor.kind in ("item", "other_text") and run.index_of(item_cursor) >= 0:
        return cursor.item, run.progress(item_cursor)
    return None, None


def progress_counts(questionnaire: Questionnaire, state: State, now: datetime | None = None
                    ) -> tuple[int, int]:
    """(answered, total) visible questions, for status listings."""
    run = _Run(questionnaire, state, now or datetime.min)
    askable = [slot for slot in run.slots() if slot.item is not None and slot.item.asks]
    return sum(1 for slot in askable if run.answered(slot)), len(askable)


def unfilled_refs(questionnaire: Questionnaire, state: State) -> frozenset[fx.ItemRef]:
    """Visible questions left without an answer (skipped optional ones included)."""
    run = _Run(questionnaire, state, datetime.min)
    return frozenset(
        slot.ref for slot in run.slots()
        if slot.item is not None and slot.item.asks
        and not (slot.item.id in (answers := run.slot_answers(slot)).values
                 or slot.item.id in answers.unknown)
    )


def missing_refs(questionnaire: Questionnaire, state: State) -> tuple[fx.ItemRef, ...]:
    """Visible required items without an answer (and repeats short of entries)."""
    run = _Run(questionnaire, state, datetime.min)
    _sanitize(run)
    return run.missing()


def start(questionnaire: Questionnaire, now: datetime) -> Step:
    """A new, empty response positioned on the first visible item."""
    state = State(questionnaire.id, questionnaire.version, cursor=REVIEW)
    run = _Run(questionnaire, state, now)
    run.s.cursor = run.first_unanswered() or REVIEW
    run.render_prompt()
    return Step(run.s, tuple(run.effects))


def advance(
    questionnaire: Questionnaire,
    state: State,
    inp: ev.Input,
    now: datetime,
    deadline: datetime | None = None,
    actor: int | None = None,
) -> Step:
    """Apply one input. Never raises for wrong input: returns `Rejected`.

    `actor` is who gives the input (an officer's id): answers record it, and an
    answer that changed after the officer's prompt was drawn, by someone else,
    is not applied but turned into a `Conflict` question."""
    seq = getattr(inp, "seq", None)
    if seq is not None and seq != state.seq:
        return Step(state, (fx.Rejected("stale_button"),))
    if not isinstance(inp, _READ_ONLY):
        if deadline is not None and now > deadline:
            return Step(state, (fx.Rejected("deadline_passed", {"deadline": deadline}),))
        if state.status == "submitted" and not isinstance(inp, ev.Reopen):
            return Step(state, (fx.Rejected("already_submitted", {"revision": state.revision}),))
    run = _Run(questionnaire, state, now, actor)
    gone = _sanitize(run)
    if gone is not None and not isinstance(inp, _READ_ONLY):
        # The officer's entry was removed by a colleague: say so and show the
        # entries as they are, rather than apply the input somewhere else.
        by, at = run.s.removed.get(gone) or [None, None]
        run.effects.append(fx.Notice("entry_removed_meanwhile", {"by": by, "at": at}))
        run.s.pending, run.s.held, run.s.walk, run.s.return_to = (
            None, None, "next_unanswered", None)
        run.s.seq += 1
        run.render_prompt()
        _stamp(run)
        return Step(run.s, tuple(run.effects))
    try:
        _HANDLERS[type(inp)](run, inp)
    except _Reject as rejection:
        return Step(state, (fx.Rejected(rejection.key, rejection.params),))
    except _Conflicted:
        run.prompt = True
    run.s.seq += 1
    if run.prompt:
        run.render_prompt()
    _stamp(run)
    return Step(run.s, tuple(run.effects))


def redraw(questionnaire: Questionnaire, state: State, now: datetime | None = None
           ) -> tuple[fx.Effect, ...]:
    """The prompt the officer stands on, drawn again on the same seq: nothing changes
    and buttons drawn before stay valid (a redraw after a restart). A submitted
    response has no prompt: it says so."""
    run = _Run(questionnaire, state, now or datetime.min)
    _sanitize(run)
    if run.s.status == "submitted" and run.s.cursor.kind != "review":
        return (fx.AlreadySubmitted(run.s.revision, run.s.submitted_at),)
    run.render_prompt()
    return tuple(run.effects)


def answers_snapshot(questionnaire: Questionnaire, state: State, now: datetime | None = None
                     ) -> dict[str, Any]:
    """The submission: visible answers only; repeats as lists of objects.

    "Non so" is stored as None with the item listed under `_unknown`, and an
    "Altro, specificare" text under `<item>_other`.
    """
    run = _Run(questionnaire, state, now or datetime.min)
    top: dict[str, Any] = {}
    entries: dict[str, list[dict[str, Any]]] = {}
    for slot in run.slots():
        if slot.item is None:
            if slot.repeat is not None:
                entries.setdefault(slot.repeat.id, [])
            continue
        if not slot.item.asks:
            continue
        target = top
        if slot.repeat is not None and slot.cursor.entry is not None:
            rows = entries.setdefault(slot.repeat.id, [])
            while len(rows) <= slot.cursor.entry:
                rows.append({})
            target = rows[slot.cursor.entry]
        _export(slot.item, run.answers(slot.cursor), target)
    top.update(entries)
    return top


def _export(item: Item, answers: AnswerSet, target: dict[str, Any]) -> None:
    if item.id in answers.unknown:
        target[item.id] = None
        target.setdefault("_unknown", []).append(item.id)
    elif item.id in answers.values:
        target[item.id] = answers.values[item.id]
    else:
        return
    if item.id in answers.other:
        target[f"{item.id}_other"] = answers.other[item.id]
