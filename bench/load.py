"""End-to-end load against the real `surveybot run`: `python -m bench.load`.

The bot runs as a subprocess (`python -m bot run`, the real command, settings
from the environment as in production) against the Bot API double served by
this process on 127.0.0.1. Simulated officers, each of a different
municipality, log in with their own access code (issued with
`surveybot codes issue`) and answer a 10-item questionnaire written for the
bench (typed answers, a pressed choice, a pressed yes/no), closed loop: each
officer waits for the acknowledgement (the bot's next question) before the
next answer, after a think time. Every answer is committed by the bot (WAL,
synchronous=FULL) before its reply.

Printed for each scenario:
- answers/s over the answering phase;
- chat calls per answer: Bot API calls carrying the officer's chat_id
  (answerCallbackQuery excluded), counted at the double, divided by answers;
- latency from the double enqueuing the update to the bot's next question
  (p50/p95/p99/max) at the stated offered load;
- the bot's CPU (utime + stime of the subprocess over the answering phase,
  in cores and per answer) and its peak RSS (VmHWM of the subprocess);
- the load generator's CPU (this process: the double and the officers), to
  show whether the bot or the bench is the bottleneck;
- with `--kill`: the bot is SIGKILLed mid-run and every acknowledged answer is
  looked up in the database: "lost" must be 0.

Scenarios (default: all, in this order):
- `off`: limiter off (SURVEYBOT_MAX_MESSAGES_PER_SECOND=0), closed loop, no
  think time: throughput and CPU;
- `latency`: limiter off, think time set so that about `--offered` answers a
  second are offered: latency percentiles;
- `limited`: the default limiter (30 chat calls a second), closed loop;
- `memory`: limiter off, `--memory-officers` officers x 10 answers with a think
  time (`--memory-think`, 10 s: about 100 answers a second offered): peak RSS;
- `kill`: limiter off, SIGKILL after half the answers: acknowledged answers lost.

Figures, never assertions: the exit status is non-zero only when the run
itself failed (an officer never acknowledged, or an answer lost).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.botapi_double import BotApiDouble

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BASE_USER = 500_000
ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")

QUESTIONNAIRE = """\
id: bench
version: "1"
languages: [it, en]
title: {it: "Questionario di prova", en: "Bench questionnaire"}
privacy: {it: "Informativa di prova.", en: "Test privacy notice."}
deadline: 2099-12-31T23:59:00+01:00
sections:
  - id: one
    title: {it: "Prima parte", en: "First part"}
    items:
      - {id: q01, type: text, text: {it: "Q01 Nome e cognome?", en: "Q01 Name?"}}
      - id: q02
        type: single_choice
        text: {it: "Q02 Ruolo?", en: "Q02 Role?"}
        choices:
          - {value: dirigente, label: {it: "Dirigente", en: "Manager"}}
          - {value: funzionario, label: {it: "Funzionario", en: "Officer"}}
          - {value: altro, label: {it: "Altro", en: "Other"}}
      - {id: q03, type: integer, text: {it: "Q03 Quanti dipendenti?", en: "Q03 Staff?"}}
      - {id: q04, type: amount, text: {it: "Q04 Spesa annua?", en: "Q04 Yearly spend?"}}
      - {id: q05, type: date, text: {it: "Q05 Da quando?", en: "Q05 Since when?"}}
  - id: two
    title: {it: "Seconda parte", en: "Second part"}
    items:
      - {id: q06, type: email, text: {it: "Q06 Email?", en: "Q06 Email?"}}
      - {id: q07, type: phone, text: {it: "Q07 Telefono?", en: "Q07 Phone?"}}
      - {id: q08, type: yes_no, text: {it: "Q08 Servizio attivo?", en: "Q08 Active?"}}
      - {id: q09, type: url, text: {it: "Q09 Sito web?", en: "Q09 Website?"}}
      - {id: q10, type: long_text, text: {it: "Q10 Note?", en: "Q10 Notes?"}}
