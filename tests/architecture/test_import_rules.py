"""Layer import rules, checked by an AST walk over every module (docs/architecture.md, "The layers").

domain/       stdlib and attrs only; no asyncio or network I/O; never reads the clock.
application/  stdlib, attrs, typing_extensions, cronsim (application/schedules/spec.py), domain, application.
adapters/     anything but entrypoints; grpc/protos only in adapters/grpc*;
              google.protobuf only in adapters/grpc* and adapters/codec.
entrypoints/  the composition root: the only importer of dependency_injector.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "adapters", "entrypoints")
ROOT_PACKAGE = "pyworker"
#: Top-level names that exist only inside the repository, never in an installed pyworker.
BARE_LAYERS = frozenset({*LAYERS, "protos"})
GENERATED = ("protos/worker/v1/*_pb2*.py",)

STDLIB = frozenset(sys.stdlib_module_names)
# Standard-library modules the domain still may not use: it does no I/O and no asyncio.
DOMAIN_FORBIDDEN_STDLIB = frozenset(
    {"asyncio", "socket", "selectors", "ssl", "subprocess", "multiprocessing", "http", "urllib"}
)
DOMAIN_ALLOWED = frozenset({"__future__", "attrs", "attr", "domain"})
#: cronsim: the cron evaluator of application/schedules/spec.py (pure computation, no I/O).
APPLICATION_ALLOWED = frozenset(
    {"__future__", "attrs", "attr", "typing_extensions", "cronsim", "domain", "application"}
)
APPLICATION_FORBIDDEN = (
    "adapters",
    "entrypoints",
    "redis",
    "grpc",
    "google.protobuf",
    "opentelemetry",
    "dependency_injector",
    "protos",
)
#: Reading these is reading the clock; the domain gets ``now`` as an argument.
CLOCK_READS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        # Unresolved spellings (a name the module did not import).
        "datetime.now",
        "datetime.utcnow",
        "date.today",
    }
)


def module_name(path: str) -> str:
    """``domain/task.py`` -> ``pyworker.domain.task``; ``adapters/grpc/__init__.py`` -> ``pyworker.adapters.grpc``.

    The layer folders sit at the top of the repository and install as ``pyworker.<layer>``
    (docs/adr/0009-one-pyworker-namespace.md).
    """
    parts = [ROOT_PACKAGE, *PurePosixPath(path).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_relative(name: str) -> str:
    """``pyworker.domain.task`` -> ``domain.task``: the rules below speak of layers."""
    return name[len(ROOT_PACKAGE) + 1 :] if name.startswith(ROOT_PACKAGE + ".") else name


def _package(path: str) -> str:
    name = module_name(path)
    if PurePosixPath(path).name == "__init__.py":
        return name
    return name.rpartition(".")[0]


def _is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_grpc(name: str) -> bool:
    # grpc, grpc_health, grpc_reflection, grpc_status ... are all gRPC.
    return name.split(".")[0].startswith("grpc")


def collect_imports(path: str, tree: ast.AST) -> tuple[list[tuple[int, str]], list[str]]:
    """Absolute names every import in ``tree`` brings in (relative ones resolved).

    ``from pkg import name`` yields both ``pkg`` and ``pkg.name`` (name may be a
    submodule, as in ``from google import protobuf``). Calls to
    ``importlib.import_module("x")`` and ``__import__("x")`` with a literal count too.
    """
    found: list[tuple[int, str]] = []
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package(path).split(".") if _package(path) else []
                if node.level - 1 > len(package) - 1:
                    problems.append(f"{path}:{node.lineno}: relative import beyond the top-level package")
                    continue
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            target = _dotted(node.func)
            if target in {"importlib.import_module", "import_module", "__import__"} and isinstance(
                node.args[0].value, str
            ):
                found.append((node.lineno, node.args[0].value))
    return found, problems


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the fully qualified name it was imported as."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def clock_reads(path: str, tree: ast.AST) -> list[str]:
    """Every reference to a clock-reading function (calls included)."""
    aliases = _aliases(tree)
    problems: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute | ast.Name):
            continue
        dotted = _dotted(node)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
        if resolved in CLOCK_READS:
            problems.append(f"{path}:{node.lineno}: domain reads the clock ({dotted}); take `now` as an argument")
    return sorted(set(problems))


def check_module(path: str, source: str) -> list[str]:
    """The import-rule violations of one module.

    Args:
        path: the module's path relative to the repository root, ``/``-separated.
        source: its text.

    Returns:
        One line per violation, empty when the module follows the rules.
    """
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [f"{path}: cannot parse: {exc}"]
    layer = PurePosixPath(path).parts[0]
    imports, problems = collect_imports(path, tree)
    in_grpc_adapter = fnmatch.fnmatch(path, "adapters/grpc*")
    in_codec_adapter = path == "adapters/codec.py" or path.startswith("adapters/codec/")

    for line, full_name in imports:
        where = f"{path}:{line}: {layer} imports {full_name}"
        if full_name.split(".")[0] in BARE_LAYERS:
            problems.append(f"{where} (import it as {ROOT_PACKAGE}.{full_name}: the layers install under pyworker)")
            continue
        if full_name == ROOT_PACKAGE and layer in {"domain", "application"}:
            problems.append(f"{where} (the root package's surface imports the application; import the layer)")
            continue
        name = _layer_relative(full_name)
        top = name.split(".")[0]
        if layer == "domain":
            if top in DOMAIN_FORBIDDEN_STDLIB:
                problems.append(f"{where} (the domain does no I/O and no asyncio)")
            elif top not in DOMAIN_ALLOWED and top not in STDLIB:
                problems.append(f"{where} (only the standard library and attrs)")
        if layer == "application":
            if any(_is_under(name, banned) for banned in APPLICATION_FORBIDDEN) or _is_grpc(name):
                problems.append(f"{where} (application depends on ports, not technologies)")
            elif top not in APPLICATION_ALLOWED and top not in STDLIB:
                problems.append(f"{where} (only stdlib, attrs, typing_extensions, domain)")
        if layer == "adapters" and top == "entrypoints":
            problems.append(f"{where} (adapters never depend on the composition root)")
        if top == "dependency_injector" and layer != "entrypoints":
            problems.append(f"{where} (only entrypoints/ uses dependency_injector)")
        if (_is_grpc(name) or top == "protos") and not (layer == "entrypoints" or in_grpc_adapter):
            problems.append(f"{where} (only adapters/grpc* and entrypoints/ use grpc and protos)")
        if _is_under(name, "google.protobuf") and not (layer == "entrypoints" or in_grpc_adapter or in_codec_adapter):
            problems.append(f"{where} (protobuf stops at adapters/grpc* and adapters/codec)")

    if layer == "domain":
        problems.extend(clock_reads(path, tree))
    return sorted(set(problems))


def project_modules() -> list[str]:
    paths = []
    for layer in LAYERS:
        for file in sorted((ROOT / layer).rglob("*.py")):
            relative = file.relative_to(ROOT).as_posix()
            if any(fnmatch.fnmatch(relative, pattern) for pattern in GENERATED):
                continue
            paths.append(relative)
    return paths


# --- the real tree -----------------------------------------------------------------


def test_the_walk_sees_every_layer() -> None:
    modules = project_modules()
    for expected in ("domain/task.py", "domain/status.py", "application/ports.py", "entrypoints/__init__.py"):
        assert expected in modules
    for layer in LAYERS:
        assert any(m.startswith(layer + "/") for m in modules), layer


@pytest.mark.parametrize("path", project_modules())
def test_module_follows_the_import_rules(path: str) -> None:
    assert check_module(path, (ROOT / path).read_text(encoding="utf-8")) == []


def test_generated_stubs_are_skipped() -> None:
    assert any(fnmatch.fnmatch("protos/worker/v1/worker_pb2_grpc.py", p) for p in GENERATED)
    assert all(not fnmatch.fnmatch(m, "*_pb2*.py") for m in project_modules())


# --- the checker proven on synthetic sources ----------------------------------------


def _violations(path: str, source: str) -> list[str]:
    return check_module(path, source)


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("domain/task.py", "import redis\n"),
        ("domain/task.py", "from redis.asyncio import Redis\n"),
        ("domain/task.py", "import asyncio\n"),
        ("domain/task.py", "from asyncio import Event\n"),
        ("domain/task.py", "import socket\n"),
        ("domain/task.py", "import grpc\n"),
        ("domain/task.py", "from google.protobuf import message\n"),
        ("domain/task.py", "from pyworker.application import TaskManager\n"),
        ("domain/task.py", "from ..adapters import clock\n"),
        ("domain/task.py", "import typing_extensions\n"),
        ("domain/task.py", "def f():\n    import opentelemetry.trace\n"),
        ("domain/task.py", "import importlib\nimportlib.import_module('redis')\n"),
        ("domain/sub/x.py", "from ... import adapters\n"),
    ],
)
def test_domain_violations_are_caught(path: str, source: str) -> None:
    assert _violations(path, source)


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations\nimport attrs\nimport attr\n",
        "import threading\nimport time\nimport datetime as dt\nimport uuid\nimport enum\n",
        "from pyworker.domain.errors import WorkerError\nfrom . import status\nfrom .task import Task\n",
        "import time\n\ndef age(now: float, then: float) -> float:\n    return now - then\n",
        "import datetime as dt\nx = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()\n",
    ],
)
def test_domain_allowed_sources_pass(source: str) -> None:
    assert _violations("domain/task.py", source) == []


@pytest.mark.parametrize(
    "source",
    [
        "import time\nnow = time.time()\n",
        "import time\nnow = time.monotonic()\n",
        "import time as t\nnow = t.monotonic_ns()\n",
        "from time import time\nnow = time()\n",
        "from time import monotonic as clock\nnow = clock()\n",
        "import datetime\nnow = datetime.datetime.now()\n",
        "import datetime as dt\nnow = dt.datetime.now(tz=dt.UTC)\n",
        "from datetime import datetime\nnow = datetime.utcnow()\n",
        "from datetime import date\ntoday = date.today()\n",
        "import attrs\nimport time\n@attrs.define\nclass A:\n    at: float = attrs.field(factory=time.time)\n",
        "def f(datetime):\n    return datetime.now()\n",
    ],
)
def test_domain_clock_reads_are_caught(source: str) -> None:
    problems = _violations("domain/task.py", source)
    assert problems
    assert all("reads the clock" in p for p in problems)


def test_clock_reads_are_allowed_outside_the_domain() -> None:
    assert _violations("adapters/clock.py", "import time\nnow = time.time()\n") == []


@pytest.mark.parametrize(
    "source",
    [
        "from pyworker.adapters.clock import SystemClock\n",
        "import adapters\n",
        "from pyworker.entrypoints.container import Container\n",
        "import redis\n",
        "import redis.asyncio as aioredis\n",
        "import grpc\n",
        "from grpc import aio\n",
        "import grpc_health.v1.health\n",
        "from google.protobuf import json_format\n",
        "from google import protobuf\n",
        "import google.protobuf.message\n",
        "from opentelemetry import trace\n",
        "from dependency_injector import containers\n",
        "from pyworker.protos.worker.v1 import worker_pb2\n",
        "import yaml\n",
        "import click\n",
        "from ..adapters.clock import SystemClock\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import redis\n",
    ],
)
def test_application_violations_are_caught(source: str) -> None:
    assert _violations("application/manager.py", source)


def test_application_allowed_sources_pass() -> None:
    source = (
        "from __future__ import annotations\nimport asyncio\nimport attrs\n"
        "from typing_extensions import Self\nfrom pyworker.domain import Task\n"
        "from pyworker.application.ports import Clock\nfrom .ports import Tracer\n"
    )
    assert _violations("application/manager.py", source) == []


@pytest.mark.parametrize(
    "path",
    ["domain/task.py", "application/manager.py", "adapters/redis/backend.py", "adapters/grpc/server.py"],
)
def test_only_entrypoints_import_dependency_injector(path: str) -> None:
    source = "from dependency_injector import providers\n"
    assert _violations(path, source)
    assert _violations("entrypoints/container.py", source) == []


@pytest.mark.parametrize(
    "source", ["import grpc\n", "from grpc import aio\n", "from pyworker.protos.worker.v1 import worker_pb2\n"]
)
def test_grpc_and_protos_only_in_grpc_adapter_and_entrypoints(source: str) -> None:
    assert _violations("adapters/redis/backend.py", source)
    assert _violations("adapters/codec.py", source)
    assert _violations("adapters/memory.py", source)
    assert _violations("adapters/grpc/server.py", source) == []
    assert _violations("adapters/grpc_mapping.py", source) == []
    assert _violations("entrypoints/server.py", source) == []


def test_protobuf_is_allowed_in_the_codec_adapter() -> None:
    source = "from google.protobuf import json_format\nfrom google.protobuf.message import Message\n"
    assert _violations("adapters/codec.py", source) == []
    assert _violations("adapters/grpc/mapping.py", source) == []
    assert _violations("entrypoints/cli.py", source) == []
    assert _violations("adapters/redis/backend.py", source)


def test_adapters_never_import_entrypoints() -> None:
    assert _violations("adapters/redis/backend.py", "from pyworker.entrypoints.container import Container\n")
    assert (
        _violations(
            "adapters/redis/backend.py", "import redis\nimport opentelemetry\nfrom pyworker.domain import Task\n"
        )
        == []
    )


def test_relative_imports_are_resolved() -> None:
    imports, problems = collect_imports(
        "application/sub/mod.py",
        ast.parse("from . import a\nfrom .. import b\nfrom ..c import d\nfrom .e import *\n"),
    )
    assert problems == []
    names = {name for _, name in imports}
    assert {
        "pyworker.application.sub.a",
        "pyworker.application.b",
        "pyworker.application.c.d",
        "pyworker.application.sub.e",
    } <= names
    imports, _ = collect_imports("domain/__init__.py", ast.parse("from .task import Task\n"))
    assert {name for _, name in imports} == {"pyworker.domain.task", "pyworker.domain.task.Task"}


def test_relative_import_beyond_top_level_is_reported() -> None:
    assert _violations("domain/task.py", "from ... import x\n")


def test_unparsable_module_is_reported() -> None:
    assert _violations("domain/task.py", "def (:\n")


def test_module_name() -> None:
    assert module_name("domain/task.py") == "pyworker.domain.task"
    assert module_name("adapters/grpc/__init__.py") == "pyworker.adapters.grpc"


@pytest.mark.parametrize(
    "source",
    ["from domain import Task\n", "import application\n", "from adapters.clock import SystemClock\n"],
)
def test_bare_layer_imports_are_caught(source: str) -> None:
    """Only ``pyworker.<layer>`` exists once installed; a bare ``domain`` would be the user's own."""
    for path in ("domain/task.py", "application/manager.py", "adapters/redis/x.py", "entrypoints/cli.py"):
        assert any("install under pyworker" in p for p in _violations(path, source)), path
