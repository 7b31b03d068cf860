"""`limits`: what admission (rate limit, concurrency lease and quota reservation in one Lua
step, then the settle) adds to a request.

A micro-benchmark, not an HTTP A/B (the service has no switch to turn admission off): a child
process on the stack's database and Redis runs the request's own CPU work (the text front-end's
plan of the sentence) with and without the admission path exactly as `synthesis_start` and
`synthesis_finish` run it (`admit_request`: the tenant's limits, one cache GET, then EVALSHA;
`settle_sync` in a thread), alternating on and off in one run. The demo tenant's limits apply,
with a hard monthly quota forced on so the quota branch (and its reconciliation) is measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from bench.report import INFO, Row, percentile, verdict
from bench.stack import ROOT, log
from bench.texts import SENTENCE

if TYPE_CHECKING:
    from bench.base import Bench

LIMITS_TARGET_MS = 2.0

_PROBE = r"""
import asyncio, json, sys, time, uuid
from dataclasses import replace
import django
django.setup()
from channels.db import database_sync_to_async
from billing import admission
from billing.limits import limits_for
from billing.models import UsageRecord
from billing.services import usage_record_open
from django.utils import timezone
from synthesis.text.frontend import prepare
from tenants.auth import authenticate_api_key

api_key, iterations, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
principal = authenticate_api_key(api_key)
limits = replace(limits_for(principal.tenant_id), monthly_characters=10**12, overage_allowed=False)


async def limits_of():  # limits_for as wired (a thread, one cache GET), with a quota forced on
    await database_sync_to_async(limits_for)(principal.tenant_id)
    return limits


def open_record(synthesis_id):  # as synthesis.services.usage_open writes it at admission
    return usage_record_open(
        synthesis_id=synthesis_id, tenant_id=principal.tenant_id, api_key_id=principal.key_id,
        source="http", voice="joe", engine="piper", output_format="pcm",
        sample_rate=22050, started_at=timezone.now(),
    )


async def request(mode):
    started = time.perf_counter()
    plan = prepare(text=text, locale="en-US")
    if mode != "off":
        lease_id = str(uuid.uuid4())
        held = await admission.admit_request(
            principal,
            characters=plan.characters,
            lease_id=lease_id,
            limits=await limits_of(),
        )
        if mode == "durable":  # the open usage record, written before any work is handed out
            await database_sync_to_async(open_record)(lease_id)
        await asyncio.to_thread(admission.settle_sync, held, billed_characters=plan.characters)
    return time.perf_counter() - started


async def main():
    modes = ("on", "off", "durable")
    for mode in modes * 20:  # warm-up: connections, scripts, caches
        await request(mode)
    results = {mode: [] for mode in modes}
    for index in range(iterations * 3):
        mode = modes[index % 3]
        results[mode].append(await request(mode))
    await database_sync_to_async(
        lambda: UsageRecord.objects.filter(tenant_id=principal.tenant_id, status="open").delete()
    )()
    print(json.dumps(results))

asyncio.run(main())
"""


def _clean(bench: Bench) -> None:
    """The probe's rate windows and counters must not count against later sections."""
    client = bench.stack.redis_client()
    for pattern in ("rate:*", "quota:*", "admission:*"):
        stale = list(client.scan_iter(match=f"{bench.stack.prefix}:{pattern}", count=500))
        if stale:
            client.delete(*stale)


def measure_limits(bench: Bench) -> None:
    iterations = 100 if bench.options.quick else 1000
    stack = bench.stack
    log(f"limits: admission on/off, {iterations} requests each")
    argv = [sys.executable, "-c", _PROBE, stack.api_key, str(iterations), SENTENCE]
    try:
        done = subprocess.run(
            argv,
            env=stack.child_env(DJANGO_SETTINGS_MODULE="callwaiting_tts.settings"),
            cwd=ROOT,
            capture_output=True,
            timeout=300,
            check=True,
        )
    finally:
        _clean(bench)
    samples = json.loads(done.stdout.decode().strip().splitlines()[-1])
    on = [s * 1000 for s in samples["on"]]
    off = [s * 1000 for s in samples["off"]]
    on_p50, off_p50 = percentile(on, 50), percentile(off, 50)
    added = on_p50 - off_p50
    bench.rows.append(
        Row(
            section="limits",
            label="admission + settle added to a request, p50 (us)",
            ours=round(added * 1000, 1),
            reference=None,
            reference_label="",
            unit="us",
            ratio=None,
            target=f"< {LIMITS_TARGET_MS:g} ms",
            verdict=verdict(added < LIMITS_TARGET_MS),
            note=f"on {on_p50:.3f} ms, off {off_p50:.3f} ms (p50); "
            f"p95 on {percentile(on, 95):.3f}, off {percentile(off, 95):.3f}",
        )
    )
    durable = [s * 1000 for s in samples["durable"]]
    durable_added = percentile(durable, 50) - off_p50
    bench.rows.append(
        Row(
            section="limits",
            label="the open usage record's own cost, p50 (us)",
            ours=round((durable_added - added) * 1000, 1),
            reference=None,
            reference_label="",
            unit="us",
            ratio=None,
            target="overlapped",
            verdict=INFO,
            note="one INSERT in a database thread, measured in series here; synthesis_start "
            "writes it while the job goes to a worker, so it adds to first audio only what "
            "outlasts the hand-off (the ttfb section measures first audio with it)",
        )
    )
    bench.details["limits"] = {
        "iterations": iterations,
        "on_ms": [round(v, 4) for v in on],
        "off_ms": [round(v, 4) for v in off],
        "durable_ms": [round(v, 4) for v in durable],
        "p50_added_ms": round(added, 4),
        "p50_added_with_record_ms": round(durable_added, 4),
    }
