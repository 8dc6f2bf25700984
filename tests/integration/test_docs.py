"""Every ```python block in README.md and docs/*.md runs as written, and prints the Output block that follows it.

The conventions (documented in docs/testing.md, "Code blocks in the docs"):

- A block whose first line is ``# fragment`` (optionally ``# fragment: why``) is not
  runnable alone and is skipped.
- A block with a top-level ``def test_...`` is a pytest module: it runs under pytest.
- Any other block is a program: it runs as ``python snippet.py`` in an empty directory.
- A ```text block right after a program (only blank lines and one lead-in line such as
  ``Output:`` in between) is its output: stdout and stderr together must match it, with
  ``...`` matching any text (as doctest's ELLIPSIS). A lead-in that says ``not checked``
  (``Output (timings vary, not checked):``) runs the block but does not compare.
- A block that names ``127.0.0.1:6379`` needs Redis: it is skipped when no server answers,
  and each ``prefix="..."`` / ``redis_prefix="..."`` literal in it is replaced by a prefix
  unique to the run, whose keys are deleted afterwards.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Documents whose blocks are not checked yet, with the reason (kept short and visible).
#: Files whose blocks are not run yet, with the reason (none today).
NOT_CHECKED: dict[str, str] = {}
REDIS_URL = "redis://127.0.0.1:6379/0"
#: Real-time bound on one block (a hang fails instead of blocking the suite).
BOUND = 60.0

#: How a pytest-module block runs: warnings are errors, as in this repository's own suite.
PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"

FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})(?P<lang>[\w+-]*)\s*$")
PREFIX_LITERAL = re.compile(r"""\b((?:redis_)?prefix=)(["'])[^"'{}]+\2""")


@attrs.frozen
class Block:
    """One fenced code block of a document."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    lead_in: str  # the last non-blank line between the previous block (or heading) and this one
    follows: Block | None  # the block right before this one, if only blank lines or a lead-in separate them

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    between: list[str] = []  # the lines since the previous block closed
    previous: Block | None = None
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            between.append(lines[i])
            i += 1
            continue
        indent, ticks = len(opening["indent"]), opening["ticks"]
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = FENCE.match(lines[j])
            if closing and not closing["lang"] and len(closing["ticks"]) >= len(ticks):
                break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        text = [line.strip() for line in between if line.strip()]
        lead_in = text[-1] if text else ""
        adjacent = previous is not None and len(text) <= 1
        block = Block(path, i + 1, opening["lang"], "\n".join(body) + "\n", lead_in, previous if adjacent else None)
        blocks.append(block)
        previous, between = block, []
        i = j + 1
    return blocks


def _is_fragment(block: Block) -> bool:
    first = block.code.lstrip("\n").split("\n", 1)[0].strip()
    return first == "# fragment" or first.startswith("# fragment:")


def _is_pytest_module(block: Block) -> bool:
    tree = ast.parse(block.code)
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_") for node in tree.body
    )


def _output_of(block: Block, blocks: list[Block]) -> Block | None:
    """The ```text block that shows ``block``'s output, if there is one."""
    for candidate in blocks:
        if candidate.follows is block and candidate.lang == "text":
            return candidate
    return None


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is ``expected`` with each ``...`` standing for any text (trailing spaces ignored)."""

    def tidy(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())

    pattern = ".*?".join(re.escape(part) for part in tidy(expected).split("..."))
    return re.fullmatch(pattern, tidy(actual), flags=re.DOTALL) is not None


def python_blocks() -> Iterator[object]:
    for path in DOCUMENTS:
        blocks = parse_blocks(path)
        name = str(path.relative_to(ROOT))
        for block in blocks:
            if block.lang != "python":
                continue
            marks = []
            if name in NOT_CHECKED:
                marks.append(pytest.mark.skip(reason=f"{name} not checked yet: {NOT_CHECKED[name]}"))
            elif _is_fragment(block):
                marks.append(pytest.mark.skip(reason="marked # fragment"))
            yield pytest.param(block, _output_of(block, blocks), id=block.where, marks=marks)


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave in the order they were written
    return env


@pytest.mark.parametrize(("block", "output"), list(python_blocks()))
def test_code_block_runs_as_written(
    block: Block, output: Block | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    code = block.code
    if "127.0.0.1:6379" in code:
        prefix: str = request.getfixturevalue("redis_prefix")
        code = PREFIX_LITERAL.sub(lambda m: f"{m[1]}{m[2]}{prefix}{m[2]}", code)
    if _is_pytest_module(block):
        (tmp_path / "test_snippet.py").write_text(code, encoding="utf-8")
        (tmp_path / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_snippet.py"]
    else:
        (tmp_path / "snippet.py").write_text(code, encoding="utf-8")
        command = [sys.executable, "snippet.py"]
    run = subprocess.run(
        command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=BOUND
    )
    assert run.returncode == 0, f"{block.where} exited {run.returncode}:\n{run.stdout}"
    if output is not None and "not checked" not in output.lead_in and not _is_pytest_module(block):
        assert matches(output.code, run.stdout), (
            f"{block.where}: output differs from {output.where}\n--- expected\n{output.code}--- got\n{run.stdout}"
        )


# The checker itself: a broken parser or matcher would let every block pass unchecked.


def test_parser_finds_blocks_outputs_and_lead_ins(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Title\n\nSome prose.\n\n```python\nprint(1)\n```\n\nOutput:\n\n```text\n1\n```\n\n"
        "More prose.\n\nAnd more.\n\n```text\nnot an output\n```\n\n"
        "```python\n# fragment\nx\n```\n\n    ```python\n    print(2)\n    ```\n",
        encoding="utf-8",
    )
    blocks = parse_blocks(doc)
    assert [(b.lang, b.code) for b in blocks] == [
        ("python", "print(1)\n"),
        ("text", "1\n"),
        ("text", "not an output\n"),
        ("python", "# fragment\nx\n"),
        ("python", "print(2)\n"),
    ]
    first, output, prose_text, fragment, _ = blocks
    assert _output_of(first, blocks) is output
    assert output.lead_in == "Output:"
    assert prose_text.follows is None  # two prose lines in between: not an output
    assert _is_fragment(fragment)
    assert not _is_fragment(first)


def test_matcher_is_exact_except_for_ellipses() -> None:
    assert matches("a 1\nb 2\n", "a 1\nb 2\n")
    assert not matches("a 1\nb 2\n", "a 1\nb 3\n")
    assert not matches("a 1\n", "a 1\nb 2\n")  # nothing extra
    assert matches("task 3d0c...-... not found\n", "task 3d0c5a8e-1111 not found\n")
    assert matches("first\n...\nlast\n", "first\nx\ny\nlast\n")
    assert not matches("0.0...s\n", "0.1xs\n")


def test_redis_prefix_literals_are_replaced() -> None:
    code = 'new_task_manager(redis_prefix="quickstart")\nRedisDurableBackend(prefix="mail")\n'
    assert (
        PREFIX_LITERAL.sub(r"\1\2p\2", code) == 'new_task_manager(redis_prefix="p")\nRedisDurableBackend(prefix="p")\n'
    )


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def github_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


@pytest.mark.parametrize("path", [*DOCUMENTS, ROOT / "docs" / "examples" / "README.md"], ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    text = "\n".join(block_free_lines(path))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: outside the repository
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in github_anchors(linked)):
            broken.append(target)
    assert broken == [], f"{path.relative_to(ROOT)}: broken links {broken}"


def block_free_lines(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced blocks."""
    lines, in_fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    return lines
