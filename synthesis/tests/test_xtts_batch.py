"""Continuous batching of XTTS's GPT decode step (synthesis/engines/xtts/batch.py), on the tiny
random-weight model on CPU: batched streams decode what coqui's own unbatched generator does,
streams come and go without disturbing the others, and one forward pass serves every stream of
a step.

The reference is coqui's `gpt.get_generator` with the engine's own generation options (the
call `XttsEngine._pieces` makes), greedy. Batched and alone differ only by float rounding
(matrix products of other shapes): latents agree within LATENT_TOLERANCE, and the audio the
HiFi-GAN decoder makes of them within AUDIO_TOLERANCE of full scale (measured on CPU, fp32:
7e-7 and 2e-8, the tiny model's audio peaking near 0.02)."""

from __future__ import annotations

import os

import pytest
import torch

from synthesis.contract.segments import Segment
from synthesis.engines.xtts.batch import (
    BatchFull,
    GptBatcher,
    Joining,
    Sampling,
    Step,
    _sampling_probs,
    measure_batched_steps,
)
from synthesis.engines.xtts.engine import XttsEngine

LATENT_TOLERANCE = 1e-4
AUDIO_TOLERANCE = 1e-5  # of full scale: -100 dBFS
TEXTS = {
    "short": "Hello there.",
    "long": "A longer sentence, for the second stream of the batch.",
    "third": "Numbers: one, two, three.",
}
SPEAKERS = ("tiny-speaker-a", "tiny-speaker-b")


@pytest.fixture(scope="module")
def engine(tiny_xtts):
    os.environ["COQUI_TOS_AGREED"] = "1"
    torch.set_num_threads(1)
    return XttsEngine(model_path=tiny_xtts, device="cpu", do_sample=False, threads=1)


@pytest.fixture(scope="module")
def greedy(engine):
    return Sampling.from_config(engine._config, do_sample=False)


def text_tokens(engine, name: str) -> torch.Tensor:
    return torch.tensor([engine._token_ids(Segment(TEXTS[name]))])


def latent(engine, speaker: str) -> torch.Tensor:
    return engine._speakers[speaker][0]


def coqui_alone(engine, speaker: str, text: str) -> list[tuple[int, torch.Tensor]]:
    """What coqui's own generator makes of one stream, as the engine calls it (greedy)."""
    gpt = engine._model.gpt
    with torch.inference_mode():
        fake_inputs = gpt.compute_embeddings(latent(engine, speaker), text_tokens(engine, text))
        generator = gpt.get_generator(fake_inputs=fake_inputs, **engine._generation_options())
        return [(int(token), hidden.clone()) for token, hidden in generator]


@pytest.fixture(scope="module")
def reference(engine):
    cache: dict[tuple[str, str], list[tuple[int, torch.Tensor]]] = {}

    def made(speaker: str, text: str) -> list[tuple[int, torch.Tensor]]:
        if (speaker, text) not in cache:
            cache[(speaker, text)] = coqui_alone(engine, speaker, text)
        return cache[(speaker, text)]

    return made


def join(batcher, engine, speaker, text, **options) -> Step:
    return batcher.join(latent(engine, speaker), text_tokens(engine, text), **options)


def joining(engine, speaker, text, **options) -> Joining:
    return Joining(latent(engine, speaker), text_tokens(engine, text), **options)


def run_out(batcher, steps: dict[int, list[Step]]) -> None:
    """Steps the batcher until every stream has ended, collecting each one's steps."""
    while batcher.active:
        for step in batcher.step():
            steps[step.stream].append(step)


def tokens(steps: list[Step]) -> list[int]:
    return [step.token for step in steps]


def latent_gap(steps: list[Step], made: list[tuple[int, torch.Tensor]]) -> float:
    pairs = zip(steps, made, strict=True)
    return max(float((step.latent - hidden).abs().max()) for step, (_token, hidden) in pairs)


def audio(engine, speaker: str, latents: list[torch.Tensor]) -> torch.Tensor:
    with torch.inference_mode():
        stacked = torch.cat(latents, dim=0)[None, :]
        return engine._model.hifigan_decoder(stacked, g=engine._speakers[speaker][1]).squeeze()


def test_a_stream_alone_gives_coquis_own_tokens_and_latents(engine, greedy, reference):
    batcher = GptBatcher(engine._model.gpt, max_streams=2)
    first = join(batcher, engine, SPEAKERS[0], "short", sampling=greedy)
    steps = {first.stream: [first]}
    run_out(batcher, steps)
    made = reference(SPEAKERS[0], "short")
    assert len(made) == batcher.max_tokens  # random weights never stop: the whole budget
    assert tokens(steps[first.stream]) == tokens_of(made)
    assert latent_gap(steps[first.stream], made) <= LATENT_TOLERANCE
    assert steps[first.stream][-1].last
    assert not any(s.last for s in steps[first.stream][:-1])


