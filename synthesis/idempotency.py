"""`Idempotency-Key` on the HTTP synthesis endpoints: a retry is synthesized again, not billed
again.

One Redis entry per tenant and key, `P:idem:<tenant_id>:<sha256 of the key>`, a JSON object kept
IDEMPOTENCY_TTL_SECONDS (24 h) from the key's first use:

    body_hash       sha256 of the endpoint and its validated parameters (canonical JSON)
    state           running | done
    attempt         the token of the running (or last) attempt
    running_until   ms, Redis's clock: a running attempt past it counts as dead (its web
                    process died), so the key is not blocked for a day
    billed          characters billed under the key so far, every attempt together
    attempts        attempts that ended in a usage record; synthesis_id: the last one's

    idempotency_begin   no entry: running, go on; another body: 409 idempotency_key_reused;
                        running: 409 idempotency_in_progress; done: running again, replayed,
                        with what was billed so far (one Lua script: atomic)
    idempotency_attach  the started synthesis bills only what the key has not billed yet
                        (`Synthesis.prior_billed`); its end (`Synthesis.on_finish`) adds what it
                        billed and marks the entry done
    idempotency_abort   refused before a synthesis started (400, 429, 503): the key's first
                        attempt leaves nothing; a retry's entry goes back to done, billed kept
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from redis.commands.core import Script
from redis.exceptions import RedisError

from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import get_redis, key
from synthesis.services import Synthesis

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
_VALID = re.compile(rf"[\x20-\x7e]{{1,{MAX_LENGTH}}}")

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Writes an entry back with the TTL it has left (the key is kept 24 h from its first use).
_STORE = """
local function store(entry, ttl_s)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('SET', KEYS[1], cjson.encode(entry), 'PX', ttl)
  else
    redis.call('SET', KEYS[1], cjson.encode(entry), 'EX', ttl_s)
  end
end
"""

# KEYS: 1 entry; ARGV: 1 body hash, 2 attempt token, 3 running ms, 4 ttl s
# Returns {outcome, billed}: new | replay | reused | running.
_BEGIN = (
    _NOW_MS
    + _STORE
    + """
local raw = redis.call('GET', KEYS[1])
local running_until = now + tonumber(ARGV[3])
if not raw then
  local entry = {body_hash = ARGV[1], state = 'running', attempt = ARGV[2],
                 running_until = running_until, billed = 0, attempts = 0, synthesis_id = ''}
  redis.call('SET', KEYS[1], cjson.encode(entry), 'EX', tonumber(ARGV[4]))
  return {'new', 0}
end
local entry = cjson.decode(raw)
if entry.body_hash ~= ARGV[1] then return {'reused', 0} end
if entry.state == 'running' and entry.running_until > now then return {'running', 0} end
entry.state, entry.attempt, entry.running_until = 'running', ARGV[2], running_until
store(entry, tonumber(ARGV[4]))
return {'replay', entry.billed}
"""
)

# KEYS: 1 entry; ARGV: 1 body hash, 2 attempt token, 3 billed, 4 synthesis id, 5 ttl s
# An attempt that outlived its entry (24 h) writes a new one; one whose key another body took
# since changes nothing; one that counted as dead adds its bill without ending the live one.
_FINISH = (
    _STORE
    + """
local raw = redis.call('GET', KEYS[1])
local entry
if raw then
  entry = cjson.decode(raw)
  if entry.body_hash ~= ARGV[1] then return 0 end
else
  entry = {body_hash = ARGV[1], state = 'done', attempt = ARGV[2], running_until = 0,
           billed = 0, attempts = 0}
end
entry.billed = entry.billed + tonumber(ARGV[3])
entry.attempts = entry.attempts + 1
entry.synthesis_id = ARGV[4]
if entry.attempt == ARGV[2] then entry.state, entry.running_until = 'done', 0 end
store(entry, tonumber(ARGV[5]))
return 1
"""
)

# KEYS: 1 entry; ARGV: 1 attempt token, 2 ttl s
_ABORT = (
    _STORE
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local entry = cjson.decode(raw)
if entry.attempt ~= ARGV[1] or entry.state ~= 'running' then return 0 end
if entry.attempts == 0 and entry.billed == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
entry.state, entry.running_until = 'done', 0
store(entry, tonumber(ARGV[2]))
return 1
"""
)

_scripts: dict[tuple[int, str], Script] = {}


