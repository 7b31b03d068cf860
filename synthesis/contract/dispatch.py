"""Which worker runs a job (docs/adr/0007): a slot reserved on a live worker of the engine with
room, and the job pushed onto that worker's own queue, in one Lua script, so two web processes
can never both take a worker's last slot.

    web    dispatch(job): the live worker with the most free slots (ties: the first of the ids,
           which the caller shuffles) gets the job → `placed`; no room anywhere → the job waits
           in the engine's wait queue, unless `depth` jobs wait already → `full`
    worker pull(release=job id) when a job ends, and pull() at every heartbeat: its slot freed,
           the oldest waiting jobs move onto the queues of workers with room

A worker's capacity is read from its heartbeat inside the script, so a dead worker (its
heartbeat expired) is never offered; its reservations die with its keys. A reservation lapses on
its own when the job's deadline has passed (a worker that forgot one, or a job nobody popped),
and a waiting job whose web process gave up (or died) leaves the wait queue when it would have
given up. The script names its workers' keys in KEYS; the worker ids come from the engine's
worker set, read just before.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from synthesis.contract.keys import Keys
from synthesis.contract.messages import as_text

PLACED = "placed"  # on a worker's queue: `worker` names it
WAITING = "waiting"  # in the engine's wait queue
FULL = "full"  # the wait queue holds `depth` jobs already
NO_WORKERS = "no_workers"  # no live worker of the engine

# The keys of a dispatcher's Redis names (a worker's queue, slots, placement) live this long
# after their last use: a dead worker's are gone by then.
KEEP_MS = 600_000

# KEYS: the engine's worker set, wait queue, waiting jobs, placements; then per candidate
# worker its heartbeat, slots and queue. ARGV: job id ('' for a pull), message, hold ms (how long
# its reservation may live), wait ms (how long it may wait for a slot), depth, a job id whose
# slot the first candidate frees ('' for none), keep ms, then the candidates' ids.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local job_id, message = ARGV[1], ARGV[2]
local hold_ms, wait_ms, depth = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local release, keep_ms = ARGV[6], tonumber(ARGV[7])
local n = (#KEYS - 4) / 3
local function ms(value) return string.format('%.0f', value) end
if release ~= '' and n > 0 then redis.call('ZREM', KEYS[6], release) end
local free, live = {}, 0
for i = 1, n do
  local base = 4 + 3 * (i - 1)
  free[i] = 0
  local beat = redis.call('GET', KEYS[base + 1])
  if beat then
    live = live + 1
    local ok, status = pcall(cjson.decode, beat)
    local capacity = ok and tonumber(status['capacity']) or 0
    redis.call('ZREMRANGEBYSCORE', KEYS[base + 2], '-inf', ms(now))
    free[i] = capacity - redis.call('ZCARD', KEYS[base + 2])
  else
    redis.call('SREM', KEYS[1], ARGV[7 + i])
  end
end
local function roomiest()
  local best, most = nil, 0
  for i = 1, n do
    if free[i] > most then best, most = i, free[i] end
  end
  return best
end
local function place(i, id, hold_until, body)
  local base = 4 + 3 * (i - 1)
  redis.call('ZADD', KEYS[base + 2], ms(hold_until), id)
  redis.call('PEXPIRE', KEYS[base + 2], keep_ms)
  redis.call('RPUSH', KEYS[base + 3], body)
  redis.call('PEXPIRE', KEYS[base + 3], keep_ms)
  redis.call('HSET', KEYS[4], id, ARGV[7 + i])
  redis.call('PEXPIRE', KEYS[4], keep_ms)
  free[i] = free[i] - 1
end
-- The wait queue is in arrival order (a per-engine sequence); an entry is
-- '<wait until>:<hold until>:<message>'. Waits all last as long, so the expired are a prefix.
local function live_head()
  while true do
    local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
    if not head then return nil, nil end
    local entry = redis.call('HGET', KEYS[3], head)
    if entry then
      local sep = string.find(entry, ':', 1, true)
      if tonumber(string.sub(entry, 1, sep - 1)) > now then
        return head, string.sub(entry, sep + 1)
      end
    end
    redis.call('ZREM', KEYS[2], head)
    redis.call('HDEL', KEYS[3], head)
  end
end
local moved = 0
live_head()
while roomiest() do
  local head, entry = live_head()
  if not head then break end
  redis.call('ZREM', KEYS[2], head)
  redis.call('HDEL', KEYS[3], head)
  local sep = string.find(entry, ':', 1, true)
  place(roomiest(), head, tonumber(string.sub(entry, 1, sep - 1)), string.sub(entry, sep + 1))
  moved = moved + 1
end
if job_id == '' then return {'pulled', tostring(moved)} end
if live == 0 then return {'no_workers', ''} end
local best = roomiest()
if best then
  place(best, job_id, now + hold_ms, message)
  return {'placed', ARGV[7 + best]}
end
if redis.call('ZCARD', KEYS[2]) >= depth then return {'full', ''} end
local arrival = redis.call('INCR', KEYS[2] .. ':seq')
redis.call('PEXPIRE', KEYS[2] .. ':seq', keep_ms)
redis.call('ZADD', KEYS[2], arrival, job_id)
redis.call('HSET', KEYS[3], job_id, ms(now + wait_ms) .. ':' .. ms(now + hold_ms) .. ':' .. message)
redis.call('PEXPIRE', KEYS[2], keep_ms)
redis.call('PEXPIRE', KEYS[3], keep_ms)
return {'waiting', ''}
"""