def tokens_of(made: list[tuple[int, torch.Tensor]]) -> list[int]:
    return [token for token, _hidden in made]


def test_two_batched_streams_give_the_same_tokens_as_each_alone_and_audio_within_a_bound(
    engine, greedy, reference
):
    batcher = GptBatcher(engine._model.gpt, max_streams=4)
    a = join(batcher, engine, SPEAKERS[0], "short", sampling=greedy)
    b = join(batcher, engine, SPEAKERS[1], "long", sampling=greedy)
    steps = {a.stream: [a], b.stream: [b]}
    run_out(batcher, steps)
    for handle, speaker, text in (
        (a.stream, SPEAKERS[0], "short"),
        (b.stream, SPEAKERS[1], "long"),
    ):
        made = reference(speaker, text)
        assert tokens(steps[handle]) == tokens_of(made)
        assert latent_gap(steps[handle], made) <= LATENT_TOLERANCE
        batched = audio(engine, speaker, [step.latent for step in steps[handle]])
        alone = audio(engine, speaker, [hidden for _token, hidden in made])
        assert batched.shape == alone.shape
        assert float((batched - alone).abs().max()) <= AUDIO_TOLERANCE
    assert tokens_of(reference(SPEAKERS[0], "short")) != tokens_of(reference(SPEAKERS[1], "long"))


def test_a_stream_joining_midway_and_one_leaving_early_leave_the_others_tokens_alone(
    engine, greedy, reference
):
    batcher = GptBatcher(engine._model.gpt, max_streams=3)
    a, b = batcher.join_many(  # together: one prefill pass, padded to the longer prefix
        [
            joining(engine, SPEAKERS[0], "short", sampling=greedy),
            joining(engine, SPEAKERS[1], "long", sampling=greedy),
        ]
    )
    steps = {a.stream: [a], b.stream: [b]}
    for _ in range(5):
        for step in batcher.step():
            steps[step.stream].append(step)
    c = join(batcher, engine, SPEAKERS[1], "third", sampling=greedy)  # mid-way
    steps[c.stream] = [c]
    for _ in range(4):
        for step in batcher.step():
            steps[step.stream].append(step)
    batcher.leave(b.stream)  # early: c moves into b's slot
    assert batcher.active == [a.stream, c.stream]
    run_out(batcher, steps)
    assert tokens(steps[a.stream]) == tokens_of(reference(SPEAKERS[0], "short"))
    assert tokens(steps[c.stream]) == tokens_of(reference(SPEAKERS[1], "third"))
    assert tokens(steps[b.stream]) == tokens_of(reference(SPEAKERS[1], "long"))[:10]
    assert latent_gap(steps[c.stream], reference(SPEAKERS[1], "third")) <= LATENT_TOLERANCE


def test_one_forward_pass_serves_every_stream_of_a_step(engine, greedy, monkeypatch):
    gpt = engine._model.gpt
    batches: list[int] = []
    hook = gpt.gpt.h[0].mlp.register_forward_hook(
        lambda _module, inputs, _output: batches.append(inputs[0].shape[0])
    )
    attentions: list[int] = []
    attention = torch.nn.functional.scaled_dot_product_attention

    def counted(query, *args, **kwargs):
        attentions.append(query.shape[0])
        return attention(query, *args, **kwargs)

    monkeypatch.setattr("synthesis.engines.xtts.batch.F.scaled_dot_product_attention", counted)
    try:
        batcher = GptBatcher(gpt, max_streams=4)
        batcher.join_many(
            [
                joining(engine, SPEAKERS[0], "short", sampling=greedy),
                joining(engine, SPEAKERS[1], "long", sampling=greedy),
            ]
        )
        assert batches == [2]  # both prefixes in one pass
        for count in (2, 2, 3, 3):
            if count == 3 and len(batcher.active) == 2:
                join(batcher, engine, SPEAKERS[1], "third", sampling=greedy)
            batches.clear()
            attentions.clear()
            assert len(batcher.step()) == count
            assert batches == [count]  # one pass through the block, all streams in it
            assert attentions == [count] * len(gpt.gpt.h)  # one attention per layer
    finally:
        hook.remove()


def test_a_seeded_sampled_stream_repeats_itself_whoever_shares_the_batch(engine, greedy):
    sampled = Sampling.from_config(engine._config, do_sample=True)

    def draw(seed: int, *, neighbour: bool) -> list[int]:
        batcher = GptBatcher(engine._model.gpt, max_streams=2)
        if neighbour:
            join(batcher, engine, SPEAKERS[1], "long", sampling=sampled)  # global RNG
        first = join(
            batcher,
            engine,
            SPEAKERS[0],
            "short",
            sampling=sampled,
            generator=torch.Generator().manual_seed(seed),
        )
        steps = {first.stream: [first]}
        while first.stream in batcher.active:
            for step in batcher.step():
                steps.setdefault(step.stream, []).append(step)
        return tokens(steps[first.stream])

    alone = draw(7, neighbour=False)
    assert draw(7, neighbour=True) == alone
    assert draw(8, neighbour=False) != alone


