"""The GPU benchmark (bench/gpu) on the CPU: the tiny model end to end into a scratch folder,
the playback verdicts it rests on, and the promise that lets it run on a GPU machine with no
Django. No timing is asserted: only that every figure is there and the verdicts follow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from bench.gpu.cli import RESULTS, main
from bench.gpu.playback import StreamTrace, decided, summarize
from bench.gpu.report import capacity, targets
from bench.gpu.rig import build_rig
from bench.gpu.streams import run_batched, run_interleaved
from synthesis.contract.segments import Segment
from synthesis.engines.xtts.batch import GptBatcher
from synthesis.engines.xtts_random import build_random_xtts, random_model

ROOT = Path(__file__).resolve().parent.parent
RATE = 24000
LEVEL_FIELDS = {
    "streams", "rounds", "first_chunk_p50_s", "first_chunk_p95_s", "first_chunk_missing",
    "realtime_streams", "measured_streams", "lateness_p95_s", "audio_s", "wall_s",
    "aggregate_rtf", "stopped_early", "all_realtime",
}  # fmt: skip


@pytest.fixture
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def trace(*chunks: tuple[float, float], complete: bool = True) -> StreamTrace:
    """Chunks as (arrival in seconds, audio seconds)."""
    out = StreamTrace(complete=complete)
    for at, seconds in chunks:
        out.add(at, int(seconds * RATE))
    return out


def test_the_in_memory_model_holds_the_weights_the_checkpoint_files_would(tmp_path: Path) -> None:
    model = random_model("tiny", max_audio_tokens=20, seed=3)
    saved = torch.load(build_random_xtts(tmp_path, max_audio_tokens=20, seed=3) / "model.pth")
    weights = model.state_dict()
    assert all(torch.equal(weights[name], value) for name, value in saved["model"].items())
    assert not model.training
    assert model.gpt.max_gen_mel_tokens == 17


def test_an_engine_over_an_in_memory_model_streams_without_a_file_or_the_licence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    rig = build_rig("tiny", tokens=6, device="cpu", dtype="fp32", chunk_tokens=4)
    chunks = list(rig.engine.stream([Segment("hello")], voice="x", conditioning=rig.conditioning))
    # Exactly 6 tokens, however the random weights lean: 4 then 2, the last marked.
    assert [chunk.segment_end for chunk in chunks] == [False, True]
    assert rig.engine.model_id() == "in-memory"


@pytest.mark.usefixtures("_one_thread")
def test_the_tiny_bench_runs_end_to_end_and_reports_every_figure(tmp_path: Path) -> None:
    before = sorted(RESULTS.iterdir()) if RESULTS.is_dir() else []
    argv = ["--tiny", "--tokens", "8", "--chunk-tokens", "4", "--coqui-rounds", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0

    [json_path] = tmp_path.glob("gpu-cpu-*.json")
    assert json_path.with_suffix(".md").is_file()
    report = json.loads(json_path.read_text())
    assert report["machine"]["device"] == "cpu"
    config = report["config"]
    assert (config["size"], config["tokens_per_sentence"], config["ours"]) == (
        "tiny",
        8,
        "batched",
    )
    assert [level["streams"] for level in report["ours"]] == [1, 2]
    for level in [*report["ours"], report["coqui"]]:
        assert set(level) >= LEVEL_FIELDS
        assert level["first_chunk_missing"] == 0
        assert level["first_chunk_p50_s"] > 0
        assert level["audio_s"] > 0
    # A lone stream always plays out: 8 tokens in 2 chunks, the whole sentence.
    assert report["ours"][0]["stopped_early"] is False
    assert report["ours"][0]["measured_streams"] == 2  # two rounds
    assert report["model"]["parameters"] > 0
    assert isinstance(report["capacity_streams"], int)
    assert [t["result"] in ("PASS", "MISS") for t in report["targets"]] == [True] * 3
    assert (sorted(RESULTS.iterdir()) if RESULTS.is_dir() else []) == before


@pytest.fixture
def step_widths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many streams each `GptBatcher.step` served, one entry a call."""
    widths: list[int] = []
    step = GptBatcher.step

    def counted(self: GptBatcher) -> list[object]:
        steps = step(self)
        widths.append(len(steps))
        return list(steps)

    monkeypatch.setattr(GptBatcher, "step", counted)
    return widths


