"""Import cost of a hooked module served from the hook's cache vs the same module without the hook.

Run: python benchmarks/bench_import.py [--processes N]

Every measurement is one fresh interpreter that imports the hook, ``jax.numpy`` and the names the
modules import from ``ckpt_transform`` first (they cost the same either way), then times only
``import <package>.<module>`` (the package ``__init__`` included). Variants alternate over N
processes; medians are compared. Both caches are warm: the interpreter's pyc for the plain import,
the hook's pyc for the hooked one. Target from issue 5: hooked-from-cache <= 1.2 x plain.

Where the difference comes from: a fixed 40-90 microseconds per hooked import, whatever the
module's size. The hook's finder is Python code that runs for every module of a hooked package,
the package's ``__init__`` included, and its first run in a process is cold (each first call of
a function, and of a system call the import system itself never makes, costs 5-10 us on this
machine; measured with a finder that only passes through: +14 us for two modules, with ours:
+50 to +85 us). A marked module's cached code is also larger to unmarshal (each marked loop
becomes a body function, a ``while`` loop a test function too: ~25 us for 12 loops). A module
of a few marked loops and nothing else shows that fixed cost most; a module with ordinary
definitions around its loops hardly notices it; for large modules the stat key (no source read
or hash on a hit, see ``ckpt_transform/_hook_cache.py``) saves what would grow with their size.
Sources are written over two seconds before the hook caches them, as with any source not edited
this very moment (racy sources are hashed on every import), and imported twice with the hook first:
a first transform records no stat key, the next import's hash check does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Worst case: a module made only of marked loops and their step functions (about 150 lines).
BLOCK = '''

def step_{k}(u, lam, i):
    """Explicit step of a 1-D diffusion-reaction problem."""
    lap = jnp.roll(u, 1) - 2.0 * u + jnp.roll(u, -1)
    return u + lam * lap - 0.01 * u**3 + 1e-3 * jnp.sin(0.1 * i)


def simulate_{k}(u, lam, nsteps):
    """Final energy after ``nsteps`` steps, checkpointed with {k} + 2 snapshots."""
    with checkpoint(Revolve({k} + 2), u):
        for i in range(nsteps):
            u = step_{k}(u, lam, i)
    return jnp.sum(u**2)


def relax_{k}(u, lam, tol):
    """Steps until the update is below ``tol``: a while loop of unknown length."""
    du = jnp.inf
    with checkpoint(Online(4), (u, du)):
        while du > tol:
            new = step_{k}(u, lam, 0)
            du = jnp.max(jnp.abs(new - u))
            u = new
    return u
'''
HEADER = '"""Benchmark model."""\n\nimport jax.numpy as jnp\n\nfrom ckpt_transform import Online, Revolve, checkpoint\n'
LOOPS = HEADER + "".join(BLOCK.format(k=k) for k in range(6))

# A more typical model module: configuration, a solver class, diagnostics, two marked loops.
SOLVER = '''

@dataclasses.dataclass(frozen=True)
class Config{k}:
    """Grid and physics of one experiment."""

    cells: int = 100
    length: float = 1.0
    kappa: float = 0.01
    dt: float = 1e-3
    forcing: tuple = (0.0, 0.5, 1.0)

    @property
    def dx(self):
        return self.length / self.cells

    @property
    def lam(self):
        return self.kappa * self.dt / self.dx**2

    def check(self):
        if self.lam > 0.5:
            raise ValueError(f"unstable: lambda = {{self.lam:.3f}} > 0.5; reduce dt or kappa")
        return self


class Solver{k}:
    """Explicit finite differences with fixed boundary values."""

    def __init__(self, config, left=1.0, right=0.0):
        self.config = config.check()
        self.left, self.right = left, right

    def initial(self):
        return jnp.zeros(self.config.cells).at[0].set(self.left).at[-1].set(self.right)

    def step(self, u, i):
        lap = u[2:] - 2 * u[1:-1] + u[:-2]
        f = self.config.forcing[i % len(self.config.forcing)]
        return u.at[1:-1].add(self.config.lam * lap + self.config.dt * f)

    def run(self, u, nsteps):
        with checkpoint(Revolve(4), u):
            for i in range(nsteps):
                u = self.step(u, i)
        return u

    def energy(self, u):
        return 0.5 * self.config.dx * jnp.sum(u**2)


def diagnostics{k}(u, config):
    """Summary numbers printed by the experiment scripts."""
    return {{
        "max": float(jnp.max(u)),
        "min": float(jnp.min(u)),
        "mean": float(jnp.mean(u)),
        "energy": float(0.5 * config.dx * jnp.sum(u**2)),
    }}


def describe{k}(config):
    lines = [f"{{name}} = {{getattr(config, name)}}" for name in ("cells", "length", "kappa", "dt")]
    lines.append(f"lambda = {{config.lam:.4f}}")
    return "\\n".join(lines)
'''
TYPICAL = (
    '"""Benchmark model."""\n\nimport dataclasses\n\nimport jax.numpy as jnp\n\n'
    "from ckpt_transform import Revolve, checkpoint\n\nPRESETS = {name: i for i, name in enumerate('abcdefgh')}\n"
    + "".join(SOLVER.format(k=k) for k in range(2))
)
# Unmarked: what every other module of a hooked package pays (the marker text check).
HELPERS = "import jax.numpy as jnp\n" + "".join(BLOCK.format(k=k).split("\n\n\ndef simulate_")[0] for k in range(6))

MEASURE = """\
import dataclasses, sys, time
import jax.numpy
import ckpt_transform.hook
from ckpt_transform import Online, Revolve, checkpoint
if {hooked}:
    hook = ckpt_transform.hook.install_import_hook([{pkg!r}])
