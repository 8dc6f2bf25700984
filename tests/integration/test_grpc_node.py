"""A client that is not ours: Node.js @grpc/grpc-js, loading the project's .proto files, against `workerctl serve`.

The npm packages are installed once into ``.cache/node-grpc`` (gitignored) and reused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.serve_process import ROOT, workerctl_serve

pytestmark = pytest.mark.slow
NODE_DIR = ROOT / "tests" / "node"
CACHE = ROOT / ".cache" / "node-grpc"


@pytest.fixture(scope="module")
def node_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the @grpc/grpc-js client test (not on PATH)")
    CACHE.mkdir(parents=True, exist_ok=True)
    package = (NODE_DIR / "package.json").read_text()
    stamp = CACHE / "package.json"
    if not (CACHE / "node_modules" / "@grpc" / "grpc-js").is_dir() or stamp.read_text() != package:
        stamp.write_text(package)
        try:
            subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CACHE,
                           check=True, capture_output=True, text=True, timeout=180)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stamp.unlink(missing_ok=True)
            pytest.skip(f"npm install of @grpc/grpc-js failed (registry unreachable?): {exc}")
    shutil.copy(NODE_DIR / "client.js", CACHE / "client.js")
    return CACHE / "client.js"


def test_node_client_registers_streams_gets_and_cancels(node_client: Path) -> None:
    with workerctl_serve() as served:
        completed = subprocess.run(
            ["node", str(node_client), str(ROOT / "protos"), served.target],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    (task_id,) = seen["registered"]
    assert seen["stream"] == [{"id": task_id, "output": "sent to node@example.com", "error": ""}]
    assert seen["get"] == {"id": task_id, "name": "send_email", "status": "Completed",
                           "output": "sent to node@example.com"}
    assert seen["cancel"] == "ok"
    assert seen["bad"] == {"code": 3, "details": "parse id: invalid UUID 'not-a-uuid'"}
