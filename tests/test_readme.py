"""Everything README.md shows runs as shown.

Code blocks are marked for this test with an HTML comment on the line before their fence (not
rendered on GitHub):

- ``<!-- readme-test: file NAME -->``: the block is written to ``NAME`` in the working directory;
- ``<!-- readme-test: run -->`` (optionally ``run slow``, ``run, exit N``): a ``python`` block is
  saved as a script and run, a ``bash`` block is run by bash; the exit status must be 0 (or N),
  and every ``# -> TEXT`` comment in the block must appear in its output;
- ``<!-- readme-test: output -->``: each line of this block must be a line of the output of the
  run just before it;
- ``<!-- readme-test: costs STEPS -->`` on a table: each row's scheme, planned for STEPS steps,
  has the forward steps, overhead, stores and peak snapshots the row says.

Every run happens in one temporary directory holding all the ``file`` blocks and a link to
``examples/``, with ``python`` and the console scripts of this interpreter first on ``PATH``.
Runs that start JAX take seconds each on a CPU, so most are marked ``run slow`` in the README.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARK = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
EXPECT = re.compile(r"#\s*->\s*(.+?)\s*$")


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    directive: str
    text: str
    expected_output: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        found = re.search(r"exit\s+(\d+)", self.directive)
        return int(found.group(1)) if found else 0


def parse(text: str) -> list[Block]:
    """Marked code blocks and tables, in order; ``output`` blocks attached to their run."""
    lines = text.splitlines()
    blocks: list[Block] = []
    k = 0
    while k < len(lines):
        mark = MARK.match(lines[k])
        k += 1
        if not mark:
            continue
        directive = mark.group(1)
        while k < len(lines) and not lines[k].strip():
            k += 1
        fence = FENCE.match(lines[k]) if k < len(lines) else None
        if fence is None:  # a table: its rows up to the first blank line
            start = k
            while k < len(lines) and lines[k].strip():
                k += 1
            blocks.append(Block(start + 1, "table", directive, "\n".join(lines[start:k])))
            continue
        end = next(j for j in range(k + 1, len(lines)) if lines[j].startswith("```"))
        block = Block(k + 1, fence.group(1), directive, "\n".join(lines[k + 1 : end]) + "\n")
        if directive == "output":
            runs = [b for b in blocks if b.directive.startswith("run")]
            assert runs, f"README.md:{k + 1}: an output block needs a run block before it"
            runs[-1].expected_output.extend(line.rstrip() for line in block.text.splitlines() if line.strip())
        else:
            blocks.append(block)
        k = end + 1
    return blocks


BLOCKS = parse(README.read_text(encoding="utf-8"))
RUNS = [b for b in BLOCKS if b.directive.startswith("run")]
FILES = [b for b in BLOCKS if b.directive.startswith("file ")]
COSTS = [b for b in BLOCKS if b.directive.startswith("costs ")]


def test_the_readme_marks_its_blocks():
    """The directives parse, and every python block of the README is either run or a file."""
    assert RUNS and FILES and COSTS
    for block in BLOCKS:
        assert re.fullmatch(r"run( slow)?(, exit \d+)?|file \S+|costs \d+", block.directive), block
    fences = re.findall(r"^```python$", README.read_text(encoding="utf-8"), flags=re.M)
    assert len(fences) == sum(b.lang == "python" for b in BLOCKS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("readme")
    for block in FILES:
        (work / block.directive.split(maxsplit=1)[1]).write_text(block.text, encoding="utf-8")
    (work / "examples").symlink_to(ROOT / "examples")
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    scripts = Path(sys.executable).parent
    env = dict(os.environ, JAX_PLATFORMS="cpu", PATH=os.pathsep.join([str(bin_dir), str(scripts), os.environ["PATH"]]))
    env.pop("XLA_FLAGS", None)
    return work, env


def run_params() -> list:
    return [
        pytest.param(b, id=f"line{b.line}-{b.lang}", marks=[pytest.mark.slow] if "slow" in b.directive else [])
        for b in RUNS
    ]


@pytest.mark.parametrize("block", run_params())
def test_readme_block_runs_as_shown(block, workdir):
    work, env = workdir
    if block.lang == "python":
        script = work / f"readme_line{block.line}.py"
        script.write_text(block.text, encoding="utf-8")
        argv = [sys.executable, script.name]
    else:
        assert block.lang == "bash", f"README.md:{block.line}: cannot run a {block.lang!r} block"
        argv = ["bash", "-euo", "pipefail", "-c", block.text]
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    where = f"README.md:{block.line}"
    assert proc.returncode == block.exit_code, f"{where}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    output = [line.rstrip() for line in proc.stdout.splitlines()]
    for expected in [m.group(1) for m in EXPECT.finditer(block.text)]:
        assert expected in proc.stdout, f"{where}: {expected!r} not in the output:\n{proc.stdout}"
    for expected in block.expected_output:
        assert expected in output, f"{where}: line {expected!r} not in the output:\n{proc.stdout}"


@pytest.mark.parametrize("table", COSTS, ids=lambda b: f"line{b.line}")
def test_readme_cost_table_matches_the_plans(table):
    import ckpt_transform

    steps = int(table.directive.split()[1])
    rows = table.text.splitlines()[2:]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        expression = cells[0].strip("`")
        scheme = eval(expression, {name: getattr(ckpt_transform, name) for name in ckpt_transform.__all__})
        plan = scheme.plan(steps)
        shown = (int(cells[1]), cells[2], int(cells[3]), int(cells[4]))
        actual = (plan.forward_steps, f"{plan.overhead:.2f}", plan.stores, plan.peak_snapshots)
        assert shown == actual, f"README.md:{table.line}: row {expression}"
