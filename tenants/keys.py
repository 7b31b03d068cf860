"""API key format and hashing. A key is `cw_<prefix>_<secret>`: the prefix is public and
indexed; the secret has 256 bits of entropy, so HMAC-SHA256 is enough (no slow password hash
on the hot path)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

KEY_PREFIX = "cw_"
PREFIX_LENGTH = 12
MAX_KEY_LENGTH = 200
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"^cw_([a-z0-9]{12})_([A-Za-z0-9_\-]{32,100})$")


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    secret: str


def generate_key() -> tuple[str, str, str]:
    """Returns (full key to show once, public prefix, secret)."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, secret


def parse_key(raw: str) -> ParsedKey | None:
    if len(raw) > MAX_KEY_LENGTH:
        return None
    match = _KEY_RE.match(raw)
    if match is None:
        return None
    return ParsedKey(prefix=match.group(1), secret=match.group(2))


def hash_secret(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_hash: str, pepper: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)