@pytest.mark.usefixtures("_one_thread")
def test_the_batched_runner_gives_both_streams_the_interleaved_audio_one_step_a_token_for_both(
    step_widths: list[int],
) -> None:
    rig = build_rig("tiny", tokens=16, device="cpu", dtype="fp32", chunk_tokens=8)
    batched = run_batched(rig, 2, lambda traces, now: False)
    interleaved = run_interleaved(rig, 2, lambda traces, now: False)
    # Pieces of 6, 8 and the last 2 tokens, cut and flushed as the engine cuts them: the same
    # samples, piece for piece, and the whole sentence (256 * floor(4 * 16 * 24000 / 22050)).
    pieces = [[samples for _at, samples in trace.chunks] for trace in batched]
    assert pieces == [[samples for _at, samples in t.chunks] for t in interleaved]
    assert pieces[0] == [4608, 8704, 4352]
    assert [t.samples for t in batched] == [17664, 17664]
    assert all(trace.complete for trace in [*batched, *interleaved])
    # The join drew both streams' first tokens; then one step a token served both.
    assert step_widths == [2] * 15


@pytest.mark.usefixtures("_one_thread")
def test_the_batched_runner_ends_its_streams_when_told_to_stop(step_widths: list[int]) -> None:
    rig = build_rig("tiny", tokens=16, device="cpu", dtype="fp32", chunk_tokens=8)
    traces = run_batched(rig, 2, lambda traces, now: all(t.chunks for t in traces))
    # Asked between steps: stopped once the first pieces (6 tokens: 5 steps) were out.
    assert [len(trace.chunks) for trace in traces] == [1, 1]
    assert not any(trace.complete for trace in traces)
    assert step_widths == [2] * 5


def test_the_gpu_bench_imports_and_streams_with_django_unimportable() -> None:
    blocked = ("django", "rest_framework", "channels", "celery", "django_tenants")
    code = (
        "import runpy, sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "sys.argv = ['bench.gpu', '--smoke', '--device', 'cpu']\n"
        "runpy.run_module('bench.gpu', run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bench.gpu smoke ok on cpu" in done.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_smoke_run_streams_both_ways_on_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--device", "cuda"]) == 0
    assert "smoke ok on" in capsys.readouterr().out


def test_a_stream_whose_chunks_come_in_time_is_real_time() -> None:
    # Played from 0.2 s: the second chunk is due at 0.7 s and comes 0.09 s after.
    stream = trace((0.2, 0.5), (0.79, 0.5), (1.0, 0.5))
    assert stream.first_chunk_s == 0.2
    assert stream.lateness_s(RATE) == pytest.approx(0.09)
    assert stream.realtime(RATE)


def test_a_chunk_more_than_100_ms_late_is_an_underrun() -> None:
    assert not trace((0.2, 0.5), (0.81, 0.5)).realtime(RATE)


def test_a_stream_that_did_not_finish_is_not_real_time() -> None:
    assert not trace((0.2, 0.5), complete=False).realtime(RATE)


def test_a_level_is_decided_once_every_stream_is_done_or_already_too_late() -> None:
    done = trace((0.1, 0.5), (0.3, 0.5))
    waiting = trace((0.2, 0.5), complete=False)  # its next chunk is due at 0.7 s
    assert not decided([done, waiting], 0.75, RATE)
    assert decided([done, waiting], 0.81, RATE)
    assert not decided([done, StreamTrace()], 5.0, RATE)  # a stream with no first chunk yet


def test_capacity_counts_levels_where_every_stream_kept_up_and_the_first_chunk_p95_held() -> None:
    fast = trace((0.1, 1.0), (0.5, 1.0))
    slow_start = trace((0.4, 1.0), (0.5, 1.0))
    late = trace((0.1, 0.1), (0.5, 1.0))
    levels = [
        summarize(1, [([fast], 0.5)], RATE),
        summarize(2, [([fast, slow_start], 0.5)], RATE),
        summarize(3, [([fast, fast, late], 0.5)], RATE),
    ]
    assert capacity(levels) == 2
    assert capacity(levels, first_chunk_p95_s=0.3) == 1
    coqui = summarize(1, [([trace((0.4, 1.0))], 0.4)], RATE)
    verdicts = [t.result for t in targets(levels, coqui)]
    assert verdicts == ["PASS", "PASS", "MISS"]  # 100 ms, 0.25x coqui's, 1 stream of 64