def test_each_stream_keeps_its_own_sampling_settings_in_one_batch(engine, greedy, reference):
    """A greedy stream beside sampled ones still decodes greedily, and a sampled stream
    with top-k 1 draws what greedy decoding chooses."""
    batcher = GptBatcher(engine._model.gpt, max_streams=3)
    hot = Sampling(do_sample=True, temperature=2.0, top_k=0, top_p=1.0, repetition_penalty=5.0)
    top1 = Sampling(do_sample=True, temperature=0.7, top_k=1, repetition_penalty=5.0)
    noisy = join(batcher, engine, SPEAKERS[1], "third", sampling=hot)
    plain = join(batcher, engine, SPEAKERS[0], "short", sampling=greedy)
    narrow = join(batcher, engine, SPEAKERS[1], "long", sampling=top1)
    steps = {noisy.stream: [noisy], plain.stream: [plain], narrow.stream: [narrow]}
    run_out(batcher, steps)
    assert tokens(steps[plain.stream]) == tokens_of(reference(SPEAKERS[0], "short"))
    assert tokens(steps[narrow.stream]) == tokens_of(reference(SPEAKERS[1], "long"))
    assert tokens(steps[noisy.stream]) != tokens_of(reference(SPEAKERS[1], "third"))


def test_the_warpers_match_hfs_with_a_setting_per_row():
    from transformers import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    settings = [(0.75, 50, 0.85), (1.0, 0, 1.0), (2.0, 3, 1.0), (0.5, 0, 0.5)]
    scores = torch.randn(len(settings), 1026, generator=torch.Generator().manual_seed(3)) * 4
    ours = _sampling_probs(
        scores,
        torch.tensor([t for t, _k, _p in settings]),
        torch.tensor([k for _t, k, _p in settings]),
        torch.tensor([p for _t, _k, p in settings]),
    )
    for row, (temperature, top_k, top_p) in enumerate(settings):
        warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
        if top_k:
            warpers.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p))
        theirs = warpers(torch.zeros(1, 1, dtype=torch.long), scores[row : row + 1]).softmax(-1)
        torch.testing.assert_close(ours[row : row + 1], theirs)


def test_a_stream_ends_at_the_stop_token_or_its_budget_and_frees_its_slot(
    engine, greedy, reference
):
    made = tokens_of(reference(SPEAKERS[0], "short"))
    other = tokens_of(reference(SPEAKERS[1], "long"))[:5]
    # Random weights never stop: pretend a token the first stream draws early is the stop
    # token (one it draws first there, and one the other stream does not draw).
    end = next(i for i in range(2, len(made)) if made[i] not in (*made[:i], *other))
    batcher = GptBatcher(engine._model.gpt, max_streams=2)
    batcher.stop_token = made[end]
    stopping = join(batcher, engine, SPEAKERS[0], "short", sampling=greedy)
    budgeted = join(batcher, engine, SPEAKERS[1], "long", sampling=greedy, max_tokens=5)
    steps = {stopping.stream: [stopping], budgeted.stream: [budgeted]}
    run_out(batcher, steps)
    assert tokens(steps[stopping.stream]) == made[: end + 1]
    assert steps[stopping.stream][-1].last
    assert len(steps[budgeted.stream]) == 5
    assert [s.last for s in steps[budgeted.stream]] == [False] * 4 + [True]
    assert batcher.active == []


def test_a_full_batch_refuses_a_stream_until_one_leaves(engine, greedy):
    batcher = GptBatcher(engine._model.gpt, max_streams=1)
    first = join(batcher, engine, SPEAKERS[0], "short", sampling=greedy)
    with pytest.raises(BatchFull):
        join(batcher, engine, SPEAKERS[1], "long", sampling=greedy)
    batcher.leave(first.stream)
    second = join(batcher, engine, SPEAKERS[1], "long", sampling=greedy)
    assert batcher.active == [second.stream]


def test_streams_that_cannot_all_join_together_do_not_join_at_all(engine, greedy):
    batcher = GptBatcher(engine._model.gpt, max_streams=2, max_len=80)
    first = join(batcher, engine, SPEAKERS[0], "short", sampling=greedy, max_tokens=3)
    with pytest.raises(BatchFull):
        batcher.join_many([joining(engine, SPEAKERS[1], text) for text in ("short", "third")])
    with pytest.raises(ValueError, match="max_len"):
        batcher.join_many([joining(engine, SPEAKERS[1], "long")])
    assert batcher.active == [first.stream]


