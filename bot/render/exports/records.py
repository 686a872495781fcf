"""What an export reads: one record per response, from submissions or drafts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conversations.engine import answers_snapshot
from conversations.migration import migrate
from conversations.schema import Questionnaire, parse_questionnaire
from conversations.state import State
from storage.editions import EditionStore
from storage.municipalities import Municipality, MunicipalityRegistry
from storage.store import Store


@dataclass(frozen=True, slots=True)
class ExportRecord:
    response_id: str
    istat: str
    municipality: Municipality | None
    questionnaire_id: str
    questionnaire_version: str
    revision: int
    submitted_at: str | None  # of the revision exported (a draft: of the last submission)
    answers: dict[str, Any]  # engine.answers_snapshot format
    draft: bool = False

    @property
    def comune(self) -> str:
        return self.municipality.name if self.municipality else ""

    @property
    def provincia(self) -> str:
        return self.municipality.province if self.municipality else ""

    @property
    def regione(self) -> str:
        return self.municipality.region if self.municipality else ""

    def central_row(self) -> dict[str, Any]:
        """The row format pushed to the central database (see README_SYNC.md)."""
        row: dict[str, Any] = {
            "response_id": self.response_id,
            "revision": self.revision,
            "istat": self.istat,
            "comune": self.municipality.name if self.municipality else None,
            "provincia": self.municipality.province if self.municipality else None,
            "regione": self.municipality.region if self.municipality else None,
            "questionnaire_id": self.questionnaire_id,
            "questionnaire_version": self.questionnaire_version,
            "submitted_at": self.submitted_at,
            "answers": self.answers,
        }
        if self.draft:
            row["draft"] = True
        return row


# The version a revision was submitted under is stored with it (and in its
# outbox payload); the responses row only knows the current one.
_SUBMITTED = """
SELECT s.response_id, r.istat, r.questionnaire_id,
       COALESCE(s.questionnaire_version,
                CASE WHEN json_valid(o.payload_json)
                     THEN json_extract(o.payload_json, '$.questionnaire_version') END,
                r.questionnaire_version),
       s.revision, s.submitted_at, s.answers_json
FROM submissions AS s
JOIN responses AS r ON r.response_id = s.response_id
LEFT JOIN outbox AS o ON o.response_id = s.response_id AND o.revision = s.revision
WHERE r.questionnaire_id = ?
  AND s.revision = (SELECT MAX(revision) FROM submissions WHERE response_id = s.response_id)
"""

_DRAFTS = """
SELECT response_id, istat, questionnaire_id, questionnaire_version, revision, submitted_at,
       state_json
FROM responses WHERE questionnaire_id = ? AND status = 'in_progress'
"""


async def _version(store: Store, questionnaire_id: str, version: str) -> Questionnaire | None:
    source = await EditionStore(store).source(questionnaire_id, version)
    return parse_questionnaire(source) if source is not None else None


async def load_records(
    store: Store,
    questionnaire: Questionnaire,
    registry: MunicipalityRegistry,
    *,
    include_drafts: bool = False,
) -> list[ExportRecord]:
    """The latest submitted revision of each response, ordered by ISTAT code.

    With `include_drafts`, responses being filled in are exported from their
    current state instead, also when an earlier revision was submitted: the
    export then shows the freshest answers, marked as drafts.
    """
    records: dict[str, ExportRecord] = {}
    for row in await store.fetchall(_SUBMITTED, questionnaire.id):
        records[row[0]] = ExportRecord(
            response_id=row[0], istat=row[1], municipality=registry.get(row[1]),
            questionnaire_id=row[2], questionnaire_version=row[3], revision=row[4],
            submitted_at=row[5], answers=json.loads(row[6]),
        )
    if include_drafts:
        for row in await store.fetchall(_DRAFTS, questionnaire.id):
            # The stored state is the shared part only: no officer's navigation.
            shared = json.loads(row[6])
            if row[3] != questionnaire.version:
                # Saved under another version (the bot has not restarted on this file
                # yet): read it the way the bot will bring it over, without storing.
                shared = migrate(await _version(store, questionnaire.id, row[3]),
                                 questionnaire, shared).state
            state = State.join(shared, None)
            records[row[0]] = ExportRecord(
                response_id=row[0], istat=row[1], municipality=registry.get(row[1]),
                questionnaire_id=row[2], questionnaire_version=row[3], revision=row[4],
                submitted_at=row[5], answers=answers_snapshot(questionnaire, state), draft=True,
            )
    return sorted(records.values(), key=lambda record: (record.istat, record.response_id))
