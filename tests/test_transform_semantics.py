"""Rewritten loops give the plain loop's values and plain JAX AD's gradients (1e-12), eagerly and
under jax.jit, for every supported construct.

The jax.jit variants are marked slow (each compiles the runtime's step functions again); run them
with `-m slow`. Each case is source text with a marked block. The rewritten version goes through compile_source;
the reference is the same source run with `checkpoint` replaced by a do-nothing context manager,
i.e. the untransformed Python loop differentiated by plain JAX AD.
"""

import contextlib
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform import Revolve, checkpoint
from ckpt_transform._marker import run_untransformed
from ckpt_transform.transform import compile_source, transform

PRELUDE = "import jax\nimport jax.numpy as jnp\nfrom ckpt_transform import checkpoint, Revolve\n"


def _load(name, src):
    """``(rewritten namespace, plain namespace)`` of a test module."""
    src = PRELUDE + textwrap.dedent(src)
    rewritten, plain = {"__name__": name}, {"__name__": name}
    exec(compile_source(src, f"<{name}>"), rewritten)
    with run_untransformed():
        exec(compile(src, f"<{name}>", "exec"), plain)
    plain["checkpoint"] = lambda *args: contextlib.nullcontext()
    return rewritten, plain


@pytest.fixture(params=["eager", pytest.param("jit", marks=pytest.mark.slow)])
def jit(request):
    return request.param == "jit"


def _close(got, want):
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        g, w = np.asarray(g), np.asarray(w)
        scale = max(np.max(np.abs(w)), 1e-300)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * scale)


def _check(fn, ref, args, argnums, jit):
    """Values and gradients of ``fn`` equal those of ``ref`` (plain AD, eager), eagerly or jitted."""
    if jit:
        fn = jax.jit(fn)
    _close(fn(*args), ref(*args))
    grad = jax.grad(fn, argnums)
    _close(jax.jit(grad)(*args) if jit else grad(*args), jax.grad(ref, argnums)(*args))


HEAT = """
    def step(T, lam):
        return T.at[1:-1].add(lam * (T[2:] - 2 * T[1:-1] + T[:-2]))
"""

T0 = jnp.zeros(20).at[0].set(20.0)


def test_rebinding_one_name(jit):
    new, old = _load("rebinding", HEAT + """
    def simulate(T, lam):
        with checkpoint(Revolve(3), T):
            for i in range(30):
                T = step(T, lam)
        return jnp.sum(T ** 2)
    """)
    _check(new["simulate"], old["simulate"], (T0, 0.3), (0, 1), jit)


def test_tuple_state_negative_stride_and_index_arithmetic(jit):
    new, old = _load("tuple", """
    def simulate(x, v, forcing):
        dt = 0.05
        with checkpoint(Revolve(4), (x, v)):
            for i in range(40, 3, -3):
                a = -jnp.sin(x) + forcing[i % 7] * (i / 40.0)
                v = v + dt * a
                x = x + dt * v
        return jnp.sum(x * v)
    """)
    _check(new["simulate"], old["simulate"], (jnp.linspace(0.1, 1.0, 5), jnp.zeros(5), jnp.arange(7.0) / 7), (0, 1, 2), jit)


def test_state_given_as_several_arguments_and_temporaries(jit):
    new, old = _load("args", """
    FLIP = True

    def simulate(x, y, k):
        with checkpoint(Revolve(2), x, y):
            for i in range(1, 12):
                t = jnp.tanh(k * x)
                if FLIP:  # Python control flow on a constant (the index itself is traced)
                    s = jnp.where(i % 2, 1.0, -0.5)
                else:
                    s = 1.0
                x, y = x + 0.1 * s * t * y, y - 0.1 * t
        return jnp.sum(x) + jnp.sum(y ** 3)
    """)
    _check(new["simulate"], old["simulate"], (jnp.ones(4), jnp.full(4, 0.5), 0.7), (0, 1, 2), jit)


def test_nested_marked_loops(jit):
    new, old = _load("nested", """
    def simulate(T, lam):
        with checkpoint(Revolve(3), T):
            for i in range(6):
                with checkpoint(Revolve(2), T):
                    for j in range(5):
                        T = T + lam * jnp.sin(T) * (i + 1) / (j + 1)
                T = 0.9 * T
        return jnp.sum(T)
    """)
    _check(new["simulate"], old["simulate"], (jnp.linspace(0.0, 1.0, 6), 0.05), (0, 1), jit)


def test_marked_loop_in_a_closure(jit):
    new, old = _load("closure", HEAT + """
    def make(lam, n):
        def solve(T):
            with checkpoint(Revolve(3), T):
                for i in range(n):
                    T = step(T, lam)
            return jnp.sum(T[1:5])
        return solve

    def simulate(T, lam):
        return make(lam, 25)(T)
    """)
    _check(new["simulate"], old["simulate"], (T0, 0.4), (0, 1), jit)


def test_marked_loop_in_a_method_calling_other_functions(jit):
    new, old = _load("method", HEAT + """
    class Model:
        def __init__(self, lam):
            self.lam = lam

        def damping(self, T, i):
            return 1.0 - 0.001 * i * jnp.tanh(T)

        def run(self, T):
            with checkpoint(Revolve(4), T):
                for i in range(3, 33):
                    T = step(T, self.lam) * self.damping(T, i)
            return jnp.sum(T)

    def simulate(T, lam):
        return Model(lam).run(T)
    """)
    _check(new["simulate"], old["simulate"], (T0, 0.25), (0, 1), jit)


