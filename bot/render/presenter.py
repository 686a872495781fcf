"""Engine effects -> screens (HTML text + inline buttons), in one language.

Used by the Telegram renderer and by the terminal preview alike, so both
show the same texts. Questionnaire text comes from the questionnaire file;
interface text from the gettext catalogues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html import escape as _html_escape
from typing import Any

from bot.render import callbacks as cb
from bot.render import formatting
from bot.render.i18n import Translator
from bot.render.text import shorten as _shorten  # the one shortening helper
from conversations import effects as fx
from conversations.schema import (
    CHOICE_TYPES,
    Item,
    ItemType,
    Questionnaire,
    Repeat,
    plural_for,
    short_text,
    text_for,
)

TEXT_LIMIT = 4096
REVIEW_CHUNK_CHARS = 3500
REVIEW_CHUNK_LINES = 40
BUTTONS_PER_ROW = 8
REVIEW_VALUE_CHARS = 160
CHANGES_LISTED = 10  # answers changed by colleagues listed with a submission


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str


@dataclass(slots=True)
class Screen:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    # A prompt replaces the previous prompt's keyboard; a notice does not.
    is_prompt: bool = False
    # Rows of a persistent reply keyboard this message installs (never with buttons).
    keyboard: list[list[str]] | None = None


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")
_TAG_ROOM = 200  # kept free in each part for closing and reopening tags


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at line breaks so each part fits in one Telegram message. HTML stays
    balanced: a tag open at a split is closed at the end of the part and opened again
    at the start of the next (Telegram refuses a message with unbalanced tags)."""
    if len(text) <= limit:
        return [text]
    room = limit - _TAG_ROOM if "<" in text else limit
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > room:
            if current:
                parts.append(current)
                current = ""
            cut = _safe_cut(line, room)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return _rebalance(parts)


def _safe_cut(line: str, limit: int) -> int:
    """A cut at most `limit` that falls neither inside a tag nor inside an entity."""
    cut = limit
    tag, entity = line.rfind("<", 0, cut), line.rfind("&", 0, cut)
    if tag > line.rfind(">", 0, cut):
        cut = tag
    if entity > line.rfind(";", 0, cut) and entity > cut - 10:
        cut = min(cut, entity)
    return max(cut, 1)


def _rebalance(parts: list[str]) -> list[str]:
    out: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    for part in parts:
        prefix = "".join(tag for _, tag in open_tags)
        for match in _TAG.finditer(part):
            closing, name = match.group(1), match.group(2).lower()
            if not closing:
                open_tags.append((name, match.group(0)))
            elif open_tags and open_tags[-1][0] == name:
                open_tags.pop()
        suffix = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        out.append(prefix + part + suffix)
    return out


# Reply-keyboard keys (their texts come back as messages) and the flow command of each.
NAV_KEYS = (("key.back", "back"), ("key.skip", "skip"), ("key.review", "review"),
            ("key.help", "help"))


def echo_line(answer: str) -> str:
    """An answer read back to the officer, as a line of HTML: "✓ 01/03/2018"."""
    return f"✓ <b>{escape(answer)}</b>"


def nav_labels(t: Translator) -> list[str]:
    return [t(key) for key, _ in NAV_KEYS]


def escape(text: str) -> str:
    """HTML-escape for Telegram (apostrophes stay readable)."""
    return _html_escape(text, quote=False)


