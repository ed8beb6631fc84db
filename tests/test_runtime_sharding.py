"""In-memory snapshots keep the state's sharding across devices (issue 7).

A state split over a 1-D mesh of 4 devices (rows of two fields, plus an unsplit scalar) runs
through ``fori_loop`` with ``Revolve`` and ``while_loop`` with ``Online``. The measurements run in a
subprocess with 4 host CPU devices, since JAX fixes the device count when it starts and this test
process must keep its own; the tests assert on what the subprocess reports:

- the snapshot buffers (the residuals of an eager ``jax.vjp``) have the state's sharding, so each
  device holds a quarter of every snapshot;
- the compiled gradient program holds per-device snapshot buffers only (never a whole one), gathers
  nothing, and needs about a quarter of the one-device working memory per device;
- the gradient on 4 devices equals the gradient on 1 device to 1e-12 relative (float64), and both
  equal plain JAX AD of the same loop;
- the loop result keeps the state's sharding, eagerly and under ``jax.jit``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

DEVICES, N, STEPS, SNAPSHOTS = 4, 32, 20, 3
LOOPS = ("fori_loop Revolve", "while_loop Online")


# ---- the subprocess -------------------------------------------------------------------------


def _measure() -> dict:
    """Everything the tests check, as JSON-friendly values (runs with 4 host devices)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    from ckpt_transform import Online, Revolve, fori_loop, while_loop

    jax.config.update("jax_enable_x64", True)
    devices = jax.devices()
    assert len(devices) == DEVICES, devices
    mesh = Mesh(np.array(devices), ("rows",))
    rows = NamedSharding(mesh, P("rows", None))

    def body(i, state, nu):
        u, v, t = state
        lap = lambda f: jnp.roll(f, 1, 0) + jnp.roll(f, -1, 0) + jnp.roll(f, 1, 1) + jnp.roll(f, -1, 1) - 4 * f
        du = nu * lap(u) - 0.05 * u * (jnp.roll(v, -1, 0) - jnp.roll(v, 1, 0)) + 1e-3 * i * u**2
        dv = nu * lap(v) - 0.05 * v * (jnp.roll(u, -1, 1) - jnp.roll(u, 1, 1))
        return u + du, v + dv, t + 0.1 * jnp.mean(u * v)

    def loss_of(run):
        def loss(u, v, nu):
            u, v, t = run((u, v, jnp.float64(0.0)), nu)
            return jnp.sum(u**2) + jnp.sum(v**3) + t, (u, v)

        return loss

    def revolve(state, nu):
        return fori_loop(0, STEPS, lambda i, s: body(i, s, nu), state, scheme=Revolve(SNAPSHOTS))

    def online(state, nu):
        k, *out = while_loop(
            lambda c: c[0] < STEPS, lambda c: (c[0] + 1, *body(c[0], c[1:], nu)), (0, *state), scheme=Online(SNAPSHOTS)
        )
        return tuple(out)

    def plain(state, nu):
        return jax.lax.fori_loop(0, STEPS, lambda i, s: body(i, s, nu), state)

    x = np.linspace(0, 2 * np.pi, N, endpoint=False)
    X, Y = np.meshgrid(x, x)
    fields = (np.sin(X) * np.cos(Y) + 0.3, np.cos(X + 2 * Y) * 0.5)
    nu = jnp.float64(0.1)
    split = [jax.device_put(f, rows) for f in fields] + [nu]
    one = [jax.device_put(f, devices[0]) for f in fields] + [jax.device_put(nu, devices[0])]
    grad_plain = jax.jit(jax.grad(lambda *a: loss_of(plain)(*a)[0], argnums=(0, 1, 2)))(*one)

    def rel(a, b) -> float:
        return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))) / np.max(np.abs(np.asarray(y)))) for x, y in zip(a, b))

    def equivalent(x, sharding) -> bool:
        return bool(x.sharding.is_equivalent_to(sharding, x.ndim))

    report = {}
    for name, run in zip(LOOPS, (revolve, online)):
        loss = loss_of(run)
        grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))
        on4, on1 = grad.lower(*split).compile(), grad.lower(*one).compile()
        (_, (u4, v4)), g4 = on4(*split)
        _, g1 = on1(*one)
        hlo = on4.as_text()
        temp1, temp4 = (p.memory_analysis().temp_size_in_bytes for p in (on1, on4))
        # eagerly, the residuals of the vjp are concrete arrays: the snapshot buffers among them
        _, pullback, (ue, ve) = jax.vjp(loss, *split, has_aux=True)
        buffers = [r for r in jax.tree_util.tree_leaves(pullback) if np.shape(r) == (SNAPSHOTS, N, N)]
        slots_split = NamedSharding(mesh, P(None, "rows", None))
        per_device = N // DEVICES
        report[name] = {
            "buffers": len(buffers),
            "buffers_split": [equivalent(b, slots_split) for b in buffers],
            "buffer_shard_shapes": sorted({s.data.shape for b in buffers for s in b.addressable_shards}),
            "hlo_split_buffer": f"f64[{SNAPSHOTS},{per_device},{N}]" in hlo,
            "hlo_whole_buffer": f"f64[{SNAPSHOTS},{N},{N}]" in hlo,
            "hlo_all_gathers": len(re.findall(r"\ball-gather(-start)?\(", hlo)),
            "temp_bytes": [temp1, temp4],
            "grad_1_vs_4": rel(g4, g1),
            "grad_vs_plain": rel(g1, grad_plain),
            "result_split_jit": [equivalent(f, rows) for f in (u4, v4)],
            "result_split_eager": [equivalent(f, rows) for f in (ue, ve)],
            "grad_split": [equivalent(g, rows) for g in g4[:2]],
        }
    report["explicit"] = _explicit(body, fields)
    return report


