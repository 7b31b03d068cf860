"""Admission: the rate limit, the concurrency lease and the quota reservation of one synthesis,
taken in one atomic step in Redis (one Lua script), and settled once it ends.

Keys (P = `settings.REDIS_PREFIX`; the month is the calendar month in UTC, `YYYYMM`):

    P:rate:tenant:<tenant_id>          sorted set, member = admission id, score = Redis ms
    P:rate:key:<key_id>                the same per API key (P:rate:member:<user_id> for a
                                       signed-in portal member: `Principal.rate_subject`)
    P:lease:synthesis:<tenant_id>      sorted set, member = admission id, score = expiry in ms
                                       (`billing.leases.synthesis_key`: HTTP streams and
                                       WebSocket contexts count together)
    P:quota:<tenant_id>:<month>:used   characters billed this month (rebuilt from PostgreSQL)
    P:quota:<tenant_id>:<month>:held   hash, admission id -> characters reserved, in flight
    P:admission:settled:<id>           settle's idempotency marker (two days)

The admit script checks everything first and writes only when every check passed, so a refused
request consumes nothing. A reservation lives as long as its lease: one whose lease has expired
(its web process died) no longer counts and is dropped at the next admission. PostgreSQL stays
the authority: when the month's `used` counter is missing (Redis restarted, or a new month) the
script says so without admitting, the sum of the month's UsageRecords is written with SET NX and
the script runs again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Sum
from redis.commands.core import AsyncScript, Script
from redis.exceptions import RedisError

from billing import leases
from billing.limits import Limits, cached_limits, limits_for
from billing.models import UsageRecord
from callwaiting_tts import tts_metrics
from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import async_client, get_redis
from tenants.principal import Principal

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000  # the rate limit's sliding window
SETTLED_TTL_SECONDS = 2 * 86_400
MONTH_KEY_GRACE_SECONDS = 35 * 86_400  # a month's counters outlive it (stats, late settles)

RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
CONCURRENCY_LIMIT_EXCEEDED = "concurrency_limit_exceeded"
QUOTA_EXCEEDED = "quota_exceeded"

# KEYS: 1 tenant rate, 2 key rate, 3 leases, 4 used, 5 held
# ARGV: 1 id, 2 tenant rpm, 3 key rpm (-1: none), 4 max concurrent, 5 lease ttl ms,
#       6 quota (-1: not enforced), 7 characters, 8 window ms, 9 month keys' ttl s,
#       10 '1': the rate limit only (a text preview: no lease, nothing reserved)
# Returns {status, code, retry_ms, limit, remaining, reset_ms, used, reserved};
# status 1 admitted, 0 refused (code says why), -1 the used counter must be rebuilt first.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local window = tonumber(ARGV[8])
local quota = tonumber(ARGV[6])
local chars = tonumber(ARGV[7])

local used = 0
local u = redis.call('GET', KEYS[4])
if u then
  used = tonumber(u)
elseif quota >= 0 then
  return {-1, '', 0, 0, 0, 0, 0, 0}
end

-- rate: a sliding log of the last minute's admissions
local function rate(key, limit)
  if limit < 0 then return nil end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local s = {limit = limit, count = count, retry = 0, reset = window}
  if limit <= 0 then
    s.retry = window
  elseif count >= limit then
    -- admitted again once all but limit - 1 of these have left the window
    local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    s.retry = tonumber(freeing[2]) + window - now
  end
  if count > 0 then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    s.reset = tonumber(oldest[2]) + window - now
  end
  return s
end
local scopes = {}
local tenant_rate = rate(KEYS[1], tonumber(ARGV[2]))
if tenant_rate then scopes[#scopes + 1] = tenant_rate end
local key_rate = rate(KEYS[2], tonumber(ARGV[3]))
if key_rate then scopes[#scopes + 1] = key_rate end

-- the scope the headers describe: the one with the fewest requests left
local shown = nil
for _, s in ipairs(scopes) do
  if shown == nil or s.limit - s.count < shown.limit - shown.count then shown = s end
end
local limit, remaining, reset = -1, -1, 0
if shown then
  limit, remaining, reset = shown.limit, math.max(0, shown.limit - shown.count), shown.reset
end

local retry = 0
for _, s in ipairs(scopes) do
  if s.count >= s.limit and s.retry > retry then retry = s.retry end
end
if retry > 0 then
  return {0, 'rate_limit_exceeded', retry, limit, remaining, reset, used, 0}
end

local function take_rate_slots()
  if tenant_rate then
    redis.call('ZADD', KEYS[1], now, id)
    redis.call('PEXPIRE', KEYS[1], window)
  end
  if key_rate then
    redis.call('ZADD', KEYS[2], now, id)
    redis.call('PEXPIRE', KEYS[2], window)
  end
  if shown then
    remaining = math.max(0, remaining - 1)
    if shown.count == 0 then reset = window end
  end
end

if ARGV[10] == '1' then
  take_rate_slots()
  return {1, '', 0, limit, remaining, reset, used, 0}
end

-- concurrency: live leases (expired ones belonged to holders that stopped renewing)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then
  return {0, 'concurrency_limit_exceeded', 1000, limit, remaining, reset, used, 0}
end

-- quota: used + what live admissions hold + this request
local reserved = 0
local held = redis.call('HGETALL', KEYS[5])
for i = 1, #held, 2 do
  if redis.call('ZSCORE', KEYS[3], held[i]) then
    reserved = reserved + tonumber(held[i + 1])
  else
    redis.call('HDEL', KEYS[5], held[i])
  end
end
if quota >= 0 and used + reserved + chars > quota then
  return {0, 'quota_exceeded', 0, limit, remaining, reset, used, reserved}
end

-- admitted: now, and only now, write
take_rate_slots()
local ttl = tonumber(ARGV[5])
redis.call('ZADD', KEYS[3], now + ttl, id)
redis.call('PEXPIRE', KEYS[3], ttl * 2)
if quota >= 0 and chars > 0 then
  redis.call('HSET', KEYS[5], id, chars)
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[9]))
  reserved = reserved + chars
end
return {1, '', 0, limit, remaining, reset, used, reserved}
"""