def test_a_stream_longer_than_the_cache_is_refused(engine, greedy):
    batcher = GptBatcher(engine._model.gpt, max_streams=1, max_len=40)
    with pytest.raises(ValueError, match="max_len"):
        join(batcher, engine, SPEAKERS[0], "long", sampling=greedy)
    assert batcher.active == []


def test_the_micro_benchmark_times_every_step_of_a_full_batch(engine):
    times = measure_batched_steps(engine._model, 3, 4)
    assert len(times) == 4
    assert all(seconds > 0 for seconds in times)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_two_batched_streams_give_the_same_tokens_as_coquis_generator(tiny_xtts):
    os.environ["COQUI_TOS_AGREED"] = "1"
    engine = XttsEngine(model_path=tiny_xtts, device="cuda", do_sample=False)
    greedy = Sampling.from_config(engine._config, do_sample=False)
    batcher = GptBatcher(engine._model.gpt, max_streams=4)
    cases = ((SPEAKERS[0], "short"), (SPEAKERS[1], "long"))
    firsts = batcher.join_many([joining(engine, *case, sampling=greedy) for case in cases])
    steps = {first.stream: [first] for first in firsts}
    run_out(batcher, steps)
    for first, (speaker, text) in zip(firsts, cases, strict=True):
        made = coqui_alone(engine, speaker, text)
        assert tokens(steps[first.stream]) == tokens_of(made)
        assert latent_gap(steps[first.stream], made) <= 1e-3  # GPU kernels round differently


# --- pause and resume (the worker's credit window) ------------------------------------------


def test_a_paused_stream_is_left_out_of_the_steps_and_resumes_where_it_was(
    engine, greedy, reference
):
    batcher = GptBatcher(engine._model.gpt, max_streams=3)
    a, b = batcher.join_many(
        [
            joining(engine, SPEAKERS[0], "short", sampling=greedy),
            joining(engine, SPEAKERS[1], "long", sampling=greedy),
        ]
    )
    steps = {a.stream: [a], b.stream: [b]}
    for _ in range(3):
        for step in batcher.step():
            steps[step.stream].append(step)
    batcher.pause(b.stream)
    assert batcher.running == [a.stream]
    assert sorted(batcher.active) == sorted([a.stream, b.stream])
    for _ in range(5):
        made = batcher.step()
        assert [step.stream for step in made] == [a.stream]
        steps[a.stream] += made
    c = join(batcher, engine, SPEAKERS[1], "third", sampling=greedy)  # past a paused stream
    steps[c.stream] = [c]
    assert batcher.running == [a.stream, c.stream]
    for step in batcher.step():
        steps[step.stream].append(step)
    assert len(steps[b.stream]) == 4  # nothing made for it while paused
    batcher.resume(b.stream)
    assert sorted(batcher.running) == sorted([a.stream, b.stream, c.stream])
    run_out(batcher, steps)
    for handle, speaker, text in (
        (a.stream, SPEAKERS[0], "short"),
        (b.stream, SPEAKERS[1], "long"),
        (c.stream, SPEAKERS[1], "third"),
    ):
        assert tokens(steps[handle]) == tokens_of(reference(speaker, text))
        assert latent_gap(steps[handle], reference(speaker, text)) <= LATENT_TOLERANCE


def test_leaving_a_running_or_a_paused_stream_leaves_the_others_tokens_alone(
    engine, greedy, reference
):
    batcher = GptBatcher(engine._model.gpt, max_streams=4)
    names = [(SPEAKERS[0], "short"), (SPEAKERS[1], "long"), (SPEAKERS[1], "third")]
    first = batcher.join_many([joining(engine, s, t, sampling=greedy) for s, t in names])
    d = join(batcher, engine, SPEAKERS[0], "long", sampling=greedy)
    a, b, c = (step.stream for step in first)
    steps = {step.stream: [step] for step in [*first, d]}
    batcher.pause(b)
    batcher.pause(c)
    for step in batcher.step():
        steps[step.stream].append(step)
    batcher.leave(a)  # a running stream: the last running one fills its slot
    batcher.leave(c)  # a paused one
    assert batcher.running == [d.stream]
    assert sorted(batcher.active) == sorted([b, d.stream])
    batcher.resume(b)
    run_out(batcher, steps)
    assert tokens(steps[b]) == tokens_of(reference(SPEAKERS[1], "long"))
    assert tokens(steps[d.stream]) == tokens_of(reference(SPEAKERS[0], "long"))
    assert tokens(steps[a]) == tokens_of(reference(SPEAKERS[0], "short"))[:2]