"""

# (kind, value, marker of the question it answers): "press" values are exact labels.
SCRIPT: list[tuple[str, str, str]] = [
    ("text", "Mario Rossi", "Q01"),
    ("press", "Funzionario", "Q02"),
    ("text", "12", "Q03"),
    ("text", "15.000,00", "Q04"),
    ("text", "01/09/2018", "Q05"),
    ("text", "mario.rossi@comune.esempio.it", "Q06"),
    ("text", "055 123 4567", "Q07"),
    ("press", "Sì", "Q08"),
    ("text", "www.comune.esempio.it", "Q09"),
    ("text", "Nessuna osservazione", "Q10"),
]
ITEMS = [marker.lower() for _, _, marker in SCRIPT]


class TimedDouble(BotApiDouble):
    """The double with timestamps and a per-chat count of chat calls.

    An officer's update is stamped when it is enqueued; the acknowledgement is
    the next sendMessage to that chat whose text holds the expected marker (the
    next question's "Qnn", or anything for the last answer)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.enqueued_at: dict[int, float] = {}
        self.waiting: dict[int, tuple[str | None, asyncio.Future[float]]] = {}
        self.chat_calls: dict[int, int] = {}

    def _enqueue(self, update: dict[str, Any]) -> None:
        body = update.get("message") or update.get("callback_query") or {}
        user = body.get("from", {}).get("id")
        if user in self.waiting:
            self.enqueued_at[user] = time.perf_counter()
        super()._enqueue(update)

    def _count(self, params: dict[str, Any]) -> None:
        chat = params.get("chat_id")
        if chat is not None:
            try:
                key = int(chat)
            except (TypeError, ValueError):
                return
            self.chat_calls[key] = self.chat_calls.get(key, 0) + 1

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        self._count(params)
        result: dict[str, Any] = super()._send_message(params)
        chat = int(result["chat"]["id"])
        waiting = self.waiting.get(chat)
        if waiting is not None:
            marker, future = waiting
            if marker is None or marker in (result.get("text") or ""):
                del self.waiting[chat]
                if not future.done():
                    future.set_result(time.perf_counter() - self.enqueued_at.pop(chat, 0.0))
        return result

    def _edit_message_text(self, params: dict[str, Any]) -> Any:
        self._count(params)
        return super()._edit_message_text(params)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        self._count(params)
        return super()._edit_message_reply_markup(params)

    def _delete_message(self, params: dict[str, Any]) -> Any:
        self._count(params)
        return super()._delete_message(params)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    acked: dict[int, int] = field(default_factory=dict)  # user -> answers acknowledged
    login_calls: int = 0  # chat calls up to the first question (not answers)
    first_sent: float = float("inf")
    last_ack: float = 0.0

    @property
    def answers(self) -> int:
        return sum(self.acked.values())


@dataclass
class Scenario:
    name: str
    officers: int
    limiter: float  # SURVEYBOT_MAX_MESSAGES_PER_SECOND
    think: float = 0.0  # mean seconds between an acknowledgement and the next answer
    kill_after: int | None = None  # SIGKILL once this many answers were acknowledged


def bot_env(workdir: Path, root: str, limiter: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SURVEYBOT_TOKEN=TOKEN,
        SURVEYBOT_TELEGRAM_API_URL=root,
        SURVEYBOT_DATABASE=str(workdir / "surveybot.sqlite3"),
        SURVEYBOT_QUESTIONNAIRE=str(workdir / "questionnaire.yaml"),
        SURVEYBOT_CODE_SECRET="bench-secret",
        SURVEYBOT_MAX_MESSAGES_PER_SECOND=str(limiter),
        SURVEYBOT_LOG_LEVEL="WARNING",
    )
    return env


def issue_codes(workdir: Path, env: dict[str, str], count: int) -> list[str]:
    """Codes for the first `count` municipalities, through `surveybot codes issue`."""
    from storage.municipalities import MunicipalityRegistry

    istat = [m.istat for m in MunicipalityRegistry.load()][:count]
    out = workdir / "codes.csv"
    subprocess.run(
        [sys.executable, "-m", "bot", "codes", "issue", "--istat", *istat, "--out", str(out)],
        env=env, cwd=workdir, check=True, stdout=subprocess.DEVNULL,
    )
    with out.open(encoding="utf-8-sig", newline="") as source:
        return [row["codice"] for row in csv.DictReader(source)]


def python_pid(process: subprocess.Popen[bytes], profiled: bool) -> int:
    """The bot's own pid: under py-spy, its child."""
    if not profiled:
        return process.pid
    for _ in range(500):
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise RuntimeError("py-spy did not start the bot")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def arrived(ack: asyncio.Future[float], stop: asyncio.Event, timeout: float) -> bool:
    """Wait for an acknowledgement; False on time-out or when the run is stopped."""
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    waiting: set[asyncio.Future[Any]] = {ack, stopped}
    try:
        await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    return ack.done() and not ack.cancelled()


async def officer(
    double: TimedDouble, user: int, code: str, think: float, timeout: float,
    results: Results, rng: random.Random, stop: asyncio.Event,
) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(rng.uniform(0, 1.0))
    login: asyncio.Future[float] = loop.create_future()
    double.waiting[user] = ("Q01", login)
    double.user_sends(user, f"/start {code}")
    if not await arrived(login, stop, timeout):
        if not stop.is_set():
            results.failures.append(f"{user}: no first question after login")
        return
    results.acked[user] = 0
    results.login_calls += double.chat_calls.get(user, 0)
    for index, (kind, value, marker) in enumerate(SCRIPT):
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))
        if stop.is_set():
            return
        following = SCRIPT[index + 1][2] if index + 1 < len(SCRIPT) else None
        ack: asyncio.Future[float] = loop.create_future()
        double.waiting[user] = (following, ack)
        results.first_sent = min(results.first_sent, time.perf_counter())
        if kind == "text":
            double.user_sends(user, value)
        else:
            prompt = next(m for m in reversed(double.sent(user)) if marker in (m.get("text") or ""))
            data = next(
                (d for row in double.buttons(prompt) for label, d in row if label == value), None
            )
            if data is None:
                results.failures.append(f"{user}: no button {value!r} under {marker}")
                return
            double.user_presses(user, prompt["message_id"], data)
        if not await arrived(ack, stop, timeout):
            if not stop.is_set():
                results.failures.append(f"{user}: no acknowledgement of {marker}")
            return
        results.latencies.append(ack.result())
        results.acked[user] += 1
        results.last_ack = time.perf_counter()


