"""The runtime against plain JAX: values bit-identical, gradients to rounding, every scheme."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform.runtime import checkpointed_range, fori_loop
from ckpt_transform.schedules import Multistage, Periodic, Revolve, StoreAll
from ckpt_transform.schedules._actions import adjoint, advance, restore, store
from ckpt_transform.schedules._schedule import Schedule
from ckpt_transform.schedules._scheme import Scheme

from _loop_cases import check_heat_seed


class Hand(Scheme):
    """A scheme from a fixed list of actions (tests the executor on schedules we write)."""

    def __init__(self, steps, actions):
        super().__init__()
        self.schedule = Schedule(steps, tuple(actions), "Hand", (4,))

    def plan(self, steps):
        assert steps == self.schedule.steps
        return self.schedule


def schemes():
    return [Revolve(1), Revolve(2), Revolve(4), Periodic(3), Multistage(1, 2), StoreAll()]


# ---- the seed example ------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", [Revolve(100), Periodic(100), Revolve(4), StoreAll()], ids=repr)
def test_heat_seed(scheme):
    check_heat_seed(scheme, jax.jit)


# ---- nonlinear, index-dependent bodies over odd ranges ---------------------------------------


def nl_body(i, x):
    return x + 0.01 * i * x**2


def plain_range(start, stop, step, body, x):
    for i in range(start, stop, step):
        x = body(i, x)
    return x


RANGES = [(1, 10, 1), (3, 12, 1), (5, 5, 1), (7, 8, 1), (12, 3, -2), (0, 13, 3)]
X0 = jnp.array([0.3, -0.2, 0.1])


@pytest.mark.parametrize("rng", RANGES, ids=str)
@pytest.mark.parametrize("scheme", schemes(), ids=repr)
def test_nonlinear_range_matches_plain(rng, scheme):
    start, stop, step = rng

    def ours(x):
        return checkpointed_range(scheme, start, stop, step, lambda i, s: (nl_body(i, s[0]),), (x,))[0]

    def plain(x):
        return plain_range(start, stop, step, nl_body, x)

    def loss(f):
        return lambda x: jnp.sum(jnp.sin(f(x)))

    want, got = jax.jit(plain)(X0), jax.jit(ours)(X0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(jax.value_and_grad(loss(ours))(X0)[0], jax.value_and_grad(loss(plain))(X0)[0])
    g_want = jax.grad(loss(plain))(X0)
    np.testing.assert_allclose(jax.jit(jax.grad(loss(ours)))(X0), g_want, rtol=1e-13, atol=0)
    np.testing.assert_allclose(jax.grad(loss(ours))(X0), g_want, rtol=1e-13, atol=0)


# ---- closures, pytrees, integer leaves -------------------------------------------------------


def test_gradients_reach_closed_over_parameters_and_pytree_carry():
    w = jnp.array([0.5, -0.3, 0.2])
    forcing = {"a": jnp.array(0.1), "b": jnp.arange(3.0)}

    def run(loop, x, w, forcing):
        def body(i, c):
            y = jnp.tanh(c["y"] * w + forcing["a"] * i) + forcing["b"] * c["s"]
            return {"y": y, "s": c["s"] * 0.9, "count": c["count"] + 1, "flag": ~c["flag"]}

        init = {"y": x, "s": jnp.float64(1.0), "count": jnp.int32(0), "flag": jnp.array(True)}
        out = loop(2, 9, body, init)
        return jnp.sum(out["y"] ** 2) + out["s"] + out["count"], out

    def ours(lo, hi, body, init):
        return fori_loop(lo, hi, body, init, scheme=Revolve(2))

    args = (jnp.array([0.1, 0.2, 0.3]), w, forcing)
    (v, out), g = jax.value_and_grad(lambda *a: run(ours, *a), argnums=(0, 1, 2), has_aux=True)(*args)
    (v0, out0), g0 = jax.value_and_grad(lambda *a: run(jax.lax.fori_loop, *a), argnums=(0, 1, 2), has_aux=True)(*args)
    assert v == v0 and int(out["count"]) == 7 and bool(out["flag"]) is False
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g0)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_hand_written_schedule():
    # 3 steps, 2 slots: store 0, advance to 2, adjoint 2, restore 0, advance, store 1, adjoint 1 ...
    actions = [store(0, 0), advance(0, 2), adjoint(2), restore(0, 0), advance(0, 1), store(1, 1),
               adjoint(1), restore(0, 0), adjoint(0)]
    scheme = Hand(3, actions)
    f = lambda x: jnp.sum(fori_loop(0, 3, nl_body, x, scheme=scheme) ** 3)
    g = lambda x: jnp.sum(jax.lax.fori_loop(0, 3, nl_body, x) ** 3)
    np.testing.assert_allclose(jax.grad(f)(X0), jax.grad(g)(X0), rtol=1e-13)


def test_vjp_and_nested_checkpointed_loops():
    p = jnp.array(0.7)

    def inner(x, p, loop):
        return loop(0, 5, lambda j, y: jnp.sin(y) * p + 0.01 * j, x)

    def outer(x, p, loop):
        return loop(0, 4, lambda i, y: inner(y, p, loop) + 0.1 * y, x)

    ours = lambda lo, hi, b, x: fori_loop(lo, hi, b, x, scheme=Revolve(2))
    y, pull = jax.vjp(lambda x, p: outer(x, p, ours), X0, p)
    y0, pull0 = jax.vjp(lambda x, p: outer(x, p, jax.lax.fori_loop), X0, p)
    np.testing.assert_array_equal(y, y0)
    for a, b in zip(pull(jnp.ones(3)), pull0(jnp.ones(3))):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_vmap_of_grad_and_of_the_loop():
    xs = jnp.stack([X0, 2 * X0, -X0])
    ps = jnp.array([0.1, 0.2, 0.3])

    def loss(loop, x, p):
        return jnp.sum(loop(0, 6, lambda i, y: y + p * i * y**2, x) ** 2)

    ours = lambda *a: fori_loop(*a, scheme=Revolve(2))
    got = jax.vmap(jax.grad(lambda x, p: loss(ours, x, p), argnums=(0, 1)))(xs, ps)
    want = jax.vmap(jax.grad(lambda x, p: loss(jax.lax.fori_loop, x, p), argnums=(0, 1)))(xs, ps)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    np.testing.assert_array_equal(jax.vmap(lambda x, p: loss(ours, x, p))(xs, ps), jax.vmap(lambda x, p: loss(jax.lax.fori_loop, x, p))(xs, ps))
    # a linear body takes the snapshot-free path
    lin = lambda loop: (lambda x: jnp.sum(loop(0, 6, lambda i, y: 0.9 * y + 0.1 * jnp.roll(y, 1), x) ** 2))
    np.testing.assert_allclose(jax.vmap(jax.grad(lin(ours)))(xs), jax.vmap(jax.grad(lin(jax.lax.fori_loop)))(xs), rtol=1e-13)


# ---- statistics ------------------------------------------------------------------------------


def test_stats_plain_run_and_verbose_line(capsys):
    scheme = Revolve(3, verbose=True)
    fori_loop(0, 20, nl_body, X0, scheme=scheme)
    s = scheme.last_stats
    assert (s.steps, s.forward_steps, s.adjoint_steps, s.stores, s.peak_snapshots) == (20, 20, 0, 0, 0)
    assert s.snapshot_bytes == 24
    jax.grad(lambda x: fori_loop(0, 20, nl_body, x, scheme=scheme).sum())(X0)
    plan = scheme.plan(20)
    assert scheme.last_stats.stores == plan.stores and scheme.last_stats.peak_snapshots <= 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[-1] == f"ckpt_transform: {scheme.last_stats.summary()}"
    assert "Revolve(3): 20 steps" in err[-1] and "20 adjoint steps" in err[-1]


# ---- bad input -------------------------------------------------------------------------------


def test_shape_change_names_the_leaf():
    with pytest.raises(TypeError, match=r"\['b'\].*float64\[3\].*float64\[4\]"):
        fori_loop(0, 3, lambda i, c: {"a": c["a"], "b": jnp.append(c["b"], 0.0)}, {"a": 1.0, "b": X0}, scheme=Revolve(2))
    with pytest.raises(TypeError, match=r"\[1\].*int32\[\].*float64\[\]"):
        fori_loop(0, 3, lambda i, c: (c[0], c[1] * 1.5), (X0, jnp.int32(1)), scheme=Revolve(2))


def test_structure_change_is_an_error():
    with pytest.raises(TypeError, match="structure of its input"):
        fori_loop(0, 3, lambda i, c: {"a": c["a"]}, {"a": 1.0, "b": X0}, scheme=Revolve(2))


def test_traced_trip_count_suggests_online():
    def f(x, n):
        return fori_loop(0, n, nl_body, x, scheme=Revolve(2))

    with pytest.raises(TypeError, match="Online"):
        jax.jit(f)(X0, 5)


def test_python_scalar_carry_takes_the_body_dtype():
    x32 = jnp.ones(3, jnp.float32)
    out = fori_loop(0, 4, lambda i, c: (c[0] * 1.5, c[1] + jnp.sum(c[0])), (x32, 0.0), scheme=Revolve(2))
    want = jax.lax.fori_loop(0, 4, lambda i, c: (c[0] * 1.5, c[1] + jnp.sum(c[0])), (x32, 0.0))
    assert out[1].dtype == want[1].dtype == jnp.float32
    np.testing.assert_array_equal(out[1], want[1])


# ---- the compiled program --------------------------------------------------------------------


def _compiled_hlo(steps, shape=(48, 40)):
    x = jnp.ones(shape, jnp.float32)
    body = lambda i, u: u + 0.1 * jnp.roll(u, 1, 0) * u - 0.01 * i
    grad = jax.jit(jax.grad(lambda u: jnp.sum(fori_loop(0, steps, body, u, scheme=Revolve(3)) ** 2)))
    return grad.lower(x).compile().as_text()


def test_program_size_does_not_grow_with_steps_and_buffers_avoid_conditionals():
    import re

    small, large = _compiled_hlo(20), _compiled_hlo(2000)
    assert small.count(" while(") == large.count(" while(")
    assert abs(len(large) - len(small)) < 0.02 * len(small)  # only the table's shape changes
    buffer = "f32[3,48,40]"  # 3 slots of 48 x 40 floats
    assert buffer in large
    branches = set()
    for names in re.findall(r"conditional\(.*branch_computations=\{([^}]*)\}", large):
        branches.update(n.strip().lstrip("%") for n in names.split(","))
    assert branches
    for name in branches:
        (header,) = [line for line in large.splitlines() if line.startswith(f"%{name} ")]
        assert buffer not in header, header


def test_apply_group_with_python_integers_matches_the_compiled_executor():
    """The action semantics are shared: a host-driven loop over groups gives the same gradient."""
    from ckpt_transform.runtime._step import Step
    from ckpt_transform.runtime._sweep import Carry, apply_group, compile_table

    class DictSlots:  # what a host store provides: load/save by slot number
        def load(self, held, slot):
            return held[slot]

        def save(self, held, slot, leaves):
            return {**held, slot: list(leaves)}

    def host_run(p):  # p is traced here, so it is hoisted and gets a cotangent
        step = Step(lambda i, x: x + p * i * jnp.sin(x), X0, index=lambda k: 2 + k)
        table = compile_table(Revolve(2).plan(7))
        consts = step.consts
        carry = Carry(step.init, {})
        for group in table.rows[: table.forward].tolist():
            carry = apply_group(group, carry, step, consts, DictSlots())
        out = step(6, carry.hand, consts)
        carry = Carry(carry.hand, carry.buffers, [jnp.ones(3)], [jnp.zeros(())])
        for group in table.rows[table.forward :].tolist():
            carry = apply_group(group, carry, step, consts, DictSlots())
        return out[0], carry.cot[0], carry.pcot[0]

    p = jnp.array(0.2)
    out, cot, pcot = jax.jit(host_run)(p)

    def plain(x, p):
        return jax.lax.fori_loop(2, 9, lambda i, x: x + p * i * jnp.sin(x), x)

    np.testing.assert_allclose(out, plain(X0, p), rtol=1e-15)
    g_x, g_p = jax.grad(lambda x, p: plain(x, p).sum(), argnums=(0, 1))(X0, p)
    np.testing.assert_allclose(cot, g_x, rtol=1e-13)
    np.testing.assert_allclose(pcot, g_p, rtol=1e-13)


def test_compiled_sweeps_are_shared_only_by_tables_of_the_same_shape():
    """Revolve(3) and Periodic(3) on 7 steps have tables of the same length and forward sweep
    but 3 and 4 snapshot slots: each needs its own compiled sweeps."""
    from ckpt_transform.runtime import _compiled
    from ckpt_transform.runtime._fori import planned

    (_, a), (_, b) = planned(Revolve(3), 7), planned(Periodic(3), 7)
    assert (a.forward, len(a.rows), a.slots) == (b.forward, len(b.rows), 3) and b.slots == 4

    def body(i, x):
        return x + 0.1 * jnp.sin(x * (i + 1))

    want = jax.grad(lambda x: jax.lax.fori_loop(0, 7, body, x).sum())(jnp.ones(3))
    _compiled._CACHE.clear()
    for scheme in (Revolve(3), Periodic(3), Revolve(3)):
        grad = jax.grad(lambda x: fori_loop(0, 7, body, x, scheme=scheme).sum())(jnp.ones(3))
        np.testing.assert_allclose(grad, want, rtol=1e-13)
    assert len(_compiled._CACHE) == 2
