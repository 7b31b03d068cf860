"""The phrase cache: engine PCM of whole segments a tenant had spoken before, so what agents say
again and again (greetings, hold messages, menus) starts in milliseconds and costs no worker.

Where it lives: Redis, per tenant (docs/adr/0008). An entry is one segment's PCM at the engine
rate, keyed on everything that decides its audio (`segment_digest`): the engine and its options,
the voice (a stock voice's id; a cloned voice's id and version), the segment as the engine gets
it (text and phonemes after normalization and the pronunciation dictionaries, language, speed,
pitch, volume, pauses). A voice's new version or a dictionary edit that changes a reading
therefore names other entries: the old ones are never served again and age out.

The byte bound (`TTS_PHRASE_CACHE_BYTES` per tenant) is kept by one Lua script per store: the
tenant's entries by last use (a sorted set), their sizes (a hash) and their total (a counter)
change together with the entry, and the least recently used go until the total is under the
bound. It does not rely on Redis's own `maxmemory` policy; an entry Redis evicted by itself is
simply a miss (its size leaves the total when the script evicts or replaces it).

A job whose every segment is cached is served from the cache (a hit: no job is dispatched). One
whose first segments are cached (a partial hit) is served those from the cache while a worker
speaks the rest, dispatched at once as a job of its own; a miss goes to the worker whole. Each
segment a worker completes is stored. Billing does not see the difference: the cached audio
goes through the same encoding, delivery and usage path as a worker's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

from callwaiting_tts import tts_metrics
from callwaiting_tts.redis import async_client
from synthesis.contract.jobs import Job
from synthesis.stream import AudioChunk, JobStream

logger = logging.getLogger(__name__)

# Part of every key: a change to what a key means (or to how engines render) bumps it.
SCHEMA = 1
# A cached segment is yielded in pieces of at most this much audio, as a worker sends it.
PIECE_SECONDS = 1.0
# As the worker's (`Keys.progress`): the reaper bills a hit like a miss if this process dies.
PROGRESS_TTL_SECONDS = 3 * 3600


# The entries of the job's first segments that are all cached (a prefix), their last use now.
# Last use is a per-tenant logical clock (INCR), not the time: two uses in one millisecond
# must still be ordered.
_LOOKUP = """
local values = redis.call('MGET', unpack(KEYS))
local found = {}
for i = 1, #values do
  if not values[i] then break end
  found[i] = values[i]
  redis.call('ZADD', ARGV[1], 'XX', redis.call('INCR', ARGV[1] .. ':clock'), ARGV[i + 1])
end
return found
"""

_STORE = """
local size = string.len(ARGV[1])
local bound = tonumber(ARGV[2])
if size > bound then return 0 end
local old = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], size)
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[2] .. ':clock'), ARGV[3])
local total = redis.call('INCRBY', KEYS[4], size - old)
while total > bound do
  local popped = redis.call('ZPOPMIN', KEYS[2])
  if #popped == 0 then break end
  local gone = tonumber(redis.call('HGET', KEYS[3], popped[1]) or '0')
  redis.call('HDEL', KEYS[3], popped[1])
  redis.call('DEL', ARGV[4] .. popped[1])
  total = redis.call('INCRBY', KEYS[4], -gone)
end
return 1
"""


@dataclass(frozen=True)
class TenantCache:
    """The Redis names of one tenant's phrase cache."""

    schema_name: str

    @property
    def base(self) -> str:
        return f"{settings.REDIS_PREFIX}:phrase:{SCHEMA}:{self.schema_name}"

    @property
    def entry_prefix(self) -> str:
        return f"{self.base}:e:"

    def entry(self, digest: str) -> str:
        return self.entry_prefix + digest

    @property
    def lru(self) -> str:
        return f"{self.base}:lru"

    @property
    def sizes(self) -> str:
        return f"{self.base}:sizes"

    @property
    def total(self) -> str:
        return f"{self.base}:bytes"


def enabled(asked: bool) -> bool:
    return asked and settings.TTS_PHRASE_CACHE_BYTES > 0


def segment_digests(job: Job) -> list[str]:
    """One key per segment of the job: a sha256 of everything that decides its audio."""
    voice: dict[str, object] = {"engine": job.engine, "voice": job.voice}
    if job.conditioning is not None:
        voice["cloned"] = [job.conditioning.voice_id, job.conditioning.version]
    voice["options"] = settings.TTS_ENGINE_OPTIONS.get(job.engine, {})
    head = json.dumps(voice, sort_keys=True, default=str)
    return [
        hashlib.sha256((head + json.dumps(asdict(segment), sort_keys=True)).encode()).hexdigest()
        for segment in job.segments
    ]


def _client() -> aioredis.Redis:
    return async_client(settings.REDIS_URL)


# One connection pool per event loop for lookups (a new connection costs a hit milliseconds).
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def _shared() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _SHARED.get(loop)
    if client is None:
        client = _SHARED[loop] = _client()
    return client


