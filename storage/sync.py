"""Push the outbox to the central database: a PostgREST-compatible upsert.

Every submitted revision has one outbox row (written with the submission).
A pass takes the due pending rows in batches, sends the latest revision of
each response in one request and records the outcome on every row:

* 2xx: delivered;
* connection error, timeout, 408, 5xx: rescheduled with exponential backoff
  and jitter, and the pass stops (the server is unwell: don't hammer it);
* 429: rescheduled after Retry-After (seconds or an HTTP date);
* any other status: the batch is retried row by row to find the bad row,
  which goes to the dead-letter state with the status and a body excerpt.

Nothing here reads the wall clock or sleeps: the clock and the random source
for the jitter are injected, so tests run the schedule without waiting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from storage.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 100
ERROR_EXCERPT = 200
# Retry-After beyond this is more likely a misconfigured server than a plan.
MAX_RETRY_AFTER = 24 * 3600.0

Clock = Callable[[], datetime]
Random = Callable[[], float]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    # One offset for everything we write, so stored stamps sort as text too.
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Central:
    """Where and how to push. The token never appears in repr or logs."""

    url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = 15.0

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/responses"

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Prefer": "resolution=merge-duplicates,return=minimal",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
            # Supabase's gateway also wants the key as `apikey`; PostgREST ignores it.
            headers["apikey"] = self.token
        return headers


def central_client(central: Central) -> httpx.AsyncClient:
    """The HTTP client for `central`: auth headers, a timeout, no redirects."""
    return httpx.AsyncClient(
        headers=central.headers(), timeout=httpx.Timeout(central.timeout), follow_redirects=False
    )


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with "equal jitter": half fixed, half random."""

    base: float = 10.0
    cap: float = 3600.0

    def delay(self, attempts: int, rand: float) -> float:
        full = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return full / 2 + full / 2 * rand


@dataclass(slots=True)
class PushReport:
    requests: int = 0
    sent: int = 0  # rows accepted by the central database
    superseded: int = 0  # older revisions settled by a newer one
    dead: int = 0
    deferred: int = 0  # rows rescheduled after a transient failure
    error: str | None = None  # the transient failure that ended the pass

    @property
    def delivered(self) -> int:
        return self.sent + self.superseded

    def summary(self) -> str:
        text = (f"{self.delivered} delivered ({self.sent} sent in {self.requests} requests, "
                f"{self.superseded} superseded), {self.dead} dead, {self.deferred} deferred")
        return f"{text}; stopped: {self.error}" if self.error else text


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    response_id: str
    revision: int
    attempts: int
    payload: dict[str, Any]


@dataclass(slots=True)
class _Group:
    """The latest revision of one response and the older ones it settles."""

    latest: _Row
    older: list[_Row] = field(default_factory=list)

    @property
    def rows(self) -> list[_Row]:
        return [self.latest, *self.older]


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Literal["ok", "retry", "reject"]
    error: str | None = None
    retry_after: float | None = None  # seconds, from a 429