start = time.perf_counter()
import {pkg}.{module}
elapsed = time.perf_counter() - start
if {hooked}:
    assert hook.cached == {expect_cached}, (hook.cached, hook.transformed)
print(elapsed)
"""


def measure(pkg: str, module: str, hooked: bool, cwd: Path, env: dict) -> float:
    expect = [f"{pkg}.{module}"] if hooked and module != "helpers" else []
    code = MEASURE.format(pkg=pkg, module=module, hooked=hooked, expect_cached=expect)
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=15, help="fresh interpreters per variant")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["JAX_PLATFORMS"] = "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pkg = "bench_hooked_pkg"
        (root / pkg).mkdir()
        (root / pkg / "__init__.py").write_text("")
        modules = {
            "loops": (LOOPS, "only marked loops (12), from cache"),
            "model": (TYPICAL, "typical model (2 marked loops), from cache"),
            "helpers": (HELPERS, "unmarked module in a hooked package"),
        }
        for module, (text, _) in modules.items():
            (root / pkg / f"{module}.py").write_text(text)
        time.sleep(2.1)  # past the racy window: the hook records the stat key of each source
        for module in modules:  # warm the interpreter's pycs, then the hook's
            measure(pkg, module, False, root, env)
            warm = f"import ckpt_transform.hook as h; h.install_import_hook([{pkg!r}]); import {pkg}.{module}"
            for _ in range(2):  # transform, then record the stat key (see _hook_cache)
                subprocess.run([sys.executable, "-c", warm], cwd=root, env=env, check=True)
        print(f"{args.processes} fresh processes per variant; medians of the import alone")
        for module, (text, what) in modules.items():
            plain, hooked = [], []
            for _ in range(args.processes):
                plain.append(measure(pkg, module, False, root, env))
                hooked.append(measure(pkg, module, True, root, env))
            p, h = statistics.median(plain), statistics.median(hooked)
            target = f"  target <= 1.2: {'ok' if h / p <= 1.2 else 'MISSED'}" if module != "helpers" else ""
            print(
                f"{what:<46}{len(text.splitlines()):>4} lines  plain {1e3 * p:6.3f} ms  hooked {1e3 * h:6.3f} ms"
                f"  ratio {h / p:4.2f}{target}"
            )


if __name__ == "__main__":
    main()
