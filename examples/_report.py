"""What every example does besides its physics: compare results, print costs, save figures.

Kept apart so each example reads as physics plus one marked loop. The examples import it as a
sibling module (Python puts a script's own directory on ``sys.path``).
"""

from __future__ import annotations

import os

import numpy as np


class Checks:
    """Collects named comparisons; ``ok`` is False as soon as one fails, so ``main`` can exit 1."""

    def __init__(self) -> None:
        self.ok = True

    def close(self, name: str, got, want, *, rtol: float = 0.0, atol: float = 0.0) -> bool:
        """Compare arrays (or pytrees of arrays) and print the worst relative error."""
        got_leaves, want_leaves = _leaves(got), _leaves(want)
        if len(got_leaves) != len(want_leaves):
            raise ValueError(f"{name}: {len(got_leaves)} arrays to compare with {len(want_leaves)}")
        worst_abs = worst_rel = 0.0
        good = True
        for g, w in zip(got_leaves, want_leaves):
            g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
            if g.shape != w.shape:
                raise ValueError(f"{name}: shape {g.shape} compared with {w.shape}")
            err = float(np.max(np.abs(g - w), initial=0.0))
            scale = float(np.max(np.abs(w), initial=0.0))
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / scale if scale else err)
            good &= bool(np.all(np.abs(g - w) <= atol + rtol * scale))
        verdict = "ok" if good else f"MISMATCH (allowed rtol {rtol:g}, atol {atol:g})"
        print(f"  {name}: max abs error {worst_abs:.2e}, relative {worst_rel:.2e}  {verdict}")
        self.ok &= good
        return good

    def true(self, name: str, condition: bool, detail: str = "") -> bool:
        print(f"  {name}: {'ok' if condition else 'FAILED'}{'  ' + detail if detail else ''}")
        self.ok &= bool(condition)
        return bool(condition)

    def exit_code(self) -> int:
        print("all checks passed" if self.ok else "SOME CHECKS FAILED")
        return 0 if self.ok else 1


def _leaves(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    return [tree]


def print_costs(scheme, steps: int) -> None:
    """The plan's costs for ``steps`` iterations (what ``ckpt-transform schedule`` prints)."""
    schedule = scheme.plan(steps)
    print(
        f"schedule of {scheme!r} for {steps} steps: forward steps {schedule.forward_steps} "
        f"(overhead {schedule.overhead:.2f} x), adjoint steps {schedule.reverse_steps}, "
        f"stores {schedule.stores}, peak snapshots {schedule.peak_snapshots}"
    )


def print_stats(scheme, label: str = "last run") -> None:
    """What the runtime reports it did in the scheme's most recent run."""
    stats = scheme.last_stats
    if stats is None:
        return
    print(f"runtime, {label}: {stats.summary()}")
    if stats.steps and stats.adjoint_steps and not stats.stores:
        print("  (no snapshots: this step is affine in the state, so its adjoint never reads a state)")


def pyplot():
    """matplotlib's pyplot on a file-only backend, or None (with a message) when not installed."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: skipping the plots (pip install 'ckpt_transform[plot]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, outdir: str, name: str) -> str:
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"saved {path}")
    return path
