"""`make bench-gpu` / `python -m bench.gpu`: XTTS v2 streaming measured on a GPU, with the
full-size architecture and random weights, ours against coqui-tts's own `inference_stream`.

It runs on a lent GPU machine that has its own Python and torch and no Django: this package,
and everything it imports, imports no Django (tests/test_import_rules.py), only torch, numpy,
coqui-tts and the project's engine modules. See bench/README.md, "GPU benchmark".

rig.py       the random full-size (or tiny) model in memory, with a voice and the engine over it
streams.py   the streaming paths: ours (one runner per concurrency level; the batched seam), coqui
playback.py  chunk timestamps against a playing listener: first chunk, lateness, real time
report.py    targets as PASS/MISS, JSON and markdown named with the machine
cli.py       the modes (full, --tiny, --smoke) and the timed run
"""
