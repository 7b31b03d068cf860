#!/bin/sh
# `make bench-gpu-wheels`: downloads into .whl/ (git-ignored) the wheels the GPU benchmark needs
# beyond what the lent GPU machine has (its own Python 3.12, torch 2.11, numpy, scipy,
# scikit-learn, safetensors...; no network there). Only what `import bench.gpu` and XTTS
# inference load, measured with sys.modules on this venv; each pinned to this venv's version
# (requirements/constraints.txt), --no-deps. Then the tree and the wheels must fit the device
# tool's 64 MiB: the sizes are printed. bench/gpu_run.sh installs them there.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WHEELS="
coqui-tts==0.28.0
coqpit-config==0.2.5
coqui-tts-trainer==0.4.0
anyascii==0.3.3
ko-speech-tools==0.1.0
num2words==0.5.14
librosa==0.11.0
soundfile==0.14.0
cffi==2.1.1
soxr==1.1.0
transformers==4.57.6
huggingface_hub==0.36.2
tokenizers==0.22.2
torchcodec==0.11.1
"
# transformers 4.57.6 instead of the machine's 5.x, which breaks coqui's streaming generator
# (requirements/xtts.txt); it refuses at import a huggingface_hub >= 1.0 or tokenizers > 0.23.0,
# so those come too. cffi: soundfile's backend. torchcodec: `import TTS` refuses torch >= 2.9
# without it (for audio files, which the benchmark never reads: it is installed, never imported;
# 0.11 is the one built for torch 2.11). The rest is coqui-tts and its import-time needs.
rm -rf .whl
mkdir .whl
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl $WHEELS
wheels=$(du -cb .whl/*.whl | tail -1 | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "wheels: $(ls .whl | wc -l) files, $((wheels / 1048576)) MiB; work tree: $((tree / 1048576)) MiB;" \
    "together $(((wheels + tree) / 1048576)) MiB of the device tool's 64 MiB"
