"""Exports read back: CSV (csv module), XLSX (openpyxl), JSON and GeoJSON (json).

Responses are built from engine states of the shipped questionnaire and
stored through `Store.record_step`, as the bot does.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot.cli.export import run_export
from bot.render.exports import export, load_records
from bot.render.exports.to_geojson import NoMapError, spread
from bot.settings import Settings
from conversations.engine import answers_snapshot
from conversations.schema import Questionnaire, load_questionnaire, shipped_questionnaire_path
from conversations.state import AnswerSet, Cursor, State
from storage.municipalities import MunicipalityRegistry
from storage.store import Store, Submission, response_id

SUBMITTED = datetime.fromisoformat("2019-07-01T10:30:00+02:00")
PERSONAL = ("Maria Rossi", "maria.rossi@comune.fi.it", "055 1234567", "Nota riservata",
            "Paolo Bianchi", "paolo.bianchi@comune.milano.it")


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return load_questionnaire(shipped_questionnaire_path())


def firenze(q: Questionnaire) -> State:
    top = AnswerSet(values={
        "municipality_confirmed": True, "respondent_name": "Maria Rossi",
        "respondent_role": "Servizi sociali", "respondent_email": "maria.rossi@comune.fi.it",
        "respondent_phone": "055 1234567", "is_lead_municipality": True, "has_practices": True,
        "district_name": "Zona Fiorentina", "district_practices_included": True,
        "notes": "Nota riservata per il Dipartimento", "publish_consent": True,
    })
    centre = AnswerSet(
        values={
            "title": "Centro per le famiglie Il Melograno",
            "areas": ["centri_famiglie", "altro"],
            "description": "Consulenza e mediazione per le famiglie del quartiere.",
            "beneficiaries": ["genitori", "famiglie_numerose"], "level": "comunale",
            "start_date": "2018-09-01", "ongoing": True,
            "funding_sources": ["fondo_famiglia_intese", "fondi_comunali"],
            "funding_amount": "12500.00", "funding_national_amount": "5000.50",
            "partners": "Cooperativa Il Girasole", "people_reached": 1250,
            "results": "Oltre 200 famiglie seguite.",
            "website": "https://www.comune.fi.it/melograno",
        },
        other={"areas": "Mediazione familiare"},
    )
    nursery = AnswerSet(
        values={
            "title": '=HYPERLINK("http://evil.example")',
            "areas": ["infanzia"],
            "description": "Spazio gioco {{{http://evil.example/frame}}} [[javascript:x|clic]]",
            "beneficiaries": ["bambini_0_3"], "level": "ambito_distretto", "ongoing": False,
            "end_date": "2019-06-30", "funding_sources": ["fondi_ue"],
        },
        unknown={"start_date", "funding_amount", "people_reached"},
    )
    return State(q.id, q.version, Cursor("done"), top=top,
                 repeats={"practices": [centre, nursery]}, closed_repeats={"practices"},
                 status="submitted", revision=1, submitted_at=SUBMITTED.isoformat())


def milano(q: Questionnaire, revision: int) -> State:
    top = AnswerSet(values={
        "municipality_confirmed": True, "respondent_name": "Paolo Bianchi",
        "respondent_role": "Ufficio famiglia", "respondent_email": "paolo.bianchi@comune.milano.it",
        "respondent_phone": "02 1234567", "is_lead_municipality": False, "has_practices": True,
        "publish_consent": False,
    })
    practice = AnswerSet(values={
        "title": f"Ludoteca comunale (revisione {revision})", "areas": ["infanzia"],
        "description": "Ludoteca aperta tutti i pomeriggi.", "beneficiaries": ["minori_6_18"],
        "start_date": "2017-01-15", "ongoing": True, "funding_sources": ["fondi_comunali"],
        "funding_amount": "800", "people_reached": 90,
    })
    return State(q.id, q.version, Cursor("done"), top=top, repeats={"practices": [practice]},
                 closed_repeats={"practices"}, status="submitted", revision=revision,
                 submitted_at=(SUBMITTED + timedelta(days=revision)).isoformat())


async def store_state(store: Store, q: Questionnaire, istat: str, state: State,
                      registry: MunicipalityRegistry) -> None:
    submission = None
    if state.status == "submitted":
        answers = answers_snapshot(q, state)
        m = registry.get(istat)
        assert m is not None and state.submitted_at is not None
        payload = {
            "response_id": response_id(q.id, istat), "revision": state.revision, "istat": istat,
            "comune": m.name, "provincia": m.province, "regione": m.region,
            "questionnaire_id": q.id, "questionnaire_version": q.version,
            "submitted_at": state.submitted_at, "answers": answers,
        }
        submission = Submission(state.revision, state.submitted_at, answers, payload)
    shared, nav = state.split()
    await store.record_step(
        questionnaire_id=q.id, istat=istat, state=shared, nav=nav, answered=10, total=20,
        user_id=7, now=SUBMITTED, changes=[], submission=submission,
    )


@pytest.fixture
async def store(tmp_path: Path, q: Questionnaire) -> Any:
    registry = MunicipalityRegistry.load()
    opened = await Store.open(tmp_path / "bot.sqlite3")
    await store_state(opened, q, "048017", firenze(q), registry)
    await store_state(opened, q, "015146", milano(q, 1), registry)
    await store_state(opened, q, "015146", milano(q, 2), registry)
    draft = State(q.id, q.version, Cursor("item", "respondent_role"), top=AnswerSet(
        values={"municipality_confirmed": True, "respondent_name": "Anna Verdi"}))
    await store_state(opened, q, "058091", draft, registry)
    yield opened
    await opened.close()


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Italian Excel needs
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def column(header: list[str], item_id: str) -> int:
    [index] = [i for i, h in enumerate(header) if h.endswith(f"[{item_id}]")]
    return index


# --- CSV ------------------------------------------------------------------------------------


async def test_csv_responses_and_practices(store: Store, q: Questionnaire, tmp_path: Path) -> None:
    out = tmp_path / "risposte.csv"
    result = await export(store, q, MunicipalityRegistry.load(), "csv", out)
    assert result.files == [out, tmp_path / "risposte_buone_pratiche.csv"]
    assert (result.responses, result.entries) == (2, 3)

    header, *rows = read_csv(out)
    assert header[:6] == ["Codice ISTAT", "Comune", "Provincia", "Regione", "Revisione",
                          "Inviato il"]
    assert len(set(header)) == len(header)
    assert all(len(h) <= 60 + len(" [district_practices_included]") for h in header)
    # Column headers use the items' short labels.
    assert header[column(header, "municipality_confirmed")] == (
        "Comune corretto [municipality_confirmed]")
    by_istat = {row[0]: row for row in rows}
    assert list(by_istat) == ["015146", "048017"]  # drafts only on request
    fi, mi = by_istat["048017"], by_istat["015146"]
    assert fi[1:6] == ["Firenze", "Firenze", "Toscana", "1", "01/07/2019 10:30"]
    assert mi[4] == "2"  # the latest revision
    assert fi[column(header, "is_lead_municipality")] == "Sì"
    assert mi[column(header, "is_lead_municipality")] == "No"
    assert mi[column(header, "district_name")] == ""
    assert fi[column(header, "respondent_email")] == "maria.rossi@comune.fi.it"
    assert fi[column(header, "practices")] == "2"

    p_header, *practices = read_csv(tmp_path / "risposte_buone_pratiche.csv")
    assert p_header[:5] == ["Codice ISTAT", "Comune", "Provincia", "Regione", "N."]
    ludoteca, centre, nursery = practices
    assert (centre[0], centre[4], nursery[4]) == ("048017", "1", "2")
    assert centre[column(p_header, "areas")] == "Centri per le famiglie; Altro, specificare: " \
                                                "Mediazione familiare"
    assert centre[column(p_header, "funding_amount")] == "12500,00"
    assert centre[column(p_header, "funding_national_amount")] == "5000,50"
    assert centre[column(p_header, "start_date")] == "01/09/2018"
    assert centre[column(p_header, "people_reached")] == "1250"
    assert nursery[column(p_header, "start_date")] == "Non so / non applicabile"
    assert nursery[column(p_header, "funding_amount")] == "Non so / non applicabile"
    assert nursery[column(p_header, "title")].startswith("'=HYPERLINK")  # stays text in Excel
    assert nursery[column(p_header, "level")] == "Ambito o Distretto sociale"
    assert ludoteca[column(p_header, "title")] == "Ludoteca comunale (revisione 2)"
    assert ludoteca[column(p_header, "funding_amount")] == "800,00"


async def test_csv_with_drafts(store: Store, q: Questionnaire, tmp_path: Path) -> None:
    out = tmp_path / "tutte.csv"
    await export(store, q, MunicipalityRegistry.load(), "csv", out, include_drafts=True)
    header, *rows = read_csv(out)
    assert header[4] == "Stato"
    by_istat = {row[0]: row for row in rows}
    assert by_istat["058091"][1:5] == ["Roma", "Roma", "Lazio", "In compilazione"]
    assert by_istat["058091"][column(header, "respondent_name")] == "Anna Verdi"
    assert by_istat["048017"][4] == "Inviato"


# --- XLSX -----------------------------------------------------------------------------------


async def test_xlsx_two_sheets_with_typed_cells(store: Store, q: Questionnaire,
                                                tmp_path: Path) -> None:
    out = tmp_path / "risposte.xlsx"
    result = await export(store, q, MunicipalityRegistry.load(), "xlsx", out)
    assert result.files == [out]
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Risposte", "Buone pratiche"]

    responses = list(book["Risposte"].iter_rows(values_only=True))
    header = list(responses[0])
    assert header[:6] == ["Codice ISTAT", "Comune", "Provincia", "Regione", "Revisione",
                          "Inviato il"]
    fi = next(row for row in responses[1:] if row[0] == "048017")
    assert fi[4] == 1 and fi[5] == datetime(2019, 7, 1, 10, 30)
    assert fi[column(header, "publish_consent")] == "Sì"

    sheet = book["Buone pratiche"]
    rows = list(sheet.iter_rows(values_only=True))
    p_header = list(rows[0])
    assert [row[0] for row in rows[1:]] == ["015146", "048017", "048017"]
    centre, nursery = rows[2], rows[3]  # sheet rows 3 and 4
    amount_col = column(p_header, "funding_amount")
    assert centre[amount_col] == 12500 and rows[1][amount_col] == 800
    assert sheet.cell(row=3, column=amount_col + 1).number_format == '#,##0.00 "€"'
    assert centre[column(p_header, "start_date")] == datetime(2018, 9, 1)
    assert sheet.cell(row=3, column=column(p_header, "start_date") + 1).number_format == \
        "DD/MM/YYYY"
    assert centre[column(p_header, "people_reached")] == 1250
    title = sheet.cell(row=4, column=column(p_header, "title") + 1)
    assert title.data_type == "s" and title.value.startswith("=HYPERLINK")  # text, no formula
    assert nursery[amount_col] == "Non so / non applicabile"


# --- JSON -----------------------------------------------------------------------------------


async def test_json_is_central_rows(store: Store, q: Questionnaire, tmp_path: Path) -> None:
    out = tmp_path / "risposte.json"
    await export(store, q, MunicipalityRegistry.load(), "json", out)
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [r["response_id"] for r in rows] == [f"{q.id}:015146", f"{q.id}:048017"]
    outbox = await store.fetchall(
        "SELECT payload_json FROM outbox WHERE response_id = ? ORDER BY revision DESC",
        f"{q.id}:015146")
    assert rows[0] == json.loads(outbox[0][0])  # exactly what the sync pushed
    assert rows[0]["revision"] == 2
    assert rows[1]["answers"]["practices"][0]["funding_amount"] == "12500.00"
    assert set(rows[1]) == {"response_id", "revision", "istat", "comune", "provincia", "regione",
                            "questionnaire_id", "questionnaire_version", "submitted_at",
                            "answers"}


async def test_json_drafts_are_marked(store: Store, q: Questionnaire, tmp_path: Path) -> None:
    records = await load_records(store, q, MunicipalityRegistry.load(), include_drafts=True)
    draft = next(r for r in records if r.istat == "058091")
    assert draft.draft and draft.central_row()["draft"] is True
    assert draft.answers["respondent_name"] == "Anna Verdi"


# --- GeoJSON --------------------------------------------------------------------------------


async def test_geojson_for_umap(store: Store, q: Questionnaire, tmp_path: Path) -> None:
    out = tmp_path / "mappa.geojson"
    result = await export(store, q, MunicipalityRegistry.load(), "geojson", out,
                          include_drafts=True)
    assert result.map is not None and result.map.without_consent == 1
    text = out.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["type"] == "FeatureCollection"
    features = data["features"]
    assert len(features) == 2  # Firenze's practices; Milano did not consent, Roma is a draft

    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert 6.6 < lon < 18.6 and 35.4 < lat < 47.1  # [lon, lat], inside Italy
        assert abs(lon - 11.24447) < 0.01 and abs(lat - 43.77922) < 0.01
    assert features[0]["geometry"]["coordinates"] != features[1]["geometry"]["coordinates"]

    centre = features[0]["properties"]
    assert set(centre) == {"name", "description", "area", "funding", "comune", "provincia",
                           "regione", "istat", "anno_inizio", "importo",
                           "questionnaire_version"}
    assert centre["questionnaire_version"] == "2019.2"
    assert centre["name"] == "Centro per le famiglie Il Melograno"
    assert (centre["comune"], centre["provincia"], centre["regione"], centre["istat"]) == (
        "Firenze", "Firenze", "Toscana", "048017")
    assert centre["anno_inizio"] == 2018 and centre["importo"] == 12500.0
    assert centre["area"] == "Centri per le famiglie; Mediazione familiare"
    assert centre["funding"].startswith("Fondo nazionale per le politiche della famiglia")
    description = centre["description"]
    assert "**Comune di Firenze (Firenze, Toscana)**" in description
    assert "**Inizio:** 01/09/2018\n**In corso:** Sì\n" in description
    assert "**Finanziamento:** 12.500,00\xa0€\n" in description
    assert "nazionale per le politiche della famiglia:** 5.000,50\xa0€" in description
    assert "**Destinatari:** Genitori, Famiglie numerose" in description
    assert "**Fonti:** Fondo nazionale per le politiche della famiglia (Intese" in description
    assert "Oltre 200 famiglie seguite." in description
    assert "[[https://www.comune.fi.it/melograno|" in description

    nursery = features[1]["properties"]
    assert nursery["anno_inizio"] is None and nursery["importo"] is None
    assert "**Inizio:** Non so / non applicabile" in nursery["description"]
    assert "**Fine:** 30/06/2019" in nursery["description"]
    assert "{{" not in nursery["description"] and "[[" not in nursery["description"]

    # No officer's personal data, no notes, anywhere.
    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    assert not any(k.startswith("respondent") or k == "notes" for k in keys(data))
    for secret in (*PERSONAL, "Anna Verdi", "Zona Fiorentina", "Cooperativa Il Girasole"):
        assert secret not in text


async def test_geojson_follows_the_files_map_section(store: Store, q: Questionnaire,
                                                    tmp_path: Path) -> None:
    """Which items describe a feature, and which become properties, is the file's say."""
    assert q.map is not None
    spec = q.map.model_copy(update={"description": ("title",), "properties": {"anno": "ongoing"},
                                    "consent": None})
    custom = q.model_copy(update={"map": spec})
    out = tmp_path / "custom.geojson"
    result = await export(store, custom, MunicipalityRegistry.load(), "geojson", out)
    assert result.map is not None and result.map.without_consent == 0
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(features) == 3  # Milano's practice too: no consent item declared
    [centre] = [f["properties"] for f in features
                if f["properties"]["name"] == "Centro per le famiglie Il Melograno"]
    assert centre["anno"] is True and "area" not in centre
    # Without a map label the item's short label names the line.
    assert centre["description"].endswith("**Titolo:** Centro per le famiglie Il Melograno")
    without = q.model_copy(update={"map": None})
    with pytest.raises(NoMapError):
        await export(store, without, MunicipalityRegistry.load(), "geojson", out)