def _explicit(body, fields) -> dict:
    """The same loops under explicit sharding, where every array's type carries its sharding, so
    the snapshot buffers must be typed like the state or the loop carries would not type-check."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

    from ckpt_transform import Online, Revolve, fori_loop, while_loop

    mesh = jax.make_mesh((DEVICES,), ("rows",), axis_types=(AxisType.Explicit,))
    # explicit sharding cannot roll along a split axis yet: a body that mixes along columns only
    column = lambda i, s, nu: tuple(f + nu * jnp.roll(f, 1, 1) * f - 1e-3 * i for f in s)
    runs = {
        "fori_loop Revolve": lambda s, nu: fori_loop(0, STEPS, lambda i, s: column(i, s, nu), s, scheme=Revolve(SNAPSHOTS)),
        "while_loop Online": lambda s, nu: while_loop(
            lambda c: c[0] < STEPS, lambda c: (c[0] + 1, column(c[0], c[1], nu)), (0, s), scheme=Online(SNAPSHOTS)
        )[1],
        "plain": lambda s, nu: jax.lax.fori_loop(0, STEPS, lambda i, s: column(i, s, nu), s),
    }
    out = {}
    with jax.set_mesh(mesh):
        split = tuple(jax.device_put(f, NamedSharding(mesh, P("rows", None))) for f in fields)
        for name, run in runs.items():
            grad = jax.jit(jax.grad(lambda s, nu: sum(jnp.sum(f**3) for f in run(s, nu)), argnums=(0, 1)))
            out[name] = grad(split, jnp.float64(0.05))
        want = out.pop("plain")
        return {
            name: {
                "grad_vs_plain": max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(want))),
                "grad_types": [str(jax.typeof(f)) for f in g[0]],
            }
            for name, g in out.items()
        }


# ---- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def measured() -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={DEVICES}")
    proc = subprocess.run([sys.executable, __file__], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("loop", LOOPS)
def test_snapshot_buffers_have_the_state_sharding(measured, loop):
    m = measured[loop]
    assert m["buffers"] == 2, m  # u and v; the scalar t has its own (SNAPSHOTS,) buffer
    assert all(m["buffers_split"]), m
    assert m["buffer_shard_shapes"] == [[SNAPSHOTS, N // DEVICES, N]], m


@pytest.mark.parametrize("loop", LOOPS)
def test_compiled_program_never_holds_a_whole_snapshot(measured, loop):
    m = measured[loop]
    assert m["hlo_split_buffer"] and not m["hlo_whole_buffer"], m
    assert m["hlo_all_gathers"] == 0, m
    one, four = m["temp_bytes"]
    assert four <= 1.5 * one / DEVICES, m  # gathered snapshots would not shrink at all


@pytest.mark.parametrize("loop", LOOPS)
def test_same_gradient_on_1_and_4_devices(measured, loop):
    m = measured[loop]
    assert m["grad_1_vs_4"] <= 1e-12, m
    assert m["grad_vs_plain"] <= 1e-12, m


@pytest.mark.parametrize("loop", LOOPS)
def test_loop_result_and_gradient_keep_the_state_sharding(measured, loop):
    m = measured[loop]
    assert all(m["result_split_jit"]) and all(m["result_split_eager"]) and all(m["grad_split"]), m


@pytest.mark.parametrize("loop", LOOPS)
def test_explicit_sharding_types_the_snapshot_buffers_like_the_state(measured, loop):
    m = measured["explicit"][loop]
    assert m["grad_vs_plain"] <= 1e-12, m
    assert m["grad_types"] == [f"float64[{N}@rows,{N}]"] * 2, m


if __name__ == "__main__":
    print(json.dumps(_measure()))
