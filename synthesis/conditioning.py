"""A worker's loaded cloned voices: conditioning on the engine's device, least recently used out
first, bounded by the bytes it holds (`TTS_CONDITIONING_CACHE_MB`). A server with thousands of
tenants' voices must not grow without limit (another open XTTS server ran out of GPU memory
exactly so); a voice not in the cache is read from storage again, never recomputed."""

from __future__ import annotations

from collections import OrderedDict

from synthesis.engines.base import LoadedConditioning


class ConditioningCache:
    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, LoadedConditioning] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> LoadedConditioning | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: str, entry: LoadedConditioning) -> None:
        """Keeps `entry`, evicting the least recently used until the total fits. An entry larger
        than the whole budget is not kept (the job that loaded it still uses it)."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        if entry.nbytes > self.max_bytes:
            return
        while self._entries and self.bytes + entry.nbytes > self.max_bytes:
            _key, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.nbytes
        self._entries[key] = entry
        self.bytes += entry.nbytes

    def forget(self, prefix: str) -> int:
        """Drops every entry whose key starts with `prefix` (a deleted voice, every version);
        how many went."""
        gone = [key for key in self._entries if key.startswith(prefix)]
        for key in gone:
            self.bytes -= self._entries.pop(key).nbytes
        return len(gone)
