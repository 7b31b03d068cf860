"""Continuous batching of XTTS's GPT decode step: many streams, one forward pass per token.

Coqui's stream generator (HF `generate` through `GPT2InferenceModel`) keeps one prompt on the
model and one key/value cache per generator, so N concurrent streams cost N forward passes per
generated token, each with a batch of one: on a GPU that is N times the launch overhead and
weight reads for the same work. Here every active stream rides one forward pass per step:

    join   a stream's prefix (its voice's conditioning latents, its text embedded with coqui's
           start/stop text tokens and text positions, then the start audio token at audio
           position 0) runs through the GPT into the stream's slot of the key/value cache, and
           its first token is drawn at once (the caller can start its first chunk); streams
           that arrive together prefill in one pass (`join_many`);
    step   the last token of every active stream, [B, 1], runs through the GPT-2 blocks once
           (ln_1 -> attention over the slot cache, masked to each stream's own length -> c_proj
           -> residual -> ln_2 -> mlp -> residual), then ln_f, coqui's final norm and `mel_head`;
           each stream draws its next token with its own settings;
    leave  frees the slot (a stream also leaves on its stop token or its token budget);
    pause  keeps a stream's slot and cache but leaves it out of the steps until `resume` (the
           worker's credit window: a client that has not acknowledged its audio gets no more
           made for it, and costs the others nothing).

The blocks are run here, on the HF module's own weights (c_attn, c_proj, mlp, ln_1/ln_2,
ln_f), because HF's cache cannot hold streams of different lengths that come and go. The key/
value cache is preallocated per layer as [max_streams, heads, max_len, head_dim]; the streams
always hold slots 0..B-1, the running ones first (a leaving stream's slot takes the last running
stream's cache, a paused stream swaps to the end of the running ones), so a step attends over a
view of the cache, never a gathered copy.

It matches coqui's generator token for token (a test): the latent handed to the vocoder for a
step is `final_norm(ln_f(h))` at the position fed in (the start token for the first step), as
coqui's `sample_stream` yields it, and the logits are `mel_head` of that latent; the repetition
penalty counts, as HF's does over coqui's placeholder prompt, the ids 1 and the start audio
token besides the stream's own tokens; sampling applies temperature, then top-k, then top-p, in
HF's order. Each stream may draw from its own `torch.Generator`, so a seeded stream repeats
itself whoever shares the batch.

All calls must come from one thread (the worker's engine thread): the cache is shared state.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from TTS.tts.layers.xtts.gpt import GPT
    from TTS.tts.models.xtts import Xtts

# Coqui's generator is handed a placeholder prompt of ids 1 (then the start audio token) and
# HF's repetition penalty counts every id of its input: id 1 is penalised like a spoken token.
_PLACEHOLDER_ID = 1
# The perceiver resampler turns any reference into this many GPT conditioning latents (XTTS v2).
_CONDITIONING_LATENTS = 32


class BatchFull(Exception):
    """Every slot of the batcher is taken: the stream must wait for one to be left."""


@dataclass(frozen=True)
class Sampling:
    """How one stream draws its tokens: greedy (the most likely token after the repetition
    penalty) or sampled with temperature, top-k (0: off) and top-p (1.0: off)."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    @classmethod
    def from_config(cls, config: Any, *, do_sample: bool) -> Sampling:
        """The checkpoint's own settings (its config.json), as the engine hands them to coqui."""
        penalty = float(config.repetition_penalty)
        if not do_sample:
            return cls(repetition_penalty=penalty)
        return cls(
            do_sample=True,
            temperature=float(config.temperature),
            top_k=int(config.top_k or 0),
            top_p=float(config.top_p),
            repetition_penalty=penalty,
        )


@dataclass(frozen=True)
class Step:
    """One stream's token from one step, with the latent the vocoder decodes for it ([1, D]);
    `last` when the stream ended with it (its stop token or its budget): it has left."""

    stream: int
    token: int
    latent: torch.Tensor
    last: bool


