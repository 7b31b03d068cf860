"""Counted slots in Redis that expire when their holder dies: concurrent syntheses per tenant and
open WebSocket connections per tenant. Admission (`billing.admission`) takes the first kind in
its own script, with the limit from the tenant's plan, so HTTP streams and socket contexts count
together.

A lease set is a sorted set: member = lease id, score = expiry in ms (Redis server time).
Acquiring is one Lua script (drop expired, count, add if under the limit), so concurrent web
processes can never together exceed the limit; holders renew their leases while they run, and a
process that dies simply stops renewing: its slots free themselves after `ttl_ms`.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from django.conf import settings

_ACQUIRE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""

_RENEW = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', ms + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return renewed
"""

_COUNT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
return redis.call('ZCARD', KEYS[1])
"""


def synthesis_key(tenant_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:lease:synthesis:{tenant_id}"


def connection_key(tenant_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:lease:connection:{tenant_id}"


class LeaseSet:
    def __init__(self, client: aioredis.Redis, key: str, *, ttl_ms: int | None = None) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms or settings.LEASE_TTL_MS

    async def acquire(self, lease_id: str, limit: int) -> bool:
        """Takes a slot if fewer than `limit` are held (re-acquiring one's own slot renews it)."""
        taken = await self.client.eval(_ACQUIRE, 1, self.key, lease_id, limit, self.ttl_ms)
        return bool(taken)

    async def renew(self, lease_id: str) -> bool:
        """Extends a held slot; False if it had expired (it is not taken back)."""
        return bool(await self.client.eval(_RENEW, 1, self.key, lease_id, self.ttl_ms))

    async def release(self, lease_id: str) -> None:
        await self.client.zrem(self.key, lease_id)

    async def count(self) -> int:
        return int(await self.client.eval(_COUNT, 1, self.key))
