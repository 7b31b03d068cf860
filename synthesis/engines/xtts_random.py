"""An XTTS v2 checkpoint with random weights, in the official layout, for tests and benchmarks.

Never for serving: random weights speak noise. XTTS v2's real weights cannot be downloaded
everywhere (and are under the Coqui Public Model License), yet the engine's loading, streaming,
cloning and cancelling code should run for real in CI and on a GPU benchmark machine. This
writes what `manage.py fetch_xtts_model` would place in a directory (`model.pth` as
`{"model": state_dict}`, `config.json`, `vocab.json`, `speakers_xtts.pth`), so that
`XttsEngine(model_path=...)` loads it through coqui's own `load_checkpoint`.

Two sizes: "tiny" (2 GPT layers of 256 channels: builds in a second or two, streams on a CPU;
the HiFi-GAN decoder keeps its real size, so `model.pth` is still ~117 MB) and "full" (XTTS v2's
real shapes, ~1.8 GB, for GPU timing). A random GPT never predicts its stop token on purpose,
so generation runs to `gpt_max_audio_tokens` (less 3: coqui keeps room for the conditioning and
the start/stop tokens). Coqui's streaming re-decodes every latent so far for each chunk, so the
cost grows with the square of that length: the tiny model stops at 40 by default (two chunks of
20 tokens, about 1.8 s of audio).

    python -m synthesis.engines.xtts_random DIR [--size full] [--max-audio-tokens N]
"""

from __future__ import annotations

import argparse
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
from TTS.tts.models.xtts import Xtts

Size = Literal["tiny", "full"]

# XTTS v2's language tokens, in its own spelling (`zh-cn`).
LANGUAGE_TOKENS = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko",
    "ja", "hi",
)  # fmt: skip
SPECIAL_TOKENS = ("[STOP]", "[UNK]", "[SPACE]", "[START]")
DEFAULT_SPEAKERS = ("Tiny Speaker A", "Tiny Speaker B")
TINY_MAX_AUDIO_TOKENS = 40
# The perceiver resampler turns any reference into this many GPT conditioning latents.
CONDITIONING_LATENTS = 32