@dataclass(frozen=True)
class Joining:
    """A stream about to join (`GptBatcher.join_many`); `GptBatcher.join` says what each is."""

    cond_latent: torch.Tensor
    text_tokens: torch.Tensor
    sampling: Sampling = field(default_factory=Sampling)
    generator: torch.Generator | None = None
    max_tokens: int | None = None
    until_stop: bool = True


@dataclass
class _Stream:
    handle: int
    slot: int
    sampling: Sampling
    generator: torch.Generator | None
    max_tokens: int
    until_stop: bool
    length: int = 0  # cache positions filled
    produced: int = 0


class GptBatcher:
    """Up to `max_streams` XTTS streams decoded together on coqui's `GPT` module (`model.gpt`,
    loaded and in eval mode). `max_len` bounds a stream's prefix plus its tokens (default: the
    longest text XTTS reads, 32 conditioning latents and `gpt_max_audio_tokens`); the cache
    costs 2 * layers * max_streams * max_len * model_dim values of `dtype` (the weights')."""

    def __init__(
        self,
        gpt: GPT,
        *,
        max_streams: int,
        max_len: int | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if max_streams < 1:
            raise ValueError(f"max_streams must be at least 1, not {max_streams}")
        self._gpt = gpt
        self._blocks = list(gpt.gpt.h)
        self._heads = int(gpt.heads)
        self._head_dim = int(gpt.model_dim) // self._heads
        self.max_streams = max_streams
        self.max_tokens = int(gpt.max_gen_mel_tokens)
        self.max_len = max_len or (
            _CONDITIONING_LATENTS + int(gpt.max_text_tokens) + self.max_tokens + 1
        )
        self.stop_token = int(gpt.stop_audio_token)
        weight = gpt.mel_head.weight
        self.device = weight.device
        self.dtype = dtype or weight.dtype
        vocabulary = int(gpt.mel_head.out_features)
        shape = (max_streams, self._heads, self.max_len, self._head_dim)
        self._keys = [self._zeros(shape, self.dtype) for _ in self._blocks]
        self._values = [self._zeros(shape, self.dtype) for _ in self._blocks]
        # Per slot: cache positions filled, audio position of the next token fed in, that token,
        # the ids the repetition penalty counts, and the sampling settings as tensors.
        self._lengths = self._zeros((max_streams,), torch.long)
        self._positions = self._zeros((max_streams,), torch.long)
        self._last = self._zeros((max_streams,), torch.long)
        self._seen = self._zeros((max_streams, vocabulary), torch.bool)
        self._penalty = self._zeros((max_streams,), torch.float32)
        self._temperature = self._zeros((max_streams,), torch.float32)
        self._top_k = self._zeros((max_streams,), torch.long)
        self._top_p = self._zeros((max_streams,), torch.float32)
        self._streams: list[_Stream] = []  # in slot order: the running ones, then the paused
        self._running = 0
        self._by_handle: dict[int, _Stream] = {}
        self._handles = itertools.count(1)

    def _zeros(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        return torch.zeros(shape, dtype=dtype, device=self.device)

    # --- membership ---------------------------------------------------------------------------

    @property
    def active(self) -> list[int]:
        """The handles of the streams in the batch (running or paused), in slot order."""
        return [stream.handle for stream in self._streams]

    @property
    def running(self) -> list[int]:
        """The handles of the streams the next step serves (not paused), in slot order."""
        return [stream.handle for stream in self._streams[: self._running]]

    def join(
        self,
        cond_latent: torch.Tensor,
        text_tokens: torch.Tensor,
        *,
        sampling: Sampling | None = None,
        generator: torch.Generator | None = None,
        max_tokens: int | None = None,
        until_stop: bool = True,
    ) -> Step:
        """Adds a stream (its voice's `gpt_cond_latent` [1, C, D], its text token ids [1, T])
        and returns its first token: its prefix runs through the GPT alone, into its slot.
        `max_tokens` (at most the model's) bounds its length; `until_stop=False` runs it to
        that budget whatever it draws (benchmarks: random weights stop at random). A sampled
        stream draws from `generator` (on the model's device) or torch's global one. Raises
        BatchFull when no slot is free."""
        joining = Joining(
            cond_latent, text_tokens, sampling or Sampling(), generator, max_tokens, until_stop
        )
        return self.join_many([joining])[0]

    def join_many(self, joining: Sequence[Joining]) -> list[Step]:
        """Adds several streams with one forward pass of their prefixes together (padded to
        the longest), and returns their first tokens in order: streams that arrive together
        do not wait for each other's prefill. Nothing joins if one cannot."""
        if not joining:
            return []
        if len(self._streams) + len(joining) > self.max_streams:
            raise BatchFull(
                f"{len(joining)} more streams do not fit: {len(self._streams)} of the batch's "
                f"{self.max_streams} are taken"
            )
        with torch.inference_mode():
            prefixes = [self._prefix(j.cond_latent, j.text_tokens) for j in joining]
            pairs = zip(joining, prefixes, strict=True)
            budgets = [self._budget(entry, prefix.shape[1]) for entry, prefix in pairs]
            self._make_room(len(joining))
            streams = []
            for number, (entry, prefix, budget) in enumerate(
                zip(joining, prefixes, budgets, strict=True)
            ):
                stream = _Stream(
                    handle=next(self._handles),
                    slot=self._running + number,
                    sampling=entry.sampling,
                    generator=entry.generator,
                    max_tokens=budget,
                    until_stop=entry.until_stop,
                    length=prefix.shape[1],
                )
                self._by_handle[stream.handle] = stream
                self._reset_slot(stream)
                streams.append(stream)
            self._streams[self._running : self._running] = streams
            self._running += len(streams)
            latent = self._prefill(streams[0].slot, prefixes)
            return self._finish_step(streams, latent)

    def _make_room(self, count: int) -> None:
        """Frees slots running..running+count-1 for joining streams: the paused streams there
        move past them, so the running streams and the paused ones stay contiguous."""
        paused = len(self._streams) - self._running
        target = max(len(self._streams), self._running + count)
        for number in range(min(count, paused)):
            stream = self._streams[self._running + number]
            self._move_slot(stream.slot, target + number, stream.length)
            stream.slot = target + number
        # Re-listed in slot order below (joining streams are inserted at `running`).
        self._streams.sort(key=lambda stream: stream.slot)

    def _budget(self, joining: Joining, prefix: int) -> int:
        """A joining stream's token budget, checked against the model's and the cache's."""
        budget = self.max_tokens if joining.max_tokens is None else joining.max_tokens
        if not 1 <= budget <= self.max_tokens:
            raise ValueError(f"max_tokens must be between 1 and {self.max_tokens}, not {budget}")
        if prefix + budget - 1 > self.max_len:  # the last token is never fed in
            raise ValueError(
                f"a prefix of {prefix} and {budget} tokens exceed the batcher's max_len of "
                f"{self.max_len}"
            )
        return budget

    def leave(self, handle: int) -> None:
        """Frees a stream's slot (a cancel); a stream that has ended has left already."""
        stream = self._by_handle.pop(handle, None)
        if stream is None:
            return
        hole = stream.slot
        with torch.inference_mode():
            if hole < self._running:  # the last running stream fills it
                self._running -= 1
                hole = self._fill(hole, self._running)
            self._fill(hole, len(self._streams) - 1)  # then the last paused one
        self._streams.pop()

    def _fill(self, hole: int, source: int) -> int:
        """Moves the stream in slot `source` into the empty slot `hole`; returns the slot
        left empty."""
        if source != hole:
            moved = self._streams[source]
            self._move_slot(source, hole, moved.length)
            moved.slot = hole
            self._streams[hole] = moved
        return source

    def pause(self, handle: int) -> None:
        """Leaves a stream out of the steps (it keeps its slot and cache) until `resume`."""
        stream = self._by_handle[handle]
        if stream.slot < self._running:
            self._running -= 1
            self._swap(stream.slot, self._running)

    def resume(self, handle: int) -> None:
        """Puts a paused stream back into the steps, where it left off."""
        stream = self._by_handle[handle]
        if stream.slot >= self._running:
            self._swap(stream.slot, self._running)
            self._running += 1

    def _swap(self, first: int, second: int) -> None:
        if first == second:
            return
        one, other = self._streams[first], self._streams[second]
        with torch.inference_mode():
            for cache in (*self._keys, *self._values):
                kept = cache[first, :, : one.length].clone()
                cache[first, :, : other.length] = cache[second, :, : other.length]
                cache[second, :, : one.length] = kept
            for state in self._states():
                kept = state[first].clone()
                state[first] = state[second]
                state[second] = kept
        one.slot, other.slot = second, first
        self._streams[first], self._streams[second] = other, one

    # --- one step -----------------------------------------------------------------------------

    def step(self) -> list[Step]:
        """One token for every active stream, from one forward pass of them all together."""
        if not self._running:
            return []
        streams = self._streams[: self._running]
        count = len(streams)
        with torch.inference_mode():
            gpt = self._gpt
            tokens, positions = self._last[:count], self._positions[:count]
            embedded = gpt.mel_embedding(tokens) + gpt.mel_pos_embedding.emb(positions)
            latent = self._decode(embedded[:, None, :], count, max(s.length for s in streams))
            for stream in streams:
                stream.length += 1
            return self._finish_step(streams, latent)

    # --- the GPT ------------------------------------------------------------------------------

    def _prefix(self, cond_latent: torch.Tensor, text_tokens: torch.Tensor) -> torch.Tensor:
        """Coqui's `compute_embeddings` prompt, then the start audio token at audio position 0
        (as `GPT2InferenceModel.forward` embeds it): [1, P, D]."""
        gpt = self._gpt
        text = text_tokens.to(self.device, torch.long).reshape(1, -1)
        text = F.pad(text, (0, 1), value=gpt.stop_text_token)
        text = F.pad(text, (1, 0), value=gpt.start_text_token)
        embedded = gpt.text_embedding(text) + gpt.text_pos_embedding(text)
        start = torch.tensor([[gpt.start_audio_token]], device=self.device)
        audio = gpt.mel_embedding(start) + gpt.mel_pos_embedding(start)
        latent = cond_latent.to(self.device).reshape(1, -1, embedded.shape[-1])
        return torch.cat([latent.to(embedded.dtype), embedded, audio], dim=1)

    def _prefill(self, first: int, prefixes: list[torch.Tensor]) -> torch.Tensor:
        """Streams' prefixes through the blocks together, right-padded to the longest (a causal
        mask keeps every real position from seeing the padding), their keys and values into
        slots first, first+1, ...; the latents at their last real positions, [n, D]."""
        lengths = [prefix.shape[1] for prefix in prefixes]
        longest = max(lengths)
        hidden = torch.cat([F.pad(p, (0, 0, 0, longest - p.shape[1])) for p in prefixes])
        slots = slice(first, first + len(prefixes))
        for layer, block in enumerate(self._blocks):
            query, key, value = self._qkv(block, hidden)
            # Past a stream's length the cache holds padding, masked until overwritten.
            self._keys[layer][slots, :, :longest] = key.to(self.dtype)
            self._values[layer][slots, :, :longest] = value.to(self.dtype)
            attended = F.scaled_dot_product_attention(query, key, value, is_causal=True)
            hidden = self._block_rest(block, hidden, attended)
        self._lengths[slots] = torch.tensor(lengths, device=self.device)
        self._positions[slots] = 1
        ends = torch.tensor(lengths, device=self.device) - 1
        return self._latent(hidden[torch.arange(len(prefixes), device=self.device), ends])

    def _decode(self, embedded: torch.Tensor, count: int, longest: int) -> torch.Tensor:
        """The forward pass of a step: slots 0..count-1, one new token each ([count, 1, D]),
        each attending over its own filled positions (`longest`: the most any has filled);
        the latents, [count, D]."""
        rows = torch.arange(count, device=self.device)
        lengths = self._lengths[:count]
        span = longest + 1
        visible = torch.arange(span, device=self.device)[None, :] <= lengths[:, None]
        mask = visible[:, None, None, :]
        hidden = embedded
        for layer, block in enumerate(self._blocks):
            query, key, value = self._qkv(block, hidden)
            keys, values = self._keys[layer], self._values[layer]
            keys[rows, :, lengths] = key[:, :, 0].to(keys.dtype)
            values[rows, :, lengths] = value[:, :, 0].to(values.dtype)
            attended = F.scaled_dot_product_attention(
                query,
                keys[:count, :, :span].to(query.dtype),
                values[:count, :, :span].to(query.dtype),
                attn_mask=mask,
            )
            hidden = self._block_rest(block, hidden, attended)
        self._lengths[:count] += 1
        self._positions[:count] += 1
        return self._latent(hidden[:, -1])

    def _qkv(
        self, block: Any, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ln_1 and c_attn, split into heads: three [B, heads, S, head_dim]."""
        batch, length, _width = hidden.shape
        mixed = block.attn.c_attn(block.ln_1(hidden))
        split = mixed.view(batch, length, 3, self._heads, self._head_dim).permute(2, 0, 3, 1, 4)
        return split[0], split[1], split[2]

    def _block_rest(self, block: Any, hidden: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """What follows attention in a GPT-2 block: c_proj and the residual, ln_2, the MLP and
        its residual."""
        batch, _heads, length, _dim = attended.shape
        merged = attended.transpose(1, 2).reshape(batch, length, -1)
        hidden = hidden + block.attn.c_proj(merged)
        return hidden + block.mlp(block.ln_2(hidden))

    def _latent(self, hidden: torch.Tensor) -> torch.Tensor:
        """The final hidden state as coqui's generator yields it: ln_f, then its final norm."""
        return self._gpt.final_norm(self._gpt.gpt.ln_f(hidden))

    # --- tokens -------------------------------------------------------------------------------

    def _finish_step(self, streams: list[_Stream], latent: torch.Tensor) -> list[Step]:
        """Draws the streams' tokens from their latents (slots 0..len-1 or one new one), records
        them, and lets the streams that ended leave."""
        first = streams[0].slot
        rows = slice(first, first + len(streams))
        logits = self._gpt.mel_head(latent).float()
        tokens = self._draw(logits, rows, streams)
        self._seen[torch.arange(first, rows.stop, device=self.device), tokens] = True
        self._last[rows] = tokens
        steps = []
        for index, (stream, token) in enumerate(zip(streams, tokens.tolist(), strict=True)):
            stream.produced += 1
            stopped = stream.until_stop and token == self.stop_token
            last = stopped or stream.produced >= stream.max_tokens
            steps.append(Step(stream.handle, token, latent[index : index + 1], last))
        for step in steps:
            if step.last:
                self.leave(step.stream)
        return steps

    def _draw(self, logits: torch.Tensor, rows: slice, streams: list[_Stream]) -> torch.Tensor:
        """Each row's next token: the repetition penalty (HF's rule: negative scores times it,
        positive ones divided), then the argmax, or temperature, top-k, top-p and a draw."""
        penalty = self._penalty[rows, None]
        penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
        scores = torch.where(self._seen[rows], penalised, logits)
        tokens = scores.argmax(dim=-1)
        sampled = [index for index, stream in enumerate(streams) if stream.sampling.do_sample]
        if not sampled:
            return tokens
        probs = _sampling_probs(
            scores, self._temperature[rows], self._top_k[rows], self._top_p[rows]
        )
        drawn = tokens.clone()
        for index in sampled:
            drawn[index] = torch.multinomial(
                probs[index], 1, generator=streams[index].generator
            ).squeeze(0)
        return drawn

    def _reset_slot(self, stream: _Stream) -> None:
        slot, sampling = stream.slot, stream.sampling
        self._seen[slot] = False
        self._seen[slot, _PLACEHOLDER_ID] = True
        self._seen[slot, self._gpt.start_audio_token] = True
        self._penalty[slot] = sampling.repetition_penalty
        self._temperature[slot] = sampling.temperature
        self._top_k[slot] = sampling.top_k
        self._top_p[slot] = sampling.top_p

    def _move_slot(self, source: int, target: int, length: int) -> None:
        for cache in (*self._keys, *self._values):
            cache[target, :, :length] = cache[source, :, :length]
        for state in self._states():
            state[target] = state[source]

    def _states(self) -> tuple[torch.Tensor, ...]:
        """The per-slot state besides the cache."""
        return (
            self._lengths,
            self._positions,
            self._last,
            self._seen,
            self._penalty,
            self._temperature,
            self._top_k,
            self._top_p,
        )


def _sampling_probs(
    scores: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor
) -> torch.Tensor:
    """HF's warpers with a setting per row: temperature, top-k (0: all), top-p (1.0: all)."""
    scores = scores / temperature[:, None]
    vocabulary = scores.shape[-1]
    ordered = scores.sort(dim=-1, descending=True).values
    k = torch.where(top_k > 0, top_k.clamp(max=vocabulary), vocabulary)
    kth = ordered.gather(-1, (k - 1)[:, None])
    scores = scores.masked_fill(scores < kth, float("-inf"))
    ascending, indices = scores.sort(dim=-1)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    remove = (cumulative <= (1 - top_p)[:, None]) & (top_p < 1.0)[:, None]
    remove[:, -1] = False  # the most likely token always stays
    scores = scores.masked_fill(remove.scatter(-1, indices, remove), float("-inf"))
    return scores.softmax(dim=-1)


def measure_batched_steps(
    model: Xtts, n_streams: int, tokens: int, *, do_sample: bool = False
) -> list[float]:
    """Seconds for each of `tokens` steps of `n_streams` streams decoded together (their first
    tokens come from one batched join, untimed), with the checkpoint's own sampling settings,
    on the model's device and in the caller's context: called under `torch.autocast`, the
    cache takes autocast's dtype. Every stream runs to its budget (random weights stop at
    random), so the batch stays `n_streams` wide. For the GPU benchmark: no Django."""
    gpt = model.gpt
    weight = gpt.mel_head.weight
    device = weight.device
    dtype = weight.dtype
    if torch.is_autocast_enabled(device.type):
        dtype = torch.get_autocast_dtype(device.type)
    generator = torch.Generator(device="cpu").manual_seed(0)
    text = torch.randint(2, 40, (1, 60), generator=generator)
    budget = tokens + 1
    batcher = GptBatcher(
        gpt,
        max_streams=n_streams,
        max_len=_CONDITIONING_LATENTS + text.shape[1] + 2 + budget,
        dtype=dtype,
    )
    sampling = Sampling.from_config(model.config, do_sample=do_sample)
    width = int(gpt.model_dim)
    batcher.join_many(
        [
            Joining(
                torch.randn(1, _CONDITIONING_LATENTS, width, generator=generator).to(device),
                text,
                sampling,
                torch.Generator(device=device).manual_seed(seed),
                max_tokens=budget,
                until_stop=False,
            )
            for seed in range(n_streams)
        ]
    )
    synchronize: Callable[[], None] = (
        torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    )
    times = []
    for _ in range(tokens):
        synchronize()
        began = time.perf_counter()
        batcher.step()
        synchronize()
        times.append(time.perf_counter() - began)
    return times