def _run(source: str, keys: list[str], args: list[Any]) -> Any:
    client = get_redis()
    script = _scripts.get((id(client), source))
    if script is None:
        script = _scripts[(id(client), source)] = client.register_script(source)
    return script(keys=keys, args=args)


@dataclass(frozen=True)
class IdempotencyClaim:
    """One attempt under a key: what it may bill, and how to record its end."""

    redis_key: str
    body_hash: str
    token: str
    prior_billed: int  # characters earlier attempts billed under the key
    replayed: bool  # an earlier attempt existed (the `Idempotent-Replayed` header)


def entry_key(tenant_id: int, idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return key("idem", tenant_id, digest)


def body_hash(path: str, values: dict[str, Any]) -> str:
    """The request's identity: its endpoint and its validated parameters (defaults filled in,
    unknown fields dropped), as canonical JSON."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def idempotency_key_of(request: HttpRequest) -> str | None:
    """The request's `Idempotency-Key`, None without one. Raises ApplicationError (400
    `invalid_idempotency_key`) unless it is 1-255 printable ASCII characters."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not _VALID.fullmatch(value):
        raise ApplicationError(
            f"{HEADER} must be 1 to {MAX_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
            param=HEADER,
        )
    return value


def idempotency_begin(
    *, tenant_id: int, idempotency_key: str, path: str, values: dict[str, Any]
) -> IdempotencyClaim:
    """Claims the key for one attempt. Raises ApplicationError: 409 `idempotency_key_reused`
    (another request used the key), 409 `idempotency_in_progress` (an attempt still runs),
    503 `service_unavailable` (Redis)."""
    claim_key, digest = entry_key(tenant_id, idempotency_key), body_hash(path, values)
    token = uuid.uuid4().hex
    args = [
        digest,
        token,
        settings.IDEMPOTENCY_RUNNING_SECONDS * 1000,
        settings.IDEMPOTENCY_TTL_SECONDS,
    ]
    try:
        raw_outcome, billed = _run(_BEGIN, [claim_key], args)
    except (RedisError, OSError):
        raise ApplicationError(
            "Idempotency keys cannot be checked right now; retry shortly.",
            code="service_unavailable",
            status=503,
        ) from None
    outcome = raw_outcome.decode() if isinstance(raw_outcome, bytes) else str(raw_outcome)
    if outcome == "reused":
        raise ApplicationError(
            f"This {HEADER} was used with another request (endpoint or body); "
            "use a new key for a new request.",
            code="idempotency_key_reused",
            param=HEADER,
            status=409,
        )
    if outcome == "running":
        raise ApplicationError(
            f"A request with this {HEADER} is still running; retry once it has ended.",
            code="idempotency_in_progress",
            param=HEADER,
            status=409,
            headers={"Retry-After": "1"},
        )
    return IdempotencyClaim(
        redis_key=claim_key,
        body_hash=digest,
        token=token,
        prior_billed=int(billed),
        replayed=outcome == "replay",
    )


def idempotency_attach(claim: IdempotencyClaim, synthesis: Synthesis) -> None:
    """The started synthesis bills only what the key has not billed yet; its end is recorded
    under the key."""
    synthesis.prior_billed = claim.prior_billed

    def finished(synthesis: Synthesis, record: UsageRecord) -> None:
        idempotency_finish(
            claim, billed=record.characters_billed, synthesis_id=str(record.synthesis_id)
        )

    synthesis.on_finish.append(finished)


def idempotency_finish(claim: IdempotencyClaim, *, billed: int, synthesis_id: str) -> None:
    """The attempt ended in a usage record: its bill is added, the entry is done."""
    args = [claim.body_hash, claim.token, billed, synthesis_id, settings.IDEMPOTENCY_TTL_SECONDS]
    try:
        _run(_FINISH, [claim.redis_key], args)
    except (RedisError, OSError):  # the entry stays running until running_until: then a retry
        logger.warning(  # is let through, billed only what the entry recorded
            "could not record an idempotent attempt's end", extra={"synthesis_id": synthesis_id}
        )


def idempotency_abort(claim: IdempotencyClaim) -> None:
    """The attempt was refused before a synthesis started: the key is free again (its first
    attempt), or back to done with what earlier attempts billed (a retry)."""
    try:
        _run(_ABORT, [claim.redis_key], [claim.token, settings.IDEMPOTENCY_TTL_SECONDS])
    except (RedisError, OSError):
        logger.warning("could not release an idempotency key", extra={"key": claim.redis_key})
