"""/avanzamento and `surveybot status`: counts by status overall and per region, the
chart, the municipalities that have not started; only for coordinators."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import status as status_cli
from bot.settings import Settings
from storage.municipalities import MunicipalityRegistry
from storage.store import Store
from tests.support.botapi_double import BotApiDouble
from tests.support.coordination_helpers import issue_codes, one, plain_settings, set_response
from tests.support.harness import Harness, running

COORDINATOR = 7001
OFFICER = 1001
# Toscana: Firenze (submitted), Bagno a Ripoli (in progress), Barberino (opened, no answer);
# Lazio: Roma (no response); Lombardia: Milano (no response); Sicilia: Palermo (in progress).
CODES = ["048017", "048001", "048002", "058091", "015146", "082053"]


async def prepare(store: Store) -> None:
    await issue_codes(store, CODES)
    await set_response(store, "048017", "submitted", answered=40)
    await set_response(store, "048001", "in_progress", answered=5)
    await set_response(store, "048002", "in_progress", answered=0)
    await set_response(store, "082053", "in_progress", answered=12)


@pytest.fixture
async def desk(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    async with running(tmp_path, double, coordinators=[COORDINATOR]) as h:
        yield h


async def test_progress_for_coordinators(desk: Harness) -> None:
    h, double = desk, desk.double
    assert h.services is not None
    await prepare(h.services.store)

    await h.send(OFFICER, "/avanzamento")
    assert h.texts(OFFICER) == [
        "⛔ Non sei autorizzato a usare questo comando: è riservato ai coordinatori del "
        "monitoraggio."]
    row = await one(h.services.store,
        "SELECT action, target FROM audit_log WHERE actor_id = ?", OFFICER)
    assert tuple(row) == ("coord.denied", "/avanzamento")

    await h.send(COORDINATOR, "/avanzamento")
    messages = double.sent(COORDINATOR)
    assert len(messages) == 3
    summary = messages[0]["text"]
    assert "Avanzamento al 01/07/2019 alle 11:30" in summary
    assert "Comuni abilitati: 6" in summary
    assert "Non iniziato: 3 (50,0%)" in summary
    assert "In compilazione: 2 (33,3%)" in summary
    assert "Inviato: 1 (16,7%)" in summary
    assert "Toscana: 1 · 1 · 1" in summary
    assert "Lazio: 1 · 0 · 0" in summary and "Sicilia: 0 · 1 · 0" in summary
    assert "Nessun comune abilitato in:" in summary and "Umbria" in summary

    photo = messages[1]
    assert "photo" in photo and "Quota dei comuni abilitati" in photo["caption"]
    png = double.document_bytes(photo)
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.width >= 900 and image.height > 600  # a row per region

    laggards = messages[2]["text"]
    assert "Comuni che non hanno ancora iniziato (3)" in laggards
    for name in ("Barberino di Mugello (FI)", "Roma (RM)", "Milano (MI)"):
        assert name in laggards
    assert "Firenze (FI)" not in laggards and "Palermo" not in laggards


async def test_long_list_of_laggards_comes_as_a_file(desk: Harness) -> None:
    h, double = desk, desk.double
    assert h.services is not None
    registry = MunicipalityRegistry.load()
    everyone = [m.istat for m in registry]
    await issue_codes(h.services.store, everyone)
    await h.send(COORDINATOR, "/avanzamento")
    messages = double.sent(COORDINATOR)
    assert f"Comuni abilitati: {len(everyone):,}".replace(",", ".") in messages[0]["text"]
    document = messages[-1]
    assert document["document"]["file_name"] == "comuni_non_iniziati.csv"
    rows = list(csv.DictReader(io.StringIO(double.document_bytes(document).decode("utf-8-sig"))))
    assert len(rows) == len(everyone)
    assert {"istat", "comune", "provincia", "sigla", "regione"} <= set(rows[0])
    assert len(messages) == 3


async def test_english_coordinator(desk: Harness) -> None:
    h, double = desk, desk.double
    assert h.services is not None
    await prepare(h.services.store)
    double.user_sends(COORDINATOR, "/progress", language_code="en")
    await h.settle()
    summary = double.texts(COORDINATOR)[0]
    assert "Municipalities enabled: 6" in summary
    assert "Not started: 3 (50.0%)" in summary


def _status(settings: Settings, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="surveybot")
    status_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["status", *argv])


def test_status_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = plain_settings(tmp_path)

    async def setup() -> None:
        store = await Store.open(settings.database)
        try:
            await prepare(store)
        finally:
            await store.close()

    asyncio.run(setup())
    chart = tmp_path / "chart.png"
    args = _status(settings, "--chart", str(chart))
    assert args.handler(settings, args) == 0
    out = capsys.readouterr().out
    assert "Comuni abilitati: 6" in out
    lines = out.splitlines()
    overall = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert "3" in overall["Non"] and "50,0%" in overall["Non"]
    toscana = next(line for line in lines if line.startswith("Toscana"))
    assert toscana.split()[1:] == ["1", "1", "1", "3"]
    total = next(line for line in lines if line.startswith("Totale"))
    assert total.split()[1:] == ["3", "2", "1", "6"]
    assert "058091  Roma (RM)" in out and "048002  Barberino di Mugello (FI)" in out
    assert chart.read_bytes().startswith(b"\x89PNG")

    args = _status(settings, "--no-list", "--lang", "en")
    assert args.handler(settings, args) == 0
    out = capsys.readouterr().out
    assert "Municipalities enabled: 6" in out and "Roma (RM)" not in out


def test_status_before_any_code_says_so(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    settings = plain_settings(tmp_path)
    args = _status(settings)
    assert args.handler(settings, args) == 0
    out = capsys.readouterr().out
    assert "Comuni abilitati: 0" in out
    assert "Nessun comune è ancora abilitato" in out
    assert "Tutti i comuni abilitati hanno iniziato" not in out  # not a success to celebrate


async def test_progress_for_a_coordinator_before_any_code(desk: Harness) -> None:
    await desk.send(COORDINATOR, "/avanzamento")
    shown = "\n".join(desk.texts(COORDINATOR))
    assert "Nessun comune è ancora abilitato" in shown
    assert "🎉" not in shown
    assert not any(m.get("photo") for m in desk.double.sent(COORDINATOR))  # no empty chart
