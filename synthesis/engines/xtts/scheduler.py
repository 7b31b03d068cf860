"""XTTS's concurrent streams made together: one GPT forward pass a step for every running stream
(`batch.GptBatcher`), and every piece that step completed decoded in one HiFi-GAN call
(`vocoder.WindowedDecoder.decode`). The worker drives it (`BatchedStreams`): it opens a stream
per job and calls `advance` with the streams that have credit, between which it acts on cancels
and deadlines.

One `advance`:
  1. pieces held back by the previous call (below) are decoded first, and that is the call;
  2. streams given that run no segment yet (new, or between segments) join the batch, their
     prefixes prefilled in one pass, each drawing its first token at once; streams not given
     are paused in the batch (slot and cache kept, left out of the steps: a client that has
     not acknowledged its audio gets no more made for it), given ones resumed;
  3. one step for the running streams (those that joined before this call);
  4. the pieces that completed (a segment's first piece is `FIRST_CHUNK_TOKENS` tokens, then
     doubling to XTTS_STREAM_CHUNK_SIZE, as the unbatched engine cuts them; or the segment's
     last token came) are decoded. First audio first: when a stream that has not spoken yet
     completed its first piece, only such pieces are decoded now, in one call, and the others
     wait for the next call (step 1), so a newcomer's first audio never waits for a batch of
     other streams' larger pieces.
A segment's tokens come from one batch stream: between segments a job leaves the batch and
joins again with its next segment's text (each segment has its own prefix, as the unbatched
engine runs one generator per segment).

Sampling is the engine's (the checkpoint's settings, or greedy with XTTS_DO_SAMPLE=0: then a
stream's tokens are the unbatched engine's whatever shares the batch, and its audio differs
only by float rounding in matrix products of other shapes; synthesis/tests/test_xtts_batch.py
and test_xtts_scheduler.py bound both).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from synthesis.contract.segments import Chunk, Segment
from synthesis.engines.base import Advanced, BatchedStreams, EngineError, LoadedConditioning
from synthesis.engines.xtts.batch import GptBatcher, Joining, Sampling, Step
from synthesis.engines.xtts.pieces import FIRST_CHUNK_TOKENS, SegmentAudio
from synthesis.engines.xtts.vocoder import DecoderStream, Window, WindowedDecoder, chunk_schedule

if TYPE_CHECKING:
    import torch


class BatchHost(Protocol):
    """What the batch needs of its engine (`XttsEngine`, which makes batches of itself)."""

    sample_rate: int

    @property
    def model(self) -> Any: ...  # coqui's Xtts
    @property
    def device(self) -> torch.device: ...
    @property
    def decoder(self) -> WindowedDecoder: ...
    @property
    def chunk_tokens(self) -> int: ...
    @property
    def do_sample(self) -> bool: ...
    @property
    def autocast_dtype(self) -> torch.dtype | None: ...
    def compute(self) -> AbstractContextManager[None]: ...
    def checked_request(
        self,
        segments: Sequence[Segment],
        voice: str,
        conditioning: LoadedConditioning | None,
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], list[list[int]]]: ...


@dataclass(eq=False)
class XttsStream:
    """One job's stream: its segments and voice, where it is (segment, batch handle, decoder
    state, the piece in the making) and whether it has spoken yet."""

    segments: list[Segment]
    token_ids: list[list[int]]
    latent: torch.Tensor  # the voice's GPT conditioning latents
    embedding: torch.Tensor  # its speaker embedding, for the decoder
    index: int = -1  # the segment being made; -1 before the first
    handle: int | None = None  # in the batch while a segment is being made
    decoding: DecoderStream | None = None
    shaped: SegmentAudio | None = None
    sizes: list[int] = field(default_factory=list)
    latents: list[torch.Tensor] = field(default_factory=list)
    spoken: bool = False
    done: bool = False
    closed: bool = False

    @property
    def joined(self) -> bool:
        return self.handle is not None


@dataclass
class _Piece:
    """A completed piece waiting to be decoded: its stream, its latents, whether it ends its
    segment."""

    stream: XttsStream
    latents: list[torch.Tensor]
    last: bool


class XttsBatch(BatchedStreams):
    """Up to `max_streams` streams of `engine` made together. Every call from the worker's
    engine thread (the batch's cache and the model are shared)."""

    def __init__(self, engine: BatchHost, *, max_streams: int) -> None:
        self.engine = engine
        self.max_streams = max_streams
        self._first_tokens = FIRST_CHUNK_TOKENS
        self._sampling = Sampling.from_config(engine.model.config, do_sample=engine.do_sample)
        self._batcher: GptBatcher | None = None  # made at the first join: its cache is large
        self._streams: dict[int, XttsStream] = {}  # by batch handle
        self._held: list[_Piece] = []  # completed, decoded at the next call (first audio first)
        self.steps = 0  # GPT forward passes of steps (not prefills): for tests and metrics

    @property
    def batcher(self) -> GptBatcher:
        if self._batcher is None:
            self._batcher = GptBatcher(
                self.engine.model.gpt,
                max_streams=self.max_streams,
                dtype=self.engine.autocast_dtype,
            )
        return self._batcher

    # --- BatchedStreams ------------------------------------------------------------------------

    def open(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: LoadedConditioning | None = None,
    ) -> XttsStream:
        segments = list(segments)
        if not segments:
            raise EngineError("a request needs at least one segment", code="invalid_job")
        (latent, embedding), token_ids = self.engine.checked_request(segments, voice, conditioning)
        return XttsStream(segments, token_ids, latent, embedding)

    def advance(self, streams: Sequence[object]) -> list[Advanced]:
        given = [self._mine(stream) for stream in streams]
        made: dict[int, Advanced] = {}
        with self.engine.compute():
            held = [piece for piece in self._held if piece.stream in given]
            if held:
                self._held = [piece for piece in self._held if piece not in held]
                self._decode(held, made)
                return list(made.values())
            self._pause_all_but(given)
            running_before = bool(self._batcher is not None and self._batcher.running)
            steps = self._join([s for s in given if not s.joined and not s.done and not s.closed])
            if running_before:
                steps += self.batcher.step()
                self.steps += 1
            completed = self._collect(steps)
            newcomers = [piece for piece in completed if not piece.stream.spoken]
            if newcomers and len(newcomers) < len(completed):
                self._held += [piece for piece in completed if piece.stream.spoken]
                completed = newcomers
            self._decode(completed, made)
        return list(made.values())

    def close(self, stream: object) -> None:
        mine = self._mine(stream)
        mine.closed = True
        self._held = [piece for piece in self._held if piece.stream is not mine]
        self._leave(mine)

    def reset(self) -> None:
        for stream in self._streams.values():
            stream.closed = True
        self._streams.clear()
        self._held.clear()
        self._batcher = None  # a new cache: the old one may be half-written

    # --- the steps -----------------------------------------------------------------------------

    def _mine(self, stream: object) -> XttsStream:
        if not isinstance(stream, XttsStream):
            raise TypeError(f"not a stream of this batch: {stream!r}")
        return stream

    def _pause_all_but(self, given: list[XttsStream]) -> None:
        if self._batcher is None:
            return
        wanted = {stream.handle for stream in given if stream.joined}
        for handle in self._batcher.active:
            if handle in wanted:
                self._batcher.resume(handle)
            else:
                self._batcher.pause(handle)

    def _join(self, joining: list[XttsStream]) -> list[Step]:
        """The streams' next segments into the batch, prefilled together."""
        import torch

        if not joining:
            return []
        room = self.max_streams - len(self.batcher.active)
        joining = joining[:room]  # the worker runs at most max_streams jobs: room for each
        entries = []
        for stream in joining:
            stream.index += 1
            self._start_segment(stream)
            ids = torch.tensor([stream.token_ids[stream.index]], device=self.engine.device)
            entries.append(Joining(stream.latent, ids, self._sampling))
        steps = self.batcher.join_many(entries)
        for stream, step in zip(joining, steps, strict=True):
            stream.handle = step.stream
            self._streams[step.stream] = stream
        return steps

    def _start_segment(self, stream: XttsStream) -> None:
        segment = stream.segments[stream.index]
        stream.shaped = SegmentAudio(stream.index, segment, self.engine.sample_rate)
        stream.decoding = self.engine.decoder.open(length_scale=stream.shaped.length_scale)
        stream.sizes = chunk_schedule(self._first_tokens, self.engine.chunk_tokens)
        stream.latents = []

    def _collect(self, steps: list[Step]) -> list[_Piece]:
        """Each step's latent onto its stream's piece; the pieces completed by them."""
        completed = []
        for step in steps:
            stream = self._streams.get(step.stream)
            if stream is None:
                continue
            stream.latents.append(step.latent)
            if step.last:  # the batch has let it go
                del self._streams[step.stream]
                stream.handle = None
            if step.last or len(stream.latents) >= stream.sizes[0]:
                completed.append(_Piece(stream, stream.latents, step.last))
                stream.latents = []
                if len(stream.sizes) > 1:
                    stream.sizes.pop(0)
        return completed

    def _decode(self, pieces: list[_Piece], made: dict[int, Advanced]) -> None:
        """The pieces' windows in one decoder call; each stream's chunks in order."""
        import torch

        decoder = self.engine.decoder
        windows: list[Window | None] = []
        for piece in pieces:
            assert piece.stream.decoding is not None
            new = torch.cat(piece.latents)
            windows.append(decoder.prepare(piece.stream.decoding, new, last=piece.last))
        ready = [
            (window, piece.stream.embedding)
            for window, piece in zip(windows, pieces, strict=True)
            if window is not None
        ]
        audio = iter(decoder.decode([w for w, _ in ready], [e for _, e in ready]) if ready else [])
        for piece, window in zip(pieces, windows, strict=True):
            stream = piece.stream
            assert stream.decoding is not None
            assert stream.shaped is not None
            decoded = next(audio) if window is not None else None
            samples = decoder.finish(stream.decoding, window, decoded)
            entry = made.setdefault(id(stream), Advanced(stream, []))
            chunk = stream.shaped.chunk(samples, last=piece.last)
            if chunk is not None:
                entry.chunks.append(chunk)
                stream.spoken = True
            if piece.last and stream.index == len(stream.segments) - 1:
                stream.done = entry.done = True

    def _leave(self, stream: XttsStream) -> None:
        if stream.handle is not None:
            self._streams.pop(stream.handle, None)
            if self._batcher is not None:
                self._batcher.leave(stream.handle)
            stream.handle = None


def speak_alone(
    batch: BatchedStreams,
    segments: Sequence[Segment],
    *,
    voice: str = "",
    conditioning: LoadedConditioning | None = None,
) -> list[Chunk]:
    """Every chunk of one stream made alone in `batch` (a warm-up; a reference in tests)."""
    stream = batch.open(segments, voice=voice, conditioning=conditioning)
    chunks: list[Chunk] = []
    try:
        done = False
        while not done:
            for made in batch.advance([stream]):
                chunks += made.chunks
                done = done or made.done
    finally:
        batch.close(stream)
    return chunks
