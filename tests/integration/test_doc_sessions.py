"""Shell sessions in the docs run as shown: each ```console block whose lead-in says "(runs as shown)".

The conventions (documented in docs/testing.md, "Shell sessions in the docs"):

- Each line starting with ``$ `` is a command, run by bash from the repository root with
  ``.venv/bin`` first on PATH (so ``workerctl`` and ``python`` are the project's); the lines
  after it, up to the next command, are its expected output (stdout and stderr together),
  ``...`` matching any text as in tests/integration/test_docs.py. No lines: not compared.
- ``$ cd DIR`` changes the directory of the commands that follow (relative to the root).
- A command ending with `` &`` runs in the background (a worker node): the session waits,
  within a bound, until its output matches its expected lines (its banner), then goes on.
  Background commands get SIGTERM when the block ends, and are waited for.
- Every ``--redis-prefix NAME`` in the block is replaced by a prefix unique to the run (and
  ``prefix=NAME`` in the expected output with it), whose keys are deleted afterwards; a block
  that needs Redis is skipped when no server answers.
- ``$(...)`` and pipes work: each command is one bash -c.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.integration.test_docs import ROOT, Block, matches, parse_blocks

pytestmark = pytest.mark.slow

SESSION_DOCUMENTS = [ROOT / "docs" / "cluster.md"]
MARKER = "(runs as shown)"
BOUND = 30.0  # seconds one command (or one banner) may take
PREFIX_FLAG = re.compile(r"(--redis-prefix[ =])([\w.-]+)")


@attrs.frozen
class Command:
    line: str
    expected: str
    background: bool


def commands_of(block: Block) -> list[Command]:
    commands: list[Command] = []
    current: str | None = None
    expected: list[str] = []

    def flush() -> None:
        if current is not None:
            background = current.endswith(" &")
            line = current[:-2].rstrip() if background else current
            commands.append(Command(line, "\n".join(expected), background))

    for text in block.code.splitlines():
        if text.startswith("$ "):
            flush()
            current, expected = text[2:].strip(), []
        elif current is not None:
            expected.append(text)
    flush()
    return commands


def session_blocks() -> Iterator[object]:
    for path in SESSION_DOCUMENTS:
        for block in parse_blocks(path):
            if block.lang == "console" and MARKER in block.lead_in:
                yield pytest.param(block, id=block.where)


class Background:
    """A background command: its output collected by a thread, so the session can wait on it."""

    def __init__(self, line: str, cwd: Path, env: dict[str, str]) -> None:
        self.line = line
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {line}"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        self.output = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            with self._lock:
                self.output += text

    def wait_for(self, expected: str) -> None:
        """Until what it printed so far begins with ``expected`` (ellipses allowed)."""
        deadline = time.monotonic() + BOUND
        while expected.strip() and time.monotonic() < deadline:
            with self._lock:
                seen = self.output
            if matches(expected + "...", seen):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if expected.strip():
            raise AssertionError(
                f"`{self.line}` did not print\n{expected}\nwithin {BOUND} s; it printed:\n{self.output}"
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(BOUND)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(BOUND)
        self._reader.join(BOUND)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.mark.redis
@pytest.mark.parametrize("block", list(session_blocks()))
def test_session_runs_as_shown(block: Block, request: pytest.FixtureRequest) -> None:
    prefix: str = request.getfixturevalue("redis_prefix")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYWORKER_REDIS_PREFIX", None)
    cwd = ROOT
    background: list[Background] = []
    commands = commands_of(block)
    # The prefixes the session names are the run's own prefix, in what it prints too (prefix=NAME).
    names = {m[2] for command in commands for m in PREFIX_FLAG.finditer(command.line)}
    try:
        for command in commands:
            line = PREFIX_FLAG.sub(lambda m: f"{m[1]}{prefix}", command.line)
            expected = command.expected
            for name in names:
                expected = expected.replace(f"prefix={name} ", f"prefix={prefix} ")
            command = attrs.evolve(command, expected=expected)
            if line.startswith("cd "):
                cwd = (cwd / line[3:].strip()).resolve()
                continue
            if command.background:
                job = Background(line, cwd, env)
                background.append(job)
                job.wait_for(command.expected)
                continue
            run = subprocess.run(
                ["bash", "-c", line], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=BOUND,
            )  # fmt: skip
            assert run.returncode == 0, f"{block.where}: `{line}` exited {run.returncode}:\n{run.stdout}"
            if command.expected.strip():
                assert matches(command.expected, run.stdout), (
                    f"{block.where}: `{line}` printed\n{run.stdout}\n--- expected\n{command.expected}"
                )
    finally:
        for job in background:
            job.stop()


def test_sessions_are_found_and_parsed(tmp_path: Path) -> None:
    """The harness itself: a broken parser would let every session pass unchecked."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Prose.\n\nOn one machine (runs as shown):\n\n```console\n$ cd docs\n$ worker --x &\nready: ...\n"
        "$ echo hi\nhi\n$ true\n```\n",
        encoding="utf-8",
    )
    (block,) = parse_blocks(doc)
    assert MARKER in block.lead_in
    assert commands_of(block) == [
        Command("cd docs", "", False),
        Command("worker --x", "ready: ...", True),
        Command("echo hi", "hi", False),
        Command("true", "", False),
    ]
    assert list(session_blocks()), "docs/cluster.md has no session marked (runs as shown)"
