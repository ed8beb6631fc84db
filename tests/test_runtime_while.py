"""while loops: Online under jit, offline schemes eagerly, the rewriter's checkpointed_while."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform.runtime import checkpointed_range, fori_loop, while_loop
from ckpt_transform.runtime._while import UnknownTripCountError
from ckpt_transform.schedules import Online, Revolve, StoreAll

T0 = jnp.zeros(100).at[0].set(20.0)


def heat_step(T, lam):
    return T.at[1:-1].add(lam * (T[2:] - 2 * T[1:-1] + T[:-2]))


def test_heat_seed_online_under_jit():
    scheme = Online(100)

    def final(T, lam):
        return while_loop(lambda c: c[0] < 500, lambda c: (c[0] + 1, heat_step(c[1], lam)), (0, T), scheme=scheme)[1]

    assert abs(np.linalg.norm(final(T0, 0.5)) - 66.21987468492061) < 1e-11
    # w.r.t. T only the adjoint reads no state: no snapshots
    g = jax.jit(jax.grad(lambda T: final(T, 0.5).sum()))(T0)
    assert abs(np.linalg.norm(g[1:-1]) - 6.970279349365908) < 1e-11
    assert scheme.last_stats.stores == 0
    # with lam traced too, the Online placement and reversal run inside the compiled loops
    g, _ = jax.jit(jax.grad(lambda T, lam: final(T, lam).sum(), argnums=(0, 1)))(T0, 0.5)
    assert abs(np.linalg.norm(g[1:-1]) - 6.970279349365908) < 1e-11
    plan = scheme.plan(500)
    s = scheme.last_stats
    assert (s.steps, s.forward_steps, s.adjoint_steps, s.stores) == (500, plan.forward_steps + 1, 500, plan.stores)
    assert s.peak_snapshots == plan.peak_snapshots <= 100


def nl(x, p):
    return x + p * x**2 - 0.05 * jnp.sin(x)


X0 = jnp.array([0.3, -0.2, 0.1])


def plain_while(x, p):
    return jax.lax.while_loop(lambda c: c[1].sum() < 2.0, lambda c: (c[0] + 1, nl(c[1], p)), (0, x))


def reference(x, p):
    """The plain loop with its trip count fixed (JAX cannot reverse a while loop)."""
    count = int(plain_while(jax.lax.stop_gradient(x), jax.lax.stop_gradient(p))[0])
    return count, jax.lax.fori_loop(0, count, lambda k, y: nl(y, p), x)


@pytest.mark.parametrize("scheme", [Online(1), Online(2), Online(3), Revolve(2), StoreAll()], ids=repr)
def test_data_dependent_while_matches_plain(scheme):
    p = jnp.array(0.3)

    def ours(x, p):
        return while_loop(lambda c: c[1].sum() < 2.0, lambda c: (c[0] + 1, nl(c[1], p)), (0, x), scheme=scheme)

    def loss(f):
        return lambda x, p: jnp.sum(f(x, p)[1] ** 2)

    count, want = plain_while(X0, p)
    assert int(count) > 5
    got = ours(X0, p)
    assert int(got[0]) == int(count)
    np.testing.assert_array_equal(got[1], want)
    g_want = jax.grad(loss(reference), argnums=(0, 1))(X0, p)
    grads = [jax.grad(loss(ours), argnums=(0, 1))(X0, p)]
    if scheme.online:
        grads.append(jax.jit(jax.grad(loss(ours), argnums=(0, 1)))(X0, p))
    for g in grads:
        for a, b in zip(g, g_want):
            np.testing.assert_allclose(a, b, rtol=1e-13)
    assert scheme.last_stats.adjoint_steps == int(count)


def test_offline_scheme_under_jit_suggests_online():
    f = lambda x: while_loop(lambda y: y.sum() < 2.0, lambda y: nl(y, 0.3), x, scheme=Revolve(3)).sum()
    assert jax.jit(f)(X0) == f(X0)  # without differentiation it is a plain loop
    with pytest.raises(UnknownTripCountError, match=r"Online\(3\)"):
        jax.jit(jax.grad(f))(X0)


def test_zero_trip_while_and_traced_range_bounds_with_online():
    f = lambda x: while_loop(lambda y: y.sum() > 10.0, lambda y: nl(y, 0.3), x, scheme=Online(2)).sum()
    np.testing.assert_array_equal(jax.jit(jax.grad(f))(X0), jnp.ones(3))

    def g(x, n):
        return checkpointed_range(Online(2), 1, n, 2, lambda i, s: (s[0] + 0.01 * i * s[0] ** 2,), (x,))[0].sum()

    def plain(x, n):
        return sum(jax.lax.fori_loop(0, (n - 1 + 1) // 2, lambda k, y: y + 0.01 * (1 + 2 * k) * y**2, x))

    np.testing.assert_allclose(jax.jit(jax.grad(g))(X0, 12), jax.grad(plain)(X0, 12), rtol=1e-13)
    np.testing.assert_allclose(jax.jit(jax.grad(lambda x, n: fori_loop(2, n, lambda i, y: y * 1.01 + i, x, scheme=Online(2)).sum()))(X0, 7), 1.01**5 * jnp.ones(3), rtol=1e-13)


def test_vmap_of_online_while():
    xs = jnp.stack([X0, 0.5 * X0 + 0.4])
    loss = lambda f: (lambda x: jnp.sum(f(x, 0.3)[1]))
    ours = lambda x, p: while_loop(lambda c: c[1].sum() < 2.0, lambda c: (c[0] + 1, nl(c[1], p)), (0, x), scheme=Online(2))
    np.testing.assert_allclose(jax.vmap(jax.grad(loss(ours)))(xs), jnp.stack([jax.grad(loss(reference))(x) for x in xs]), rtol=1e-13)


def test_condition_must_be_boolean_scalar():
    with pytest.raises(TypeError, match="boolean scalar"):
        while_loop(lambda y: y, lambda y: y * 2, X0, scheme=Online(2))


def test_linear_while_needs_no_snapshots_and_no_trip_count():
    scheme = Revolve(2)  # offline, yet fine under jit: the adjoint reads no state

    def ours(x):
        return while_loop(lambda c: c[0] < 7, lambda c: (c[0] + 1, 0.9 * c[1] + 0.1 * jnp.roll(c[1], 1)), (0, x), scheme=scheme)[1]

    def plain(x):
        return jax.lax.fori_loop(0, 7, lambda k, y: 0.9 * y + 0.1 * jnp.roll(y, 1), x)

    loss = lambda f: (lambda x: jnp.sum(f(x) ** 2))
    np.testing.assert_allclose(jax.jit(jax.grad(loss(ours)))(X0), jax.grad(loss(plain))(X0), rtol=1e-13)
    s = scheme.last_stats
    assert (s.steps, s.forward_steps, s.adjoint_steps, s.stores) == (7, 7, 7, 0)