def test_module_level_marked_loop():
    new, old = _load("module_level", """
    T = jnp.arange(4.0)
    with checkpoint(Revolve(2), T):
        for i in range(5):
            T = T * 1.5 + i
    """)
    _close(new["T"], old["T"])


def test_while_loop(jit):
    new, old = _load("while", """
    from ckpt_transform import Online

    def integrate(y, k):
        t = 0.0
        with checkpoint(Online(3), (t, y)):
            while t < 1.0:
                y = y - 0.05 * k * y
                t = t + 0.05
        return jnp.sum(y)
    """)
    _check(new["integrate"], old["integrate"], (jnp.ones(3), 0.5), (0, 1), jit)


class Heat:
    """The seed example's state as a mutable object, like a Julia mutable struct."""

    def __init__(self, T, lam):
        self.T = T
        self.Tnext = T
        self.lam = lam


def _advance(heat):
    T = heat.T
    return T.at[1:-1].set(T[1:-1] + heat.lam * (T[2:] - 2 * T[1:-1] + T[:-2]))


def _heat_plain(T0, nsteps):
    heat = Heat(T0, 0.5)
    for i in range(nsteps):
        heat.Tnext = _advance(heat)
        heat.T = heat.Tnext
    return jnp.sum(heat.T)


@transform
def _heat_checkpointed(T0, nsteps):
    heat = Heat(T0, 0.5)
    with checkpoint(Revolve(4), heat):
        for i in range(nsteps):
            heat.Tnext = _advance(heat)
            heat.T = heat.Tnext
    return jnp.sum(heat.T)


def _seed_T0():
    return jnp.zeros(100).at[0].set(20.0).at[-1].set(0.0)


def test_seed_heat_object_state_gradient_norm():
    """The seed's numbers: Revolve(4) over 500 steps (the seed computed the norm with plain AD)."""
    g = jax.grad(_heat_checkpointed)(_seed_T0(), 500)
    assert np.linalg.norm(np.asarray(g[1:-1])) == pytest.approx(6.970279349365908, rel=1e-12)


def test_object_state_matches_plain_ad():
    T0 = _seed_T0()
    _close(_heat_checkpointed(T0, 60), _heat_plain(T0, 60))
    _close(jax.grad(_heat_checkpointed)(T0, 60), jax.grad(_heat_plain)(T0, 60))


@pytest.mark.slow
def test_seed_heat_matches_plain_ad_over_500_steps():
    T0 = _seed_T0()
    _close(jax.grad(_heat_checkpointed)(T0, 500), jax.grad(_heat_plain)(T0, 500))


@pytest.mark.slow
def test_object_state_under_jit():
    T0 = _seed_T0()
    _close(jax.jit(_heat_checkpointed, static_argnums=1)(T0, 60), _heat_plain(T0, 60))
    jitted = jax.jit(jax.grad(_heat_checkpointed), static_argnums=1)
    _close(jitted(T0, 60), jax.grad(_heat_plain)(T0, 60))


def test_caller_object_holds_final_state():
    T0 = _seed_T0()

    @transform
    def run(heat):
        with checkpoint(Revolve(3), heat):
            for i in range(20):
                heat.Tnext = _advance(heat)
                heat.T = heat.Tnext

    heat, ref = Heat(T0, 0.5), Heat(T0, 0.5)
    run(heat)
    for i in range(20):
        ref.T = _advance(ref)
    _close(heat.T, ref.T)
    _close(heat.Tnext, ref.T)
    assert heat.lam == 0.5


def _decorated_closure(T, lam):
    @transform  # decorated inside the differentiated function: `lam` is a traced closure cell
    def solve(T):
        with checkpoint(Revolve(3), T):
            for i in range(3, 23, 4):
                T = T + lam * jnp.sin(T) * i
        return T

    return jnp.sum(solve(T) ** 2)


def _plain_closure(T, lam):
    for i in range(3, 23, 4):
        T = T + lam * jnp.sin(T) * i
    return jnp.sum(T ** 2)


def test_decorated_closure_gradient_reaches_closed_over_values(jit):
    _check(_decorated_closure, _plain_closure, (jnp.linspace(0.0, 1.0, 5), 0.01), (0, 1), jit)


class _Model:
    def __init__(self, lam):
        self.lam = lam

    def scale(self):
        return 1.0 + self.lam

    @transform
    def run(self, T):
        with checkpoint(Revolve(2), T):
            for i in range(7):
                T = T * self.scale() - 0.01 * i
        return jnp.sum(T)


class _Sub(_Model):
    @transform
    def run(self, T):
        base = super().scale  # zero-argument super() outside the loop needs the __class__ cell
        with checkpoint(Revolve(2), T):
            for i in range(7):
                T = T * base() - 0.01 * i * super(_Sub, self).scale()
        return 2.0 * jnp.sum(T)


def test_decorated_methods_and_super(jit):
    def plain(T, lam):
        for i in range(7):
            T = T * (1.0 + lam) - 0.01 * i * (1.0 + lam)
        return 2.0 * jnp.sum(T)

    _check(lambda T, lam: _Sub(lam).run(T), plain, (jnp.ones(3), 0.1), (0, 1), jit)
    _check(lambda T, lam: _Model(lam).run(T), _model_plain, (jnp.ones(3), 0.1), (0, 1), jit)


def _model_plain(T, lam):
    for i in range(7):
        T = T * (1.0 + lam) - 0.01 * i
    return jnp.sum(T)