class Presenter:
    def __init__(
        self,
        questionnaire: Questionnaire,
        t: Translator,
        placeholders: dict[str, str] | None = None,
    ) -> None:
        self.q = questionnaire
        self.t = t
        self.lang = t.lang
        self.placeholders = placeholders or {}
        # Officers of the municipality by id, for "who answered" (see officer_flow.names).
        self.names: dict[int, str] = {}
        self._items: dict[str, Item] = {}
        self._repeat_text: dict[str, str] = {}
        self._repeats: dict[str, Repeat] = {}
        for section in questionnaire.sections:
            for element in section.items:
                if isinstance(element, Item):
                    self._items[element.id] = element
                else:
                    self._repeats[element.id] = element
                    self._repeat_text[element.id] = self.text(element.text)
                    for item in element.items:
                        self._items[item.id] = item

    # --- text helpers -------------------------------------------------------
    def text(self, value: dict[str, str] | None) -> str:
        raw = text_for(value, self.lang, self.q.default_language)
        for key, replacement in self.placeholders.items():
            raw = raw.replace("{" + key + "}", replacement)
        return raw

    def item(self, item_id: str) -> Item:
        return self._items[item_id]

    def entry_words(self, repeat_id: str, count: int) -> str:
        """The file's word for `count` entries ("buona pratica", "buone pratiche")."""
        repeat = self._repeats[repeat_id]
        word = plural_for(repeat.entry_name, count, self.lang, self.q.default_language)
        return word if word is not None else self._repeat_text[repeat_id].lower()

    def group_title(self, repeat_id: str) -> str:
        """A group's name in the review: its plural entry word, capitalised."""
        word = self.entry_words(repeat_id, 2)
        return word[:1].upper() + word[1:]

    def where(self, p: fx.Progress) -> str:
        """The progress line: question, section, share of required answers."""
        section = self.q.sections[p.section - 1]
        line = self.t("progress", position=p.position, total=p.total, section=p.section,
                      sections=p.sections, percent=p.percent)
        return f"<i>{escape(line)} — {escape(self.text(section.title))}</i>"

    def value(
        self, item: Item, value: Any, *, unknown: bool = False, other: str | None = None
    ) -> str:
        """A stored value as plain text (not escaped)."""
        t = self.t
        if unknown:
            return t("value.unknown")
        if value is None:
            return t("value.empty")
        if item.type is ItemType.YES_NO:
            return t("value.yes") if value else t("value.no")
        if item.type in CHOICE_TYPES:
            chosen = value if isinstance(value, list) else [value]
            labels = []
            for choice in item.choices:
                if choice.value in chosen:
                    label = self.text(choice.label)
                    labels.append(f"{label}: {other}" if choice.other and other else label)
            return ", ".join(labels) or t("value.empty")
        try:
            if item.type is ItemType.AMOUNT:
                return formatting.amount(value)
            if item.type is ItemType.DATE:
                return formatting.day(value)
            if item.type is ItemType.INTEGER:
                return formatting.integer(int(value))
            if item.type is ItemType.PHONE:
                return formatting.phone(str(value))
        except (TypeError, ValueError, ArithmeticError):
            pass  # an answer from another questionnaire version: shown as it was given
        return str(value)

    def repeat_name(self, repeat_id: str) -> str:
        return self._repeat_text.get(repeat_id, repeat_id)

    def who(self, author: int | None) -> str:
        if author is not None and author in self.names:
            return self.names[author]
        return self.t("shared.someone")

    def public(self, item: Item, public: Any) -> str:
        """An answer in the engine's public form (see AnswerSaved) as plain text."""
        if isinstance(public, dict):
            if public.get("unknown"):
                return self.value(item, None, unknown=True)
            return self.value(item, public.get("value"), other=public.get("other"))
        return self.value(item, public)

    def conflict(self, conflict: fx.Conflict) -> Screen:
        item = self.item(conflict.ref.item)
        params = {
            "name": self.who(conflict.by),
            "answer": _shorten(self.public(item, conflict.current), REVIEW_VALUE_CHARS),
            "when": self.moment(conflict.at) if conflict.at else self.t("never"),
            "question": _shorten(self.text(item.text), 90),
        }
        if not conflict.replaceable:
            return Screen("🔀 " + escape(self.t("shared.conflict_again", **params)))
        mine = conflict.proposed
        if isinstance(mine, dict) and mine.get("skip"):
            mine = None
        params["mine"] = _shorten(self.public(item, mine), REVIEW_VALUE_CHARS)
        buttons = [[Button(self.t("btn.replace_answer"), cb.encode(conflict.seq, "y")),
                    Button(self.t("btn.keep_theirs"), cb.encode(conflict.seq, "n"))]]
        return Screen("🔀 " + escape(self.t("shared.conflict", **params)), buttons,
                      is_prompt=True)

    def changed_by_others(self, effect: fx.ChangedByOthers) -> Screen:
        lines = [escape(self.t("shared.changed_since_review"))]
        for change in effect.changes[:CHANGES_LISTED]:
            question = _shorten(self.text(self.item(change.ref.item).text), 60)
            lines.append(escape(f"• «{question}» — {self.who(change.by)}"))
        hidden = len(effect.changes) - CHANGES_LISTED
        if hidden > 0:
            lines.append(escape(self.t.plural("shared.more_changes", "shared.more_changes_n",
                                              hidden)))
        return Screen("\n".join(lines))

    def welcome(self, deadline: str | None = None) -> str:
        """/start: the file's title and welcome (or intro), how answering works,
        the deadline (as a moment, already formatted)."""
        parts = [self.t("welcome", title=escape(self.text(self.q.title)))]
        own = self.q.welcome or self.q.intro
        if own:
            parts.append(escape(self.text(own)))
        parts.append(escape(self.t("welcome_howto")))
        if deadline:
            parts.append(escape(self.t("welcome_deadline", deadline=deadline)))
        return "\n\n".join(parts)

    def intro(self, effect: fx.Intro) -> Screen:
        """A section's intro under its title; a group's intro before its first entry."""
        section = self.q.sections[effect.section]
        if effect.repeat is not None:
            return Screen(f"<i>{escape(self.text(self._repeats[effect.repeat].intro))}</i>")
        heading = self.t("section_heading", section=effect.section + 1,
                         sections=len(self.q.sections), title=self.text(section.title))
        return Screen(f"<b>{escape(heading)}</b>\n{escape(self.text(section.intro))}")

    def help_text(self) -> str:
        """/aiuto without an assistance group: the file's contacts."""
        lines = [self.t("help")]
        for contact in self.q.contacts:
            reach = [*contact.phone, *([contact.email] if contact.email else [])]
            line = ", ".join(reach)
            if contact.name:
                line = f"{self.text(contact.name)} – {line}" if line else self.text(contact.name)
            if contact.hours:
                line += f" ({self.t('help_hours', hours=self.text(contact.hours))})"
            lines.append("• " + escape(line))
        if not self.q.contacts:
            lines.append(escape(self.t("help_no_contacts")))
        return "\n".join(lines)

    def edition_notice(self, to_review: int) -> str:
        """The first line after a questionnaire update."""
        if not to_review:
            return self.t("edition.notice_none")
        return self.t.plural("edition.notice", "edition.notices", to_review)

    def echo(self, saved: fx.AnswerSaved) -> str:
        """A saved answer as the officer reads it back ("✓ 01/03/2018")."""
        item = self.item(saved.ref.item)
        new = saved.new
        if new is None:
            return self.t("value.skipped")
        if isinstance(new, dict) and new.get("unknown"):
            return self.value(item, None, unknown=True)
        if isinstance(new, dict) and "value" in new:
            return self.value(item, new["value"], other=new.get("other"))
        return self.value(item, new)

    def nav_keyboard(self) -> list[list[str]]:
        """The persistent reply keyboard: navigation that works on every question."""
        return [nav_labels(self.t)[:2], nav_labels(self.t)[2:]]

    def moment(self, value: str) -> str:
        return formatting.moment(value, self.q.timezone, self.t)

    # --- effects ------------------------------------------------------------
    def screens(self, effects: tuple[fx.Effect, ...]) -> list[Screen]:
        out: list[Screen] = []
        intro: list[str] = []
        for effect in effects:
            if isinstance(effect, fx.Intro):
                intro.append(self.intro(effect).text)
                continue
            for screen in self.screen(effect):
                if intro and screen.is_prompt:
                    # An intro opens the prompt it introduces: one message, not two.
                    screen.text = "\n\n".join([*intro, screen.text])
                    intro = []
                out.append(screen)
        out.extend(Screen(text) for text in intro)
        return out

    def screen(self, effect: fx.Effect) -> list[Screen]:
        t = self.t
        if isinstance(effect, fx.AskItem):
            return [self.ask_item(effect)]
        if isinstance(effect, fx.AskOtherText):
            other = next((c for c in self.item(effect.item).choices if c.other), None)
            label = self.text(other.label) if other else ""
            return [Screen(escape(t("other_text", label=label)), [], is_prompt=True)]
        if isinstance(effect, fx.AskRepeatMenu):
            return [self.repeat_menu(effect)]
        if isinstance(effect, fx.Intro):
            return [self.intro(effect)]
        if isinstance(effect, fx.AskConfirmSubmit):
            buttons = [
                [
                    Button(t("btn.confirm_submit"), cb.encode(effect.seq, "y")),
                    Button(t("btn.cancel"), cb.encode(effect.seq, "n")),
                ]
            ]
            return [Screen(escape(t("confirm_submit")), buttons, is_prompt=True)]
        if isinstance(effect, fx.AskConfirmWarning):
            return [self.confirm_warning(effect)]
        if isinstance(effect, fx.AskConfirmRemove):
            label = effect.label or t("entry_untitled")
            buttons = [
                [
                    Button(t("btn.confirm_remove"), cb.encode(effect.seq, "y")),
                    Button(t("btn.cancel"), cb.encode(effect.seq, "n")),
                ]
            ]
            text = escape(t("confirm_remove", label=label))
            if effect.changed_by is not None or effect.changed_at is not None:
                when = self.moment(effect.changed_at) if effect.changed_at else t("never")
                text = "🔀 " + escape(t("shared.entry_changed", name=self.who(effect.changed_by),
                                        when=when)) + "\n" + text
            return [Screen(text, buttons, is_prompt=True)]
        if isinstance(effect, fx.Conflict):
            return [self.conflict(effect)]
        if isinstance(effect, fx.ChangedByOthers):
            return [self.changed_by_others(effect)]
        if isinstance(effect, fx.ShowReview):
            return self.review(effect)
        if isinstance(effect, fx.MissingItems):
            return [Screen(escape(t("missing_items", items=self.refs(effect.refs))))]
        if isinstance(effect, fx.Rejected):
            return [Screen("⚠️ " + escape(self.rejection(effect)))]
        if isinstance(effect, fx.Resumed):
            return []  # the bot adds the "last saved" time it alone knows
        if isinstance(effect, fx.Completed):
            return [
                Screen(
                    t("completed", when=self.moment(effect.submitted_at), revision=effect.revision)
                )
            ]
        if isinstance(effect, fx.Reopened):
            return [Screen(escape(t("reopened")))]
        if isinstance(effect, fx.AlreadySubmitted):
            when = self.moment(effect.submitted_at) if effect.submitted_at else t("never")
            text = escape(t("already_submitted", when=when, revision=effect.revision))
            return [Screen(text, [[Button(t("btn.review"), cb.encode(0, "r"))]])]
        if isinstance(effect, fx.Notice):
            params = dict(effect.params)
            if "by" in params:  # an author id: the officer's name
                params["by"] = self.who(params["by"])
            if "at" in params:
                params["at"] = self.moment(params["at"]) if params["at"] else t("never")
            return [Screen(escape(t(effect.key, **params)))]
        return []  # AnswerSaved, EntryRemoved: for the audit trail only

    def confirm_reopen(self, seq: int) -> Screen:
        """Reopening a submitted response asks first: its changes are not sent until
        it is submitted again."""
        buttons = [[Button(self.t("btn.confirm_reopen"), cb.encode(seq, "R")),
                    Button(self.t("btn.cancel"), cb.encode(0, "r"))]]
        return Screen(escape(self.t("confirm_reopen")), buttons, is_prompt=True)

    def confirm_warning(self, ask: fx.AskConfirmWarning) -> Screen:
        item = self.item(ask.item)
        message = self.text(item.warn_message) if item.warn_message else self.t("warning_default")
        shown = self.value(item, ask.value)
        text = f"⚠️ <b>{escape(message)}</b>\n{escape(self.t('warning_value', value=shown))}"
        buttons = [[Button(self.t("btn.confirm_warning"), cb.encode(ask.seq, "y")),
                    Button(self.t("btn.change_answer"), cb.encode(ask.seq, "n"))]]
        return Screen(text, buttons, is_prompt=True)

    def computed(self, text: str, values: tuple[fx.Computed, ...]) -> str:
        """`${...}` replaced by its value, in the item's own format."""
        for value in values:
            shown = self.t("value.empty") if value.value is None else self.formatted(value)
            text = text.replace("${" + value.source + "}", shown)
        return text

    def formatted(self, computed: fx.Computed) -> str:
        value, kind = computed.value, computed.kind
        if isinstance(value, bool):
            return self.t("value.yes") if value else self.t("value.no")
        if kind == ItemType.AMOUNT.value and isinstance(value, int | Decimal):
            return formatting.amount(Decimal(value))
        if isinstance(value, date):
            return formatting.day(value)
        if isinstance(value, int):
            return formatting.integer(value)
        if isinstance(value, Decimal):
            return formatting.decimal(value)
        return str(value)

    def rejection(self, effect: fx.Rejected) -> str:
        params = dict(effect.params)
        if effect.key == "use_buttons" and params.get("at") in _BUTTONS_AT:
            # Name the buttons that work here: a typed word never passes for a press.
            labels = "», «".join(self.t(key) for key in _BUTTONS_AT[params["at"]])
            return self.t("error.use_these_buttons", buttons=f"«{labels}»")
        if effect.key == "stopped" and params.get("item") in self._items:
            message = self._items[params["item"]].stop_message
            return self.text(message) if message else self.t("error.stopped")
        if effect.key == "constraint_failed" and params.get("constraint") in self._items:
            message = self._items[params["constraint"]].constraint_message
            if message:
                return self.text(message)
        item_id = params.get("item")
        if isinstance(item_id, str) and item_id in self._items:
            rule = self._items[item_id].validation
            if rule is not None and rule.message:
                return self.text(rule.message)
        counted = _PLURAL_ERRORS.get(effect.key)
        count = params.pop(counted) if counted is not None else None
        for key in ("min", "max"):
            if key in params and params[key] is not None:
                params[key] = (
                    formatting.integer(int(params[key]))
                    if float(params[key]).is_integer()
                    else str(params[key])
                )
        if "deadline" in params and params["deadline"] is not None:
            params["deadline"] = self.moment(params["deadline"].isoformat())
        if isinstance(count, int):
            return self.t.plural(f"error.{effect.key}", f"error.{effect.key}.other", count,
                                 **params)
        return self.t(f"error.{effect.key}", **params)

    def refs(self, refs: tuple[fx.ItemRef, ...]) -> str:
        names = []
        for ref in refs:
            if ref.item in self._repeats:
                least = max(self._repeats[ref.item].min_entries, 1)
                names.append(self.t.plural("missing_entry", "missing_entries", least,
                                           name=self.entry_words(ref.item, least)))
                continue
            text = _shorten(self.text(short_text(self.item(ref.item))), 60)
            if ref.entry is not None and ref.repeat:
                text = f"{self._repeat_text.get(ref.repeat, '')} {ref.entry + 1}: {text}"
            names.append(f"«{text}»")
        return "; ".join(names)

    def ask_item(self, ask: fx.AskItem) -> Screen:
        t = self.t
        item = self.item(ask.item)
        lines = [self.where(ask.progress)]
        if ask.repeat is not None and ask.entry is not None:
            heading = t("entry_heading", repeat=self._repeat_text[ask.repeat], number=ask.entry + 1)
            if ask.entry_label:
                heading += f" — {ask.entry_label}"
            lines.append(f"<b>{escape(_shorten(heading, 200))}</b>")
        question = f"<b>{escape(self.computed(self.text(item.text), ask.computed))}</b>"
        if not item.required and item.asks:
            question += f" <i>{escape(t('optional'))}</i>"
        lines.append(question)
        # One hint: the item's own help, else the hint of its type.
        if item.help:
            lines.append(f"<i>{escape(self.computed(self.text(item.help), ask.computed))}</i>")
        if ask.pending is not None:
            lines.append(escape(t("selected_so_far", value=self.value(item, list(ask.pending)))))
        elif ask.editing and (ask.current is not None or ask.current_unknown):
            shown = self.value(item, ask.current, unknown=ask.current_unknown)
            lines.append(escape(t("current_answer", value=_shorten(shown, 500))))
        if not item.help:
            if item.type is ItemType.LONG_TEXT:
                hint = t.plural("hint.long_text", "hint.long_text.other", item.max_length or 0)
            else:
                hint = t(f"hint.{item.type.value}")
            lines.append(escape(hint))
        return Screen("\n".join(lines), self.item_buttons(item, ask), is_prompt=True)

    def item_buttons(self, item: Item, ask: fx.AskItem) -> list[list[Button]]:
        t, seq = self.t, ask.seq
        rows: list[list[Button]] = []
        if item.type is ItemType.YES_NO:
            rows.append(
                [
                    Button(t("btn.yes"), cb.encode(seq, "c", 0)),
                    Button(t("btn.no"), cb.encode(seq, "c", 1)),
                ]
            )
        elif item.type is ItemType.SINGLE_CHOICE:
            rows.extend(
                [Button(self.text(c.label), cb.encode(seq, "c", i))]
                for i, c in enumerate(item.choices)
                if ask.offered is None or i in ask.offered  # a choice filter
            )
        elif item.type is ItemType.MULTIPLE_CHOICE:
            current = ask.current if isinstance(ask.current, list) else []
            chosen = set(ask.pending if ask.pending is not None else current)
            for i, choice in enumerate(item.choices):
                if ask.offered is not None and i not in ask.offered:
                    continue
                mark = "✅ " if choice.value in chosen else "▫️ "
                rows.append([Button(mark + self.text(choice.label), cb.encode(seq, "t", i))])
            rows.append([Button(t("btn.confirm"), cb.encode(seq, "ok"))])
        elif item.type is ItemType.NOTE:
            rows.append([Button(t("btn.next"), cb.encode(seq, "k"))])
        extra: list[Button] = []
        if item.asks and ask.editing and (ask.current is not None or ask.current_unknown):
            extra.append(Button(t("btn.keep"), cb.encode(seq, "k")))
        if item.allow_unknown:
            extra.append(Button(t("btn.dont_know"), cb.encode(seq, "u")))
        if extra:
            rows.append(extra)
        # Back, skip, review and help live on the reply keyboard (`nav_keyboard`): a
        # question without answer buttons needs no edit when the next one comes.
        return rows

    def repeat_menu(self, menu: fx.AskRepeatMenu) -> Screen:
        t, seq = self.t, menu.seq
        repeat = self._repeats[menu.repeat]
        count = len(menu.entries)
        lines = [self.where(menu.progress)] if menu.progress is not None else []
        lines.append(f"<b>{escape(self.group_title(menu.repeat))}</b>")
        if count:
            lines.append(escape(t.plural("repeat_menu.one", "repeat_menu.other", count,
                                         name=self.entry_words(menu.repeat, count))))
        else:
            lines.append(escape(t("repeat_menu.none", name=self.entry_words(menu.repeat, 2))))
        for entry in menu.entries:
            name = escape(_shorten(entry.label or t("entry_untitled"), 80))
            flag = "" if entry.complete else f" — {escape(t('entry_incomplete'))}"
            lines.append(f"{entry.index + 1}. {name}{flag}")
        if count and menu.can_add:
            # The file's "add another?" only once there is one to add to.
            lines.append(f"<b>{escape(self.text(repeat.add_prompt))}</b>")
        elif not count:
            lines.append(escape(t("repeat_menu.add_first", add=t("btn.add_entry"))))
        rows: list[list[Button]] = []
        for entry in menu.entries:
            name = _shorten(entry.label or t("entry_untitled"), 40)
            rows.append(
                [
                    Button(
                        t("btn.edit_entry", number=entry.index + 1, label=name),
                        cb.encode(seq, "e", menu.repeat, entry.index),
                    ),
                    Button(t("btn.remove_entry", number=entry.index + 1),
                           cb.encode(seq, "d", menu.repeat, entry.index)),
                ]
            )
        action = []
        if menu.can_add:
            action.append(Button(t("btn.add_entry"), cb.encode(seq, "a", menu.repeat)))
        if menu.can_finish and not menu.from_review:
            action.append(Button(t("btn.finish_repeat"), cb.encode(seq, "f", menu.repeat)))
        if action:
            rows.append(action)
        return Screen("\n".join(lines), rows, is_prompt=True)

    def review(self, review: fx.ShowReview) -> list[Screen]:
        t, seq = self.t, review.seq
        editable = review.status != "submitted"
        blocks: list[tuple[str, Button | None]] = []
        last_entry: tuple[str | None, int | None] = (None, None)
        for number, line in enumerate(review.lines, start=1):
            item = self.item(line.ref.item)
            heading = ""
            if (line.ref.repeat, line.ref.entry) != last_entry and line.ref.repeat is not None:
                entry = (line.ref.entry or 0) + 1
                name = t("entry_heading", repeat=self._repeat_text[line.ref.repeat], number=entry)
                heading = f"\n<b>{escape(name)}</b>\n"
            last_entry = (line.ref.repeat, line.ref.entry)
            if line.skipped:
                shown = t("value.skipped")
            else:
                shown = self.value(item, line.value, unknown=line.unknown, other=line.other)
            question = _shorten(self.text(short_text(item)), 90)
            ref = fx.ItemRef(line.ref.item, line.ref.repeat, line.ref.entry)
            mark = "⚠️ " if ref in review.missing else ""
            if ref in review.flagged:
                mark = "🔄 " + mark  # a questionnaire update asks to look at it again
            text = (
                f"{heading}{mark}<b>{number}.</b> {escape(question)}\n"
                f"   ➜ {escape(_shorten(shown, REVIEW_VALUE_CHARS))}"
            )
            if ref in review.authors:
                text += f" <i>({escape(self.who(review.authors[ref]))})</i>"
            button = None
            if editable:
                data = (
                    cb.encode(seq, "j", line.ref.item, line.ref.entry)
                    if line.ref.entry is not None
                    else cb.encode(seq, "j", line.ref.item)
                )
                button = Button(t("btn.edit_item", number=number), data)
            blocks.append((text, button))
        chunks: list[list[tuple[str, Button | None]]] = [[]]
        size = 0
        for block in blocks:
            if chunks[-1] and (
                size + len(block[0]) > REVIEW_CHUNK_CHARS or len(chunks[-1]) >= REVIEW_CHUNK_LINES
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(block)
            size += len(block[0]) + 1
        screens: list[Screen] = []
        for index, chunk in enumerate(chunks, start=1):
            header = t("review_title")
            if len(chunks) > 1:
                header += " " + escape(t("review_part", part=index, parts=len(chunks)))
            lines = [header, *(text for text, _ in chunk)]
            buttons = [b for _, b in chunk if b is not None]
            rows = [
                buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)
            ]
            screens.append(Screen("\n".join(lines), rows, is_prompt=True))
        final = screens[-1]
        if review.status == "submitted":
            final.text += "\n\n" + escape(t("review_submitted"))
            final.buttons.append([Button(t("btn.reopen"), cb.encode(seq, "Rq"))])
        else:
            for group in review.groups:
                # Each group's own line and button: the hub to add, edit, remove entries.
                title = self.group_title(group.repeat)
                final.text += "\n\n" + f"<b>{escape(title)}</b>: " + escape(
                    t.plural("review_group.one", "review_group.other", group.count,
                             name=self.entry_words(group.repeat, group.count)))
                final.buttons.append([Button(
                    t("btn.open_group", title=title, count=group.count),
                    cb.encode(seq, "m", group.repeat))])
            if review.missing:
                final.text += "\n\n" + escape(
                    t.plural("review_missing.one", "review_missing.other", len(review.missing),
                             items=self.refs(review.missing))
                )
                final.buttons.append([Button(t("btn.go_missing"), cb.encode(seq, "M"))])
            else:
                final.text += "\n\n" + escape(t("review_complete"))
                final.buttons.append([Button(t("btn.submit"), cb.encode(seq, "S"))])
            final.text += "\n" + escape(t("review_edit_hint"))
            final.buttons.append([Button(t("btn.continue"), cb.bot_action("resume"))])
        for screen in screens:
            if len(screen.text) > TEXT_LIMIT:
                screen.text = _shorten(screen.text, TEXT_LIMIT)
        return screens


# The buttons a step off a question offers, named when text is typed there.
_BUTTONS_AT: dict[str, tuple[str, ...]] = {
    "review": ("btn.submit", "btn.continue"),
    "note": ("btn.next",),
    "repeat_menu": ("btn.add_entry", "btn.finish_repeat"),
    "group": ("btn.add_entry", "btn.review"),
    "confirm_submit": ("btn.confirm_submit", "btn.cancel"),
    "confirm_remove": ("btn.confirm_remove", "btn.cancel"),
    "confirm_warning": ("btn.confirm_warning", "btn.change_answer"),
}

# Errors whose number counts things: ngettext on that parameter.
_PLURAL_ERRORS = {
    "select_at_least": "min",
    "too_many_selections": "max",
    "min_entries": "min",
    "max_entries": "max",
    "too_short": "min",
    "too_long": "length",
}
