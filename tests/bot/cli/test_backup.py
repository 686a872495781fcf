"""`backup` while officers answer, then `restore` into a new file: every answer
acknowledged before a backup began is in it; the copy stands alone."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from bot.cli.backup import make_backup, restore_backup
from bot.cli.errors import CliError
from bot.cli.running import holding
from bot.settings import Settings
from storage import db as database
from storage.municipalities import MunicipalityRegistry
from tests.support.harness import Harness

OFFICERS = 8
# (what the officer does, the item it answers, what the bot says when it is saved)
STEPS = [
    ("Sì", "municipality_confirmed", "nome e cognome"),
    ("Mario Rossi", "respondent_name", "ufficio o servizio"),
    ("Servizi Sociali", "respondent_role", "indirizzo email"),
    ("mario.rossi@comune.it", "respondent_email", "numero di telefono"),
    ("055 1234567", "respondent_phone", "capofila"),
]
HANG_GUARD = 30.0  # seconds: only there so a lost reply fails instead of blocking


def rows(path: Path, sql: str) -> set[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        found = {tuple(row) for row in db.execute(sql)}
    db.close()
    return found


ANSWERS = "SELECT user_id, item_ref FROM answer_changes"


async def ack(h: Harness, user: int, act: Callable[[], object], expected: str) -> None:
    """Act, then wait until the officer sees a new message containing `expected`."""
    before = len(h.double.sent(user))
    act()
    await h.double.wait_for(
        lambda: any(expected in text for text in h.double.texts(user)[before:]),
        timeout=HANG_GUARD)


def pressing(h: Harness, user: int, label: str) -> Callable[[], object]:
    message = h.live_keyboards(user)[-1]
    data = next(d for row in h.double.buttons(message) for text, d in row if text == label)
    return lambda: h.double.user_presses(user, message["message_id"], data)


async def officer(h: Harness, user: int, istat: str, acknowledged: set[tuple[int, str]]) -> None:
    code = await h.issue(istat)
    await ack(h, user, lambda: h.double.user_sends(user, "/start"), "identificativo")
    await ack(h, user, lambda: h.double.user_sends(user, code), "Domanda 1 di")
    for index, (action, item, saved) in enumerate(STEPS):
        act = (pressing(h, user, action) if index == 0
               else (lambda text=action: h.double.user_sends(user, text)))
        await ack(h, user, act, saved)
        acknowledged.add((user, item))


async def test_backups_while_officers_answer_hold_every_acknowledged_answer(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    live = h.settings.database
    towns = [m.istat for m in islice(iter(MunicipalityRegistry.load()), OFFICERS)]
    acknowledged: set[tuple[int, str]] = set()
    load = asyncio.gather(*(officer(h, 3000 + n, istat, acknowledged)
                            for n, istat in enumerate(towns)))
    backups: list[tuple[Path, set[tuple[int, str]]]] = []
    while not load.done():
        before = set(acknowledged)  # the officers saw these saved
        target = tmp_path / f"backup-{len(backups)}.sqlite3"
        await asyncio.to_thread(make_backup, live, target, io.StringIO())
        backups.append((target, before))
        await asyncio.sleep(0.02)  # leave the officers most of the machine
    await load
    final = tmp_path / "backup-final.sqlite3"
    make_backup(live, final, io.StringIO())
    backups.append((final, set(acknowledged)))

    assert len(backups) >= 2
    assert len(acknowledged) == OFFICERS * len(STEPS)
    assert any(0 < len(before) < len(acknowledged) for _, before in backups)  # made mid-load
    for target, before in backups:
        assert before <= rows(target, ANSWERS), target
        assert database.integrity_problems(target) == []
        # Self-contained: no journal beside it, and not in WAL mode.
        assert not any(target.with_name(target.name + s).exists()
                       for s in ("-wal", "-shm", "-journal"))
        assert rows(target, "PRAGMA journal_mode") == {("delete",)}

    # Restore the last one into a new database and find every answer there.
    restored = tmp_path / "restored" / "bot.sqlite3"
    restored.parent.mkdir()
    out = io.StringIO()
    assert restore_backup(h.settings.model_copy(update={"database": restored}), final, out) == 0
    assert acknowledged <= rows(restored, ANSWERS)
    assert rows(restored, "SELECT * FROM answer_changes") == rows(
        live, "SELECT * FROM answer_changes")
    assert "restored" in out.getvalue()


async def test_restore_refuses_while_a_bot_holds_the_database(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    backup = tmp_path / "copy.sqlite3"
    make_backup(h.settings.database, backup, io.StringIO())
    before = h.settings.database.read_bytes()
    with holding(h.settings.lock_path()), pytest.raises(CliError) as refused:
        restore_backup(h.settings, backup, io.StringIO())
    assert refused.value.status == 1
    assert "is running on it" in str(refused.value)
    assert h.settings.database.read_bytes() == before


def small_database(path: Path, value: str) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (?)", (value,))
    db.close()
    return path


def test_restore_keeps_the_database_it_replaces(tmp_path: Path) -> None:
    current = small_database(tmp_path / "bot.sqlite3", "old")
    backup = tmp_path / "copy.sqlite3"
    make_backup(small_database(tmp_path / "other.sqlite3", "new"), backup, io.StringIO())
    out = io.StringIO()

    restore_backup(Settings(database=current), backup, out)

    assert rows(current, "SELECT x FROM t") == {("new",)}
    kept = [p for p in tmp_path.iterdir()
            if ".before-restore-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1
    assert rows(kept[0], "SELECT x FROM t") == {("old",)}
    assert kept[0].name in out.getvalue()


def test_a_bad_backup_is_not_restored(tmp_path: Path) -> None:
    current = small_database(tmp_path / "bot.sqlite3", "old")
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(CliError) as refused:
        restore_backup(Settings(database=current), bad,
                       io.StringIO())
    assert refused.value.status == 2
    assert rows(current, "SELECT x FROM t") == {("old",)}


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    source = small_database(tmp_path / "bot.sqlite3", "x")
    existing = tmp_path / "there.sqlite3"
    existing.write_text("keep me")
    with pytest.raises(CliError, match="already exists"):
        make_backup(source, existing, io.StringIO())
    assert existing.read_text() == "keep me"
