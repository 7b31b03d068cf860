"""The streaming paths under test, each turning sentences into timed chunks.

"Ours" is one function per concurrency level, `(rig, n_streams, stop) -> traces`, chosen by
name (`--ours`): the n streams are all asked for at once, at the level's start, and each
trace records when each chunk came (seconds since then) and its samples. `stop(traces, now)`
is asked between steps; when it says yes (every verdict is known, or the level's time is up)
the runner ends its streams and returns what it has.

  batched      (the default) the continuous-batching path: the n streams in one
               `GptBatcher` (synthesis/engines/xtts/batch.py), one GPT forward pass a step for
               all of them, and every piece ready in a step decoded in one `WindowedDecoder`
               call (synthesis/engines/xtts/vocoder.py), the pieces cut as the engine cuts them;
  interleaved  the engine as the worker runs it today: one `XttsEngine`, its streams taken in
               turn a chunk at a time (`next()` on each stream's iterator): coqui's generator,
               one stream per forward pass, and the windowed decoder a stream at a time. Kept
               for comparison (`--ours interleaved`).

"coqui" is coqui-tts's own `Xtts.inference_stream`, one stream at a time, with the same
voice, sentence length, sampling settings and autocast: the comparison the targets name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.gpu.playback import StreamTrace

if TYPE_CHECKING:
    import numpy as np
    import torch

    from bench.gpu.rig import Rig
    from synthesis.engines.xtts.vocoder import DecoderStream, WindowedDecoder

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


@dataclass
class _Piece:
    """One batched stream's state between steps: its trace, its windowed-decoder stream, the
    sizes of its pieces still to come (`chunk_schedule`, the last repeating) and the latents
    of the piece it is making."""

    trace: StreamTrace
    decoding: DecoderStream
    sizes: list[int]
    latents: list[torch.Tensor] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.sizes[0]

    def next_piece(self) -> None:
        if len(self.sizes) > 1:
            self.sizes.pop(0)
        self.latents = []


def run_batched(rig: Rig, n_streams: int, stop: Stop) -> list[StreamTrace]:
    """The batched scheduler: the n streams join a `GptBatcher` together (one prefill pass),
    then every loop takes one GPT step for all of them; a stream whose piece is complete (the
    engine's `chunk_schedule`: 6 tokens, then doubling to `rig.chunk_tokens`) or whose last
    token came has its window prepared, and every window ready in a loop is decoded in one
    `WindowedDecoder.decode` call. Each piece is timed when its PCM is on the CPU, as the
    engine's chunk is. The sampling is the engine's (the checkpoint's settings, sampled), each
    stream runs to exactly `rig.tokens` tokens (random weights: see `rig.force_length`). The
    batcher and the decoder are made before the clock starts, as a worker holds them."""
    import torch

    from bench.gpu.rig import LANGUAGE, TEXT
    from synthesis.engines.base import pcm_s16le
    from synthesis.engines.xtts.batch import GptBatcher, Joining, Sampling
    from synthesis.engines.xtts.engine import FIRST_CHUNK_TOKENS
    from synthesis.engines.xtts.vocoder import WindowedDecoder, chunk_schedule

    model = rig.model
    decoder = WindowedDecoder(model.hifigan_decoder)
    sampling = Sampling.from_config(model.config, do_sample=True)  # the engine's default

    def read() -> list[int]:  # as the engine reads a segment's text
        return [int(i) for i in model.tokenizer.encode(TEXT.strip().lower(), lang=LANGUAGE)]

    # The cache is sized to the sentence (read once here for its length, and again on the
    # clock): the conditioning latents, the text with its start and stop tokens, the start
    # audio token, then the audio tokens.
    prefix = rig.latent.shape[1] + len(read()) + 3
    batcher = GptBatcher(
        model.gpt,
        max_streams=n_streams,
        max_len=prefix + rig.tokens,
        dtype=rig.autocast_dtype,
    )
    traces = [StreamTrace() for _ in range(n_streams)]
    start = time.perf_counter()  # the requests arrive: their text is read, as stream() does
    text = torch.tensor([read()])
    joining = Joining(
        rig.latent,
        text.to(rig.device),
        sampling,
        max_tokens=rig.tokens,
        until_stop=False,  # exactly rig.tokens: the stop token cannot win anyway
    )
    try:
        with rig.compute():
            steps = batcher.join_many([joining] * n_streams)
        pieces = {
            step.stream: _Piece(
                trace,
                decoder.open(length_scale=1.0),
                chunk_schedule(FIRST_CHUNK_TOKENS, rig.chunk_tokens),
            )
            for step, trace in zip(steps, traces, strict=True)
        }
        while True:
            ready: list[tuple[_Piece, bool]] = []
            for step in steps:
                piece = pieces[step.stream]
                piece.latents.append(step.latent)
                if step.last or len(piece.latents) >= piece.size:
                    ready.append((piece, step.last))
            if ready:
                _decode_pieces(rig, decoder, ready, start, pcm_s16le)
            now = time.perf_counter() - start
            if not batcher.active or stop(traces, now):
                break
            with rig.compute():
                steps = batcher.step()
    finally:
        for handle in batcher.active:  # stopped early: the streams leave, as a cancel does
            batcher.leave(handle)
    return traces


def _decode_pieces(
    rig: Rig,
    decoder: WindowedDecoder,
    ready: list[tuple[_Piece, bool]],
    start: float,
    pcm_s16le: Callable[[np.ndarray, float], bytes],
) -> None:
    """The ready pieces' windows, decoded in one call; each stream's audio timed into its
    trace the moment it is PCM on the CPU (a piece with no sample yet adds no chunk, as the
    engine yields none, but a stream's last always does)."""
    import torch

    with rig.compute():
        windows = [
            decoder.prepare(piece.decoding, torch.cat(piece.latents), last=last)
            for piece, last in ready
        ]
        decoded = [window for window in windows if window is not None]
        audios = iter(decoder.decode(decoded, [rig.embedding] * len(decoded)) if decoded else [])
    for (piece, last), window in zip(ready, windows, strict=True):
        audio = next(audios) if window is not None else None
        pcm = pcm_s16le(decoder.finish(piece.decoding, window, audio), 1.0)
        if pcm or last:
            piece.trace.add(time.perf_counter() - start, len(pcm) // 2)
        piece.trace.complete = last
        piece.next_piece()


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
