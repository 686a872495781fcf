"""At start-up: remember this questionnaire version and bring every response
saved under another version to it, once, one transaction per response.

The bot never refuses to start because the version changed: a response that
cannot be brought over is logged with its traceback and left as it was.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from conversations import engine
from conversations.migration import Migration, migrate, plan
from conversations.schema import Questionnaire, parse_questionnaire
from conversations.state import State
from storage.editions import EditionStore
from storage.store import Change, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EditionReport:
    responses: int = 0
    notices: int = 0
    moves: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)


async def bring_to_version(
    store: Store, questionnaire: Questionnaire, source: str, now: datetime
) -> EditionReport:
    editions = EditionStore(store)
    q = questionnaire
    if await editions.remember(q.id, q.version, source, now):
        log.info("questionnaire %s version %s stored", q.id, q.version)
    report = EditionReport()
    olds: dict[str, Questionnaire | None] = {}
    for behind in await editions.behind(q.id, q.version):
        if behind.version not in olds:
            olds[behind.version] = await _old_version(editions, q, behind.version)
        try:
            result = migrate(olds[behind.version], q, behind.state)
            answered, total = engine.progress_counts(q, State.join(result.state, None))
            report.notices += await editions.bring_over(
                behind, result.state, answered=answered, total=total,
                changes=_history(result), to_review=result.to_review, now=now,
            )
        except Exception:
            log.exception("response %s stays on version %s: it could not be brought to %s",
                          behind.response_id, behind.version, q.version)
            report.failed.append(behind.response_id)
            continue
        report.responses += 1
        report.moves.update(move.kind for move in result.moves)
        log.info("response %s: version %s -> %s, %d to review", behind.response_id,
                 behind.version, q.version, result.to_review)
    if report.responses:
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(report.moves.items()))
        log.info("questionnaire %s: %d responses brought to version %s (%s); %d officers "
                 "will be told", q.id, report.responses, q.version, counts or "no answer moved",
                 report.notices)
    return report


async def _old_version(
    editions: EditionStore, q: Questionnaire, version: str
) -> Questionnaire | None:
    source = await editions.source(q.id, version)
    if source is None:
        log.warning("questionnaire %s version %s was never stored: its answers are matched "
                    "by item id and the new file's previous_id/previous_values only",
                    q.id, version)
        return None
    try:
        old = parse_questionnaire(source)
    except Exception:
        log.exception("stored questionnaire %s version %s does not load", q.id, version)
        return None
    log.info("questionnaire %s: update %s -> %s, item by item:", q.id, version, q.version)
    for line in plan(old, q):
        log.info("  %s", line)
    return old


def _history(result: Migration) -> list[Change]:
    # New items have no answer to record; every other move is an answer that changed.
    return [Change(m.ref, m.old, m.new) for m in result.moves if m.kind != "new"]
