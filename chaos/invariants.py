"""What must hold after every fault, read straight from the suite's own PostgreSQL and Redis:
one usage row per synthesis the driver started, none left open once the reaper has run, no
synthesis settled twice (the month's quota counter equals the rows' billed characters, nothing
held in flight), and the audit entries written before the faults still there, unchanged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from chaos.stack import PREFIX, ChaosStack

Audit = list[tuple[object, ...]]


@dataclass
class Ledger:
    """What the driver started so far, and the audit entries it saw before any fault."""

    started: int = 0
    audit: Audit | None = None


def audit_rows(stack: ChaosStack) -> Audit:
    with psycopg.connect(stack.database_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id, actor, action, target, tenant_id, created_at FROM tenants_auditlog "
            "ORDER BY id"
        ).fetchall()
    return [tuple(row) for row in rows]


def usage_row(stack: ChaosStack, synthesis_id: str) -> tuple[str, str]:
    """(status, error code) of one synthesis's usage row; ("", "") when it has none."""
    if not synthesis_id:
        return "", ""
    with psycopg.connect(stack.database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT status, error_code FROM billing_usagerecord WHERE synthesis_id = %s",
            [synthesis_id],
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else ("", "")


def _usage(stack: ChaosStack) -> tuple[int, int, dict[int, int]]:
    """(rows, open rows, characters billed this month per tenant)."""
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with psycopg.connect(stack.database_url, connect_timeout=5) as conn:
        total, open_rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'open') FROM billing_usagerecord"
        ).fetchone() or (0, 0)
        billed = conn.execute(
            "SELECT tenant_id, coalesce(sum(characters_billed), 0) FROM billing_usagerecord "
            "WHERE started_at >= %s GROUP BY tenant_id",
            [month_start],
        ).fetchall()
    return int(total), int(open_rows), {int(t): int(c) for t, c in billed}


def wait_closed(stack: ChaosStack, timeout: float) -> int:
    """Waits for every usage row to close (the reaper closes a lost one); the open ones left."""
    deadline = time.monotonic() + timeout
    while True:
        _, open_rows, _ = _usage(stack)
        if open_rows == 0 or time.monotonic() > deadline:
            return open_rows
        time.sleep(0.5)


def check(stack: ChaosStack, ledger: Ledger, *, reap_timeout: float = 30.0) -> list[str]:
    """The invariants' failures (empty: all hold)."""
    failures: list[str] = []
    open_rows = wait_closed(stack, reap_timeout)
    if open_rows:
        failures.append(f"{open_rows} usage row(s) still open after {reap_timeout:.0f} s")
    total, _, billed = _usage(stack)
    if total != ledger.started:
        failures.append(f"{total} usage rows for {ledger.started} syntheses started")
    failures += _quota(stack, billed)
    if ledger.audit is not None and audit_rows(stack)[: len(ledger.audit)] != ledger.audit:
        failures.append("audit entries written before the faults changed or went missing")
    return failures


def _quota(stack: ChaosStack, billed: dict[int, int]) -> list[str]:
    month = datetime.now(UTC).strftime("%Y%m")
    client = stack.redis()
    failures = []
    try:
        for tenant in stack.tenants:
            used_raw = client.get(f"{PREFIX}:quota:{tenant.id}:{month}:used")
            used = int(used_raw) if used_raw is not None else None
            rows = billed.get(tenant.id, 0)
            # A missing counter is rebuilt from the rows at the next admission (billing.admission).
            if used is not None and used != rows:
                failures.append(f"tenant {tenant.id}: quota counter {used}, rows bill {rows}")
            held = client.hlen(f"{PREFIX}:quota:{tenant.id}:{month}:held")
            if held:
                failures.append(f"tenant {tenant.id}: {held} reservation(s) still held")
    finally:
        client.close()
    return failures
