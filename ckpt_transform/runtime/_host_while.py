"""``while`` loops with ``Online`` and snapshots off the device: the host-driven forward sweep.

The placement kernel runs in Python (``scheme.kernels()``), between compiled pieces: from a
stored step, it looks ahead to the next step it will store at (``place`` depends only on the
step and the past, and is a pure function, so looking ahead commits nothing), and one compiled
``while`` loop runs the iterations up to there while the condition holds, keeping the state
before the last one. When the condition fails at ``n``, ``Online.plan(n)`` is the schedule whose
forward sweep was just run (same kernel, same slots), and ``HostRun`` runs its reversal.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._host import HostRun
from ._host_progress import progress_bar
from ._step import Consts

#: most steps one compiled call runs before Python places again (bounds the look-ahead)
_AHEAD = 4096


def online_rules(scheme, step, test):
    """``(fwd, bwd)`` for ``run_while``'s ``custom_vjp``: eager, snapshots in the scheme's storage."""
    run = HostRun(scheme, step, None)
    advance = jax.jit(lambda leaves, t, stop, consts, cconsts: _advance_while(step, test, leaves, t, stop, consts, cconsts))
    holds = jax.jit(lambda cconsts, leaves: test(cconsts, leaves)[0])

    def forward(consts, cconsts, leaves):
        """(loop result, state at n-1): the forward sweep, placing snapshots online."""
        slots = run.open((scheme.snapshots,), consts, leaves, None)
        run.repeat = lambda: forward(consts, cconsts, leaves)[1]
        kern = scheme.kernels()
        placement, t, before, x = kern.init(), 0, leaves, leaves
        going = bool(holds(cconsts, leaves))
        bar = progress_bar(run.progress, None, "forward sweep")
        try:
            while going:  # the state at t is in hand and iteration t will run
                placement, slot = kern.place(placement, t)
                if slot >= 0:
                    slots.position = t
                    slots.save(None, int(slot), x)
                    run.counts[2] += 1
                ahead, stop = placement, t + 1
                while stop - t < _AHEAD:
                    following, slot = kern.place(ahead, stop)
                    if slot >= 0:
                        break
                    ahead, stop = following, stop + 1
                end, before, x, going = advance(x, np.int32(t), np.int32(stop), consts, cconsts)
                end, going = int(end), bool(going)
                bar.update(end - t)
                run.counts[0] += end - t
                placement, t = ahead, end
            slots.wait()
            run.plan(t)
        except BaseException:
            run.close()
            raise
        finally:
            bar.close()
        return x, before

    def fwd(consts, cconsts, diff, other):
        out, before = forward(consts, cconsts, step.merge(diff, other))
        return step.split(out), (consts, before)

    def bwd(res, cotangents):
        consts, before = res
        cot, pcot = run.reverse(None, consts, before, None, cotangents[0])
        return Consts(pcot, None), None, cot, None

    return fwd, bwd


def _advance_while(step, test, leaves, t, stop, consts, cconsts):
    """Iterations ``t ..`` up to ``stop - 1`` while the condition holds (it held at ``t``):
    ``(next position, state before the last iteration, state, condition)``."""

    def iteration(c):
        k, _, x, _ = c
        y = step(k, x, consts)
        return k + 1, x, y, test(cconsts, y)[0]

    return lax.while_loop(lambda c: (c[0] < stop) & c[3], iteration, (t, leaves, leaves, jnp.bool_(True)))
