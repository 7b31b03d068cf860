"""Loading an engine by name: imports its module (onnxruntime, torch...), so workers only."""

from __future__ import annotations

import importlib

from synthesis.engines.base import Engine
from synthesis.engines.catalog import engine_spec


def load_engine(name: str, **options: object) -> Engine:
    """The engine of catalog row `name`, built with `options`; checked against its row, so a
    web process never plans for a rate or voices the engine does not have."""
    spec = engine_spec(name)
    module_name, _, class_name = spec.engine_class.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class(**options)
    engine.check_against(spec)
    return engine
