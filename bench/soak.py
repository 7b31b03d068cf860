"""Section `soak` (issue #18, point 2): a minute of a phone-agent fleet on this machine.

`soak_sockets` realtime sockets (100) each speak a turn every N seconds (a new line each time,
cache off: the engine speaks it), and the caller barges in on a share of them (`cancel` with
`played_ms`); beside them, `soak_http_rps` (20) HTTP requests a second, open loop (sent on the
clock whatever came back), of the IVR's fixed prompts (phrase-cache hits after their first
time: the prompts an agent says again and again). N is chosen from the engine's capacity
measured first in the same run (audio seconds per second with both workers busy), so that the
sockets offer `SOCKET_SHARE` of it: a soak measures staying power, not overload.

What it reports, over the `soak_seconds` after a warm-up (the RSS baseline is taken at its end):
the share of offered requests served (HTTP 200 with audio; a turn done, or cancelled by the
caller, with audio), errors other than documented refusals (429, and 503 with Retry-After at
capacity), the web process's and each worker's resident memory growth, and per socket stream its
longest playback underrun: how late a frame arrived against when it was due at real-time
playback from the stream's first frame. The figure is the share of streams whose longest
underrun is at most 100 ms.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from bench.base import MeasureError
from bench.client import BYTES_PER_SAMPLE, SAMPLE_RATE, Reply, synthesize
from bench.report import Row, percentile, verdict
from bench.sockets import FORMAT, SERVER_SETTINGS, WS_WORKERS, Socket, open_sockets
from bench.stack import log
from bench.texts import SENTENCE, VARIED

if TYPE_CHECKING:
    from bench.base import Bench

SERVED_TARGET = 0.95
RSS_GROWTH_TARGET = 0.10
UNDERRUN_LIMIT_S = 0.1
SOCKET_SHARE = 0.5  # of the measured capacity, offered by the sockets' turns
BARGE_IN_SHARE = 0.3
BARGE_IN_AFTER_S = (0.5, 1.5)  # audio the caller hears before cutting in
TURN_TIMEOUT_S = 60.0
KEEPALIVE_S = 10.0  # half the server's idle timeout (20 s)
RSS_EVERY_S = 1.0
LAG_TICK_S = 0.02
CAPACITY_REQUESTS = 12  # at once: both workers' slots full (6 each)
# The IVR's fixed prompts, over HTTP.
PROMPTS = (SENTENCE, VARIED[0], VARIED[1], "Please stay on the line.", "Goodbye, and thank you.")
# An agent's replies: a new line each turn (a number in it), so the engine speaks every one.
REPLY = "Your order number {n} has shipped and should arrive on Thursday between nine and noon."
# Refusals the API documents for load: a limit (429) or capacity (503, Retry-After).
REFUSALS = frozenset(
    {
        "rate_limit_exceeded",
        "concurrency_limit_exceeded",
        "queue_full",
        "queue_timeout",
        "no_workers",
        "http_429",
        "http_503",
    }
)
BYTES_PER_SECOND = SAMPLE_RATE * BYTES_PER_SAMPLE
PHRASE_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Plan:
    seconds: float  # measured, after the warm-up
    warmup: float
    sockets: int
    turn_interval: float  # N: each socket starts a turn this often
    http_rps: float
    seed: int = 17


def longest_underrun(arrivals: Sequence[tuple[float, int]], bytes_per_second: float) -> float:
    """The latest a frame came against real-time playback from the first frame: frame k is due
    when the audio before it has played, `first arrival + bytes before k / rate`. Arrivals are
    (time, bytes) in order; 0 when every frame came in time."""
    if not arrivals:
        return 0.0
    start = arrivals[0][0]
    played = 0
    worst = 0.0
    for at, size in arrivals:
        worst = max(worst, at - (start + played / bytes_per_second))
        played += size
    return worst


def turn_interval(sockets: int, turn_audio_s: float, capacity: float) -> float:
    """N such that `sockets` each speaking `turn_audio_s` every N seconds offer
    `SOCKET_SHARE` of `capacity` (audio seconds per second)."""
    if capacity <= 0:
        raise MeasureError("soak: the engine's capacity measured as 0")
    return sockets * turn_audio_s / (SOCKET_SHARE * capacity)


@dataclass
class Turn:
    started: float
    outcome: str = ""  # done, cancelled, an error code, timeout, closed_<code>
    barged: bool = False
    audio_bytes: int = 0
    underrun: float = 0.0

    @property
    def served(self) -> bool:
        return self.outcome in ("done", "cancelled") and self.audio_bytes > 0


@dataclass
class Results:
    turns: list[Turn] = field(default_factory=list)
    http: list[Reply] = field(default_factory=list)
    open_failures: Counter[str] = field(default_factory=Counter)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # name → (t, KiB)
    baseline_at: float = 0.0  # the end of the warm-up (perf_counter)
    loop_lag: list[float] = field(default_factory=list)  # the bench loop's lateness per tick


# --- one socket ------------------------------------------------------------------------------


async def speak_turn(sock: Socket, number: int, barge_after: float | None) -> Turn:
    """One turn: a new reply, paced in real time; cut off `barge_after` seconds of audio in
    (None: heard to its end). Frames after the cancel is sent do not count toward underrun."""
    context = f"t{number}"
    turn = Turn(started=time.perf_counter(), barged=barge_after is not None)
    start = {"type": "start", "context_id": context, "text": REPLY.format(n=number), **FORMAT}
    await sock.send({**start, "pacing": "realtime", "cache": False})
    await sock.send({"type": "end", "context_id": context})
    arrivals: list[tuple[float, int]] = []
    cancel_at: float | None = None
    deadline = time.perf_counter() + TURN_TIMEOUT_S
    while True:
        wait = deadline - time.perf_counter()
        if barge_after is not None and cancel_at is None and arrivals:
            wait = min(wait, arrivals[0][0] + barge_after - time.perf_counter())
        try:
            item = await sock.next(max(0.0, wait))
        except TimeoutError:
            if time.perf_counter() >= deadline:
                turn.outcome = "timeout"
                break
            played_ms = int(turn.audio_bytes * 1000 / BYTES_PER_SECOND)
            cancel_at = await sock.send(
                {"type": "cancel", "context_id": context, "played_ms": played_ms}
            )
            continue
        if item.audio is not None:
            turn.audio_bytes += len(item.audio)
            if cancel_at is None:
                arrivals.append((item.at, len(item.audio)))
            continue
        message = item.message or {}
        kind = message.get("type")
        if kind == "_closed":
            turn.outcome = f"closed_{message.get('code')}"
            break
        if message.get("context_id") != context:
            continue
        if kind in ("done", "cancelled"):
            turn.outcome = str(kind)
            break
        if kind == "error":
            turn.outcome = str(message.get("error", {}).get("code", "error"))
            break
    turn.underrun = longest_underrun(arrivals, BYTES_PER_SECOND)
    return turn


async def caller(sock: Socket, plan: Plan, until: float, rng: random.Random, out: Results) -> None:
    """One socket's turns, every `turn_interval` from a random first offset, until `until`;
    between turns (the caller talking) a `ping` every `KEEPALIVE_S`, as a live agent's client
    keeps its socket from the idle timeout (WS_IDLE_TIMEOUT_SECONDS)."""
    next_turn = time.perf_counter() + rng.uniform(0, plan.turn_interval)
    try:
        while next_turn < until:
            while (left := next_turn - time.perf_counter()) > 0:
                await asyncio.sleep(min(left, KEEPALIVE_S))
                if next_turn - time.perf_counter() > 0:
                    await sock.send({"type": "ping"})
            barge = rng.random() < BARGE_IN_SHARE
            after = rng.uniform(*BARGE_IN_AFTER_S) if barge else None
            turn = await speak_turn(sock, rng.randrange(10**6), after)
            out.turns.append(turn)
            if turn.outcome.startswith("closed_"):
                return
            next_turn += plan.turn_interval
    except ConnectionClosed as closed:  # the server closed it between turns: a failed turn
        code = closed.rcvd.code if closed.rcvd is not None else "none"
        out.turns.append(Turn(started=time.perf_counter(), outcome=f"closed_{code}"))


# --- HTTP, open loop -------------------------------------------------------------------------


def http_load(port: int, api_key: str, rps: float, seconds: float) -> list[Reply]:
    """`rps` requests a second on the clock (not after the last came back) for `seconds`, each
    a prompt in turn, in a pool wide enough that none waits for a thread. Run in a process of
    its own: its 64 reading threads in the sockets' process took the GIL from the loop that
    timestamps the sockets' frames, and the bench's own lag counted as the server's underrun."""
    replies: list[concurrent.futures.Future[Reply]] = []
    with ThreadPoolExecutor(max_workers=64, thread_name_prefix="soak-http") as pool:
        at = time.perf_counter()
        until, number = at + seconds, 0
        while at < until:
            time.sleep(max(0.0, at - time.perf_counter()))
            prompt = PROMPTS[number % len(PROMPTS)]
            replies.append(pool.submit(synthesize, port, api_key, prompt, cache=True, timeout=60))
            number += 1
            at += 1 / rps
    return [reply.result() for reply in replies]


