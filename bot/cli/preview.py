"""`surveybot preview`: walk a questionnaire in the terminal.

Same engine, texts and validation as the bot. Buttons are listed as numbered
options; type a number to press one (on steps that ask for a choice), or a
word: indietro, salta, nonso, avanti, riepilogo, invia, esci (English too).
Reads standard input, so it can be scripted.
"""

from __future__ import annotations

import html
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.render import callbacks as cb
from bot.render.i18n import translator
from bot.render.presenter import Presenter, Screen
from conversations import effects as fx
from conversations import engine
from conversations import inputs as ev
from conversations.schema import ItemType, Questionnaire
from storage.municipalities import MunicipalityRegistry

WORDS: dict[str, ev.Input] = {
    "indietro": ev.Back(),
    "back": ev.Back(),
    "salta": ev.Skip(),
    "skip": ev.Skip(),
    "nonso": ev.DontKnow(),
    "non so": ev.DontKnow(),
    "dontknow": ev.DontKnow(),
    "avanti": ev.Keep(),
    "mantieni": ev.Keep(),
    "next": ev.Keep(),
    "keep": ev.Keep(),
    "riepilogo": ev.Review(),
    "review": ev.Review(),
    "invia": ev.Submit(),
    "submit": ev.Submit(),
    "riprendi": ev.Resume(),
    "resume": ev.Resume(),
    "conferma": ev.ConfirmSelection(),
    "ok": ev.ConfirmSelection(),
    "confirm": ev.ConfirmSelection(),
}
_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def _takes_text(effects: tuple[fx.Effect, ...], q: Questionnaire) -> bool:
    """Whether the current prompt expects typed text (then numbers are answers)."""
    items = {
        i.id: i for s in q.sections for e in s.items for i in ([e] if e.kind == "item" else e.items)
    }
    for effect in effects:
        if isinstance(effect, fx.AskOtherText):
            return True
        if isinstance(effect, fx.AskItem):
            kind = items[effect.item].type
            return kind not in (
                ItemType.SINGLE_CHOICE,
                ItemType.MULTIPLE_CHOICE,
                ItemType.YES_NO,
                ItemType.NOTE,
            )
    return False


def run_preview(
    q: Questionnaire,
    *,
    lang: str = "it",
    istat: str = "048017",
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    municipality = MunicipalityRegistry.load().get(istat)
    placeholders = (
        {
            "comune": municipality.name,
            "provincia": municipality.province,
            "regione": municipality.region,
        }
        if municipality
        else {}
    )
    presenter = Presenter(q, translator(lang), placeholders)

    def show(screens: list[Screen]) -> list[str]:
        buttons: list[str] = []
        for screen in screens:
            print("\n" + plain(screen.text), file=stdout)
            for row in screen.buttons:
                for button in row:
                    buttons.append(button.data)
                    print(f"  [{len(buttons)}] {plain(button.label)}", file=stdout)
        return buttons

    now = datetime.now(UTC)
    print(plain(presenter.welcome()), file=stdout)
    step = engine.start(q, now)
    buttons = show(presenter.screens(step.effects))
    last_effects = step.effects
    for raw in stdin:
        line = raw.rstrip("\n")
        word = line.strip().lower()
        if word in ("esci", "exit", "quit"):
            break
        print(f"> {line}", file=stdout)
        inp: ev.Input | str | None
        if word in WORDS:
            inp = WORDS[word]
        elif word.isdigit() and not _takes_text(last_effects, q) and 1 <= int(word) <= len(buttons):
            inp = cb.decode(buttons[int(word) - 1])
        else:
            inp = ev.TextAnswer(line)
        if isinstance(inp, str) or inp is None:
            if inp == "resume":
                inp = ev.Resume()
            else:
                print(plain(presenter.help_text()), file=stdout)
                continue
        step = engine.advance(q, step.state, inp, now)
        if step.effects and not all(isinstance(e, fx.Rejected) for e in step.effects):
            last_effects = step.effects
        new_buttons = show(presenter.screens(step.effects))
        if new_buttons:
            buttons = new_buttons
        if any(isinstance(e, fx.Completed) for e in step.effects):
            print("\n" + plain(str(engine.answers_snapshot(q, step.state))), file=stdout)
            break
    return 0
