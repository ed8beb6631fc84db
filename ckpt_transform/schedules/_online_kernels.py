"""``OnlineKernels``: the Online scheme as pure int32 kernels over fixed-size state arrays.

See ``_online.py`` for the contract the runtime codes against. Implementation notes:

Placement state (``3 + 3c`` ints): ``[k, qnext, qstep, P[c], S[c], F[c]]`` with the ``k`` held
checkpoints sorted by step in ``P[:k]``, their slots in ``S`` and ``F = 1`` for the fixed
checkpoints of the r=2 phase. Slots fill in order 0..c-1 and are only reused after an eviction,
so while ``k < c`` the free slots are exactly ``S[k:] = k..c-1``.

- r=2 phase (``t < (c+2)(c+1)/2``): the fixed checkpoints sit at ``q_1 = 0`` and
  ``q_{j+1} = q_j + c + 2 - j``, the final binomial r=2 distribution (segment j reversed with its
  ``c - j + 1`` slots at one repetition). Between them a temporary is stored whenever a slot is
  free or the last checkpoint is 3 steps back (the longest last stretch one slot reverses with one
  recomputation, the state at n-1 being in hand), evicting the oldest temporary. That one always
  lies before the latest fixed checkpoint q_j (the c-j temporaries, 3 steps apart, cannot all fit
  in stretch j of c-j+2 steps), so evicting it only lengthens a stretch within its fixed bounds:
  every stretch stays reversible with each step recomputed at most once, and with all c slots in
  use the reversal costs the offline optimum ``2n - c - 2``, plus one when the last store was n-1.
- dynamic phase (beyond that range): every 3 steps since the last checkpoint, the kernel weighs
  storing ``t`` against not storing, by the cost of the reversal if the loop ended now (the sum of
  Revolve costs of the held stretches, each with the slots it would get). Storing evicts the
  checkpoint whose removal leaves the cheapest reversal, which thins the positions toward a
  binomial-like distribution; it happens only when that is no dearer than keeping the current
  ones (whose last stretch, reversed with one slot, grows quadratically), so stores stay rare.

Reversal state (``3 + 2c`` ints): ``[fine, hand, d, CH[c], SL[c]]``: adjoints ``fine-1..0`` remain,
the state at ``hand`` is in hand (-1: none), ``CH[:d+1]`` is a stack of held steps (the placement's
checkpoints at the bottom) with their slots in ``SL``. One uniform machine reverses every stretch
with Revolve's optimal split, using the slots above the stack top.
"""

from __future__ import annotations

from ._actions import ADJOINT, ADVANCE, FREE, RESTORE, STORE
from ._binomial import CAP, reversal_cost, split
from ._array_ops import PYTHON
from ._scheme import check_count

_HUGE = (1 << 31) - 1
_STORE_EVERY = 3
_SKIP = -2  # eviction answer: do not store after all