async def http_clients(port: int, api_key: str, plan: Plan, until: float, out: Results) -> None:
    """The HTTP load (`http_load`) in a process of its own, until `until`."""
    loop = asyncio.get_running_loop()
    seconds = until - time.perf_counter()
    spawn = multiprocessing.get_context("spawn")  # the loop's threads are not forked
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as process:
        request = functools.partial(http_load, port, api_key, plan.http_rps, seconds)
        out.http.extend(await loop.run_in_executor(process, request))


async def loop_lag(until: float, out: Results) -> None:
    """How late this process's event loop wakes against a 20 ms tick: the bench's own share
    of any lateness the sockets' frames show (the frames are timestamped on this loop)."""
    while (at := time.perf_counter()) < until:
        await asyncio.sleep(LAG_TICK_S)
        out.loop_lag.append(time.perf_counter() - at - LAG_TICK_S)


# --- memory ----------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def sample_rss(pids: dict[str, int], until: float, out: Results) -> None:
    while time.perf_counter() < until:
        now = time.perf_counter()
        for name, pid in pids.items():
            out.rss.setdefault(name, []).append((now, rss_kib(pid)))
        await asyncio.sleep(RSS_EVERY_S)


def growth(samples: list[tuple[float, int]], baseline_at: float) -> float:
    """How much RSS grew over the measured run: the floor (lowest reading) of its last third
    over the floor of its first third (after the warm-up), minus 1. A worker's RSS swings by
    a hundred MiB and more with the jobs in flight (each synthesis's buffers, freed after it);
    what it returns to between them is what it keeps, and a leak raises that floor."""
    measured = [(t, kib) for t, kib in samples if t >= baseline_at]
    if len(measured) < 6:
        raise MeasureError("soak: too few memory samples (a run shorter than 6 samples)")
    third = len(measured) // 3
    first = min(kib for _, kib in measured[:third])
    last = min(kib for _, kib in measured[-third:])
    return last / first - 1


