"""Tests for the municipality registry (storage/municipalities.py) and its shipped CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from storage.municipalities import Municipality, MunicipalityRegistry, normalize_name

ITALIAN_REGIONS = {
    "Abruzzo",
    "Basilicata",
    "Calabria",
    "Campania",
    "Emilia-Romagna",
    "Friuli-Venezia Giulia",
    "Lazio",
    "Liguria",
    "Lombardia",
    "Marche",
    "Molise",
    "Piemonte",
    "Puglia",
    "Sardegna",
    "Sicilia",
    "Toscana",
    "Trentino-Alto Adige",
    "Umbria",
    "Valle d'Aosta",
    "Veneto",
}
CSV_HEADER = ["istat", "comune", "provincia", "sigla", "regione", "lat", "lon", "coord_source"]


@pytest.fixture(scope="module")
def registry() -> MunicipalityRegistry:
    return MunicipalityRegistry.load()


def test_count(registry: MunicipalityRegistry) -> None:
    assert 7800 <= len(registry) <= 8000
    assert len(list(registry)) == len(registry)


def test_load_is_cached() -> None:
    assert MunicipalityRegistry.load() is MunicipalityRegistry.load()


def test_shipped_csv_format() -> None:
    path = Path(__file__).resolve().parents[2] / "storage" / "data" / "comuni.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CSV_HEADER
    codes = [r[0] for r in rows[1:]]
    assert codes == sorted(codes)
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert {r[7] for r in rows[1:]} <= {"openpolis", "province_mean", ""}


def test_firenze(registry: MunicipalityRegistry) -> None:
    firenze = registry.get("048017")
    assert firenze is not None
    assert firenze.name == "Firenze"
    assert firenze.province == "Firenze"
    assert firenze.sigla == "FI"
    assert firenze.region == "Toscana"
    assert firenze.lat is not None and firenze.lon is not None
    # Tuscany's bounding box.
    assert 42.2 <= firenze.lat <= 44.5
    assert 9.6 <= firenze.lon <= 12.4
    assert firenze.lat == pytest.approx(43.77, abs=0.05)
    assert firenze.lon == pytest.approx(11.25, abs=0.05)


def test_get_accepts_codes_without_leading_zeros(registry: MunicipalityRegistry) -> None:
    assert registry.get("48017") == registry.get("048017")
    assert registry.get(" 48017 ") == registry.get("048017")
    assert registry.get("999999") is None
    assert registry.get("firenze") is None
    assert registry.get("") is None


@pytest.mark.parametrize(
    ("istat", "name", "sigla"),
    [
        ("058091", "Roma", "RM"),
        ("040012", "Forlì", "FC"),
        ("021008", "Bolzano", "BZ"),
        ("001272", "Torino", "TO"),
    ],
)
def test_known_municipalities(
    registry: MunicipalityRegistry, istat: str, name: str, sigla: str
) -> None:
    m = registry.get(istat)
    assert m is not None
    assert (m.name, m.sigla) == (name, sigla)


def test_search_forli_without_accent(registry: MunicipalityRegistry) -> None:
    results = registry.search("forli")
    assert results
    assert results[0].istat == "040012"
    assert results[0].name == "Forlì"
    # Prefix matches follow the exact match.
    assert any(m.name == "Forlimpopoli" for m in results[1:])


def test_search_exact_is_case_insensitive(registry: MunicipalityRegistry) -> None:
    results = registry.search("FIRENZE")
    assert results[0].istat == "048017"
    assert results[0].name == "Firenze"
    roma = registry.search("ROMA", limit=20)
    assert roma[0].istat == "058091"
    # Prefix matches ("Romagnano Sesia", ...) follow the exact match.
    assert all(normalize_name(m.name).startswith("roma") for m in roma[1:4])


def test_search_ignores_apostrophes_and_hyphens(registry: MunicipalityRegistry) -> None:
    results = registry.search("sant angelo", limit=50)
    assert len(results) > 1
    assert all(normalize_name(m.name).startswith("sant angelo") for m in results[:5])
    assert any(m.name.startswith("Sant'Angelo") for m in results)
    reggio = registry.search("reggio nell emilia")
    assert reggio[0].name == "Reggio nell'Emilia"


def test_search_ambiguous_returns_candidates(registry: MunicipalityRegistry) -> None:
    results = registry.search("san giovanni", limit=10)
    assert len(results) == 10
    assert len({m.istat for m in results}) == 10
    assert all("san giovanni" in normalize_name(m.name) for m in results)
    assert registry.search("san giovanni", limit=3) == results[:3]


def test_search_is_deterministic(registry: MunicipalityRegistry) -> None:
    assert registry.search("monte", limit=30) == registry.search("monte", limit=30)


def test_search_by_code(registry: MunicipalityRegistry) -> None:
    assert registry.search("48017")[0].name == "Firenze"
    assert registry.search("048017")[0].name == "Firenze"
    province = registry.search("048", limit=100)
    assert province and all(m.istat.startswith("048") for m in province)


def test_search_edge_cases(registry: MunicipalityRegistry) -> None:
    assert registry.search("") == []
    assert registry.search("  '- ") == []
    assert registry.search("firenze", limit=0) == []
    assert registry.search("xyzzy-no-such-place") == []


def test_coordinates_inside_italy(registry: MunicipalityRegistry) -> None:
    missing = [m.istat for m in registry if m.lat is None or m.lon is None]
    assert missing == []
    for m in registry:
        assert m.lat is not None and m.lon is not None
        assert 35.4 <= m.lat <= 47.1, m
        assert 6.6 <= m.lon <= 18.6, m


def test_unique_istat_codes(registry: MunicipalityRegistry) -> None:
    codes = [m.istat for m in registry]
    assert len(codes) == len(set(codes))
    assert all(len(c) == 6 and c.isdigit() for c in codes)


def test_regions(registry: MunicipalityRegistry) -> None:
    regions = registry.regions()
    assert set(regions) <= ITALIAN_REGIONS
    assert len(regions) == 20
    assert regions == sorted(regions)
    assert all(m.region in ITALIAN_REGIONS for m in registry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Forlì", "forli"),
        ("Sant'Angelo Lodigiano", "sant angelo lodigiano"),
        ("Sant’Angelo  a  Cupolo", "sant angelo a cupolo"),
        ("Barletta-Andria-Trani", "barletta andria trani"),
        ("  CANTÙ ", "cantu"),
    ],
)
def test_normalize_name(text: str, expected: str) -> None:
    assert normalize_name(text) == expected


def test_load_from_custom_path(tmp_path: Path) -> None:
    path = tmp_path / "mini.csv"
    path.write_text(
        ",".join(CSV_HEADER)
        + "\n48017,Firenze,Firenze,FI,Toscana,43.77922,11.24447,openpolis\n"
        + "999001,Nowhere,Test,TT,Toscana,,,\n",
        encoding="utf-8",
    )
    reg = MunicipalityRegistry.load(path)
    assert len(reg) == 2
    assert reg is MunicipalityRegistry.load(path)
    assert reg.get("048017") == Municipality(
        "048017", "Firenze", "Firenze", "FI", "Toscana", 43.77922, 11.24447
    )
    nowhere = reg.get("999001")
    assert nowhere is not None and nowhere.lat is None and nowhere.lon is None


def test_compact_columns_give_back_every_row_as_read() -> None:
    """The registry keeps columns, not objects: each municipality comes back
    exactly as the CSV has it (names with accents and apostrophes, coordinates
    to the last digit, a missing coordinate as None)."""
    path = Path(__file__).resolve().parents[2] / "storage" / "data" / "comuni.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = [
        Municipality(r["istat"], r["comune"], r["provincia"], r["sigla"], r["regione"],
                     float(r["lat"]) if r["lat"] else None,
                     float(r["lon"]) if r["lon"] else None)
        for r in rows
    ]
    registry = MunicipalityRegistry.load()
    assert list(registry) == expected
    assert [registry.get(m.istat) for m in expected[::97]] == expected[::97]


def test_rows_in_any_order_and_duplicates_refused() -> None:
    b = Municipality("000002", "Bè", "P2", "P2", "R", None, 1.5)
    a = Municipality("000001", "A'a", "P1", "P1", "R", 44.0, None)
    registry = MunicipalityRegistry([b, a])
    assert list(registry) == [a, b]
    assert registry.get("1") == a and registry.get("2") == b
    assert registry.get("3") is None and registry.get("0") is None
    assert registry.search("be") == [b]
    assert registry.search("0000") == [a, b]
    assert registry.search("2") == [b]
    with pytest.raises(ValueError, match="duplicate ISTAT code: 000001"):
        MunicipalityRegistry([a, b, a])