# KEYS: 1 leases, 2 held, 3 used
# ARGV: 1 id, 2 more characters, 3 quota
# Returns 1 when the reservation grew, 0 when it would pass the quota (nothing changes),
# -1 when the admission no longer holds its lease (expired), -2 when the counter is gone.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then return -1 end
local u = redis.call('GET', KEYS[3])
if not u then return -2 end
local reserved = 0
local held = redis.call('HGETALL', KEYS[2])
for i = 1, #held, 2 do
  local e = redis.call('ZSCORE', KEYS[1], held[i])
  if e and tonumber(e) > now then reserved = reserved + tonumber(held[i + 1]) end
end
if tonumber(u) + reserved + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: 1 leases, 2 held
# ARGV: 1 id, 2 lease ttl ms, 3 concurrency limit, 4 characters reserved (0: none)
# Returns 1 when the lease was renewed, 2 when it had expired and was taken again (its
# reservation put back: a reservation counts only while its lease lives), 0 when it had expired
# and the tenant's slots are all taken now (the synthesis must stop), -1 when it was settled.
_KEEP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local ttl = tonumber(ARGV[2])
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expiry and tonumber(expiry) > now then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
if tonumber(ARGV[4]) > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
end
return 2
"""

# KEYS: 1 tenant rate, 2 key rate (or the same key twice when only one applies)
# ARGV: 1 id, 2 window ms
# Counts a request refused as invalid toward the rate limit (never refuses anything).
_COUNT_REFUSED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2]))
end
return 1
"""

# KEYS: 1 leases, 2 held, 3 used, 4 settled marker
# ARGV: 1 id, 2 billed characters, 3 marker ttl s
_SETTLE = """
redis.call('ZREM', KEYS[1], ARGV[1])
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', tonumber(ARGV[3])) then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('INCRBY', KEYS[3], tonumber(ARGV[2]))
end
return 1
"""