def test_spread_is_deterministic_and_about_100_m_apart() -> None:
    lat, lon = 43.77922, 11.24447
    points = [spread(lat, lon, i) for i in range(20)]
    assert points == [spread(lat, lon, i) for i in range(20)]
    assert points[0] == (lat, lon)
    for a in range(20):
        for b in range(a + 1, 20):
            dy = (points[a][0] - points[b][0]) * 111_320
            dx = (points[a][1] - points[b][1]) * 111_320 * 0.7219
            assert (dx * dx + dy * dy) ** 0.5 > 40  # no two markers on top of each other
    dy = (points[1][0] - lat) * 111_320
    assert abs(dy) <= 100.5


# --- command line ---------------------------------------------------------------------------


async def test_export_command(store: Store, tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"  # the store fixture's file
    out = io.StringIO()
    code = await run_export(Settings(database=database), "csv", tmp_path / "x.csv", stdout=out)
    assert code == 0
    assert out.getvalue() == (f"wrote {tmp_path / 'x.csv'}, {tmp_path / 'x_buone_pratiche.csv'}: "
                              "2 responses, 3 good practices\n")
    out = io.StringIO()
    await run_export(Settings(database=database), "geojson", tmp_path / "x.geojson", stdout=out)
    assert "2 good practices on the map (1 responses without consent left out" in out.getvalue()
