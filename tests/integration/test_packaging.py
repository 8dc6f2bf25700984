"""The wheel: one top-level package (pyworker), its data files, and a clean install beside a user's own layers.

The wheel is built from a copy of the working tree and installed with ``--no-deps`` into
a fresh venv. Its third-party dependencies come from this project's .venv through a
``.pth`` file that points at a directory of links to that site-packages, minus everything
of pyworker's own (the editable install's finder and ``.pth``, the dist-info): the fresh
venv can import pyworker only from the wheel, and the repository root is on no path.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Real-time bound on each subprocess.
BOUND = 120.0
LAYERS = ("domain", "application", "adapters", "entrypoints", "protos")
#: Not copied to the build tree: the venv, VCS data, caches and earlier build output.
IGNORED = shutil.ignore_patterns(
    ".venv",
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
)


def _run(
    command: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=BOUND
    )


def _check(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, f"{run.args} exited {run.returncode}\n{run.stdout}\n{run.stderr}"
    return run.stdout


def project_version() -> str:
    """The version pyproject declares: ``project.version``, or the literal its dynamic ``attr`` names."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    if "version" in pyproject["project"]:
        return str(pyproject["project"]["version"])
    assert "version" in pyproject["project"]["dynamic"]
    module, _, attribute = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"].rpartition(".")
    source = ROOT.joinpath(*module.split(".")) / "__init__.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attribute for t in node.targets):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"{attribute} not assigned in {source}")


def readme_quick_start() -> tuple[str, str]:
    """The code and the printed output of the README's asyncio quick start."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start (asyncio)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    code = next(body for lang, body in blocks if lang == "python")
    output = next(body for lang, body in blocks if lang == "text")
    return code, output


@attrs.frozen
class Install:
    """A fresh venv with only the wheel (plus third-party dependencies) installed."""

    wheel: Path
    python: Path
    bin: Path
    site_packages: Path
    empty_dir: Path  # a working directory with nothing importable in it

    def env(self) -> dict[str, str]:
        """A clean environment: no PYTHONPATH, no user site, the venv's bin first on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def python_c(self, code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return _run([self.python, "-c", code], cwd or self.empty_dir, self.env())


