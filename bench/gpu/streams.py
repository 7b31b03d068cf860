"""The streaming paths under test, each turning sentences into timed chunks.

"Ours" is one function per concurrency level, `(rig, n_streams, stop) -> traces`, chosen by
name (`--ours`): the n streams are all asked for at once, at the level's start, and each
trace records when each chunk came (seconds since then) and its samples. `stop(traces, now)`
is asked between steps; when it says yes (every verdict is known, or the level's time is up)
the runner ends its streams and returns what it has.

  batched      (the default) the worker's continuous-batching path, `XttsBatch`
               (synthesis/engines/xtts/scheduler.py): the n streams in one `GptBatcher`, one
               GPT forward pass a step for all of them, and every piece a step completed
               decoded in one `WindowedDecoder` call, newcomers' first pieces first;
  interleaved  the engine as a worker runs it with XTTS_BATCHING off: one `XttsEngine`, its
               streams taken in turn a chunk at a time (`next()` on each stream's iterator):
               coqui's generator, one stream per forward pass, and the windowed decoder a
               stream at a time. Kept for comparison (`--ours interleaved`).

"coqui" is coqui-tts's own `Xtts.inference_stream`, one stream at a time, with the same
voice, sentence length, sampling settings and autocast: the comparison the targets name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bench.gpu.playback import StreamTrace

if TYPE_CHECKING:
    from bench.gpu.rig import Rig

Stop = Callable[[list[StreamTrace], float], bool]
Runner = Callable[["Rig", int, Stop], list[StreamTrace]]
COQUI_OVERLAP = 1024  # inference_stream's default


class RunnerUnavailable(RuntimeError):
    """A streaming path that is not built (yet) in this checkout."""


def run_interleaved(rig: Rig, n_streams: int, stop: Stop) -> list[StreamTrace]:
    from bench.gpu.rig import LANGUAGE, TEXT, VOICE
    from synthesis.contract.segments import Segment

    segments = [Segment(TEXT, language=LANGUAGE)]
    traces = [StreamTrace() for _ in range(n_streams)]
    start = time.perf_counter()  # the requests arrive: stream() reads their text, as coqui's does
    streams = [
        iter(rig.engine.stream(segments, voice=VOICE, conditioning=rig.conditioning))
        for _ in range(n_streams)
    ]
    try:
        while not all(trace.complete for trace in traces):
            for stream, trace in zip(streams, traces, strict=True):
                if trace.complete:
                    continue
                chunk = next(stream, None)
                now = time.perf_counter() - start  # the engine's chunk is on the CPU: synced
                if chunk is None:
                    trace.complete = True
                    continue
                trace.add(now, len(chunk.pcm) // 2)
                trace.complete = chunk.segment_end  # one segment: its end is the stream's
            if stop(traces, time.perf_counter() - start):
                break
    finally:
        for stream in streams:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    return traces


def run_batched(rig: Rig, n_streams: int, stop: Stop) -> list[StreamTrace]:
    """The worker's batched path itself: the n streams opened in one `XttsBatch`
    (synthesis/engines/xtts/scheduler.py) and advanced together, as the worker advances the
    jobs that have credit: each call one GPT step for all of them and one decoder call for the
    pieces it completed (newcomers' first pieces first). Each chunk is timed when the call that
    made it returns (its PCM is on the CPU). The sampling is the engine's (the checkpoint's
    settings, sampled); each stream runs to exactly `rig.tokens` tokens (`rig.force_length`).
    The batch and its cache are made before the clock starts, as a worker holds them."""
    from bench.gpu.rig import LANGUAGE, TEXT, VOICE
    from synthesis.contract.segments import Segment
    from synthesis.engines.xtts.scheduler import XttsBatch

    batch = XttsBatch(rig.engine, max_streams=n_streams)
    batch.batcher  # noqa: B018  (its cache, allocated now)
    segments = [Segment(TEXT, language=LANGUAGE)]
    traces = [StreamTrace() for _ in range(n_streams)]
    start = time.perf_counter()  # the requests arrive: open() reads their text, as stream() does
    streams = [
        batch.open(segments, voice=VOICE, conditioning=rig.conditioning) for _ in range(n_streams)
    ]
    trace_of = {id(stream): trace for stream, trace in zip(streams, traces, strict=True)}
    left = list(streams)
    try:
        while left:
            for made in batch.advance(left):
                now = time.perf_counter() - start
                trace = trace_of[id(made.stream)]
                for chunk in made.chunks:
                    trace.add(now, chunk.samples)
                if made.done:
                    trace.complete = True
                    left.remove(made.stream)  # type: ignore[arg-type]
            if stop(traces, time.perf_counter() - start):
                break
    finally:
        for stream in streams:  # stopped early: the streams leave, as a cancel does
            batch.close(stream)
    return traces


RUNNERS: dict[str, Runner] = {"interleaved": run_interleaved, "batched": run_batched}


def run_coqui(rig: Rig) -> StreamTrace:
    """One sentence through coqui-tts's `inference_stream`, timed chunk by chunk."""
    from bench.gpu.rig import LANGUAGE, TEXT

    config = rig.model.config
    trace = StreamTrace()
    start = time.perf_counter()
    chunks: Iterator[object] = rig.model.inference_stream(
        TEXT,
        LANGUAGE,
        rig.latent,
        rig.embedding,
        stream_chunk_size=rig.coqui_chunk_tokens,
        overlap_wav_len=COQUI_OVERLAP,
        temperature=float(config.temperature),
        length_penalty=float(config.length_penalty),
        repetition_penalty=float(config.repetition_penalty),
        top_k=int(config.top_k),
        top_p=float(config.top_p),
    )
    try:
        while True:
            with rig.compute():
                wav = next(chunks, None)
                if wav is None:
                    break
                samples = int(wav.cpu().numel())  # type: ignore[attr-defined]
            trace.add(time.perf_counter() - start, samples)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    trace.complete = True
    return trace