# --- the run ---------------------------------------------------------------------------------


async def soak(url: str, port: int, api_key: str, plan: Plan, pids: dict[str, int]) -> Results:
    """The whole load for `plan.warmup + plan.seconds`; the turns and requests of all of it."""
    out = Results()
    sockets, out.open_failures = await open_sockets(url, api_key, plan.sockets)
    began = time.perf_counter()
    until = began + plan.warmup + plan.seconds
    rng = random.Random(plan.seed)  # noqa: S311  # a load's schedule, repeatable: no secret
    try:
        await asyncio.gather(
            *(caller(s, plan, until, random.Random(rng.random()), out) for s in sockets),  # noqa: S311
            http_clients(port, api_key, plan, until, out),
            sample_rss(pids, until + 1, out),
            loop_lag(until, out),
        )
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    out.baseline_at = began + plan.warmup
    return out


def measure_capacity(bench: Bench) -> tuple[float, float]:
    """(audio seconds per second with every slot of both workers busy, one reply's audio
    seconds): `CAPACITY_REQUESTS` replies at once, cache off."""
    texts = [REPLY.format(n=n) for n in range(CAPACITY_REQUESTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CAPACITY_REQUESTS) as pool:
        replies = list(pool.map(lambda t: bench.request(t, cache=False), texts))
    elapsed = time.perf_counter() - started
    served = [r for r in replies if r.ok]
    if not served:
        raise MeasureError("soak: no reply served while measuring capacity")
    audio = sum(r.audio_seconds for r in served)
    return audio / elapsed, audio / len(served)


def measure_soak(bench: Bench) -> None:
    options = bench.options
    bench.stack.restart_daphne(**SERVER_SETTINGS, TTS_PHRASE_CACHE_BYTES=str(PHRASE_CACHE_BYTES))
    try:
        bench.ensure_workers(WS_WORKERS, fresh=True)
        for prompt in PROMPTS:  # the prompts' first time fills the cache
            bench.request(prompt, cache=True)
        capacity, reply_s = measure_capacity(bench)
        plan = Plan(
            seconds=options.soak_seconds,
            warmup=options.soak_warmup_seconds,
            sockets=options.soak_sockets,
            turn_interval=turn_interval(options.soak_sockets, reply_s, capacity),
            http_rps=options.soak_http_rps,
        )
        log(
            f"soak: capacity {capacity:.1f} audio s/s, a reply {reply_s:.1f} s: "
            f"{plan.sockets} sockets, a turn every {plan.turn_interval:.1f} s each, "
            f"{plan.http_rps:g} HTTP requests/s, {plan.warmup:g} s warm-up + {plan.seconds:g} s"
        )
        pids = {"web": bench.stack.daphne_pid}
        pids.update({f"worker-{n}": w.pid for n, w in enumerate(bench.stack.workers, 1)})
        url = f"ws://127.0.0.1:{bench.stack.port}/v1/stream"
        results = asyncio.run(soak(url, bench.stack.port, bench.stack.api_key, plan, pids))
        _report(bench, plan, capacity, results)
    finally:
        bench.stack.restart_daphne()


@dataclass(frozen=True)
class Summary:
    offered: int
    served: int
    refused: Counter[str]
    errors: Counter[str]
    streams: int
    smooth: int  # streams whose longest underrun is at most UNDERRUN_LIMIT_S
    underruns: list[float]
    rss_growth: dict[str, float]


def summarize(results: Results) -> Summary:
    codes = [t.outcome for t in results.turns if not t.served]
    codes += [r.error or f"http_{r.status}" for r in results.http if not r.ok]
    codes += [code for code, n in results.open_failures.items() for _ in range(n)]
    refused = Counter(c for c in codes if c in REFUSALS)
    errors = Counter(c for c in codes if c not in REFUSALS)
    heard = [t for t in results.turns if t.audio_bytes]
    rss = {name: growth(s, results.baseline_at) for name, s in results.rss.items()}
    offered = len(results.turns) + len(results.http) + sum(results.open_failures.values())
    served = sum(t.served for t in results.turns) + sum(r.ok for r in results.http)
    return Summary(
        offered=offered,
        served=served,
        refused=refused,
        errors=errors,
        streams=len(heard),
        smooth=sum(t.underrun <= UNDERRUN_LIMIT_S for t in heard),
        underruns=[t.underrun for t in heard],
        rss_growth=rss,
    )


def _row(label: str, ours: float, unit: str, **fields: Any) -> Row:
    """A soak row: no reference run beside it (the targets are absolute)."""
    return Row("soak", label, ours, None, "", unit, None, **fields)


def _report(bench: Bench, plan: Plan, capacity: float, results: Results) -> None:
    summary = summarize(results)
    if not summary.offered:
        raise MeasureError("soak: nothing was offered")
    bench.details["soak"] = _details(plan, capacity, results, summary)
    share = summary.served / summary.offered
    barged = sum(t.barged for t in results.turns)
    bench.rows.append(
        _row(
            "offered requests served",
            share * 100,
            "%",
            target=f">= {SERVED_TARGET * 100:.0f} %",
            verdict=verdict(share >= SERVED_TARGET),
            note=f"{summary.served} of {summary.offered}: {len(results.turns)} turns ({barged} "
            f"barged in), {len(results.http)} HTTP; refused {dict(summary.refused)}",
        )
    )
    bench.rows.append(
        _row(
            "errors other than documented refusals",
            sum(summary.errors.values()),
            "",
            target="0",
            verdict=verdict(not summary.errors),
            note=str(dict(summary.errors)) if summary.errors else "",
        )
    )
    web = summary.rss_growth.get("web", 0.0)
    workers = max((g for n, g in summary.rss_growth.items() if n != "web"), default=0.0)
    for label, value in (("web process RSS growth", web), ("worker RSS growth, most", workers)):
        bench.rows.append(
            _row(
                label,
                value * 100,
                "%",
                target=f"< {RSS_GROWTH_TARGET * 100:.0f} %",
                verdict=verdict(value < RSS_GROWTH_TARGET),
                note="the floor of the run's last third over its first third's (after the "
                "warm-up): what the process keeps between jobs",
            )
        )
    if summary.streams:
        longest = [u * 1000 for u in summary.underruns]
        bench.rows.append(
            _row(
                f"streams with no underrun over {UNDERRUN_LIMIT_S * 1000:.0f} ms",
                summary.smooth / summary.streams * 100,
                "%",
                note=f"{summary.smooth} of {summary.streams}; longest underrun p50 "
                f"{percentile(longest, 50):.0f} ms, p95 {percentile(longest, 95):.0f} ms, "
                f"max {max(longest):.0f} ms",
            )
        )
    if results.loop_lag:
        lag = [x * 1000 for x in results.loop_lag]
        bench.rows.append(
            _row(
                "bench client's loop lag, p99",
                percentile(lag, 99),
                "ms",
                note=f"max {max(lag):.0f} ms: how late the loop that timestamps the frames "
                "woke (its own share of an underrun)",
            )
        )


def _details(plan: Plan, capacity: float, results: Results, summary: Summary) -> dict[str, Any]:
    return {
        "plan": plan.__dict__,
        "capacity_audio_s_per_s": round(capacity, 2),
        "offered": summary.offered,
        "served": summary.served,
        "refused": dict(summary.refused),
        "errors": dict(summary.errors),
        "rss_growth": {k: round(v, 4) for k, v in summary.rss_growth.items()},
        # Seconds from the end of the warm-up, and MiB: the curve behind each growth figure.
        "rss_mib": {
            name: [(round(t - results.baseline_at, 1), round(kib / 1024, 1)) for t, kib in series]
            for name, series in results.rss.items()
        },
        "longest_underrun_ms": [round(u * 1000, 1) for u in summary.underruns],
        "turn_outcomes": dict(Counter(t.outcome for t in results.turns)),
        "http_first_byte_ms_p50": round(
            percentile([r.ttfb for r in results.http if r.ok and r.ttfb], 50) * 1000, 1
        )
        if any(r.ok and r.ttfb for r in results.http)
        else None,
    }
