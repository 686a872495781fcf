"""`surveybot codes issue|reissue|revoke`: access codes from the terminal.

Codes are printed once (CSV `istat,comune,codice`) and stored only as keyed
hashes; `issue` skips municipalities that already have an active code
(use `reissue` to replace one).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.cli.errors import CliError
from bot.services.codes import issue_code
from bot.settings import Settings
from storage.municipalities import MunicipalityRegistry
from storage.store import Store


def read_istat_column(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as source:
        reader = csv.DictReader(source)
        if reader.fieldnames is None or "istat" not in reader.fieldnames:
            raise CliError(f"{path} has no 'istat' column")
        return [row["istat"].strip() for row in reader if row["istat"].strip()]


async def run_codes(settings: Settings, args: argparse.Namespace) -> int:
    registry = MunicipalityRegistry.load()
    wanted = list(args.istat)
    if args.from_file:
        wanted.extend(read_istat_column(args.from_file))
    if not wanted:
        raise CliError("give --istat CODE [CODE ...] or --from FILE.csv")
    unknown = [code for code in wanted if registry.get(code) is None]
    if unknown:
        raise CliError(f"unknown ISTAT codes: {', '.join(unknown)}")
    store = await Store.open(settings.database)
    try:
        if args.action == "revoke":
            for code in wanted:
                municipality = registry.get(code)
                assert municipality is not None
                done = await store.revoke_code(municipality.istat, datetime.now(UTC))
                outcome = "revoked" if done else "no active code"
                print(f"{municipality.istat},{municipality.name},{outcome}")
            return 0
        out: TextIO = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
        try:
            writer = csv.writer(out)
            writer.writerow(["istat", "comune", "codice"])
            for code in dict.fromkeys(wanted):
                municipality = registry.get(code)
                assert municipality is not None
                if args.action == "issue" and await store.has_active_code(municipality.istat):
                    print(
                        f"skipped {municipality.istat}: already has a code (use reissue)",
                        file=sys.stderr,
                    )
                    continue
                new = await issue_code(store, settings, municipality.istat, "cli",
                                       datetime.now(UTC))
                writer.writerow([municipality.istat, municipality.name, new])
        finally:
            if args.out:
                out.close()
        return 0
    finally:
        await store.close()