def _is_pyworker_own(name: str) -> bool:
    """Entries of the project's site-packages that belong to the editable pyworker install (or are not imports)."""
    lowered = name.lower()
    return lowered.startswith(("pyworker", "__editable__", "__pycache__")) or lowered.endswith(".pth")


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=IGNORED)
    wheels = base / "wheels"
    _check(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", source, "-w", wheels], base))
    (wheel,) = wheels.glob("pyworker-*.whl")

    venv = base / "venv"
    _check(_run([sys.executable, "-m", "venv", "--without-pip", venv], base))
    python = venv / "bin" / "python"
    site_packages = Path(
        _check(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], base)).strip()
    )
    _check(
        _run(
            [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
            base,
        )
    )
    # Third-party dependencies: links to the project's site-packages entries, without pyworker's own.
    deps = base / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if not _is_pyworker_own(entry.name):
            (deps / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (site_packages / "zz-project-dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    empty_dir = base / "empty"
    empty_dir.mkdir()
    return Install(wheel, python, venv / "bin", site_packages, empty_dir)


def test_the_wheel_has_one_top_level_package_and_its_data_files(install: Install) -> None:
    with zipfile.ZipFile(install.wheel) as wheel:
        names = wheel.namelist()
        (top_level_file,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        top_level = wheel.read(top_level_file).decode().split()

    roots = {name.split("/", 1)[0] for name in names}
    assert roots == {"pyworker", f"pyworker-{project_version()}.dist-info"}
    assert top_level == ["pyworker"]
    for layer in LAYERS:
        assert f"pyworker/{layer}/__init__.py" in names
        assert f"{layer}/__init__.py" not in names
    for suffix in (".lua", ".proto", ".pyi"):
        assert any(name.endswith(suffix) for name in names), f"no {suffix} file in the wheel"
    assert "pyworker/adapters/redis/lua/dequeue.lua" in names
    assert "pyworker/protos/worker/v1/worker.proto" in names
    assert "pyworker/protos/worker/v1/worker_pb2.pyi" in names
    assert "pyworker/py.typed" in names
    # The admin page's templates and static files (no third-party front-end asset among them).
    for pattern in ("adapters/web/templates/*.html", "adapters/web/static/*"):
        for path in ROOT.glob(pattern):
            assert f"pyworker/{path.relative_to(ROOT)}" in names
    assert "pyworker/adapters/web/templates/overview.html" in names
    # Every Lua script and proto of the source tree ships.
    for pattern in ("adapters/redis/lua/*.lua", "protos/worker/v1/*.proto"):
        for path in ROOT.glob(pattern):
            assert f"pyworker/{path.relative_to(ROOT)}" in names


def test_the_venv_sees_only_the_wheel(install: Install) -> None:
    probe = textwrap.dedent(
        """
        import importlib.metadata, json, os, sys
        import pyworker
        print(json.dumps({
            "file": pyworker.__file__,
            "dist": str(importlib.metadata.distribution("pyworker").locate_file("")),
            "path": sys.path,
            "editable": [n for p in sys.path if os.path.isdir(p) for n in os.listdir(p) if "__editable__" in n],
        }))
        """
    )
    seen = json.loads(_check(install.python_c(probe)))
    assert Path(seen["file"]).is_relative_to(install.site_packages), seen["file"]
    assert Path(seen["dist"]) == install.site_packages
    assert seen["editable"] == []  # the editable install's finder is on no path
    for entry in seen["path"]:
        resolved = (install.empty_dir / entry).resolve()  # "" (the working directory) is the empty directory
        assert not resolved.is_relative_to(ROOT) or resolved.is_relative_to(ROOT / ".venv"), entry


def test_import_domain_fails_where_only_the_wheel_is_installed(install: Install) -> None:
    for layer in LAYERS:
        run = install.python_c(f"import {layer}")
        assert run.returncode != 0, f"`import {layer}` worked: the wheel ships a top-level {layer!r}"
        assert "ModuleNotFoundError" in run.stderr
    _check(install.python_c("import pyworker.domain, pyworker.application, pyworker.entrypoints.cli"))


def test_quick_start_runs_beside_a_user_project_with_its_own_layers(install: Install, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / "domain").mkdir(parents=True)
    (project / "application").mkdir()
    (project / "domain" / "__init__.py").write_text(
        textwrap.dedent(
            """
            import dataclasses


            @dataclasses.dataclass(frozen=True)
            class Order:
                number: str
                amount: int
            """
        ),
        encoding="utf-8",
    )
    (project / "application" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from domain import Order


            def place_order(number: str, amount: int) -> Order:
                return Order(number, amount)
            """
        ),
        encoding="utf-8",
    )
    code, output = readme_quick_start()
    (project / "quick_start.py").write_text(code, encoding="utf-8")
    ran = _check(_run([install.python, "quick_start.py"], project, install.env()))
    assert ran == output

    # Both in one process: the user's layers and pyworker's, each where it belongs.
    both = textwrap.dedent(
        """
        import asyncio

        from application import place_order
        from domain import Order
        from pyworker.application import TaskManager
        from pyworker.domain import Task


        async def main():
            async with TaskManager(max_workers=1, tasks_per_second=0) as tm:
                task = Task(execute=lambda ctx: place_order("A-1", 10))
                await tm.register_task(task)
            assert isinstance(task.result, Order), task.result
            print(task.result, Order.__module__, TaskManager.__module__)


        asyncio.run(main())
        """
    )
    (project / "both.py").write_text(both, encoding="utf-8")
    printed = _check(_run([install.python, "both.py"], project, install.env()))
    assert printed == "Order(number='A-1', amount=10) domain pyworker.application.task_manager\n"


def test_version_agrees_with_pyproject(install: Install) -> None:
    version = project_version()
    probe = "import importlib.metadata, pyworker; print(pyworker.__version__, importlib.metadata.version('pyworker'))"
    assert _check(install.python_c(probe)).split() == [version, version]
    assert install.wheel.name.startswith(f"pyworker-{version}-")


def test_workerctl_version_agrees_with_pyproject(install: Install) -> None:
    run = _run([install.bin / "workerctl", "--version"], install.empty_dir, install.env())
    assert run.returncode == 0, run.stderr
    assert project_version() in run.stdout.split()