@dataclass(frozen=True)
class Placement:
    outcome: str  # PLACED, WAITING, FULL or NO_WORKERS
    worker: str = ""  # PLACED: whose queue


async def _run(
    client: aioredis.Redis, keys: Keys, engine: str, workers: list[str], args: list[Any]
) -> list[str]:
    names = [keys.workers(engine), keys.waiting(engine), keys.waiting_jobs(engine)]
    names.append(keys.placed(engine))
    for worker in workers:
        names += [keys.heartbeat(worker), keys.slots(worker), keys.queue(worker)]
    script = client.register_script(_SCRIPT)
    answer = await script(keys=names, args=[*args, KEEP_MS, *workers])
    return [as_text(part) for part in answer]


async def dispatch(
    client: aioredis.Redis,
    keys: Keys,
    engine: str,
    *,
    job_id: str,
    message: bytes,
    hold_ms: int,
    wait_ms: int,
    depth: int,
) -> Placement:
    """Reserves a slot for the job on the live worker of `engine` with the most room and pushes
    `message` onto its queue; with no room anywhere the job waits (at most `wait_ms`, behind at
    most `depth - 1` others) for a worker's `pull`. The reservation lives at most `hold_ms`
    (the job's deadline and a margin), unless the worker frees it first."""
    workers = [as_text(i) for i in await client.smembers(keys.workers(engine))]
    random.shuffle(workers)  # the script prefers the first of equals
    args: list[Any] = [job_id, message, max(1, hold_ms), max(1, wait_ms), depth, ""]
    outcome, worker = await _run(client, keys, engine, workers, args)
    return Placement(outcome, worker)


async def pull(
    client: aioredis.Redis, keys: Keys, engine: str, worker: str, release: str = ""
) -> int:
    """A worker's turn: frees the slot of the job `release` (one that ended, or one it popped
    but will not run), then moves the oldest waiting jobs onto its queue while it has room.
    How many moved."""
    _, moved = await _run(client, keys, engine, [worker], ["", b"", 1, 1, 0, release])
    return int(moved)


async def withdraw(client: aioredis.Redis, keys: Keys, engine: str, job_id: str) -> bool:
    """Takes a job out of the wait queue and forgets its placement (its web process gives up);
    False when it was not waiting (placed on a worker, or given up already)."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.zrem(keys.waiting(engine), job_id)
        pipe.hdel(keys.waiting_jobs(engine), job_id)
        pipe.hdel(keys.placed(engine), job_id)
        removed, _, _ = await pipe.execute()
    return bool(removed)
