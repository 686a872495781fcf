"""Where the survey stands: counts overall and per region, a chart, the laggards.

A municipality counts once it has an active access code (or a response):
"not started" while its response is missing or has no answer, "in progress"
with at least one answer, "submitted" once sent. Shared by /avanzamento and
`surveybot status`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.render import formatting
from bot.render.i18n import Translator
from bot.render.numbers import number, symbols_for
from bot.render.presenter import escape, split_text
from bot.render.text import plain
from storage.coordination_store import IN_PROGRESS, NOT_STARTED, SUBMITTED, CoordinationStore
from storage.municipalities import Municipality, MunicipalityRegistry

if TYPE_CHECKING:
    from PIL import ImageFont

UNKNOWN_REGION = "?"
LIST_MAX_MESSAGES = 5  # a longer list of laggards goes as a CSV file
LINE_CHARS = 300

COLOURS = {SUBMITTED: (46, 157, 91), IN_PROGRESS: (242, 169, 59), NOT_STARTED: (201, 206, 214)}
STAGES = (NOT_STARTED, IN_PROGRESS, SUBMITTED)


@dataclass(slots=True)
class Tally:
    not_started: int = 0
    in_progress: int = 0
    submitted: int = 0

    def add(self, stage: str) -> None:
        setattr(self, stage, getattr(self, stage) + 1)

    def get(self, stage: str) -> int:
        return int(getattr(self, stage))

    @property
    def total(self) -> int:
        return self.not_started + self.in_progress + self.submitted


@dataclass(slots=True)
class ProgressReport:
    at: datetime
    overall: Tally = field(default_factory=Tally)
    regions: dict[str, Tally] = field(default_factory=dict)
    not_started: list[Municipality] = field(default_factory=list)
    unknown_istat: list[str] = field(default_factory=list)
    reopened: int = 0  # in progress again after a submission (counted as in progress)


async def compute(
    cstore: CoordinationStore, registry: MunicipalityRegistry, questionnaire_id: str,
    now: datetime,
) -> ProgressReport:
    report = ProgressReport(now)
    report.regions = {region: Tally() for region in registry.regions()}
    stages = await cstore.municipality_stages(questionnaire_id)
    for istat, stage in sorted(stages.items()):
        municipality = registry.get(istat)
        region = municipality.region if municipality else UNKNOWN_REGION
        report.overall.add(stage)
        report.regions.setdefault(region, Tally()).add(stage)
        if stage == NOT_STARTED:
            if municipality is not None:
                report.not_started.append(municipality)
            else:
                report.unknown_istat.append(istat)
    report.not_started.sort(key=lambda m: (m.region, m.name, m.istat))
    report.reopened = len(await cstore.reopened(questionnaire_id))
    return report


def percent(part: int, whole: int, t: Translator) -> str:
    """"12,5%" (one decimal, no grouping: "#0.0")."""
    value = 100.0 * part / whole if whole else 0.0
    return number(value, symbols_for(t.lang), min_fraction=1, max_fraction=1,
                  grouping=False) + "%"


def _number(value: int, t: Translator) -> str:
    return number(value, symbols_for(t.lang))


def _when(report: ProgressReport, t: Translator, tz: str) -> str:
    return formatting.moment(report.at, tz, t)


def _stage_label(stage: str, t: Translator) -> str:
    return t(f"coord.progress.{stage}")


def summary_html(report: ProgressReport, t: Translator, tz: str) -> str:
    """Counts overall and per region (Telegram HTML)."""
    total = report.overall.total
    lines = [
        t("coord.progress.title", when=_when(report, t, tz)),
        t("coord.progress.enabled", count=_number(total, t)),
    ]
    marks = {NOT_STARTED: "⚪", IN_PROGRESS: "🟡", SUBMITTED: "🟢"}
    for stage in STAGES:
        count = report.overall.get(stage)
        lines.append(f"{marks[stage]} {_stage_label(stage, t)}: <b>{_number(count, t)}</b> "
                     f"({percent(count, total, t)})")
        if stage == IN_PROGRESS and report.reopened:
            reopened = _number(report.reopened, t)
            lines.append(f"   ↳ {t('coord.progress.reopened')}: <b>{reopened}</b>")
    lines.append("")
    lines.append(t("coord.progress.by_region"))
    for region, tally in report.regions.items():
        if tally.total == 0:
            continue
        lines.append(f"{escape(region)}: {tally.not_started} · {tally.in_progress} · "
                     f"{tally.submitted}")
    empty = [region for region, tally in report.regions.items() if tally.total == 0]
    if empty:
        lines.append(t("coord.progress.no_codes", regions=escape(", ".join(empty))))
    return "\n".join(lines)


def _name(m: Municipality) -> str:
    return f"{m.name} ({m.sigla})"


def _packed(names: list[str], limit: int = LINE_CHARS) -> list[str]:
    lines: list[str] = []
    current = ""
    for name in names:
        candidate = f"{current}, {name}" if current else name
        if len(candidate) > limit and current:
            lines.append(current)
            current = name
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _by_region(report: ProgressReport) -> dict[str, list[Municipality]]:
    grouped: dict[str, list[Municipality]] = {}
    for municipality in report.not_started:
        grouped.setdefault(municipality.region, []).append(municipality)
    return grouped


def _none_left(report: ProgressReport, t: Translator) -> str:
    """No municipality left to start: all have, or none was enabled yet."""
    if report.overall.total == 0:
        return t("coord.progress.nobody_enabled")
    return t("coord.progress.none_not_started")


def not_started_parts(report: ProgressReport, t: Translator) -> list[str]:
    """The laggards (Telegram HTML), split within 4,096 characters."""
    count = len(report.not_started) + len(report.unknown_istat)
    if count == 0:
        return [_none_left(report, t)]
    lines = [t("coord.progress.not_started_title", count=_number(count, t))]
    for region, municipalities in _by_region(report).items():
        lines.append("")
        lines.append(f"<b>{escape(region)}</b> ({len(municipalities)})")
        lines.extend(escape(line) for line in _packed([_name(m) for m in municipalities]))
    if report.unknown_istat:
        lines.append("")
        lines.extend(_packed(report.unknown_istat))
    return split_text("\n".join(lines))


def not_started_csv(report: ProgressReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["istat", "comune", "provincia", "sigla", "regione"])
    for m in report.not_started:
        writer.writerow([m.istat, m.name, m.province, m.sigla, m.region])
    for istat in report.unknown_istat:
        writer.writerow([istat, "", "", "", ""])
    return buffer.getvalue().encode("utf-8-sig")


def terminal_text(report: ProgressReport, t: Translator, tz: str, *, with_list: bool = True
                  ) -> str:
    """The same figures for `surveybot status` (plain text, aligned columns)."""
    total = report.overall.total
    out = [
        plain(t("coord.progress.title", when=_when(report, t, tz))),
        plain(t("coord.progress.enabled", count=_number(total, t))),
    ]
    for stage in STAGES:
        count = report.overall.get(stage)
        out.append(f"  {_stage_label(stage, t):<18}{_number(count, t):>8}"
                   f"{percent(count, total, t):>8}")
        if stage == IN_PROGRESS and report.reopened:
            out.append(f"    ↳ {plain(t('coord.progress.reopened'))}: "
                       f"{_number(report.reopened, t)}")
    out.append("")
    header = [t("coord.progress.col_region")] + [_stage_label(s, t) for s in STAGES] + [
        t("coord.progress.col_total")]
    width = max([len(r) for r in report.regions] + [len(header[0])]) + 2
    out.append(header[0].ljust(width) + "".join(h.rjust(18) for h in header[1:]))
    for region, tally in report.regions.items():
        cells = [tally.not_started, tally.in_progress, tally.submitted, tally.total]
        out.append(region.ljust(width) + "".join(str(c).rjust(18) for c in cells))
    totals = [report.overall.not_started, report.overall.in_progress, report.overall.submitted,
              total]
    out.append(t("coord.progress.col_total").ljust(width)
               + "".join(str(c).rjust(18) for c in totals))
    if with_list:
        out.append("")
        count = len(report.not_started) + len(report.unknown_istat)
        if count == 0:
            out.append(plain(_none_left(report, t)))
        else:
            out.append(plain(t("coord.progress.not_started_title", count=_number(count, t))))
            for region, municipalities in _by_region(report).items():
                out.append(f"{region} ({len(municipalities)}):")
                out.extend(f"  {m.istat}  {_name(m)}" for m in municipalities)
            out.extend(f"  {istat}" for istat in report.unknown_istat)
    return "\n".join(out)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont  # Pillow is loaded only when a chart is drawn

    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError, TypeError):  # Pillow without FreeType
        return ImageFont.load_default()


def chart_png(report: ProgressReport, t: Translator, tz: str) -> bytes:
    """Stacked horizontal bars per region (share of enabled municipalities by stage)."""
    from PIL import Image, ImageDraw  # Pillow is loaded only when a chart is drawn

    rows: list[tuple[str, Tally]] = [(t("coord.progress.col_total"), report.overall)]
    rows.extend((region, tally) for region, tally in report.regions.items())
    row_height, top, left, bar_width, right = 30, 110, 250, 600, 130
    width = left + bar_width + right
    height = top + row_height * len(rows) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    title_font, font, small = _font(22), _font(16), _font(14)
    draw.text((20, 15), plain(t("coord.progress.chart_title", when=_when(report, t, tz))),
              fill="black", font=title_font)
    x = 20
    for stage in (SUBMITTED, IN_PROGRESS, NOT_STARTED):  # the order of the bars
        draw.rectangle((x, 60, x + 18, 78), fill=COLOURS[stage])
        label = _stage_label(stage, t)
        draw.text((x + 26, 60), label, fill="black", font=small)
        x += 40 + int(draw.textlength(label, font=small))
    draw.text((left + bar_width + 10, top - 24), t("coord.progress.chart_ratio"), fill="black",
              font=small)
    for index, (name, tally) in enumerate(rows):
        y = top + index * row_height
        draw.text((20, y + 5), name[:28], fill="black", font=font)
        if index == 0:
            rule = y + row_height - 1
            draw.line((20, rule, width - 20, rule), fill=(200, 200, 200))
        x0 = left
        draw.rectangle((left, y + 4, left + bar_width, y + row_height - 6), outline=(180, 180, 180))
        if tally.total:
            for stage in (SUBMITTED, IN_PROGRESS, NOT_STARTED):
                share = tally.get(stage) / tally.total
                x1 = x0 + round(share * bar_width)
                if x1 > x0:
                    draw.rectangle((x0, y + 4, x1, y + row_height - 6), fill=COLOURS[stage])
                x0 = x1
            label = f"{tally.submitted}/{tally.total} ({percent(tally.submitted, tally.total, t)})"
        else:
            label = "—"
        draw.text((left + bar_width + 10, y + 6), label, fill="black", font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
