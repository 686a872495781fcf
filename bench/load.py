"""End-to-end load: `python -m bench.load [--officers 1000] [--think 3] [--profile]`.

1,000 simulated officers, each of a different municipality, log in with their
own access code and answer the shipped questionnaire (22 answers: typed answers,
typed choices, the "add a practice" and "done" buttons) through the real
python-telegram-bot Application, officer flow, engine and SQLite store (a real
file, WAL, synchronous=FULL: every acknowledged answer is on disk), against the
in-process Bot API double.

Each officer waits for the acknowledgement (the next question) before answering
again, after a think time (uniform 0.5x..1.5x `--think` seconds; 0 = answer at
once, which measures saturation). Latency of one answer: from the moment the
double enqueues the update to the moment it receives the bot's sendMessage with
the next question (timestamp hooks in `TimedDouble`, a subclass of the double).

Printed: answers per second, p50/p90/p99/max latency, peak memory (ru_maxrss of
this process: bot + double), and a check that every acknowledged answer is in
the database. Telegram's 30 messages/s (PTB's AIORateLimiter, configured in
`build_application`) is switched off unless `--telegram-limits`: it would cap
the run at about 15 answers/s (two chat requests per answer) and hide the bot's
own capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import random
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.cli.codes import issue_code
from bot.runtime import open_services
from bot.settings import Settings
from bot.telegram.app import build_application
from storage.municipalities import MunicipalityRegistry
from tests.support.botapi_double import BotApiDouble

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BASE_USER = 500_000

# (kind, text or the start of a button label) from the first question to the review.
SCRIPT: list[tuple[str, str]] = [
    ("text", "sì"),  # the municipality is right
    ("text", "Mario Rossi"),
    ("text", "Servizi Sociali, responsabile del servizio"),
    ("text", "mario.rossi@comune.esempio.it"),
    ("text", "055 1234567"),
    ("text", "no"),  # not the lead municipality of a district
    ("press", "➕"),  # add a good practice
    ("text", "Centro per le famiglie"),
    ("text", "1, 3"),  # areas, typed
    ("text", "Sportello, laboratori e incontri per genitori e bambini."),
    ("text", "5"),  # beneficiaries: parents
    ("text", "01/09/2018"),
    ("text", "sì"),  # still ongoing
    ("text", "5"),  # funding: municipal funds
    ("text", "12.500,00"),
    ("text", "Scuole e associazioni di famiglie"),
    ("text", "250"),
    ("text", "Più famiglie seguite"),
    ("text", "www.comune.esempio.it/famiglie"),
    ("press", "Ho finito"),
    ("text", "Nessuna osservazione"),
    ("text", "sì"),  # publication consent: the review follows
]


class TimedDouble(BotApiDouble):
    """The double with timestamps: when an officer's update is enqueued, and when the
    bot's next question (a sendMessage with an inline keyboard) reaches the double."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.enqueued_at: dict[int, float] = {}
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.prompts: dict[int, list[tuple[str, str]]] = {}

    def _enqueue(self, update: dict[str, Any]) -> None:
        body = update.get("message") or update.get("callback_query") or {}
        user = body.get("from", {}).get("id")
        if user in self.waiting:
            self.enqueued_at[user] = time.perf_counter()
        super()._enqueue(update)

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = super()._send_message(params)
        buttons = [b for row in self.buttons(result) for b in row]
        if any(data[:1].isdigit() for _, data in buttons):  # an engine prompt
            chat = int(result["chat"]["id"])
            self.prompts[chat] = buttons
            waiter = self.waiting.pop(chat, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter() - self.enqueued_at.pop(chat))
        return result


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    first_sent: float = float("inf")
    last_ack: float = 0.0
    answers: int = 0
    text_answers: int = 0


