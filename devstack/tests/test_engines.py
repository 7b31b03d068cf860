"""`make run` starts workers for every engine the deployment runs (TTS_ENGINES)."""

from __future__ import annotations

from devstack.supervisor import service_commands


def worker_engines(commands):
    return [argv[argv.index("--engine") + 1] for name, argv in commands if name.startswith("tts-")]


def test_one_engine_gets_tts_workers_workers(monkeypatch):
    monkeypatch.delenv("TTS_ENGINES", raising=False)
    monkeypatch.delenv("TTS_ENGINE", raising=False)
    monkeypatch.setenv("TTS_WORKERS", "3")
    assert worker_engines(service_commands("127.0.0.1", 8000)) == ["piper"] * 3


def test_a_mix_starts_workers_of_each_engine(monkeypatch):
    monkeypatch.setenv("TTS_ENGINES", "piper, xtts")
    monkeypatch.setenv("TTS_WORKERS", "2")
    monkeypatch.delenv("TTS_WORKERS_XTTS", raising=False)
    commands = service_commands("127.0.0.1", 8000)
    assert worker_engines(commands) == ["piper", "piper", "xtts"]
    names = [name for name, _argv in commands]
    assert {"tts-piper-1", "tts-piper-2", "tts-xtts-1", "daphne", "celery"} <= set(names)


def test_an_engines_own_count_wins(monkeypatch):
    monkeypatch.setenv("TTS_ENGINES", "xtts,piper")
    monkeypatch.setenv("TTS_WORKERS_XTTS", "2")
    monkeypatch.setenv("TTS_WORKERS_PIPER", "1")
    assert worker_engines(service_commands("127.0.0.1", 8000)) == ["xtts", "xtts", "piper"]


def test_the_older_single_name_still_works(monkeypatch):
    monkeypatch.delenv("TTS_ENGINES", raising=False)
    monkeypatch.setenv("TTS_ENGINE", "xtts")
    monkeypatch.setenv("TTS_WORKERS", "1")
    assert worker_engines(service_commands("127.0.0.1", 8000)) == ["xtts"]


def test_each_worker_serves_its_metrics_on_a_port_of_its_own(monkeypatch):
    monkeypatch.setenv("TTS_ENGINES", "piper,xtts")
    monkeypatch.setenv("TTS_WORKERS", "2")
    monkeypatch.delenv("TTS_WORKERS_XTTS", raising=False)
    workers = [
        argv for name, argv in service_commands("127.0.0.1", 8000) if name.startswith("tts-")
    ]
    ports = [int(argv[argv.index("--metrics-port") + 1]) for argv in workers]
    assert len(ports) == 3
    assert len(set(ports)) == 3
    assert all(port > 0 for port in ports)
