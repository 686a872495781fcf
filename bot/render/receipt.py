"""PDF receipt of a submitted questionnaire, in the officer's language.

The receipt lists every answered item of a submission (the output of
conversations.engine.answers_snapshot) with the values formatted as in the
bot, plus a short receipt id the officer can quote to the assistance team.

It uses fpdf2's core Helvetica font with the Windows-1252 encoding, so no
font file is needed: that covers Italian accented letters and €, –, ’, « »;
anything else (emoji, unusual symbols) is printed as "?".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from bot.render.presenter import Presenter
from conversations.effects import ItemRef
from conversations.schema import Item, Repeat, short_text

ENCODING = "windows-1252"
FONT = "Helvetica"
MARGIN = 18.0  # mm
LINE = 5.0  # mm, body line height
INDENT = 4.0  # mm, answers are indented under their question
LABEL_WIDTH = 38.0  # mm, labels of the header fields
ACCENT = (40, 60, 100)  # RGB of the subtitle and entry headings
RECEIPT_ID_LENGTH = 12

# Receipt-only labels; everything else comes from the questionnaire or the catalogues.
LABELS: dict[str, dict[str, str]] = {
    "it": {
        "heading": "Ricevuta di invio",
        "municipality": "Comune",
        "istat": "codice ISTAT",
        "revision": "Revisione",
        "submitted_at": "Inviato il",
        "submitted_by": "Inviato da",
        "contributors": "Hanno contribuito",
        "receipt_id": "Codice ricevuta",
        "receipt_id_hint": "Indica questo codice se contatti l'assistenza.",
        "page": "Pagina {page} di {pages}",
        "footer": "Ricevuta {receipt_id}",
    },
    "en": {
        "heading": "Submission receipt",
        "municipality": "Municipality",
        "istat": "ISTAT code",
        "revision": "Revision",
        "submitted_at": "Submitted on",
        "submitted_by": "Submitted by",
        "contributors": "Also contributed",
        "receipt_id": "Receipt id",
        "receipt_id_hint": "Please quote this code if you contact the assistance team.",
        "page": "Page {page} of {pages}",
        "footer": "Receipt {receipt_id}",
    },
}

# Characters outside Windows-1252 with an obvious stand-in.
_SUBSTITUTES = str.maketrans({
    "\u00ad": "",  # soft hyphen: lines are wrapped here, at spaces only
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-",
    "\u2015": "\u2014",
    "\u2002": " ", "\u2003": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": "\u00a0",
    "\u2032": "'", "\u2033": '"', "\u2024": ".", "\u2027": "-",
    "\t": " ", "\r": "\n", "\u2028": "\n", "\u2029": "\n",
})
# Invisible characters that only modify what precedes them (emoji variation
# selectors, zero-width joiners, skin tones): dropped so "❤️" gives one "?".
_INVISIBLE = re.compile(
    "[\u200b-\u200d\u2060\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0000-\U000e007f]"
)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def receipt_id(response_id: str, revision: int, submitted_at: str) -> str:
    """The short code identifying one submission of one response."""
    digest = hashlib.sha256(f"{response_id}|{revision}|{submitted_at}".encode()).hexdigest()
    return digest[:RECEIPT_ID_LENGTH]


def pdf_safe(text: str) -> str:
    """Text the core fonts can print: Windows-1252, anything else as "?"."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).translate(_SUBSTITUTES)
    text = _CONTROL.sub(" ", _INVISIBLE.sub("", text))
    return text.encode(ENCODING, errors="replace").decode(ENCODING)


def labels_for(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["it"])


