#!/bin/bash
# The GPU machine's command (bench/README.md, "GPU benchmark"): run through the device tool as
# `bash bench/gpu_run.sh` with carry [".whl"] (from `make bench-gpu-wheels`), timeout_s 480.
# Installs the wheels beside the machine's torch, a smoke run (1 minute at most), then the full
# run (6 minutes at most); logs and results land in $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout 60 python3 -m bench.gpu --smoke 2>&1 | tee "$OUT/smoke.log"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "smoke run failed: no full run"; exit 4; }
timeout 360 python3 -m bench.gpu --out "$OUT" "$@" 2>&1 | tee "$OUT/run.log"
exit "${PIPESTATUS[0]}"
