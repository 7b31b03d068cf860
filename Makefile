# `make run` / `make test` work on a fresh clone: the venv is made on first use and reinstalled
# only when the content of a requirements file changes (the stamp's name carries a checksum).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# clients/python/pyproject.toml: the client's dependencies, installed through base.txt.
REQUIREMENTS := requirements/base.txt requirements/xtts.txt requirements/constraints.txt \
	requirements/dev.txt \
	clients/python/pyproject.toml
REQ_SUM := $(shell cat $(REQUIREMENTS) | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(REQ_SUM)
PYTEST_ARGS ?=

.PHONY: venv run test lint

venv: $(STAMP)

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements/dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(PY) -m devstack run

test: venv
	$(PY) -m devstack test -- $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# Latency, throughput, a peer comparison and worker memory on a scratch database and Redis
# prefix of its own (see bench/README.md); BENCH_ARGS=--quick for a smoke run.
BENCH_ARGS ?=
.PHONY: bench
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

# The fault suite (README, "Fault suite"): the real stack on a PostgreSQL and Redis of its own
# (free loopback ports), each fault in turn, the billing invariants after each; exits 1 on any
# failure. CHAOS_ARGS="--only worker_killed --keep-logs", say.
CHAOS_ARGS ?=
.PHONY: chaos
chaos: venv
	$(PY) -m chaos $(CHAOS_ARGS)

# XTTS v2 streaming on a GPU, the full-size architecture with random weights, ours against
# coqui-tts's inference_stream; no Django, no database (bench/README.md, "GPU benchmark").
# BENCH_GPU_ARGS=--tiny: the tiny model on the CPU, in under a minute.
BENCH_GPU_ARGS ?=
.PHONY: bench-gpu bench-gpu-wheels
bench-gpu: venv
	$(PY) -m bench.gpu $(BENCH_GPU_ARGS)

# The wheels a lent GPU machine (Python 3.12, its own torch, no network) needs for bench-gpu,
# into .whl/ (git-ignored); bench/gpu_run.sh installs them there.
bench-gpu-wheels: venv
	PYTHON=$(PY) sh bench/gpu_wheels.sh

# The shared SSML and text-normalization suites (../shared/conformance, or CONFORMANCE_DIR),
# reported per file and per category; CONFORMANCE_ARGS=--no-audio skips the audio run.
CONFORMANCE_ARGS ?=
.PHONY: conformance
conformance: venv
	$(PY) -m conformance $(CONFORMANCE_ARGS)

# The client SDKs (README, "SDKs"): `make schema` writes the service's OpenAPI schema to
# sdk/openapi.json (committed; tests/test_sdks.py fails when it and the served /v1/schema/
# differ); `make sdk` generates the Python and TypeScript clients from it (Node 20 and npm).
.PHONY: schema sdk
schema: venv
	$(PY) manage.py spectacular --skip-checks --validate --fail-on-warn --format openapi-json \
		--file sdk/openapi.json

sdk: venv
	PY=$(PY) sh sdk/build.sh
