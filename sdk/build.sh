#!/bin/sh
# Builds both SDKs from the committed schema snapshot, sdk/openapi.json (`make schema` refreshes
# it from the service): the Python client into sdk/python/ (openapi-python-client) and the
# TypeScript one into sdk/typescript/ (openapi-typescript's types, openapi-fetch's requests,
# compiled by tsc into dist/). `make sdk` runs it; so does tests/test_sdks.py, once a session.
# PY: the Python with openapi-python-client (default: the project's venv).
set -eu
PY=${PY:-"$(dirname "$0")/../.venv/bin/python"}
# The generator formats its output with ruff (its post hooks): the venv's own, found on PATH.
BIN="$(cd "$(dirname "$PY")" && pwd)"
PY="$BIN/$(basename "$PY")"
PATH="$BIN:$PATH"
export PATH
cd "$(dirname "$0")"
# --fail-on-warning: an endpoint or response the generator cannot type fails the build rather
# than being left out of the client.
"$PY" -m openapi_python_client generate --path openapi.json \
	--config openapi-python-client.yaml --meta setup --output-path python \
	--overwrite --fail-on-warning
cd typescript
npm ci --no-audit --no-fund --loglevel=error
npm run --silent generate
npm run --silent build