async def lookup(job: Job) -> list[bytes]:
    """The PCM of the job's first segments that are cached, in order (their last use is now);
    empty when the first is not. A Redis failure is a miss."""
    tenant = TenantCache(job.schema_name)
    digests = segment_digests(job)
    client = _shared()
    try:
        found = await client.eval(
            _LOOKUP,
            len(digests),
            *[tenant.entry(d) for d in digests],
            tenant.lru,
            *digests,
        )
    except (RedisError, OSError):
        logger.warning("phrase cache lookup failed", extra={"job": job.job_id})
        return []
    result = "hit" if len(found) == len(digests) else "partial" if found else "miss"
    tts_metrics.PHRASE_CACHE_LOOKUPS.labels(result=result).inc()
    return [bytes(value) for value in found]


async def store(client: aioredis.Redis, job: Job, index: int, pcm: bytes) -> None:
    """Stores segment `index` of the job, whole; the tenant's least recently used go past the
    bound. A Redis failure loses only the entry."""
    tenant = TenantCache(job.schema_name)
    digest = segment_digests(job)[index]
    try:
        await client.eval(
            _STORE,
            4,
            tenant.entry(digest),
            tenant.lru,
            tenant.sizes,
            tenant.total,
            pcm,
            settings.TTS_PHRASE_CACHE_BYTES,
            digest,
            tenant.entry_prefix,
        )
    except (RedisError, OSError):
        logger.warning("phrase cache store failed", extra={"job": job.job_id})
        return
    tts_metrics.PHRASE_CACHE_STORED_BYTES.inc(len(pcm))


class Recorder:
    """Collects a job's segments as a worker sends them; each one complete (its last chunk
    came, the request was not cancelled before) is stored."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.pending: dict[int, bytearray] = {}

    async def feed(self, client: aioredis.Redis, chunk: AudioChunk) -> None:
        if not 0 <= chunk.segment < len(self.job.segments):
            return
        self.pending.setdefault(chunk.segment, bytearray()).extend(chunk.pcm)
        if chunk.segment_end:
            await store(client, self.job, chunk.segment, bytes(self.pending.pop(chunk.segment)))


class CachedStream(JobStream):
    """A job served from the cache: the same chunks a worker's stream yields. Its first
    segments come from `pcms`; `rest`, when some were not cached, is the worker's stream of the
    others (numbered from 0 there, renumbered here). It reports the cached segments' progress as
    a worker does, so the reaper bills a hit exactly like a miss."""

    def __init__(
        self, job: Job, pcms: list[bytes], rate: int, rest: JobStream | None = None
    ) -> None:
        super().__init__(job)
        # Its only Redis traffic is the progress report: on the loop's shared client, not a
        # connection of its own (a hit opened two: the stream's and `JobStream.close`'s).
        self.redis = _shared()
        self.spoken = job
        self.pcms = pcms
        self.rate = rate
        self.rest = rest
        self._finished = True  # nothing of its own to cancel at a worker

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        piece = max(2, int(PIECE_SECONDS * self.rate) * 2)
        for index, pcm in enumerate(self.pcms):
            for at in range(0, max(len(pcm), 1), piece):
                self.received += 1
                end = at + piece >= len(pcm)
                yield AudioChunk(self.received, pcm[at : at + piece], index, end)
            await self._progress(index, len(pcm) // 2)
        if self.rest is not None:
            async for chunk in self.rest.chunks():
                self.received += 1
                yield replace(chunk, seq=self.received, segment=chunk.segment + len(self.pcms))

    async def close(self) -> None:
        """Closes the worker's stream of the rest, if any; a cached job has no worker, no reply
        list and no connection of its own to close."""
        if self.rest is not None:
            await self.rest.close()

    async def _progress(self, index: int, samples: int) -> None:
        synthesis = self.spoken.meta.get("synthesis")
        if not synthesis:
            return
        chars = self.spoken.meta.get("chars") or []
        key = self.keys.progress(str(synthesis))
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(key, "samples", samples)
                if isinstance(chars, list) and index < len(chars):
                    pipe.hincrby(key, "chars", int(chars[index]))
                pipe.hset(key, "rate", self.rate)
                pipe.expire(key, PROGRESS_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError):
            logger.warning("could not report a cached segment's progress")


async def open_stream(job: Job, *, rate: int, cache: bool) -> JobStream:
    """The job's stream: its cached first segments from the cache, the rest from a worker
    (stored as they come). `cache` False: neither read nor written."""
    if not enabled(cache):
        if settings.TTS_PHRASE_CACHE_BYTES > 0:
            tts_metrics.PHRASE_CACHE_LOOKUPS.labels(result="bypass").inc()
        return await JobStream.open(job)
    found = await lookup(job)
    if len(found) == len(job.segments):
        return CachedStream(job, found, rate)
    rest = _remainder(job, len(found))
    stream = await JobStream.open(rest)
    stream.recorder = Recorder(rest)
    return CachedStream(job, found, rate, rest=stream) if found else stream


def _remainder(job: Job, cached: int) -> Job:
    """The job of the segments after the first `cached` ones (the whole job when 0): its own id,
    and what its segments bill, for the worker's progress."""
    if not cached:
        return job
    chars = job.meta.get("chars")
    meta = {**job.meta, "chars": chars[cached:] if isinstance(chars, list) else chars}
    return replace(job, job_id=str(uuid.uuid4()), segments=job.segments[cached:], meta=meta)