@dataclass
class Admission:
    """One admitted (or refused) synthesis: what settle needs, and what the headers say."""

    id: str
    tenant_id: int
    key_id: int | None  # None for a portal member
    month: str
    allowed: bool
    code: str = ""  # the refusal's code
    message: str = ""
    retry_after: int = 0  # seconds, for a refusal
    limit: int | None = None  # requests per minute of the scope shown (None: unlimited)
    remaining: int = 0
    reset: int = 0  # seconds until the oldest request in the window leaves it
    reserved: int = 0  # characters this admission holds against the quota
    used: int = 0  # the month's characters billed before it
    quota: int | None = None  # the hard quota, when one is enforced
    concurrency: int = 0  # the concurrency limit it was admitted under (to take a lost lease back)
    settled: bool = False
    lost: bool = False  # its lease expired and could not be taken back: it must stop
    rate_only: bool = False  # a text preview: a rate slot, no lease, nothing reserved
    _renewed: float = field(default_factory=time.monotonic, repr=False)

    def headers(self) -> dict[str, str]:
        """X-RateLimit-* (when the tenant has a rate limit) and, on a refusal, Retry-After."""
        headers: dict[str, str] = {}
        if self.limit is not None:
            headers["X-RateLimit-Limit"] = str(self.limit)
            headers["X-RateLimit-Remaining"] = str(self.remaining)
            headers["X-RateLimit-Reset"] = str(self.reset)
        if not self.allowed and self.retry_after:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class LeaseLost(ApplicationError):
    """A running synthesis whose concurrency lease expired (its process stalled, or Redis was
    unreachable for longer than a lease lives) and whose tenant has used the slot since."""

    def __init__(self) -> None:
        super().__init__(
            "This synthesis lost its concurrency slot (the service stalled); start it again.",
            code="lease_expired",
            status=503,
            headers={"Retry-After": "1"},
        )


class AdmissionRefused(ApplicationError):
    """A 429 in the project's error shape, with Retry-After and the X-RateLimit headers."""

    status = 429

    def __init__(self, admission: Admission) -> None:
        super().__init__(
            admission.message, code=admission.code, status=429, headers=admission.headers()
        )
        self.admission = admission


# --- keys -----------------------------------------------------------------------------------


def month_of(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.year:04d}{moment.month:02d}"


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = int(month[:4]), int(month[4:])
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _seconds_to_month_end(month: str) -> int:
    return max(1, math.ceil(_month_bounds(month)[1].timestamp() - time.time()))


def rate_key(scope: str, ident: int) -> str:
    return f"{settings.REDIS_PREFIX}:rate:{scope}:{ident}"


def used_key(tenant_id: int, month: str) -> str:
    return f"{settings.REDIS_PREFIX}:quota:{tenant_id}:{month}:used"


def held_key(tenant_id: int, month: str) -> str:
    return f"{settings.REDIS_PREFIX}:quota:{tenant_id}:{month}:held"


