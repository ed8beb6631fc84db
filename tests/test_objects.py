"""Plain Python objects as loop state (what the rewriter passes for ``sim.T = ...`` bodies)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform.runtime import checkpointed_range, checkpointed_while
from ckpt_transform.runtime._objects import ObjectStateError
from ckpt_transform.schedules import Revolve


class Sim:
    def __init__(self, T, lam):
        self.T = T
        self.time = 0.0
        self.lam = lam  # a float: state
        self.cells = T.shape[0]  # an int: constant
        self.name = "rod"

    def step(self, i):
        self.T = self.T.at[1:-1].add(self.lam * (self.T[2:] - 2 * self.T[1:-1] + self.T[:-2]) + 1e-3 * i)
        self.time = self.time + 0.1


T0 = jnp.linspace(0.0, 1.0, 8) ** 2


def run(loop, T, lam):
    sim = Sim(T, lam)
    sim2 = loop(sim)
    return sim, sim2


def ours(sim):
    def body(i, state):
        (s,) = state
        s.step(i)
        return (s,)

    (out,) = checkpointed_range(Revolve(2), 2, 9, 1, body, (sim,))
    return out


def plain(sim):
    for i in range(2, 9):
        sim.step(i)
    return sim


def test_object_state_values_identity_and_gradients():
    sim, out = run(ours, T0, 0.3)
    ref, _ = run(plain, T0, 0.3)
    assert out is sim and sim.cells == 8 and sim.name == "rod"
    np.testing.assert_array_equal(sim.T, jax.jit(lambda T: run(plain, T, 0.3)[0].T)(T0))
    np.testing.assert_allclose(sim.time, ref.time, rtol=1e-15)

    def loss(loop):
        return lambda T, lam: jnp.sum(run(loop, T, lam)[0].T ** 2) + run(loop, T, lam)[0].time

    got = jax.grad(loss(ours), argnums=(0, 1))(T0, 0.3)
    want = jax.grad(loss(plain), argnums=(0, 1))(T0, 0.3)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_object_in_a_while_loop_with_a_pytree_alongside():
    def body(state):
        s, k = state
        s.step(0)
        return s, k + 1

    sim = Sim(T0, 0.2)
    out = checkpointed_while(Revolve(2), lambda state: state[0].time < 0.45, body, (sim, jnp.int32(0)))
    assert out[0] is sim and int(out[1]) == 5
    ref = Sim(T0, 0.2)
    for _ in range(5):
        ref.step(0)
    np.testing.assert_array_equal(sim.T, jax.jit(lambda T: jax.lax.fori_loop(0, 5, lambda k, T: T.at[1:-1].add(0.2 * (T[2:] - 2 * T[1:-1] + T[:-2])), T))(T0))


def test_changing_a_constant_attribute_is_an_error():
    def body(i, state):
        (s,) = state
        s.cells = s.cells + 1
        return (s,)

    with pytest.raises(ObjectStateError, match=r"state\[0\]\.cells.*int"):
        checkpointed_range(Revolve(2), 0, 3, 1, body, (Sim(T0, 0.3),))


def test_adding_an_attribute_is_an_error():
    def body(i, state):
        (s,) = state
        s.extra = s.T
        return (s,)

    with pytest.raises(ObjectStateError, match=r"state\[0\]\.extra"):
        checkpointed_range(Revolve(2), 0, 3, 1, body, (Sim(T0, 0.3),))
