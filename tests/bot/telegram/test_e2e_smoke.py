from __future__ import annotations

from tests.support.harness import Harness

OFFICER = 1001


async def test_login_and_first_question(harness: Harness) -> None:
    code = await harness.issue("048017")
    await harness.send(OFFICER, "/start")
    assert "identificativo abilitante" in harness.last_text(OFFICER)
    await harness.send(OFFICER, code.lower().replace("-", ""))
    texts = harness.texts(OFFICER)
    assert any("Firenze" in t for t in texts)
    assert "Domanda 1 di" in texts[-1]
    await harness.press(OFFICER, "Sì")
    assert "nome e cognome" in harness.expect_one_new_message(OFFICER)["text"]