class _ReceiptPDF(FPDF):
    def __init__(self, footer_left: str, page_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.core_fonts_encoding = ENCODING
        self._footer_left = pdf_safe(footer_left)
        self._page_label = page_label

    def footer(self) -> None:
        self.set_y(-12)
        self.set_draw_color(190, 190, 190)
        self.line(self.l_margin, self.y - 1.5, self.w - self.r_margin, self.y - 1.5)
        self.set_font(FONT, "", 8)
        self.set_text_color(110, 110, 110)
        width = (self.w - self.l_margin - self.r_margin) / 2
        self.cell(width, 5, self._footer_left, align="L")
        page = self._page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(width, 5, pdf_safe(page), align="R")
        self.set_text_color(0, 0, 0)


class _Writer:
    """Lays the receipt out top to bottom."""

    def __init__(self, pdf: _ReceiptPDF) -> None:
        self.pdf = pdf
        self.width = pdf.w - pdf.l_margin - pdf.r_margin
        self._char_widths: dict[tuple[str, float], dict[str, float]] = {}
        self._widths: dict[str, float] = {}

    def font(self, size: float, style: str = "") -> None:
        self.pdf.set_font(FONT, style, size)
        self._widths = self._char_widths.setdefault((style, size), {})

    def width_of(self, text: str) -> float:
        """Width of `text` in the current font, from per-character widths.

        Core fonts have no kerning, so summing cached character widths is exact
        and keeps wrapping linear (fpdf2's multi_cell is quadratic per line,
        which is slow for 1500-character descriptions).
        """
        widths = self._widths
        total = 0.0
        for char in text:
            width = widths.get(char)
            if width is None:
                width = widths[char] = self.pdf.get_string_width(char)
            total += width
        return total

    def wrap(self, text: str, width: float) -> list[str]:
        """Lines of at most `width`, broken at spaces (inside over-long words if need be)."""
        usable = width - 2 * self.pdf.c_margin + 1e-6
        space = self.width_of(" ")
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, line_width = "", 0.0
            # Only plain spaces break lines: "1.234,50\xa0€" stays whole.
            for word in filter(None, paragraph.split(" ")):
                word_width = self.width_of(word)
                if line and line_width + space + word_width <= usable:
                    line, line_width = f"{line} {word}", line_width + space + word_width
                    continue
                if line:
                    lines.append(line)
                line, line_width = word, word_width
                while line_width > usable and len(line) > 1:
                    cut, cut_width = 1, self.width_of(line[0])
                    while cut < len(line) and cut_width + self.width_of(line[cut]) <= usable:
                        cut_width += self.width_of(line[cut])
                        cut += 1
                    lines.append(line[:cut])
                    line = line[cut:]
                    line_width = self.width_of(line)
            lines.append(line)
        return lines

    def lines(self, text: str, *, size: float = 10, style: str = "",
              indent: float = 0.0) -> list[str]:
        self.font(size, style)
        return self.wrap(pdf_safe(text.strip()), self.width - indent)

    def text(self, text: str | list[str], *, size: float = 10, style: str = "",
             height: float = LINE, indent: float = 0.0,
             color: tuple[int, int, int] = (0, 0, 0), fill: bool = False) -> None:
        """Wrapped text; a list is taken as lines already wrapped by `lines()`."""
        pdf = self.pdf
        rows = self.lines(text, size=size, style=style, indent=indent) if isinstance(
            text, str) else text
        self.font(size, style)
        pdf.set_text_color(*color)
        for row in rows:
            pdf.set_x(pdf.l_margin + indent)  # cell() breaks pages itself
            pdf.cell(self.width - indent, height, row, fill=fill,
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)

    def rule(self, gap: float = 3.0) -> None:
        pdf = self.pdf
        pdf.ln(gap)
        pdf.set_draw_color(160, 160, 160)
        pdf.line(pdf.l_margin, pdf.y, pdf.w - pdf.r_margin, pdf.y)
        pdf.ln(gap)

    def keep_with_next(self, height: float) -> None:
        """Start a new page unless `height` fits below the cursor."""
        if self.pdf.will_page_break(height):
            self.pdf.add_page()

    def field(self, label: str, value: str) -> None:
        self.font(10, "B")
        self.pdf.cell(LABEL_WIDTH, 6, pdf_safe(label + ":"))
        self.text(value, height=6, indent=LABEL_WIDTH)

    def section(self, title: str) -> None:
        pdf = self.pdf
        pdf.ln(3)
        rows = self.lines(title, size=12, style="B")
        self.keep_with_next(len(rows) * 8 + 2 + 2 * LINE)  # with the start of an item
        pdf.set_fill_color(232, 237, 243)
        self.text(rows, size=12, style="B", height=8, fill=True)
        pdf.ln(2)

    def entry_heading(self, heading: str) -> None:
        self.pdf.ln(1)
        self.keep_with_next(6 + 2 * LINE + 2)
        self.text(heading, size=11, style="B", height=6, color=ACCENT)
        self.pdf.ln(0.5)

    def answer(self, question: str, value: str, indent: float = 0.0) -> None:
        question_lines = self.lines(question, style="B", indent=indent)
        value_lines = self.lines(value, indent=indent + INDENT)
        # Keep the question with (the first lines of) its answer.
        self.keep_with_next((len(question_lines) + min(len(value_lines), 3)) * LINE)
        self.text(question_lines, style="B", indent=indent)
        self.text(value_lines, indent=indent + INDENT)
        self.pdf.ln(1.5)


def _answered(item: Item, values: dict[str, Any]) -> tuple[Any, bool, str | None] | None:
    """(value, unknown, other) for an answered item, None otherwise."""
    if not item.asks or item.id not in values:
        return None  # notes, unanswered and hidden items
    unknown = item.id in (values.get("_unknown") or ())
    value = values[item.id]
    if value is None and not unknown:
        return None
    other = values.get(f"{item.id}_other")
    return value, unknown, other if isinstance(other, str) else None


def _formatted(presenter: Presenter, item: Item, answer: tuple[Any, bool, str | None]) -> str:
    value, unknown, other = answer
    try:
        shown = presenter.value(item, value, unknown=unknown, other=other)
    except (ValueError, TypeError, ArithmeticError):
        shown = str(value)  # a stored value its item type cannot format: show it as it is
    return shown if shown.strip() else presenter.t("value.empty")


def _answers(presenter: Presenter, items: tuple[Item, ...], values: dict[str, Any],
             unfilled: frozenset[ItemRef], repeat: str | None = None,
             entry: int | None = None) -> list[tuple[str, str]]:
    """(question, formatted answer) for the answered items, in questionnaire order;
    a visible question left empty (a skipped optional one) reads "non compilato"."""
    out = []
    for item in items:
        answer = _answered(item, values)
        if answer is not None:
            out.append((presenter.text(short_text(item)), _formatted(presenter, item, answer)))
        elif ItemRef(item.id, repeat, entry) in unfilled:
            out.append((presenter.text(short_text(item)), presenter.t("value.not_filled")))
    return out


def _entries(repeat: Repeat, answers: dict[str, Any]) -> list[dict[str, Any]]:
    raw = answers.get(repeat.id)
    if not isinstance(raw, list):
        return []
    return [entry for entry in raw if isinstance(entry, dict)]


def _creation_date(submitted_at: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(submitted_at)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def build_receipt(
    presenter: Presenter,
    answers: dict[str, Any],
    *,
    comune: str,
    provincia: str,
    istat: str,
    revision: int,
    submitted_at: str,
    response_id: str,
    submitted_by: str = "",
    contributors: tuple[str, ...] = (),
    unfilled: frozenset[ItemRef] = frozenset(),
    compress: bool = True,
) -> bytes:
    """The A4 PDF receipt of one submission.

    `answers` is the answers_snapshot() of the submission and `submitted_at`
    its ISO timestamp. The output depends only on the arguments, so building
    it twice gives the same bytes. `compress=False` leaves the page content
    streams readable (Windows-1252 text), which the tests rely on.
    """
    labels = labels_for(presenter.lang)
    code = receipt_id(response_id, revision, submitted_at)
    title = presenter.text(presenter.q.title)

    pdf = _ReceiptPDF(labels["footer"].format(receipt_id=code), labels["page"])
    pdf.compress = compress
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN)
    pdf.set_title(f"{title} - {labels['heading']} {code}")
    pdf.set_subject(f"{comune} ({provincia})")
    pdf.set_creator("surveybot")
    pdf.set_lang(presenter.lang)
    created = _creation_date(submitted_at)
    if created is not None:
        pdf.set_creation_date(created)  # instead of "now": same input, same bytes
    pdf.add_page()
    out = _Writer(pdf)

    out.text(title, size=16, style="B", height=8)
    out.text(labels["heading"], size=13, height=7, color=ACCENT)
    pdf.ln(3)
    out.field(labels["municipality"], f"{comune} ({provincia}) – {labels['istat']} {istat}")
    out.field(labels["revision"], str(revision))
    out.field(labels["submitted_at"], presenter.moment(submitted_at))
    if submitted_by:
        out.field(labels["submitted_by"], submitted_by)
    if contributors:
        out.field(labels["contributors"], ", ".join(contributors))
    out.font(10, "B")
    pdf.cell(LABEL_WIDTH, 6, pdf_safe(labels["receipt_id"] + ":"))
    pdf.set_font("Courier", "B", 12)
    pdf.cell(0, 6, code, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    out.text(labels["receipt_id_hint"], size=8.5, height=4.5, indent=LABEL_WIDTH,
             color=(90, 90, 90))
    out.rule()

    for section in presenter.q.sections:
        out.section(presenter.text(section.title))
        shown = False
        for element in section.items:
            if isinstance(element, Item):
                for question, value in _answers(presenter, (element,), answers, unfilled):
                    out.answer(question, value)
                    shown = True
                continue
            repeat_text = presenter.text(element.text)
            for number, entry in enumerate(_entries(element, answers), start=1):
                out.entry_heading(presenter.t("entry_heading", repeat=repeat_text, number=number))
                for question, value in _answers(presenter, element.items, entry, unfilled,
                                                element.id, number - 1):
                    out.answer(question, value, indent=INDENT)
                shown = True
        if not shown:
            out.text(presenter.t("value.empty"), indent=INDENT)

    return bytes(pdf.output())
