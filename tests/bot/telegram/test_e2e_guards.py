"""End to end: no empty message when the questionnaire has no privacy text, and
a ceiling on wrong codes across all accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from conversations import access_codes
from conversations.schema import shipped_questionnaire_path
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Clock, Harness, make_settings

GROUP = -1001234567890
FIRENZE = "048017"


def never_issued(seed: int) -> str:
    """A well-formed code (right check character) nobody was given."""
    body = "".join(access_codes.ALPHABET[(seed * 7 + i) % len(access_codes.ALPHABET)]
                   for i in range(access_codes.BODY_LENGTH))
    for last in access_codes.ALPHABET:
        if access_codes.check(body + last) is access_codes.CodeCheck.VALID_FORM:
            return access_codes.format_code(body + last)
    raise AssertionError("no check character")


@pytest.fixture
async def without_privacy(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    raw = yaml.safe_load(shipped_questionnaire_path().read_text(encoding="utf-8"))
    del raw["privacy"]
    path = tmp_path / "no_privacy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    h = Harness(double, make_settings(tmp_path, double, questionnaire=path), Clock())
    await h.start()
    yield h
    await h.stop()


async def test_start_without_a_privacy_text_shows_the_default_notice(
        without_privacy: Harness) -> None:
    h = without_privacy
    await h.send(5001, "/start")
    texts = h.texts(5001)
    assert all(text.strip() for text in texts)
    assert any("Le risposte sono usate solo per questo questionario" in text for text in texts)
    assert "identificativo" in texts[-1]
    await h.send(5001, "/privacy")
    assert "Le risposte sono usate solo per questo questionario" in h.last_text(5001)
    assert not h.double.errors


@pytest.fixture
async def guarded(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, double, wrong_codes_per_hour=3,
                             assistance_chat_id=GROUP, operators=[9001])
    h = Harness(double, settings, Clock())
    await h.start()
    yield h
    await h.stop()


async def test_wrong_codes_across_accounts_pause_new_attempts_and_alert_once(
        guarded: Harness) -> None:
    h = guarded
    code = await h.issue(FIRENZE)
    for user in (6001, 6002, 6003):  # one wrong guess each: no per-user lock
        await h.send(user, never_issued(user))
        assert "Codice non valido" in h.last_text(user)

    # Past the ceiling even the right code waits, with a clear message.
    await h.send(6004, code)
    assert "troppi codici errati" in h.last_text(6004)
    assert "Potrai riprovare dalle 01/07/2019 alle 12:30" in h.last_text(6004)  # Rome time
    async with h.store.db.execute("SELECT istat FROM officers WHERE user_id = 6004") as cursor:
        assert (await cursor.fetchone())[0] is None
    await h.send(6005, never_issued(6005))
    await h.send(6005, never_issued(6006))
    alerts = [t for t in h.double.texts(GROUP) if "indovinare i codici" in t]
    assert len(alerts) == 1
    assert "codici errati nell'ultima ora da tutti gli account: 3" in alerts[0]

    # An hour after the first wrong code a slot frees: the right code works again.
    h.clock.now += timedelta(hours=1)
    await h.send(6004, code)
    assert "Domanda 1 di" in h.last_text(6004)