def settled_key(admission_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:admission:settled:{admission_id}"


# --- Redis clients and scripts --------------------------------------------------------------

# redis.asyncio clients belong to the event loop that made their connections: one per loop.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)
_async_scripts: weakref.WeakKeyDictionary[aioredis.Redis, dict[str, AsyncScript]] = (
    weakref.WeakKeyDictionary()
)


def _client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = async_client(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _clients[loop] = client
    return client


def _script(client: aioredis.Redis, source: str) -> AsyncScript:
    scripts = _async_scripts.setdefault(client, {})
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = client.register_script(source)  # EVALSHA, EVAL on NOSCRIPT
    return script


_sync_scripts: dict[tuple[int, str], Script] = {}


def _sync_script(source: str) -> Script:
    client = get_redis()
    script = _sync_scripts.get((id(client), source))
    if script is None:
        script = _sync_scripts[(id(client), source)] = client.register_script(source)
    return script


# --- limits ---------------------------------------------------------------------------------


async def limits_of(principal: Principal, prefetched: Mapping[str, Any]) -> Limits:
    """The tenant's effective limits (`limits_for`): from `prefetched` (the cache values the
    caller read at once on the event loop, `limits_cache_key` among them), so no thread round
    trip on the way to first audio; a miss reads the database in a database thread."""
    cached = cached_limits(principal.tenant_id, prefetched)
    if cached is not None:
        return cached
    return await database_sync_to_async(limits_for)(principal.tenant_id)


def concurrency_limit(limits: Limits) -> int:
    """The plan's `max_concurrent_streams` (with the tenant's override), unless the deployment
    sets TTS_MAX_CONCURRENT_PER_TENANT, which then applies to every tenant (development stacks
    and the end-to-end tests raise or lower it)."""
    configured = settings.TTS_MAX_CONCURRENT_PER_TENANT
    return limits.max_concurrent_streams if configured is None else int(configured)


# --- reconciliation -------------------------------------------------------------------------


def billed_in_month(tenant_id: int, month: str) -> int:
    start, end = _month_bounds(month)
    total = (
        UsageRecord.objects.closed()
        .filter(tenant_id=tenant_id, started_at__gte=start, started_at__lt=end)
        .aggregate(total=Sum("characters_billed"))["total"]
    )
    return int(total or 0)


async def rebuild_used(tenant_id: int, month: str) -> int:
    """Writes the month's billed characters from PostgreSQL into Redis unless a counter is
    there already (SET NX: concurrent rebuilds agree); returns the counter's value."""
    total = await database_sync_to_async(billed_in_month)(tenant_id, month)
    client = _client()
    key = used_key(tenant_id, month)
    await client.set(key, total, nx=True, ex=_seconds_to_month_end(month) + MONTH_KEY_GRACE_SECONDS)
    return int(await client.get(key) or 0)


# --- admit, reserve, renew, settle ------------------------------------------------------------


def _refusal_message(code: str, admission: Admission) -> str:
    if code == RATE_LIMIT_EXCEEDED:
        return (
            f"Rate limit of {admission.limit} requests per minute reached; "
            f"retry after {admission.retry_after} s."
        )
    if code == CONCURRENCY_LIMIT_EXCEEDED:
        return "This account already runs as many syntheses at once as its plan allows."
    return (
        f"The monthly character quota ({admission.quota}) would be exceeded: "
        f"{admission.used + admission.reserved} used or in flight, this request needs more."
    )


async def admit(
    principal: Principal,
    *,
    characters: int,
    lease_id: str,
    limits: Limits,
    now: datetime | None = None,
    rate_only: bool = False,
) -> Admission:
    """Rate limit (tenant and key), concurrency lease and quota reservation, in one step.
    `now` picks the calendar month (tests); the windows and leases use Redis's clock.
    `rate_only`: the rate limit alone (a text preview: nothing is synthesized or reserved)."""
    month = month_of(now)
    hard_quota = None if limits.overage_allowed or rate_only else limits.monthly_characters
    tenant_id = principal.tenant_id
    keys = [
        rate_key("tenant", tenant_id),
        rate_key(*principal.rate_subject),
        leases.synthesis_key(tenant_id),
        used_key(tenant_id, month),
        held_key(tenant_id, month),
    ]
    args: list[Any] = [
        lease_id,
        -1 if limits.requests_per_minute is None else limits.requests_per_minute,
        -1 if limits.key_requests_per_minute is None else limits.key_requests_per_minute,
        concurrency_limit(limits),
        settings.LEASE_TTL_MS,
        -1 if hard_quota is None else hard_quota,
        characters,
        WINDOW_MS,
        _seconds_to_month_end(month) + MONTH_KEY_GRACE_SECONDS,
        "1" if rate_only else "0",
    ]
    script = _script(_client(), _ADMIT)
    result = await script(keys=keys, args=args)
    if int(result[0]) == -1:
        await rebuild_used(tenant_id, month)
        result = await script(keys=keys, args=args)
    status, code, retry_ms, limit, remaining, reset_ms, used, reserved = result
    code = code.decode() if isinstance(code, bytes) else str(code)
    admission = Admission(
        id=lease_id,
        tenant_id=tenant_id,
        key_id=principal.key_id,
        month=month,
        allowed=int(status) == 1,
        code=code,
        limit=None if int(limit) < 0 else int(limit),
        remaining=max(0, int(remaining)),
        reset=math.ceil(int(reset_ms) / 1000),
        used=int(used),
        reserved=int(reserved),
        quota=hard_quota,
        concurrency=concurrency_limit(limits),
        rate_only=rate_only,
    )
    if admission.allowed:
        admission.reserved = characters if hard_quota is not None else 0
        if rate_only:
            admission.settled = True  # nothing to renew or settle
        return admission
    if code == QUOTA_EXCEEDED:
        admission.retry_after = _seconds_to_month_end(month)
    else:
        admission.retry_after = max(1, math.ceil(int(retry_ms) / 1000))
    admission.message = _refusal_message(code, admission)
    return admission


async def admit_request(
    principal: Principal,
    *,
    characters: int,
    lease_id: str,
    limits: Limits,
    rate_only: bool = False,
) -> Admission:
    """`admit` with the tenant's limits (the caller has them already: it checked the request
    against its plan); raises AdmissionRefused (429) for a refusal."""
    admission = await admit(
        principal, characters=characters, lease_id=lease_id, limits=limits, rate_only=rate_only
    )
    if not admission.allowed:
        tts_metrics.REFUSED.labels(reason=admission.code).inc()
        raise AdmissionRefused(admission)
    return admission


async def reserve_more(admission: Admission, characters: int) -> bool:
    """Grows an admission's reservation by `characters` (text streamed into a realtime
    context). False when that would pass the hard quota; True when no quota applies. A lease
    that expired is taken back first (its reservation with it) and the quota checked as ever;
    raises LeaseLost when it cannot be: the quota is never skipped."""
    if admission.quota is None or characters <= 0:
        return True
    keys = [
        leases.synthesis_key(admission.tenant_id),
        held_key(admission.tenant_id, admission.month),
        used_key(admission.tenant_id, admission.month),
    ]
    script = _script(_client(), _RESERVE)
    args: list[str | int] = [admission.id, characters, admission.quota]
    for _attempt in range(3):
        result = int(await script(keys=keys, args=args))
        if result == -2:  # the counter went (Redis restarted): rebuild it, then again
            await rebuild_used(admission.tenant_id, admission.month)
        elif result == -1:  # the lease expired: take it back (or stop), then again
            await keep(admission)
        else:
            break
    else:
        raise LeaseLost()
    if result == 1:
        admission.reserved += characters
    return result == 1


def _keep_call(admission: Admission) -> tuple[list[str], list[Any]]:
    keys = [
        leases.synthesis_key(admission.tenant_id),
        held_key(admission.tenant_id, admission.month),
        settled_key(admission.id),
    ]
    held = admission.reserved if admission.quota is not None else 0
    return keys, [admission.id, settings.LEASE_TTL_MS, max(1, admission.concurrency), held]


def _kept(admission: Admission, result: int) -> int:
    admission._renewed = time.monotonic()
    if result == 0:
        admission.lost = True
        logger.warning("a synthesis lost its lease", extra={"admission": admission.id})
    elif result == 2:
        logger.info("a synthesis took its expired lease back", extra={"admission": admission.id})
    return result


async def keep(admission: Admission) -> int:
    """Renews the admission's lease; one that had expired is taken back with its reservation
    while the tenant has a free slot, else the admission is marked `lost` (its synthesis must
    stop: LeaseLost). Returns the script's answer (1 renewed, 2 taken back, 0 lost, -1
    settled). Raises RedisError."""
    if admission.settled or not admission.allowed or admission.lost:
        return -1
    keys, args = _keep_call(admission)
    return _kept(admission, int(await _script(_client(), _KEEP)(keys=keys, args=args)))


def keep_sync(admission: Admission) -> int:
    """`keep` for the lease keeper's thread (`billing.keeper`)."""
    if admission.settled or not admission.allowed or admission.lost:
        return -1
    keys, args = _keep_call(admission)
    return _kept(admission, int(_sync_script(_KEEP)(keys=keys, args=args)))


async def count_refused(principal: Principal, request_id: str) -> None:
    """Counts a request refused as invalid (a 4xx other than 429) toward the tenant's and the
    key's rate limits, so a client cannot probe or flood at no cost; limit refusals (429) do
    not count. Never refuses anything itself."""
    keys = [rate_key("tenant", principal.tenant_id), rate_key(*principal.rate_subject)]
    args: list[str | int] = [f"refused:{request_id}", WINDOW_MS]
    await _script(_client(), _COUNT_REFUSED)(keys=keys, args=args)


def _settle_call(admission: Admission, billed_characters: int) -> tuple[list[str], list[Any]]:
    keys = [
        leases.synthesis_key(admission.tenant_id),
        held_key(admission.tenant_id, admission.month),
        used_key(admission.tenant_id, admission.month),
        settled_key(admission.id),
    ]
    return keys, [admission.id, max(0, billed_characters), SETTLED_TTL_SECONDS]


async def settle(admission: Admission, *, billed_characters: int) -> bool:
    """Releases the lease and turns the reservation into what was billed. Idempotent: a second
    call for the same id changes nothing (returns False)."""
    if not admission.allowed or admission.rate_only:
        return False
    keys, args = _settle_call(admission, billed_characters)
    first = bool(await _script(_client(), _SETTLE)(keys=keys, args=args))
    admission.settled = True
    return first


SETTLE_RETRY_DELAYS = (0.05, 0.25)


def settle_sync(admission: Admission, *, billed_characters: int) -> bool:
    """`settle` for synchronous callers (the usage record is written in a thread), retried
    twice over a Redis blip; raises RedisError when every try failed (the caller marks its
    usage record unsettled, and the reaper reconciles the month's counter from PostgreSQL)."""
    if not admission.allowed or admission.rate_only:
        return False
    keys, args = _settle_call(admission, billed_characters)
    for delay in (*SETTLE_RETRY_DELAYS, None):
        try:
            first = bool(_sync_script(_SETTLE)(keys=keys, args=args))
            break
        except (RedisError, OSError):
            if delay is None:
                raise
            time.sleep(delay)
    admission.settled = True
    return first


def reconcile_sync(tenant_id: int, month: str, admission_id: str) -> None:
    """For a usage record whose settle never reached Redis: its lease and reservation are
    dropped, its settle marked done (a late settle changes nothing) and the month's counter
    deleted, so the next admission rebuilds it from PostgreSQL, which has the record."""
    client = get_redis()
    with client.pipeline(transaction=True) as pipe:
        pipe.zrem(leases.synthesis_key(tenant_id), admission_id)
        pipe.hdel(held_key(tenant_id, month), admission_id)
        pipe.set(settled_key(admission_id), "1", ex=SETTLED_TTL_SECONDS)
        pipe.delete(used_key(tenant_id, month))
        pipe.execute()


def lease_alive_sync(tenant_id: int, admission_id: str) -> bool:
    """Whether a synthesis still holds its concurrency lease (its process keeps renewing it)."""
    client = get_redis()
    expiry = client.zscore(leases.synthesis_key(tenant_id), admission_id)
    return expiry is not None and float(expiry) > time.time() * 1000


@dataclass(frozen=True)
class MonthFigures:
    used: int  # characters billed this month (settled)
    reserved: int  # characters held by syntheses in flight


async def month_figures(tenant_id: int, now: datetime | None = None) -> MonthFigures:
    """The current month's figures as admission sees them (rebuilt from PostgreSQL if gone)."""
    month = month_of(now)
    client = _client()
    raw = await client.get(used_key(tenant_id, month))
    used = int(raw) if raw is not None else await rebuild_used(tenant_id, month)
    live = await client.zrangebyscore(
        leases.synthesis_key(tenant_id), int(time.time() * 1000), "+inf"
    )
    held = await client.hgetall(held_key(tenant_id, month))
    alive = set(live)
    reserved = sum(int(v) for k, v in held.items() if k in alive)
    return MonthFigures(used=used, reserved=reserved)
