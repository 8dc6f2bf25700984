"""`workerctl worker` imports only what a worker uses (docs/adr/0017-lazy-workerctl-commands.md).

Each case runs a real worker node (in-memory backend, no Redis) in a fresh interpreter:
when its ready banner is written, the process prints the names in ``sys.modules`` and
signals itself to stop. Without telemetry flags, gRPC, OpenTelemetry, rich, PyYAML and
the adapters and commands built on them must be absent; with ``--traces console`` the
OpenTelemetry adapters load (the probe sees what it looks for).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, signal, sys

class Tap:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        if text.startswith("worker ready"):
            print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.__stdout__, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)

sys.stderr = Tap(sys.stderr)
from pyworker.entrypoints.cli import main
sys.exit(main(["worker", "--app", "tests.support.fault_app:registry", "--backend", "memory", *sys.argv[1:]]))
"""

NOT_FOR_A_WORKER = (
    "grpc",
    "grpc_health",
    "grpc_reflection",
    "opentelemetry",
    "rich",
    "yaml",
    "pydantic",
    "pyworker.adapters.grpc",
    "pyworker.adapters.otel",
    "pyworker.entrypoints.durable_cli",
    "pyworker.entrypoints.serve",
    "pyworker.entrypoints.demo",
)


def worker_modules(*flags: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *flags], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("MODULES ")]
    assert len(lines) == 1, (done.stdout, done.stderr)
    modules = set(json.loads(lines[0].removeprefix("MODULES ")))
    assert "pyworker.entrypoints.worker" in modules  # the probe ran inside a started worker
    return modules


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(name for name in modules if name == package or name.startswith(package + "."))


@pytest.mark.slow
def test_a_worker_without_telemetry_flags_imports_no_grpc_otel_or_operator_commands() -> None:
    modules = worker_modules()
    assert "redis.asyncio" in modules
    for package in NOT_FOR_A_WORKER:
        assert loaded(modules, package) == [], package


@pytest.mark.slow
def test_telemetry_flags_load_the_otel_adapters_and_nothing_of_grpc() -> None:
    modules = worker_modules("--traces", "console")
    assert loaded(modules, "pyworker.adapters.otel")
    assert loaded(modules, "opentelemetry.sdk.trace")
    for package in ("grpc", "pyworker.adapters.grpc", "pyworker.entrypoints.serve", "rich"):
        assert loaded(modules, package) == [], package


CLI = """
import json, sys
from pyworker.entrypoints.cli import main
code = main(sys.argv[1:])
print("MODULES " + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


def run_cli(*argv: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", CLI, *argv], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    out, _, modules = done.stdout.partition("MODULES ")
    return out, set(json.loads(modules))


@pytest.mark.slow
def test_help_still_lists_every_command_with_its_short_help() -> None:
    listing = run_cli("--help")[0].split("Commands:", 1)[1]
    for name, words in {
        "completion": "Print the shell completion script",
        "demo": "Run a few hundred in-memory tasks",
        "durable": "Inspect and operate durable queues",
        "serve": "Serve the gRPC WorkerService",
        "version": "Print the version",
        "worker": "Run a durable worker node",
    }.items():
        assert any(line.split()[:1] == [name] and words in line for line in listing.splitlines()), (name, listing)


@pytest.mark.slow
def test_a_command_loads_only_its_own_module() -> None:
    out, modules = run_cli("version")
    assert out.startswith("workerctl ")
    assert "pyworker.entrypoints.durable_cli.shell" in modules
    for package in ("pyworker.entrypoints.worker", "pyworker.entrypoints.serve", "pyworker.entrypoints.demo", "grpc"):
        assert loaded(modules, package) == [], package