async def officer(
    double: TimedDouble,
    user: int,
    code: str,
    args: argparse.Namespace,
    results: Results,
    rng: random.Random,
) -> None:
    await asyncio.sleep(rng.uniform(0, args.login_spread))
    login = asyncio.get_running_loop().create_future()
    double.waiting[user] = login
    double.user_sends(user, f"/start {code}")
    try:
        await asyncio.wait_for(login, args.timeout)
    except TimeoutError:
        results.failures.append(f"{user}: no first question after login")
        return
    for kind, value in SCRIPT[: args.answers]:
        if args.think:
            await asyncio.sleep(rng.uniform(0.5 * args.think, 1.5 * args.think))
        ack: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        double.waiting[user] = ack
        results.first_sent = min(results.first_sent, time.perf_counter())
        if kind == "text":
            double.user_sends(user, value)
        else:
            data = next(
                (d for label, d in double.prompts.get(user, []) if label.startswith(value)), None
            )
            if data is None:
                results.failures.append(f"{user}: no button {value!r}")
                return
            message = double.sent(user)[-1]["message_id"]
            double.user_presses(user, message, data)
        try:
            latency = await asyncio.wait_for(ack, args.timeout)
        except TimeoutError:
            results.failures.append(f"{user}: no acknowledgement of {value!r}")
            return
        results.latencies.append(latency)
        results.answers += 1
        results.text_answers += kind == "text"
        results.last_ack = time.perf_counter()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="surveybot-load-"))
    double = TimedDouble(TOKEN)
    await double.start()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        token=SecretStr(TOKEN),
        telegram_api_url=double.root,
        database=workdir / "surveybot.sqlite3",
        code_secret=SecretStr("load-secret"),
        deadline=datetime.fromisoformat("2099-01-01T00:00:00+01:00"),
    )
    services = await open_services(settings)
    registry = MunicipalityRegistry.load()
    municipalities = [m.istat for m in registry][: args.officers]
    started = time.perf_counter()
    codes = [await issue_code(services.store, settings, istat, "load") for istat in municipalities]
    print(f"{len(codes)} codes issued in {time.perf_counter() - started:.1f} s; database {workdir}")

    # Measure the bot, not Telegram's 30 messages/s (unless asked to).
    app = build_application(services, token=TOKEN, rate_limited=args.telegram_limits)
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)

    results = Results()
    rng = random.Random(args.seed)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    wall = time.perf_counter()
    await asyncio.gather(
        *(
            officer(double, BASE_USER + i, code, args, results, random.Random(rng.random()))
            for i, code in enumerate(codes)
        )
    )
    wall = time.perf_counter() - wall
    if profiler:
        profiler.disable()

    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)
    store = await open_services(settings)
    changes = await store.store.fetchone("SELECT count(*) FROM answer_changes")
    await store.store.close()
    await double.stop()

    durable = int(changes[0]) if changes else 0
    span = results.last_ack - results.first_sent
    lat = [x * 1000 for x in results.latencies] or [0.0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"officers {len(codes)}, answers acknowledged {results.answers} in {span:.1f} s "
        f"(whole run {wall:.1f} s, think {args.think} s, "
        f"rate limiter {'on' if args.telegram_limits else 'off'})"
    )
    print(f"answers/s {results.answers / span:.0f}" if span > 0 else "answers/s n/a")
    print(
        f"latency ms: p50 {statistics.median(lat):.1f}  p90 {percentile(lat, 0.9):.1f}  "
        f"p99 {percentile(lat, 0.99):.1f}  max {max(lat):.1f}"
    )
    print(f"peak memory (ru_maxrss, bot + double) {peak:.0f} MiB")
    print(
        f"durable: {durable} answer changes stored for {results.text_answers} acknowledged "
        f"typed answers ({'ok' if durable >= results.text_answers else 'MISSING'})"
    )
    if results.failures:
        print(f"failures: {len(results.failures)}, e.g. {results.failures[:3]}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile_lines)
        print(out.getvalue())
    return 1 if results.failures or durable < results.text_answers else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--answers", type=int, default=len(SCRIPT), help="answers per officer")
    parser.add_argument(
        "--think",
        type=float,
        default=3.0,
        help="mean seconds between an acknowledgement and the next answer",
    )
    parser.add_argument(
        "--login-spread", type=float, default=3.0, help="logins are spread over this many seconds"
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--telegram-limits",
        action="store_true",
        help="keep PTB's AIORateLimiter (30 chat requests/s)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the answering phase")
    parser.add_argument("--profile-lines", type=int, default=35)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
