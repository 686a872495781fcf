"""Exports under a new questionnaire version, before and after the bot brought the
responses over: old rows keep their version and never break the export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from bot.render.exports import export
from conversations.engine import answers_snapshot
from conversations.schema import parse_questionnaire
from conversations.state import AnswerSet, Cursor, State
from storage.editions import EditionStore
from storage.municipalities import MunicipalityRegistry
from storage.store import Store, Submission
from tests.support.editions import V1, V2

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OLD, NEW = parse_questionnaire(V1), parse_questionnaire(V2)


async def _store(store: Store, istat: str, state: State) -> None:
    submission = None
    if state.status == "submitted":
        answers = answers_snapshot(OLD, state)
        submission = Submission(1, NOW.isoformat(), answers, {
            "questionnaire_version": "1", "answers": answers})
    shared, nav = state.split()
    await store.record_step(questionnaire_id="centres", istat=istat, state=shared, nav=nav,
                            answered=3, total=6, user_id=5, now=NOW, changes=[],
                            submission=submission)


async def test_a_new_file_exports_old_drafts_and_submissions(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await EditionStore(store).remember("centres", "1", V1, NOW)
        draft = State("centres", "1", Cursor("review"), top=AnswerSet(values={
            "name": "Aurora", "staff": "dodici", "kind": "pubblico"}))
        done = State("centres", "1", Cursor("done"), top=AnswerSet(values={
            "name": "Melograno", "staff": "otto", "kind": "privato", "referente": "Anna",
            "open_saturday": False}), status="submitted", revision=1,
            submitted_at=NOW.isoformat())
        await _store(store, "048017", done)
        await _store(store, "058091", draft)
        out = tmp_path / "x.csv"
        await export(store, NEW, MunicipalityRegistry.load(), "csv", out, include_drafts=True)
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
        header, body = rows[0], {row[0]: row for row in rows[1:]}

        def cell(istat: str, item: str) -> str:
            [index] = [i for i, h in enumerate(header) if h.endswith(f"[{item}]")]
            return body[istat][index]

        assert body["048017"][header.index("Versione")] == "1"
        assert cell("048017", "staff") == "otto"  # not a number: shown as given
        assert cell("048017", "contact_name") == "Anna"
        # The draft is read the way the bot will bring it over: staff to be asked again.
        assert body["058091"][header.index("Versione")] == "1"
        assert cell("058091", "staff") == "" and cell("058091", "kind") == "Comunale"
        # Nothing was written: the bot brings drafts over when it starts.
        [(state,)] = await store.fetchall(
            "SELECT state_json FROM responses WHERE istat = '058091'")
        assert json.loads(state)["top"]["values"]["staff"] == "dodici"
    finally:
        await store.close()
