"""Push N submitted responses to the loopback central double; print the rate.

    python -m bench.sync [--responses 8000] [--batch 100]

The responses are stored through `Store.record_step` (setup, not timed, with
fsync off); the push runs with the production settings (fsync on, batches,
one HTTP connection kept alive) against tests/central_double.py.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conversations.engine import answers_snapshot
from conversations.schema import Questionnaire, load_questionnaire, shipped_questionnaire_path
from conversations.state import AnswerSet, Cursor, State
from storage.store import Store, Submission, response_id
from storage.sync import BATCH_SIZE, Central, OutboxPusher, central_client
from tests.support.central_double import CentralDouble

NOW = datetime(2019, 7, 20, 9, 0, tzinfo=UTC)


def sample_state(q: Questionnaire, n: int) -> State:
    """A complete response with two good practices (a realistic payload size)."""
    top = AnswerSet(values={
        "municipality_confirmed": True, "respondent_name": f"Referente {n}",
        "respondent_role": "Servizi sociali", "respondent_email": f"referente{n}@comune.it",
        "respondent_phone": "055 1234567", "is_lead_municipality": n % 3 == 0,
        "district_name": "Ambito Territoriale Sociale n. 5", "district_practices_included": True,
        "publish_consent": n % 4 != 0,
    })
    practice = {
        "areas": ["infanzia", "famiglie"], "beneficiaries": ["genitori", "bambini_0_3"],
        "description": "Spazio gioco e consulenza per le famiglie con bambini piccoli. " * 8,
        "start_date": "2018-09-01", "ongoing": True, "level": "comunale",
        "funding_sources": ["fondo_famiglia_intese", "fondi_comunali"],
        "funding_amount": "12500.00", "funding_national_amount": "5000.00",
        "people_reached": 250, "results": "Oltre 200 famiglie seguite nel primo anno.",
    }
    entries = [AnswerSet(values={**practice, "title": f"Buona pratica {n}.{k}"}) for k in (1, 2)]
    return State(q.id, q.version, Cursor("done"), top=top, repeats={"practices": entries},
                 closed_repeats={"practices"}, status="submitted", revision=1,
                 submitted_at=NOW.isoformat())


async def fill(store: Store, q: Questionnaire, count: int) -> None:
    for n in range(count):
        istat = f"{n:06d}"
        state = sample_state(q, n)
        answers = answers_snapshot(q, state)
        payload: dict[str, Any] = {
            "response_id": response_id(q.id, istat), "revision": 1, "istat": istat,
            "comune": f"Comune {n}", "provincia": "Provincia", "regione": "Regione",
            "questionnaire_id": q.id, "questionnaire_version": q.version,
            "submitted_at": NOW.isoformat(), "answers": answers,
        }
        shared, nav = state.split()
        await store.record_step(
            questionnaire_id=q.id, istat=istat, state=shared, nav=nav, answered=30, total=30,
            user_id=n, now=NOW, changes=[],
            submission=Submission(1, NOW.isoformat(), answers, payload),
        )


async def run(count: int, batch: int) -> None:
    q = load_questionnaire(shipped_questionnaire_path())
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "bench.sqlite3")
        try:
            await store.db.execute("PRAGMA synchronous = OFF")  # setup only
            started = time.perf_counter()
            await fill(store, q, count)
            setup = time.perf_counter() - started
            await store.db.execute("PRAGMA synchronous = FULL")
            async with CentralDouble(token="bench-token") as central:
                target = Central(central.url, "bench-token")
                async with central_client(target) as client:
                    pusher = OutboxPusher(store, client, target, batch_size=batch,
                                          clock=lambda: NOW)
                    started = time.perf_counter()
                    report = await pusher.push_due()
                    elapsed = time.perf_counter() - started
            assert len(central.rows) == count and report.sent == count, report.summary()
        finally:
            await store.close()
    print(f"setup: {count:,} submissions stored in {setup:.1f} s")
    print(f"sync: {count:,} responses in {elapsed:.1f} s = {count / elapsed:,.0f} responses/s "
          f"(batches of {batch}, {report.requests} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__)
    parser.add_argument("--responses", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=BATCH_SIZE)
    args = parser.parse_args()
    asyncio.run(run(args.responses, args.batch))


if __name__ == "__main__":
    main()
