"""Access codes issued for a municipality: one place for the command line and the
operators' /codice. The code is returned once, to be dictated; only its keyed
hash is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.settings import Settings
from conversations import access_codes
from storage.store import Store


async def issue_code(store: Store, settings: Settings, istat: str, actor: str,
                     now: datetime | None = None, *, audit_by: int | None = None) -> str:
    """Create (or replace) the municipality's code; returns it for dictation. With
    `audit_by`, that operator's audit row is written in the same transaction."""
    code = access_codes.generate()
    secret = settings.code_secret.get_secret_value().encode()
    await store.issue_code(istat, access_codes.code_hash(secret, code), actor,
                           now or datetime.now(UTC), audit_by=audit_by)
    return code
