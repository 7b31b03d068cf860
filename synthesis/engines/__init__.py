"""TTS engines. `catalog` (the facts of every engine) is pure and read by web processes too;
`loader` and the engine modules import onnxruntime/torch and are for worker processes only."""