class OnlineKernels:
    """``init``, ``place``, ``reverse_init`` and ``reverse_next`` for ``snapshots`` slots and ``xp``."""

    def __init__(self, snapshots: int, xp=PYTHON):
        self.c = check_count("OnlineKernels: snapshots", snapshots, 1)
        self.xp = xp
        #: steps t < r2_end are placed by the Stumm-Walther r=2 rule
        self.r2_end = min((self.c + 2) * (self.c + 1) // 2, CAP)
        # reversal costs saturate here so that sums of 2c + 1 of them fit in int32
        self._cost_cap = _HUGE // (2 * self.c + 2)

    # -- forward placement -------------------------------------------------------------------

    def init(self):
        """Placement state with nothing held (contract in ``_online.py``)."""
        c = self.c
        return self.xp.asarray([0, 0, c + 1] + [-1] * c + list(range(c)) + [0] * c)

    def place(self, state, t):
        """``(state, slot)``: where to store the state at ``t`` before iteration ``t`` runs, or -1."""
        xp, c = self.xp, self.c
        t = xp.scalar(t)
        k, qnext = state[0], state[1]
        full = k == c
        fixed = t == qnext
        gap = t - state[3 + xp.maximum(k - 1, 0)]
        due = (gap >= _STORE_EVERY) & (gap % _STORE_EVERY == 0)
        store = fixed | xp.logical_not(full) | due
        if c == 1:
            store = store & xp.logical_not(full)
        stored, slot = xp.cond(store, self._store, self._keep, state, t)
        return stored, xp.where(store, slot, -1)

    def _keep(self, state, t):
        return state, self.xp.scalar(-1)

    def _store(self, state, t):
        """Hold ``t`` in the next free slot, or in the slot of the checkpoint evicted for it."""
        xp, c = self.xp, self.c
        k, qnext, qstep = state[0], state[1], state[2]
        P, S, F = state[3 : 3 + c], state[3 + c : 3 + 2 * c], state[3 + 2 * c :]
        fixed = t == qnext
        evict = xp.cond(k == c, self._evict, self._no_evict, P, F, t)
        evicting = evict >= 0
        idx = xp.arange(c, dtype=xp.int)
        src = xp.minimum(xp.where(evicting & (idx >= evict), idx + 1, idx), c - 1)
        at = xp.where(evicting, c - 1, xp.minimum(k, c - 1))
        slot = xp.where(evicting, S[xp.maximum(evict, 0)], k)
        P2 = xp.set(P[src], at, t)
        S2 = xp.set(S[src], at, slot)
        F2 = xp.set(F[src], at, xp.to_int(fixed))
        k2 = xp.where(evicting, k, k + 1)
        qnext2 = xp.where(fixed, xp.where(qstep >= 3, qnext + qstep, -1), qnext)
        qstep2 = xp.where(fixed, qstep - 1, qstep)
        stored = xp.concatenate([xp.stack([k2, qnext2, qstep2]), P2, S2, F2])
        skip = evict == _SKIP
        return xp.where(skip, state, stored), xp.where(skip, -1, slot)

    def _no_evict(self, P, F, t):
        return self.xp.scalar(-1)

    def _evict(self, P, F, t):
        """Index in ``P`` of the checkpoint to drop for the one at ``t`` (never the initial state)."""
        return self.xp.cond(t < self.r2_end, self._oldest_temporary, self._cheapest_removal, P, F, t)

    def _oldest_temporary(self, P, F, t):
        xp = self.xp
        idx = xp.arange(self.c, dtype=xp.int)
        key = xp.where(idx == 0, _HUGE, xp.where(F == 0, P, P + CAP))
        return xp.to_int(xp.argmin(key))

    def _cheapest_removal(self, P, F, t):
        """Drop P[j] (j >= 1) minimising the reversal cost of the stretches left once t is stored
        (stretches before j keep their slots, the merged one takes j-1's, later ones gain a slot),
        or ``_SKIP`` the store when that costs more than keeping the checkpoints as they are."""
        xp, c = self.xp, self.c
        idx = xp.arange(c, dtype=xp.int)
        gaps = xp.concatenate([P[1:], xp.stack([t])]) - P
        before = xp.concatenate([xp.zeros(1, dtype=xp.int), gaps[:-1]])
        costs = xp.elementwise(reversal_cost)(
            xp.concatenate([gaps, gaps, before + gaps]),
            xp.concatenate([c - idx, c - idx + 1, c - idx + 1]),
            self._cost_cap,
        )
        kept, shifted, merged = costs[:c], costs[c : 2 * c], costs[2 * c :]
        head = xp.concatenate([xp.zeros(1, dtype=xp.int), xp.cumsum(kept, dtype=xp.int)])[xp.maximum(idx - 1, 0)]
        tail = xp.sum(shifted, dtype=xp.int) - xp.cumsum(shifted, dtype=xp.int)
        total = xp.where(idx == 0, _HUGE, head + merged + tail)
        best = xp.to_int(xp.argmin(total))
        # without the store, the stretches are the held ones and the last, [P[c-1], t], has 1 slot
        return xp.where(total[best] <= xp.sum(kept, dtype=xp.int), best, _SKIP)

    # -- reversal ----------------------------------------------------------------------------

    def reverse_init(self, state, steps):
        """Reversal state after ``steps`` iterations, the state at ``steps - 1`` in hand."""
        xp, c = self.xp, self.c
        n = xp.scalar(steps)
        head = xp.stack([n, xp.where(n >= 1, n - 1, -1), state[0] - 1])
        return xp.concatenate([head, state[3 : 3 + c], state[3 + c : 3 + 2 * c]])

    def reverse_next(self, rstate):
        """``(rstate, (op, step, to, slot, level, done))``: the next reversal action."""
        xp, c = self.xp, self.c
        fine, hand, d = rstate[0], rstate[1], rstate[2]
        CH, SL = rstate[3 : 3 + c], rstate[3 + c :]
        top = CH[xp.clip(d, 0, c - 1)]
        top_slot = SL[xp.clip(d, 0, c - 1)]
        up = xp.clip(d + 1, 0, c - 1)
        held = d >= 0
        adjoint = (hand >= 0) & (hand == fine - 1)
        forward = (hand >= 0) & xp.logical_not(adjoint)
        store = forward & (hand != top)
        advance = forward & (hand == top)
        free = (hand < 0) & held & (top == fine)
        restore = (hand < 0) & held & (top != fine)
        done = (hand < 0) & xp.logical_not(held)
        span = xp.cond(advance, self._split, self._no_split, fine - hand, c - d)
        op = xp.where(
            adjoint,
            ADJOINT,
            xp.where(
                store, STORE, xp.where(advance, ADVANCE, xp.where(free, FREE, xp.where(restore, RESTORE, -1)))
            ),
        )
        step = xp.where(adjoint, fine - 1, xp.where(forward, hand, xp.where(held, top, -1)))
        to = xp.where(advance, hand + span, -1)
        slot = xp.where(store, SL[up], xp.where(free | restore, top_slot, -1))
        action = xp.stack([op, step, to, slot, xp.scalar(0), xp.to_int(done)])
        fine2 = xp.where(adjoint, fine - 1, fine)
        hand2 = xp.where(adjoint, -1, xp.where(advance, hand + span, xp.where(restore, top, hand)))
        d2 = xp.where(store, d + 1, xp.where(free, d - 1, d))
        CH2 = xp.where(store, xp.set(CH, up, hand), CH)
        rstate2 = xp.concatenate([xp.stack([fine2, hand2, d2]), CH2, SL])
        return rstate2, action

    def _split(self, steps, slots):
        # one slot: straight to the last step (skips the binomial search, quadratic anyway)
        return self.xp.cond(slots == 1, self._to_last, self.xp.elementwise(split), steps, slots)

    def _to_last(self, steps, slots):
        return steps - 1

    def _no_split(self, steps, slots):
        return self.xp.scalar(0)
