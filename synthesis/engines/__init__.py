"""Engines, by name. Import only from worker processes: loading one pulls in onnxruntime/torch."""

from __future__ import annotations

import importlib

from synthesis.engines.base import Engine

ENGINES = {
    "piper": "synthesis.engines.piper:PiperEngine",
}


def load_engine(name: str, **options: object) -> Engine:
    try:
        target = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}") from None
    module_name, _, class_name = target.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class(**options)
    return engine