def idempotency_key(pairs: Sequence[tuple[str, int]]) -> str:
    """Same rows, same key: a retried request is recognisable as a repeat."""
    canonical = json.dumps(sorted(pairs), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= ERROR_EXCERPT else flat[: ERROR_EXCERPT - 1] + "…"


async def post_rows(
    client: httpx.AsyncClient, central: Central, rows: Sequence[dict[str, Any]], now: datetime
) -> Outcome:
    """One upsert request; classifies the answer, never raises for HTTP trouble."""
    pairs = [(str(row["response_id"]), int(row["revision"])) for row in rows]
    body = json.dumps(list(rows), ensure_ascii=False, separators=(",", ":")).encode()
    try:
        response = await client.post(
            central.endpoint, params={"on_conflict": "response_id"}, content=body,
            headers={"Idempotency-Key": idempotency_key(pairs)},
        )
    except httpx.TimeoutException as exc:
        return Outcome("retry", f"timeout ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return Outcome("retry", _excerpt(f"{type(exc).__name__}: {exc}"))
    status = response.status_code
    if 200 <= status < 300:
        return Outcome("ok")
    body_text = _excerpt(response.text)
    error = f"HTTP {status}: {body_text}" if body_text else f"HTTP {status}"
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"), now)
        return Outcome("retry", error, wait)
    if status == 408 or status >= 500:
        return Outcome("retry", error)
    return Outcome("reject", error)


def _parse(row: Any) -> _Row | str:
    """An outbox row, or why its payload cannot be sent."""
    row_id, rid, revision, payload_json, attempts = row
    try:
        payload = json.loads(payload_json)
    except (TypeError, ValueError) as exc:
        return f"invalid payload: {exc}"
    if not isinstance(payload, dict):
        return "invalid payload: not a JSON object"
    if payload.get("response_id") != rid or payload.get("revision") != revision:
        return "invalid payload: response_id/revision differ from the outbox row"
    return _Row(row_id, rid, revision, attempts, payload)


def _group(rows: Sequence[_Row]) -> list[_Group]:
    """Keep the latest revision per response: one upsert cannot touch a row twice."""
    groups: dict[str, _Group] = {}
    for row in sorted(rows, key=lambda r: r.revision, reverse=True):
        group = groups.get(row.response_id)
        if group is None:
            groups[row.response_id] = _Group(row)
        else:
            group.older.append(row)
    return sorted(groups.values(), key=lambda g: g.latest.id)


class OutboxPusher:
    """Pushes due outbox rows; one instance per HTTP client."""

    def __init__(
        self,
        store: Store,
        client: httpx.AsyncClient,
        central: Central,
        *,
        batch_size: int = BATCH_SIZE,
        backoff: Backoff | None = None,
        clock: Clock = utc_now,
        rand: Random = random.random,
    ) -> None:
        self.store = store
        self.client = client
        self.central = central
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.rand = rand

    async def push_due(self, *, ignore_schedule: bool = False) -> PushReport:
        """Push every due pending row, batch after batch, until none is left
        or a transient failure says the server needs a rest."""
        report = PushReport()
        report.superseded += await self._settle_superseded()
        while report.error is None:
            rows = await self._due_rows(ignore_schedule)
            if not rows:
                break
            await self._push_batch(rows, report)
        if report.requests or report.dead or report.superseded:
            log.info("sync: %s", report.summary())
        return report

    # --- reading ------------------------------------------------------------
    async def _settle_superseded(self) -> int:
        """Pending revisions older than one already delivered need no request."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, last_error = NULL "
                "WHERE status = 'pending' AND EXISTS (SELECT 1 FROM outbox AS newer "
                "WHERE newer.response_id = outbox.response_id "
                "AND newer.revision > outbox.revision AND newer.status = 'delivered')",
                (_stamp(self.clock()),),
            )
            return cursor.rowcount

    async def _due_rows(self, ignore_schedule: bool) -> list[_Row]:
        """The next batch of due rows; unusable payloads go straight to dead."""
        cutoff = "9999-12-31T00:00:00+00:00" if ignore_schedule else _stamp(self.clock())
        while True:
            # Read inside the write lock: on the shared connection a bare read
            # could see another task's uncommitted submission.
            async with self.store.transaction() as db:
                async with db.execute(
                    "SELECT id, response_id, revision, payload_json, attempts FROM outbox "
                    "WHERE status = 'pending' AND julianday(next_attempt_at) <= julianday(?) "
                    "ORDER BY id LIMIT ?",
                    (cutoff, self.batch_size),
                ) as cursor:
                    raw = list(await cursor.fetchall())
                good: list[_Row] = []
                corrupt: list[tuple[str, int]] = []
                for row in raw:
                    parsed = _parse(row)
                    if isinstance(parsed, str):
                        corrupt.append((parsed, row[0]))
                    else:
                        good.append(parsed)
                if corrupt:
                    await db.executemany(
                        "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", corrupt
                    )
                    log.error("sync: %d outbox rows have an unusable payload (dead)", len(corrupt))
            if good or not corrupt:
                return good

    # --- sending ------------------------------------------------------------
    async def _push_batch(self, rows: list[_Row], report: PushReport) -> None:
        groups = _group(rows)
        outcome = await self._post(groups, report)
        if outcome.kind == "reject" and len(groups) > 1:
            # Find the bad row: one request per response, the rest still go through.
            for group in groups:
                single = await self._post([group], report)
                await self._record([group], single, report)
                if single.kind == "retry":
                    return
            return
        await self._record(groups, outcome, report)

    async def _post(self, groups: list[_Group], report: PushReport) -> Outcome:
        report.requests += 1
        payloads = [group.latest.payload for group in groups]
        return await post_rows(self.client, self.central, payloads, self.clock())

    async def _record(self, groups: list[_Group], outcome: Outcome, report: PushReport) -> None:
        now = self.clock()
        rows = [row for group in groups for row in group.rows]
        async with self.store.transaction() as db:
            if outcome.kind == "ok":
                await db.executemany(
                    "UPDATE outbox SET status = 'delivered', delivered_at = ?, "
                    "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                    [(_stamp(now), row.id) for row in rows],
                )
                report.sent += len(groups)
                report.superseded += len(rows) - len(groups)
            elif outcome.kind == "reject":
                await db.executemany(
                    "UPDATE outbox SET status = 'dead', attempts = attempts + 1, "
                    "last_error = ? WHERE id = ?",
                    [(self._reason(group, row, outcome), row.id)
                     for group in groups for row in group.rows],
                )
                report.dead += len(rows)
                log.error("sync: %d rows rejected (dead): %s", len(rows), outcome.error)
            else:
                await db.executemany(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
                    "WHERE id = ?",
                    [(row.attempts + 1, _stamp(now + timedelta(seconds=self._delay(row, outcome))),
                      outcome.error, row.id) for row in rows],
                )
                report.deferred += len(rows)
                report.error = outcome.error
                log.warning("sync: %d rows deferred: %s", len(rows), outcome.error)

    def _delay(self, row: _Row, outcome: Outcome) -> float:
        if outcome.retry_after is not None:
            return outcome.retry_after
        return self.backoff.delay(row.attempts + 1, self.rand())

    @staticmethod
    def _reason(group: _Group, row: _Row, outcome: Outcome) -> str | None:
        if row is group.latest:
            return outcome.error
        return f"superseded by revision {group.latest.revision}, rejected: {outcome.error}"


# --- operations: status and dead-letter retry ---------------------------------
@dataclass(frozen=True, slots=True)
class DeadRow:
    id: int
    response_id: str
    revision: int
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    pending: int
    delivered: int
    dead: int
    next_attempt_at: str | None  # earliest scheduled attempt among pending rows
    last_error: str | None  # of the pending row that failed most recently
    dead_rows: list[DeadRow]


async def outbox_status(store: Store) -> OutboxStatus:
    counts = {str(r[0]): int(r[1]) for r in await store.fetchall(
        "SELECT status, COUNT(*) FROM outbox GROUP BY status")}
    upcoming = await store.fetchone(
        "SELECT next_attempt_at, last_error FROM outbox WHERE status = 'pending' "
        "ORDER BY julianday(next_attempt_at) LIMIT 1"
    )
    failing = await store.fetchone(
        "SELECT last_error FROM outbox WHERE status = 'pending' AND last_error IS NOT NULL "
        "ORDER BY attempts DESC, id DESC LIMIT 1"
    )
    dead = await store.fetchall(
        "SELECT id, response_id, revision, attempts, last_error FROM outbox "
        "WHERE status = 'dead' ORDER BY id"
    )
    return OutboxStatus(
        pending=counts.get("pending", 0),
        delivered=counts.get("delivered", 0),
        dead=counts.get("dead", 0),
        next_attempt_at=upcoming[0] if upcoming else None,
        last_error=failing[0] if failing else None,
        dead_rows=[DeadRow(r[0], r[1], r[2], r[3], r[4]) for r in dead],
    )


async def retry_dead(store: Store, now: datetime, ids: Sequence[int] = ()) -> int:
    """Dead rows (all, or those ids) back to pending, due now, with a fresh count."""
    where = "status = 'dead'"
    params: list[Any] = [_stamp(now)]
    if ids:
        where += f" AND id IN ({','.join('?' * len(ids))})"
        params.extend(ids)
    async with store.transaction() as db:
        cursor = await db.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, "
            f"last_error = NULL WHERE {where}",
            params,
        )
        return cursor.rowcount
