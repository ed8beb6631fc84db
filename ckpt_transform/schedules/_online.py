"""``Online``: checkpointing for loops whose length is known only when they end (``while`` loops).

An r=2 online placement in the sense of Stumm & Walther (SIAM J. Sci. Comput. 32(2), 2010: every
step evaluated at most twice, optimal up to one step) while the loop is within ``(c+2)(c+1)/2``
steps, its full offline r=2 range; then a dynamic thinning, so any length works with ``c`` slots;
after the loop ends, an offline binomial reversal over the held checkpoints. ``Online(c).plan(n)``
is the schedule a loop of ``n`` steps gets; the runtime runs the same kernels inside its compiled
``while_loop``.

Kernel contract (``OnlineKernels``, what the runtime codes against)
-------------------------------------------------------------------
``kern = Online(c).kernels(xp)`` (or ``OnlineKernels(c, xp)``), with ``xp = ArrayOps(jax.numpy,
jax.lax)`` in the runtime; the default, ``PYTHON``, is pure Python, ``ArrayOps()`` is numpy. ``c``
is static; every state is a 1-D int32 array of fixed size and every scalar an int32 0-d array.
There is no Python control flow on values (``xp.cond``/``xp.fori`` become ``lax.cond`` and
``lax.fori_loop``), so each method traces once inside ``lax.while_loop``. Steps stay below 2**30.

- ``state = kern.init()``: placement state (``3 + 3c`` ints; ``state[0]`` is the number of
  checkpoints held).
- ``state, slot = kern.place(state, t)``: call for ``t = 0, 1, 2, ...`` in order, once per
  iteration that *will run*, with the state at ``t`` in hand (after the ``while`` condition held,
  before running iteration ``t``). ``slot >= 0``: copy the state in hand into that slot, which may
  overwrite an older snapshot (the kernel dropped it); ``-1``: store nothing. ``place(·, 0)``
  always stores the initial state. Decisions depend only on ``t`` and the past.
- The forward sweep ends when the condition fails at ``n`` (``n`` iterations ran). The runtime
  keeps the state at ``n - 1`` in hand (the carry before the last iteration): the reversal starts
  with ``ADJOINT n-1`` on it, as every ``Schedule`` does.
- ``rstate = kern.reverse_init(state, n)``: reversal state (``3 + 2c`` ints).
- ``rstate, action = kern.reverse_next(rstate)``: ``action`` is 6 ints ``(op, step, to, slot,
  level, done)``, the first five a row of ``_actions`` (``level`` is always 0). Loop until
  ``done == 1`` (that call's row is ``op = -1`` and changes nothing). ``ADVANCE step -> to`` may
  span many steps; ``STORE``/``RESTORE``/``FREE`` name the slot; ``FREE`` may be a no-op for a
  runtime that overwrites slots. All ``c`` slots may be used; the first action is ``ADJOINT n-1``
  and the last ``FREE`` of the initial state's slot. For ``n = 0`` the first call is done.

Costs (tests and ``benchmarks/bench_online.py``): for ``n <= (c+2)(c+1)/2`` every step is
evaluated at most twice (once on the way forward, at most once on the way back) and the forward
steps are the offline optimum (``2n - c - 2``, or ``n - 1`` for ``n <= c + 1``) plus one exactly
when the placement stored at ``n - 1``. Beyond that range the placement decides every third step
and stores only when that makes the reversal cheaper, about once per 10 to 65 steps (n=30000:
c=3 458 stores, c=20 3213); the measured excess over the offline binomial optimum is 0-3 % (c=10:
1 % at n=3000, 0.1 % at n=30000; at most 31 % on the first steps past the range for c=2).
Under ``jax.jit`` on CPU the kernels cost a few microseconds per placed step (c=4: 1-3 us, c=50:
4-11 us on a loaded 2-core machine) and about 1 us or less per reversal action.
"""

from __future__ import annotations

from ._actions import ADVANCE, Action, advance, free, store
from ._online_kernels import OnlineKernels
from ._schedule import Schedule, make_schedule
from ._scheme import Scheme, check_count

__all__ = ["Online", "OnlineKernels"]


class Online(Scheme):
    """Online checkpointing with ``snapshots`` slots (the initial state takes one)."""

    online = True

    def __init__(self, snapshots: int, *, storage=None, verbose: bool = False):
        super().__init__(storage=storage, verbose=verbose)
        self.snapshots = check_count("Online: snapshots", snapshots, 1)

    def kernels(self, xp=None) -> OnlineKernels:
        """The placement and reversal kernels for this scheme, over ``xp`` (pure Python by default)."""
        return OnlineKernels(self.snapshots) if xp is None else OnlineKernels(self.snapshots, xp)

    def plan(self, steps: int) -> Schedule:
        steps = check_count("Online.plan: steps", steps, 0)
        kern = self.kernels()
        actions: list[Action] = []
        holds: dict[int, int] = {}
        state = kern.init()
        for t in range(steps):
            state, slot = kern.place(state, t)
            slot = int(slot)
            if slot >= 0:
                if slot in holds:
                    actions.append(free(holds[slot], slot))
                actions.append(store(t, slot))
                holds[slot] = t
            if t < steps - 1:
                if actions and actions[-1].op == ADVANCE:
                    actions[-1] = advance(actions[-1].step, t + 1)
                else:
                    actions.append(advance(t, t + 1))
        rstate = kern.reverse_init(state, steps)
        while True:
            rstate, row = kern.reverse_next(rstate)
            op, step, to, slot, level, done = (int(v) for v in row)
            if done:
                break
            actions.append(Action(op, step, to, slot, level))
        return make_schedule(steps, actions, repr(self), (self.snapshots,))

    def _params(self) -> str:
        return str(self.snapshots)
