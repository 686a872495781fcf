"""The real `surveybot run` process against the Bot API double: what it asks
Telegram for, JSON logs without secrets, restore refused while it runs, and a
graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.botapi_double import BotApiDouble
from tests.support.harness import TOKEN
from tests.support.tree_under_test import assert_child_imports_this_tree, child_env

HANG_GUARD = 60.0  # seconds: only there so a hang fails instead of blocking
OFFICER = 4001


def environment(tmp_path: Path, double: BotApiDouble) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env = child_env(base, SURVEYBOT_TOKEN=TOKEN,
               SURVEYBOT_TELEGRAM_API_URL=double.root,
               SURVEYBOT_DATABASE=str(tmp_path / "bot.sqlite3"),
               SURVEYBOT_CODE_SECRET="process-test-secret",
               SURVEYBOT_LOG_FORMAT="json", SURVEYBOT_LOG_FILE=str(tmp_path / "bot.log"))
    assert_child_imports_this_tree(env, tmp_path)
    return env


async def surveybot(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env,
        cwd=str(Path(env["SURVEYBOT_DATABASE"]).parent),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), HANG_GUARD)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def bot_process(env: dict[str, str], cwd: Path, *args: str
                      ) -> AsyncIterator[asyncio.subprocess.Process]:
    """`surveybot run ARGS` as a child process; killed if a test leaves it running."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", *args, env=env, cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield bot
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()


async def stop_cleanly(bot: asyncio.subprocess.Process) -> None:
    """SIGTERM: the bot exits 0, without a traceback."""
    bot.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(bot.communicate(), HANG_GUARD)
    assert bot.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_run_serves_refuses_restore_and_stops_on_sigterm(
    tmp_path: Path, double: BotApiDouble
) -> None:
    env = environment(tmp_path, double)
    async with bot_process(env, tmp_path) as bot:
        await double.wait_for(lambda: bool(double.calls("getUpdates")), timeout=HANG_GUARD)
        # Only the update types some handler reads.
        assert double.calls("getUpdates")[0]["allowed_updates"] == [
            "message", "edited_message", "callback_query"]
        double.user_sends(OFFICER, "/start")
        # Welcome, privacy and the request of the code: one message.
        await double.wait_for(lambda: len(double.sent(OFFICER)) >= 1, timeout=HANG_GUARD)
        assert "identificativo" in double.texts(OFFICER)[-1]

        # A backup works while it runs; a restore is refused.
        status, out, err = await surveybot(env, "backup", str(tmp_path / "copy.sqlite3"))
        assert status == 0, err
        assert "integrity ok" in out
        status, _, err = await surveybot(env, "restore", str(tmp_path / "copy.sqlite3"))
        assert status == 1
        assert f"a bot (pid {bot.pid}) is running on it" in err
        assert len(err.strip().splitlines()) == 1

        # An officer is answered, then SIGTERM stops the bot cleanly (a reply still in
        # flight at SIGTERM: the next test).
        double.user_sends(OFFICER, "K7MQ-X9PR-4T")
        await double.wait_for(lambda: len(double.sent(OFFICER)) >= 2, timeout=HANG_GUARD)
        await stop_cleanly(bot)

    log_lines = (tmp_path / "bot.log").read_text().splitlines()
    entries = [json.loads(line) for line in log_lines]  # one JSON object per line
    messages = [entry["message"] for entry in entries]
    assert any("long polling" in m for m in messages)
    assert messages[-1] == "stopped"
    everything = "\n".join(log_lines)
    assert TOKEN not in everything and "process-test-secret" not in everything
    assert "K7MQ-X9PR-4T" not in everything
    # The lock is free again: a restore now goes through.
    status, _, err = await surveybot(env, "restore", str(tmp_path / "copy.sqlite3"))
    assert status == 0, err


async def test_a_token_telegram_refuses_is_one_line_and_status_2(
    tmp_path: Path, double: BotApiDouble
) -> None:
    double.inject_error("getMe", 401, "Unauthorized", times=10)
    status, _, err = await surveybot(environment(tmp_path, double), "run")
    assert status == 2
    assert err.strip().splitlines() == [
        "error: SURVEYBOT_TOKEN was refused by Telegram (check it with @BotFather)"]
    assert len(double.calls("getMe")) == 1  # not retried: waiting will not fix it


async def test_run_in_webhook_mode_registers_the_webhook_and_serves_posts(
    tmp_path: Path, double: BotApiDouble
) -> None:
    with socket.socket() as probe:  # a free port for the receiver
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = environment(tmp_path, double)
    env["SURVEYBOT_WEBHOOK_SECRET"] = "hook-secret-for-the-process-test"
    async with bot_process(env, tmp_path, "--webhook-url", "https://bot.example.it/",
                           "--listen", f"127.0.0.1:{port}") as bot:
        await double.wait_for(lambda: bool(double.calls("setWebhook")), timeout=HANG_GUARD)
        registered = double.calls("setWebhook")[-1]
        assert registered["url"] == "https://bot.example.it/telegram"
        assert registered["secret_token"] == "hook-secret-for-the-process-test"
        assert registered["allowed_updates"] == ["message", "edited_message", "callback_query"]
        person = {"id": OFFICER, "is_bot": False, "first_name": "Anna"}
        start = {"update_id": 1, "message": {
            "message_id": 1, "date": 1_700_000_000, "text": "/start", "from": person,
            "chat": {"id": OFFICER, "type": "private", "first_name": "Anna"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://127.0.0.1:{port}/telegram", json=start,
                headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-for-the-process-test"})
        assert response.status_code == 200
        await double.wait_for(lambda: any("identificativo" in t for t in double.texts(OFFICER)),
                              timeout=HANG_GUARD)
        await stop_cleanly(bot)


async def test_sigterm_while_a_reply_is_in_flight_still_delivers_it(
    tmp_path: Path, double: BotApiDouble
) -> None:
    async with bot_process(environment(tmp_path, double), tmp_path) as bot:
        await double.wait_for(lambda: bool(double.calls("getUpdates")), timeout=HANG_GUARD)
        # The welcome's first attempt hangs for a second, then the connection drops.
        double.inject_timeout("sendMessage", delay=1.0, chat_id=OFFICER)
        double.user_sends(OFFICER, "/start")
        await double.wait_for(lambda: any(p.get("chat_id") == OFFICER
                                          for p in double.calls("sendMessage")),
                              timeout=HANG_GUARD)
        assert double.sent(OFFICER) == []  # the handler is mid-send
        await stop_cleanly(bot)
    # The stop waited for the handler: its retry delivered the welcome, once.
    assert len(double.sent(OFFICER)) == 1
    assert "identificativo" in double.texts(OFFICER)[0]
    messages = [json.loads(line)["message"]
                for line in (tmp_path / "bot.log").read_text().splitlines()]
    assert messages[-1] == "stopped"
