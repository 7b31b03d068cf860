"""The faults, in order. Each returns its failures (an empty list: every expectation held) and
adds the syntheses it started to the ledger, so the invariants can count usage rows."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos import invariants
from chaos.calls import (
    LONG_TEXT,
    MEDIUM_TEXT,
    ONE_UNIT_SPEED,
    ONE_UNIT_TEXT,
    READ_TIMEOUT,
    SHORT_TEXT,
    Call,
    Socket,
    http_call,
    wait_all,
)
from chaos.invariants import Ledger, usage_row
from chaos.stack import ChaosStack, log

CUT_WITHIN_S = 2.0  # a call carried by a killed worker learns of it within this
SERVED_WITHIN_S = 2.0  # a new call's first audio, once a worker died (the other one serves it)
RECOVER_WITHIN_S = 5.0  # the service answers again this soon after Redis / PostgreSQL return
STALL_MARGIN_S = 6.0  # beyond the worker's stall time: the drop, plus a heartbeat or two


@dataclass
class Result:
    name: str
    failures: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)

    def expect(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)


def _ws(stack: ChaosStack, web: str) -> str:
    return stack.web_url(web).replace("http://", "ws://")


def _count(ledger: Ledger, calls: list[Call]) -> None:
    ledger.started += sum(c.admitted for c in calls)


def _wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _complete(stack: ChaosStack, web: str, ledger: Ledger) -> Call:
    """A short SSE synthesis run to its end."""
    key = stack.tenants[1].api_key
    call = http_call(stack.web_url(web), key, SHORT_TEXT, "sse", stop=threading.Event())
    call.finished.wait(30)
    _count(ledger, [call])
    return call


# --- 1. a TTS worker killed mid-stream ------------------------------------------------------


def _pause(stack: ChaosStack, worker: str) -> None:
    """SIGSTOP: the worker's heartbeat lapses, so dispatch offers it nothing (it picks the live
    worker with the most free slots); its jobs wait where they are."""
    stack.kill(worker, signal.SIGSTOP)
    _wait_for(lambda: stack.worker_status(worker) is None, 5)


def _resume(stack: ChaosStack, worker: str) -> None:
    stack.kill(worker, signal.SIGCONT)
    _wait_for(lambda: stack.worker_status(worker) is not None, 5)


def worker_killed(stack: ChaosStack, ledger: Ledger) -> Result:
    result = Result("worker_killed")
    alpha, beta = stack.tenants
    stop = threading.Event()
    # Worker 2 paused while the calls to cut are placed, so they all land on worker 1, which
    # they fill (3 slots): nothing else goes there afterwards.
    _pause(stack, "worker-2")
    sse = http_call(stack.web_url("web-1"), alpha.api_key, LONG_TEXT, "sse", stop=stop)
    raw = http_call(stack.web_url("web-2"), beta.api_key, LONG_TEXT, "raw", stop=stop)
    socket = Socket(_ws(stack, "web-1"), alpha.api_key)
    spoken = socket.speak("first", ONE_UNIT_TEXT, ONE_UNIT_SPEED)
    calls = [sse, raw, spoken]
    placed = wait_all(calls, lambda c: c.has_audio, 60)
    # A heartbeat is at most 0.3 s old: the third call shows in one soon after its audio.
    _wait_for(lambda: (stack.worker_status("worker-1") or {}).get("active_jobs") == 3, 2)
    status = stack.worker_status("worker-1") or {}
    _resume(stack, "worker-2")
    # A call on worker 2 (the only one with room), which the kill must not touch.
    bystander = http_call(stack.web_url("web-1"), beta.api_key, MEDIUM_TEXT, "raw", stop=stop)
    bystander.has_audio.wait(30)
    result.expect(
        placed and all(c.first_audio for c in calls), f"no audio before the kill: {calls}"
    )
    result.expect(status.get("active_jobs") == 3, f"worker-1 does not carry the 3 calls: {status}")
    killed = time.monotonic()
    stack.kill("worker-1")
    wait_all(calls, lambda c: c.finished, 20)
    for call in calls:
        cut = (call.ended or float("inf")) - killed
        result.figures[f"{call.kind}_cut_s"] = round(cut, 2)
        result.figures[f"{call.kind}_outcome"] = call.outcome
        result.expect(cut <= CUT_WITHIN_S, f"{call.kind} call ended {cut:.2f} s after the kill")
    result.expect(sse.outcome == "error:worker_lost", f"SSE call ended with {sse.outcome}")
    result.expect(raw.outcome in ("truncated", "clean_end"), f"raw call ended with {raw.outcome}")
    # A raw body's end does not say whether it is whole: its usage record does.
    found = usage_row(stack, raw.synthesis_id)
    result.figures["raw_record"] = "/".join(found)
    result.expect(found == ("failed", "worker_lost"), f"the raw call's usage record: {found}")
    result.expect(spoken.outcome == "error:worker_lost", f"socket context: {spoken.outcome}")
    # The socket lives: its next context is served, by the other worker.
    again = socket.speak("second", SHORT_TEXT)
    again.finished.wait(30)
    result.expect(again.outcome == "done", f"the socket's next context: {again.outcome}")
    result.expect(not socket.closed, f"the socket closed: {socket.closed}")
    socket.close()
    after = _complete(stack, "web-2", ledger)
    first = (after.first_audio or float("inf")) - after.started
    result.figures["next_call_first_audio_s"] = round(first, 2)
    result.expect(after.outcome == "done", f"a new call after the kill: {after.outcome}")
    result.expect(first <= SERVED_WITHIN_S, f"a new call's first audio took {first:.2f} s")
    bystander.finished.wait(60)
    found = usage_row(stack, bystander.synthesis_id)
    result.figures["other_worker_call"] = f"{bystander.outcome}, {'/'.join(found)}"
    result.expect(found == ("completed", ""), f"the other worker's call: {found}")
    _count(ledger, [*calls, again, bystander])
    stack.start("worker-1")  # what `make run`'s supervisor does (with backoff), done by hand
    return result


# --- 2. a full queue ----------------------------------------------------------------------


def queue_full(stack: ChaosStack, ledger: Ledger) -> Result:
    """2 workers x 3 slots and 2 waiting: of 10 calls at once, 6 run, 2 wait, 2 are refused."""
    result = Result("queue_full")
    stop = threading.Event()
    keys = [t.api_key for t in stack.tenants]
    calls = [
        http_call(stack.web_url(f"web-{1 + n % 2}"), keys[n % 2], LONG_TEXT, "raw", stop=stop)
        for n in range(10)
    ]
    _wait_for(lambda: sum(c.status in (200, 503) for c in calls) >= 8, 20)
    refused = [c for c in calls if c.status == 503]
    served = [c for c in calls if c.status == 200]
    result.figures.update(served=len(served), refused=len(refused))
    result.expect(len(refused) >= 2, f"{len(refused)} of 10 refused (2 x 3 slots + 2 waiting)")
    result.expect(len(served) <= 8, f"{len(served)} served at once by 6 slots and 2 waiting")
    for call in refused:
        result.expect(call.outcome == "http:503:queue_full", f"a refusal: {call.outcome}")
        result.expect(call.retry_after.isdigit(), f"a refusal without Retry-After: {call}")
        answered = (call.ended or float("inf")) - call.started
        result.figures["slowest_refusal_s"] = max(
            answered, float(str(result.figures.get("slowest_refusal_s", 0)))
        )
        result.expect(answered < 5, f"a refusal took {answered:.1f} s")
    stop.set()  # hang up: the jobs are cancelled, the waiting ones served and hung up too
    ended = wait_all(calls, lambda c: c.finished, 40)
    outcomes = sorted(c.outcome for c in calls)
    result.expect(ended and "hang" not in outcomes, f"calls that never ended: {outcomes}")
    _count(ledger, calls)
    return result


# --- 3. a web process killed mid-stream ----------------------------------------------------


def _active_jobs(stack: ChaosStack) -> int:
    beats = [stack.worker_status(worker) or {} for worker in ("worker-1", "worker-2")]
    return sum(int(str(beat.get("active_jobs", 0))) for beat in beats)


def web_killed(stack: ChaosStack, ledger: Ledger) -> Result:
    result = Result("web_killed")
    stop = threading.Event()
    call = http_call(stack.web_url("web-1"), stack.tenants[0].api_key, LONG_TEXT, "raw", stop=stop)
    call.has_audio.wait(30)
    result.expect(call.first_audio is not None, f"no audio before the kill: {call.outcome}")
    # A heartbeat is at most 0.3 s old: the job shows in one soon after its first audio.
    result.expect(_wait_for(lambda: _active_jobs(stack) == 1, 3), "the call's job is not running")
    killed = time.monotonic()
    stack.kill("web-1")
    stall = float(stack.child_env()["TTS_WORKER_STALL_SECONDS"])
    dropped = _wait_for(lambda: _active_jobs(stack) == 0, stall + STALL_MARGIN_S, 0.2)
    result.figures["job_dropped_s"] = round(time.monotonic() - killed, 2)
    result.expect(dropped, f"the orphaned job still runs {stall + STALL_MARGIN_S:.0f} s on")
    call.finished.wait(10)
    result.expect(call.outcome != "hang", "the caller's connection hangs")
    _count(ledger, [call])
    row = _wait_for(lambda: usage_row(stack, call.synthesis_id)[0] != "open", 30, 0.5)
    result.figures["row_closed_s"] = round(time.monotonic() - killed, 2)
    found = usage_row(stack, call.synthesis_id)
    result.expect(row and found == ("failed", "process_lost"), f"the reaper's row: {found}")
    stack.start("web-1")
    return result


# --- 4 and 5. Redis or PostgreSQL stopped, then started --------------------------------------


def _outage(
    stack: ChaosStack,
    result: Result,
    ledger: Ledger,
    down: Callable[[], None],
    up: Callable[[], None],
    in_flight: str,
) -> None:
    """`down`, calls while down, `up`, calls until both web processes serve again; an SSE call
    streaming when `down` ran ends as `in_flight`."""
    stop = threading.Event()
    key = stack.tenants[0].api_key
    streaming = http_call(stack.web_url("web-1"), key, LONG_TEXT, "sse", stop=stop)
    streaming.has_audio.wait(30)
    down()
    try:
        calls = [_complete(stack, web, ledger) for web in ("web-1", "web-2")]
        streaming.finished.wait(CUT_WITHIN_S + 3)  # while the service is still down
    finally:
        up()
    streaming.finished.wait(READ_TIMEOUT + 5)
    back = time.monotonic()
    # The call in flight ends (its audio cut off or, if it was done, whole), never hangs; it
    # ends while the service is down (the ending is not kept waiting for its return).
    result.figures["in_flight_call"] = streaming.outcome
    result.figures["in_flight_audio_s"] = round(streaming.audio_bytes / 44100, 1)
    ended = (streaming.ended or float("inf")) <= back
    result.expect(ended, f"the call in flight did not end while down: {streaming.outcome}")
    result.expect(streaming.outcome == in_flight, f"the call in flight: {streaming.outcome}")
    _count(ledger, [streaming])
    for call in calls:
        result.expect(call.outcome == "http:503:service_unavailable", f"while down: {call.outcome}")
        result.expect(call.retry_after.isdigit(), f"no Retry-After while down: {call.outcome}")
    recovered = dict.fromkeys(("web-1", "web-2"), False)
    while time.monotonic() - back < RECOVER_WITHIN_S + 5 and not all(recovered.values()):
        for web in recovered:
            if not recovered[web]:
                recovered[web] = _complete(stack, web, ledger).outcome == "done"
        time.sleep(0.2)
    took = time.monotonic() - back
    result.figures["recovered_s"] = round(took, 2)
    result.expect(
        all(recovered.values()) and took <= RECOVER_WITHIN_S,
        f"recovery took {took:.1f} s ({recovered})",
    )
    for worker in ("worker-1", "worker-2", "celery"):
        result.expect(stack.children[worker].alive, f"{worker} died")
    invariants.wait_closed(stack, 30)
    result.figures["in_flight_record"] = "/".join(usage_row(stack, streaming.synthesis_id))
    for worker, other in (("worker-1", "worker-2"), ("worker-2", "worker-1")):
        served = _served_by(stack, worker, other, ledger)
        result.expect(served == "done", f"{worker} after the outage: {served}")


def _served_by(stack: ChaosStack, worker: str, other: str, ledger: Ledger) -> str:
    """A call served by `worker` (the other one paused, so dispatch offers only this one)."""
    stack.kill(other, signal.SIGSTOP)
    try:
        _wait_for(lambda: stack.worker_status(other) is None, 5)
        return _complete(stack, "web-2", ledger).outcome
    finally:
        stack.kill(other, signal.SIGCONT)
        _wait_for(lambda: stack.worker_status(other) is not None, 5)


def redis_restarted(stack: ChaosStack, ledger: Ledger) -> Result:
    result = Result("redis_restarted")
    # The stream loses Redis: it ends with an `error` event.
    _outage(
        stack,
        result,
        ledger,
        stack.redis_server.stop,
        stack.redis_server.start,
        "error:service_unavailable",
    )
    return result


def postgres_restarted(stack: ChaosStack, ledger: Ledger) -> Result:
    result = Result("postgres_restarted")
    # A stream needs no PostgreSQL until its end: its audio plays to the end, but its end
    # cannot be recorded, so no `done` follows (the reaper closes its record later).
    _outage(stack, result, ledger, stack.postgres.stop, stack.postgres.start, "clean_end")
    return result


# --- 6. the Redis primary lost under Sentinel ------------------------------------------------

SWITCH_WITHIN_S = 15.0  # the sentinels name the replica: down-after 1 s, election, promotion


def _probe(stack: ChaosStack, ledger: Ledger, stop: threading.Event, probes: list[Call]) -> None:
    """New calls, one after another, on both web processes in turn, until `stop`."""
    n = 0
    while not stop.is_set():
        call = _complete(stack, f"web-{1 + n % 2}", ledger)
        probes.append(call)
        n += 1
        time.sleep(0.1)


def redis_failover(stack: ChaosStack, ledger: Ledger) -> Result:
    """Redis behind Sentinel (a replica, three sentinels); every process restarted with
    REDIS_SENTINELS. The primary is SIGKILLed with calls in flight and new calls coming; the
    sentinels promote the replica, and every client the calls use (cache, Celery, admission,
    socket leases, job streams, workers) follows it. (The channel layer, which no call uses,
    is shown to follow one in callwaiting_tts/tests/test_redis_sentinel.py.) Calls fail only
    during the switch, and clearly."""
    result = Result("redis_failover")
    stack.use_sentinels()
    sentinels = stack.sentinels
    assert sentinels is not None
    alpha, beta = stack.tenants
    for web in ("web-1", "web-2"):
        before = _complete(stack, web, ledger)
        result.expect(before.outcome == "done", f"{web} through Sentinel: {before.outcome}")
    stop = threading.Event()
    streaming = http_call(stack.web_url("web-1"), alpha.api_key, MEDIUM_TEXT, "sse", stop=stop)
    socket = Socket(_ws(stack, "web-2"), beta.api_key)
    spoken = socket.speak("during", MEDIUM_TEXT)
    wait_all([streaming, spoken], lambda c: c.has_audio, 30)
    probes: list[Call] = []
    probing = threading.Event()
    prober = threading.Thread(target=_probe, args=(stack, ledger, probing, probes), daemon=True)
    prober.start()
    time.sleep(0.5)
    killed = time.monotonic()
    stack.redis_server.kill()
    replica = sentinels.replica.port
    switched = _wait_for(lambda: sentinels.primary_port() == replica, SWITCH_WITHIN_S)
    switch_s = time.monotonic() - killed
    result.figures["switch_s"] = round(switch_s, 2)
    result.expect(switched, f"the sentinels named no new primary in {SWITCH_WITHIN_S:.0f} s")
    time.sleep(RECOVER_WITHIN_S + 1)
    probing.set()
    prober.join(60)
    wait_all([streaming, spoken], lambda c: c.finished, READ_TIMEOUT + 5)
    # Every call ends: done, or a clear error (503 service_unavailable with Retry-After, an
    # SSE or socket `error`); none hangs or gets a 500.
    failed = [c for c in probes if c.outcome != "done"]
    result.figures["calls_during"] = len(probes)
    result.figures["failed_calls"] = sorted({c.outcome for c in failed})
    last_failure = max((c.started - killed for c in failed), default=0.0)
    result.figures["last_failure_started_s"] = round(last_failure, 2)
    for call in failed:
        clear = call.outcome in ("http:503:service_unavailable", "error:service_unavailable")
        result.expect(clear, f"a call during the switch: {call.outcome}")
        if call.outcome.startswith("http:"):
            result.expect(call.retry_after.isdigit(), f"no Retry-After: {call.outcome}")
    result.expect(
        last_failure <= switch_s + RECOVER_WITHIN_S,
        f"a call failed {last_failure:.1f} s after the kill (the switch took {switch_s:.1f} s)",
    )
    for call in (streaming, spoken):
        result.figures[f"in_flight_{call.kind}"] = call.outcome
        ok = call.outcome in ("done", "error:service_unavailable")
        result.expect(ok, f"the {call.kind} call in flight: {call.outcome}")
    # The socket lives through it, and its next context is served (its admission and leases
    # on the new primary).
    again = socket.speak("after", SHORT_TEXT)
    again.finished.wait(30)
    result.expect(again.outcome == "done", f"the socket's next context: {again.outcome}")
    result.expect(not socket.closed, f"the socket closed: {socket.closed}")
    socket.close()
    fresh = Socket(_ws(stack, "web-1"), alpha.api_key)
    new_socket = fresh.speak("new", SHORT_TEXT)
    new_socket.finished.wait(30)
    fresh.close()
    result.expect(new_socket.outcome == "done", f"a new socket: {new_socket.outcome}")
    _count(ledger, [streaming, spoken, again, new_socket])
    for worker, other in (("worker-1", "worker-2"), ("worker-2", "worker-1")):
        served = _served_by(stack, worker, other, ledger)
        result.expect(served == "done", f"{worker} after the failover: {served}")
    for name in ("web-1", "web-2", "worker-1", "worker-2", "celery"):
        result.expect(stack.children[name].alive, f"{name} died")
    # Celery follows too: a web process killed mid-stream leaves an open row that only the
    # reaper closes, sent by beat through the broker on the new primary.
    orphan = http_call(stack.web_url("web-1"), alpha.api_key, LONG_TEXT, "raw", stop=stop)
    orphan.has_audio.wait(30)
    stack.kill("web-1")
    _count(ledger, [orphan])
    closed = _wait_for(lambda: usage_row(stack, orphan.synthesis_id)[0] != "open", 30, 0.5)
    found = usage_row(stack, orphan.synthesis_id)
    result.expect(closed and found == ("failed", "process_lost"), f"the reaper's row: {found}")
    stack.start("web-1")
    return result


SCENARIOS: dict[str, Callable[[ChaosStack, Ledger], Result]] = {
    "worker_killed": worker_killed,
    "queue_full": queue_full,
    "web_killed": web_killed,
    "redis_restarted": redis_restarted,
    "postgres_restarted": postgres_restarted,
    # Last: it moves the stack onto Sentinel for good (the CLI runs scenarios in this order).
    "redis_failover": redis_failover,
}


def run(stack: ChaosStack, ledger: Ledger, name: str) -> Result:
    log(f"scenario {name}")
    return SCENARIOS[name](stack, ledger)
