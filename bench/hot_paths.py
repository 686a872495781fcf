"""Small hot paths the tests used to time (timings belong here, not in tests/):
condition evaluation, the answer parsers on huge and near-limit inputs, and the
PDF receipt of a response with twenty good practices.

    python -m bench.hot_paths [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from bot.render.i18n import translator
from bot.render.presenter import Presenter
from bot.render.receipt import build_receipt
from conversations.expressions import parse_expression
from conversations.parsing import (
    MAX_INPUT_LENGTH,
    InputError,
    parse_amount,
    parse_date,
    parse_email,
    parse_integer,
    parse_phone,
    parse_url,
)
from conversations.schema import load_questionnaire, shipped_questionnaire_path

PARSERS: tuple[Callable[[str], object], ...] = (
    parse_amount, parse_integer, parse_date, parse_email, parse_phone, parse_url,
)
# Shapes that make backtracking regular expressions slow, huge and just under the cap.
NASTY = ("1", "1.", "a@", "www.", " 1", "1,", "-")


@dataclass
class Context:
    values: dict[str, object] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def value(self, item_id: str) -> object:
        return self.values.get(item_id)

    def count(self, repeat_id: str) -> int:
        return self.counts.get(repeat_id, 0)


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of `repeat` runs, in seconds (the least disturbed by the machine)."""
    times: list[float] = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def expressions(repeat: int) -> None:
    expr = parse_expression(
        "not n == 1 or dec > 2 and selected(multi, 'a') and count(children) > 0 "
        "and s in ['rome', 'milan']"
    )
    ctx = Context(
        {"n": 3, "dec": Decimal("2.50"), "multi": ["a", "b"], "s": "rome"}, {"children": 2}
    )
    count = 20_000

    def run() -> None:
        for _ in range(count):
            expr.evaluate(ctx)

    spent = best_of(repeat, run)
    print(f"expressions: {count / spent:,.0f} evaluations/s of a 5-clause condition")


def parsers(repeat: int) -> None:
    worst = (0.0, "", "")
    for parser in PARSERS:
        for piece in NASTY:
            for length in (10_000, MAX_INPUT_LENGTH):
                text = (piece * length)[:length]

                def run(parser: Callable[[str], object] = parser, text: str = text) -> None:
                    with contextlib.suppress(InputError):
                        parser(text)

                spent = best_of(repeat, run)
                if spent > worst[0]:
                    worst = (spent, parser.__name__, f"{piece!r} x {length}")
    print(f"parsers: slowest answer to a nasty input {worst[0] * 1e6:,.1f} µs "
          f"({worst[1]}, {worst[2]}; {len(PARSERS) * len(NASTY) * 2} cases)")


def practice(number: int) -> dict[str, Any]:
    description = (
        "Lo sportello offre consulenza, mediazione familiare e gruppi di auto-mutuo aiuto "
        "ai genitori; è attivo dal lunedì al venerdì – anche online. " * 20
    )[:1500]
    return {
        "title": f"Centro per le famiglie «Il Girasole» n. {number}",
        "areas": ["centri_famiglie", "altro"],
        "areas_other": "Mediazione dei conflitti",
        "description": description,
        "beneficiaries": ["genitori", "famiglie_monoparentali"],
        "level": "comunale",
        "start_date": date(2018, 9, 1).isoformat(),
        "ongoing": True,
        "funding_sources": ["fondo_famiglia_intese", "fondi_comunali"],
        "funding_amount": "1234.50",
        "website": "https://www.comune.forli.fc.it/famiglie",
    }


def receipt(repeat: int) -> None:
    q = load_questionnaire(shipped_questionnaire_path())
    places = {"comune": "Forlì", "provincia": "Forlì-Cesena", "regione": "Emilia-Romagna"}
    presenter = Presenter(q, translator("it"), places)
    answers: dict[str, Any] = {
        "municipality_confirmed": True,
        "respondent_name": "Niccolò D’Annunzio",
        "respondent_email": "n.dannunzio@comune.forli.fc.it",
        "practices": [practice(n) for n in range(1, 21)],
        "publish_consent": True,
    }

    def run() -> bytes:
        return build_receipt(
            presenter, answers, comune="Forlì", provincia="Forlì-Cesena", istat="040012",
            revision=1, submitted_at="2019-07-31T21:59:00+00:00", response_id="bench",
            compress=True,
        )

    size = len(run())  # warm-up: catalogues, fonts
    spent = best_of(repeat, run)
    print(f"receipt: 20 practices in {spent * 1000:,.0f} ms ({size / 1024:,.0f} KiB PDF)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best kept)")
    args = parser.parse_args()
    expressions(args.repeat)
    parsers(args.repeat)
    receipt(args.repeat)


if __name__ == "__main__":
    main()
