"""The webhook receiver: the real Application fed by HTTP POSTs as Telegram makes them."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.telegram.webhook import WebhookReceiver
from tests.support.botapi_double import BotApiDouble
from tests.support.harness import Harness, running

SECRET = "s3cret-token-for-tests"
OFFICER = 4242


def update(update_id: int, text: str, user: int = OFFICER) -> dict[str, object]:
    person = {"id": user, "is_bot": False, "first_name": "Mario", "language_code": "it"}
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 1_700_000_000, "text": text,
                    "chat": {"id": user, "type": "private", "first_name": "Mario"},
                    "from": person},
    }


@pytest.fixture
async def receiver(tmp_path: Path, double: BotApiDouble) -> AsyncIterator[tuple[Harness, str]]:
    async with running(tmp_path, double) as h:
        hook = WebhookReceiver(h.app, SECRET)
        port = await hook.start("127.0.0.1", 0)
        try:
            yield h, f"http://127.0.0.1:{port}/telegram"
        finally:
            await hook.stop()


async def post(url: str, body: object, *, secret: str = SECRET) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=content, headers={
            "X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"})


async def test_an_update_posted_by_telegram_reaches_the_officer_flow(
    receiver: tuple[Harness, str],
) -> None:
    h, url = receiver
    response = await post(url, update(1, "/start"))
    assert response.status_code == 200
    await h.double.wait_for(lambda: any("identificativo" in t for t in h.texts(OFFICER)))


async def test_a_wrong_secret_is_refused_and_nothing_is_handled(
    receiver: tuple[Harness, str],
) -> None:
    h, url = receiver
    assert (await post(url, update(1, "/start"), secret="guess")).status_code == 403
    assert (await post(url, update(2, "/start"), secret="")).status_code == 403
    await h.settle()
    assert h.texts(OFFICER) == []


async def test_an_unreadable_update_is_skipped_once_and_the_next_one_is_handled(
    receiver: tuple[Harness, str], caplog: pytest.LogCaptureFixture,
) -> None:
    h, url = receiver
    poison = {"update_id": 7, "message": {"message_id": "not a number", "chat": 5}}
    with caplog.at_level(logging.WARNING, logger="bot.telegram.updates"):
        # Telegram would send it again after anything but a 2xx: it gets 200.
        assert (await post(url, poison)).status_code == 200
        assert (await post(url, b"{not json")).status_code == 200
    skipped = [r for r in caplog.records if "skipped update 7" in r.getMessage()]
    assert len(skipped) == 1
    assert "not a number" not in caplog.text  # the content is not logged
    assert (await post(url, update(8, "/start"))).status_code == 200
    await h.double.wait_for(lambda: any("identificativo" in t for t in h.texts(OFFICER)))


async def test_wrong_paths_methods_and_sizes_get_http_errors(
    receiver: tuple[Harness, str],
) -> None:
    _, url = receiver
    async with httpx.AsyncClient() as client:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        assert (await client.post(url.replace("/telegram", "/other"), content=b"{}",
                                  headers=headers)).status_code == 404
        assert (await client.get(url, headers=headers)).status_code == 405
        too_big = b"x" * (1024 * 1024 + 1)
        assert (await client.post(url, content=too_big, headers=headers)).status_code == 413


async def test_keep_alive_serves_several_updates_on_one_connection(
    receiver: tuple[Harness, str],
) -> None:
    h, url = receiver
    async with httpx.AsyncClient() as client:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        for n, user in enumerate((5001, 5002, 5003), start=1):
            response = await client.post(url, json=update(n, "/start", user), headers=headers)
            assert response.status_code == 200
    for user in (5001, 5002, 5003):
        await h.double.wait_for(lambda u=user: any("identificativo" in t for t in h.texts(u)))