def stored_answers(database: Path, codes_users: dict[int, str]) -> dict[str, set[str]]:
    """Item ids with an answer, per ISTAT code, read straight from SQLite."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT istat, item_ref FROM answer_changes JOIN responses "
                          "USING (response_id)").fetchall()
    finally:
        db.close()
    found: dict[str, set[str]] = {}
    for istat, item in rows:
        found.setdefault(istat, set()).add(item)
    return found


async def run_scenario(
    scenario: Scenario, timeout: float, seed: int, profile: Path | None = None
) -> tuple[dict[str, Any], bool]:
    workdir = Path(tempfile.mkdtemp(prefix=f"surveybot-load-{scenario.name}-"))
    (workdir / "questionnaire.yaml").write_text(QUESTIONNAIRE, encoding="utf-8")
    double = TimedDouble(TOKEN)
    await double.start()
    env = bot_env(workdir, double.root, scenario.limiter)
    codes = issue_codes(workdir, env, scenario.officers)
    command = [sys.executable, "-m", "bot", "run"]
    if profile is not None:  # py-spy's collapsed stacks of the bot, for flame graphs
        spy = str(Path(sys.executable).with_name("py-spy"))
        command = [spy, "record", "--format", "raw", "--rate", "250", "--subprocesses",
                   "-o", str(profile.resolve()), "--", *command]
    bot = subprocess.Popen(command, env=env, cwd=workdir,
                           stdout=subprocess.DEVNULL, stderr=(workdir / "bot.log").open("w"))
    pid = python_pid(bot, profile is not None)
    ok = True
    try:
        await double.wait_for(lambda: bool(double.calls("getUpdates")), timeout=30)
        results = Results()
        stop = asyncio.Event()
        rng = random.Random(seed)
        users = {BASE_USER + i: code for i, code in enumerate(codes)}
        cpu_before = cpu_seconds(pid)
        own_before = cpu_seconds(os.getpid())  # the double and the officers
        wall = time.perf_counter()
        tasks = [
            asyncio.create_task(officer(double, user, code, scenario.think, timeout, results,
                                        random.Random(rng.random()), stop))
            for user, code in users.items()
        ]
        if scenario.kill_after is not None:
            while results.answers < scenario.kill_after and not all(t.done() for t in tasks):
                await asyncio.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            stop.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - wall
        alive = bot.poll() is None
        cpu = cpu_seconds(pid) - cpu_before if alive else float("nan")
        own = cpu_seconds(os.getpid()) - own_before
        peak = peak_rss_mib(pid) if alive else float("nan")
    finally:
        if bot.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                bot.wait(15)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait()
        await double.stop()

    span = max(results.last_ack - results.first_sent, 1e-9)
    answers = results.answers
    calls = sum(double.chat_calls.get(user, 0) for user in results.acked)
    login_calls = results.login_calls  # up to the first question after login: not answers
    lat = sorted(x * 1000 for x in results.latencies) or [0.0]

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))]

    figures: dict[str, Any] = {
        "scenario": scenario.name,
        "officers": scenario.officers,
        "limiter": scenario.limiter or "off",
        "offered/s": round(scenario.officers / scenario.think) if scenario.think else "closed",
        "answers": answers,
        "answers/s": round(answers / span, 1),
        "chat calls/answer": round((calls - login_calls) / answers, 2) if answers else None,
        "p50 ms": round(statistics.median(lat), 1),
        "p95 ms": round(pct(0.95), 1),
        "p99 ms": round(pct(0.99), 1),
        "max ms": round(lat[-1], 1),
        "bot CPU (cores)": round(cpu / wall, 2) if cpu == cpu else None,
        "load generator CPU (cores)": round(own / wall, 2),
        "bot CPU ms/answer": round(1000 * cpu / answers, 2) if cpu == cpu and answers else None,
        "bot peak RSS MiB": round(peak, 1) if peak == peak else None,
    }
    if scenario.kill_after is not None:
        stored = stored_answers(workdir / "surveybot.sqlite3", users)
        from storage.municipalities import MunicipalityRegistry

        istat = [m.istat for m in MunicipalityRegistry.load()][: scenario.officers]
        by_user = dict(zip(users, istat, strict=True))
        lost = 0
        for user, count in results.acked.items():
            have = stored.get(by_user[user], set())
            lost += sum(1 for item in ITEMS[:count] if item not in have)
        figures["acknowledged"] = answers
        figures["lost after SIGKILL"] = lost
        ok = ok and lost == 0
        figures.pop("chat calls/answer")
        figures.pop("bot CPU (cores)")
        figures.pop("load generator CPU (cores)")
        figures.pop("bot CPU ms/answer")
        figures.pop("bot peak RSS MiB")
    else:
        ok = ok and not results.failures
    if results.failures:
        figures["failures"] = f"{len(results.failures)}, e.g. {results.failures[:2]}"
    return figures, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=["off", "latency", "limited", "memory",
                                                          "kill"])
    parser.add_argument("--officers", type=int, default=200)
    parser.add_argument("--offered", type=float, default=90.0,
                        help="answers a second offered in the latency scenario")
    parser.add_argument("--memory-officers", type=int, default=1000)
    parser.add_argument("--memory-think", type=float, default=10.0,
                        help="mean think time in the memory scenario (0: saturate)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="record the bot with py-spy into this file")
    args = parser.parse_args()
    n = args.officers
    known = {
        "off": Scenario("off", n, 0),
        "latency": Scenario("latency", n, 0, think=n / args.offered),
        "limited": Scenario("limited", n, 30),
        "memory": Scenario("memory", args.memory_officers, 0, think=args.memory_think),
        "kill": Scenario("kill", n, 0, kill_after=n * len(SCRIPT) // 2),
    }
    print(f"machine: {os.cpu_count()} cores; bot = `python -m bot run` subprocess; "
          f"{len(SCRIPT)} answers per officer")
    ok = True
    for name in args.scenarios:
        figures, passed = asyncio.run(
            run_scenario(known[name], args.timeout, args.seed, args.profile)
        )
        ok = ok and passed
        print("  ".join(f"{k}: {v}" for k, v in figures.items()), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