def build_random_xtts(
    directory: str | Path,
    *,
    size: Size = "tiny",
    speakers: Sequence[str] = DEFAULT_SPEAKERS,
    max_audio_tokens: int | None = None,
    seed: int = 0,
) -> Path:
    """Writes a random-weight XTTS checkpoint into `directory` (created if missing) and returns
    it. The same arguments give the same files: the weights come from `seed`, and the global
    torch random state is left as it was. `max_audio_tokens` (`gpt_max_audio_tokens`) bounds
    generation; at most `max_audio_tokens - 3` tokens (about 46 ms of audio each) are made."""
    _check_size(size, max_audio_tokens)
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    vocab.save(str(target / "vocab.json"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _random_model(size, max_audio_tokens, vocab)
        torch.save({"model": model.state_dict()}, target / "model.pth")
        torch.save(_speakers(speakers, model.config), target / "speakers_xtts.pth")
    model.config.save_json(str(target / "config.json"))
    return target


def random_model(
    size: Size = "tiny", *, max_audio_tokens: int | None = None, seed: int = 0
) -> Xtts:
    """The model `build_random_xtts` writes, built in memory and ready for inference (its
    tokenizer set, evaluation mode, on the CPU) without a file written or read: the GPU
    benchmark's full-size one would be 1.8 GB to save and load back. Same arguments, same
    weights as the files would hold."""
    _check_size(size, max_audio_tokens)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _random_model(size, max_audio_tokens, _vocab())
    model.eval()  # Xtts.eval also builds the GPT's inference wrapper, as load_checkpoint does
    return model


def _random_model(size: Size, max_audio_tokens: int | None, vocab: Tokenizer) -> Xtts:
    model = Xtts(random_config(size, max_audio_tokens=max_audio_tokens))
    # Xtts(config) has no tokenizer yet, so it built no GPT: give it the vocabulary and build
    # again, which also sets the text-token ids in its config.
    model.tokenizer = VoiceBpeTokenizer()
    model.tokenizer.tokenizer = vocab
    model.init_models()
    return model


def _check_size(size: str, max_audio_tokens: int | None) -> None:
    if size not in ("tiny", "full"):
        raise ValueError(f"size must be 'tiny' or 'full', not {size!r}")
    if max_audio_tokens is not None and max_audio_tokens < 4:
        raise ValueError("max_audio_tokens must be at least 4 (3 are coqui's own)")


def random_config(size: Size = "tiny", *, max_audio_tokens: int | None = None) -> XttsConfig:
    """The config of a random XTTS of `size`. `XttsArgs()` defaults already have XTTS v2's
    GPT shape but not its audio vocabulary (1026 codes with start 1024 and stop 1025) nor its
    perceiver resampler; the tiny one is 2 layers of 256 channels (the decoder's input width
    must equal the GPT's)."""
    config = XttsConfig()
    args = config.model_args
    args.gpt_num_audio_tokens = 1026
    args.gpt_start_audio_token = 1024
    args.gpt_stop_audio_token = 1025
    args.gpt_use_perceiver_resampler = True
    if size == "tiny":
        args.gpt_layers = 2
        args.gpt_n_model_channels = 256
        args.gpt_n_heads = 4
        args.decoder_input_dim = 256
        args.gpt_max_audio_tokens = max_audio_tokens or TINY_MAX_AUDIO_TOKENS
    else:
        args.gpt_layers = 30
        args.gpt_n_model_channels = 1024
        args.gpt_n_heads = 16
        args.decoder_input_dim = 1024
        args.gpt_max_audio_tokens = max_audio_tokens or 605
    args.gpt_max_text_tokens = 402
    args.gpt_max_prompt_tokens = 70
    # XTTS v2's own sampling settings (its config.json), which the engine reads from the config.
    config.temperature = 0.75
    config.length_penalty = 1.0
    config.repetition_penalty = 5.0
    config.top_k = 50
    config.top_p = 0.85
    return config


def _vocab() -> Tokenizer:
    """A BPE vocabulary without merges: XTTS's special and language tokens, then one token per
    lower-case ASCII letter, digit and punctuation mark (XTTS lower-cases its text; anything
    else reads as [UNK])."""
    specials = [*SPECIAL_TOKENS, *(f"[{language}]" for language in LANGUAGE_TOKENS)]
    symbols = string.ascii_lowercase + string.digits + string.punctuation
    vocab = {token: number for number, token in enumerate([*specials, *symbols])}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))  # noqa: S106
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(specials)
    return tokenizer


def _speakers(names: Sequence[str], config: XttsConfig) -> dict[str, dict[str, torch.Tensor]]:
    """Studio speakers as `speakers_xtts.pth` holds them; embeddings unit length, as the
    speaker encoder makes them."""
    model_dim = config.model_args.gpt_n_model_channels
    speakers = {}
    for name in names:
        embedding = torch.randn(1, config.model_args.d_vector_dim, 1)
        speakers[name] = {
            "gpt_cond_latent": torch.randn(1, CONDITIONING_LATENTS, model_dim),
            "speaker_embedding": embedding / embedding.norm(dim=1, keepdim=True),
        }
    return speakers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synthesis.engines.xtts_random",
        description="Write a random-weight XTTS v2 checkpoint (for tests and benchmarks only: "
        "it speaks noise).",
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--max-audio-tokens", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speaker", action="append", dest="speakers", metavar="NAME")
    args = parser.parse_args(argv)
    built = build_random_xtts(
        args.directory,
        size=args.size,
        speakers=args.speakers or DEFAULT_SPEAKERS,
        max_audio_tokens=args.max_audio_tokens,
        seed=args.seed,
    )
    print(built)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
