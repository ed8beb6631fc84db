"""The host-driven executor: snapshots in HostStorage / HDF5Storage, gradients against plain JAX,
real stores and restores counted in bytes, files opened first and always removed, jit refused."""

import gc
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform.runtime import checkpointed_range, fori_loop, while_loop
from ckpt_transform.runtime._host import HostStorageTracedError
from ckpt_transform.schedules import Online, Periodic, Revolve
from ckpt_transform.schedules._actions import ADVANCE
from ckpt_transform.storage import HDF5Storage, HostStorage, StorageError

from _loop_cases import P0, X0, check_heat_seed, io_bytes, nl_body


# ---- the seed example ------------------------------------------------------------------------


@pytest.mark.parametrize("storage", [HDF5Storage(), HostStorage()], ids=repr)
@pytest.mark.parametrize("make", [lambda s: Revolve(100, storage=s), lambda s: Periodic(100, storage=s),
                                  lambda s: Revolve(4, storage=s)], ids=["Revolve(100)", "Periodic(100)", "Revolve(4)"])
def test_heat_seed_on_storage(make, storage, systemp):
    plan, stats = check_heat_seed(make(storage))
    assert (stats.bytes_written, stats.bytes_read) == io_bytes(plan, {0}, 800)
    assert stats.bytes_written > 0 and stats.bytes_read > 0 and stats.io_seconds > 0
    assert os.listdir(systemp) == []


# ---- nonlinear bodies against plain JAX AD ---------------------------------------------------


STORAGES = [HostStorage(), HDF5Storage(), HDF5Storage(compression="lzf")]


@pytest.mark.parametrize("storage", STORAGES, ids=repr)
@pytest.mark.parametrize("snapshots", [1, 3])
def test_nonlinear_range_matches_plain_jax(storage, snapshots, systemp):
    scheme = Revolve(snapshots, storage=storage)

    def ours(x, p):
        return checkpointed_range(scheme, 3, 50, 2, lambda i, s: (nl_body(i, s[0], p),), (x,))[0]

    def plain(x, p):
        for i in range(3, 50, 2):
            x = nl_body(i, x, p)
        return x

    np.testing.assert_allclose(ours(X0, P0), plain(X0, P0), rtol=1e-15)
    loss = lambda f: lambda x, p: jnp.sum(f(x, p) ** 2)  # noqa: E731
    got = jax.grad(loss(ours), argnums=(0, 1))(X0, P0)
    want = jax.grad(loss(plain), argnums=(0, 1))(X0, P0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    plan = scheme.plan(24)
    assert (scheme.last_stats.bytes_written, scheme.last_stats.bytes_read) == io_bytes(plan, {0}, 24)
    assert os.listdir(systemp) == []


def test_pytree_carry_with_integer_leaf_and_counted_while_loop(systemp):
    scheme = Revolve(3, storage=HDF5Storage())

    def ours(x, p):
        body = lambda c: (c[0] + 1, nl_body(c[0], c[1], p))  # noqa: E731
        return while_loop(lambda c: c[0] < 30, body, (jnp.int32(0), x), scheme=scheme)[1]

    def plain(x, p):
        return jax.lax.fori_loop(0, 30, lambda i, x: nl_body(i, x, p), x)

    got = jax.grad(lambda x, p: ours(x, p).sum(), argnums=(0, 1))(X0, P0)
    want = jax.grad(lambda x, p: plain(x, p).sum(), argnums=(0, 1))(X0, P0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    # the int32 counter is stored with the state: 4 + 24 bytes per snapshot
    written, read = io_bytes(scheme.plan(30), {0}, 28)
    assert (scheme.last_stats.bytes_written, scheme.last_stats.bytes_read) == (written, read) and written > 0
    assert os.listdir(systemp) == []


def test_vjp_called_twice_repeats_the_forward_sweep():
    scheme = Revolve(2, storage=HostStorage())
    _, pull = jax.vjp(lambda x: fori_loop(0, 12, lambda i, x: nl_body(i, x, P0), x, scheme=scheme), X0)
    want = jax.vjp(lambda x: jax.lax.fori_loop(0, 12, lambda i, x: nl_body(i, x, P0), x), X0)[1]
    for ct in (jnp.ones(3), jnp.arange(3.0)):
        np.testing.assert_allclose(pull(ct)[0], want(ct)[0], rtol=1e-12)


# ---- files: opened first, removed always, kept with metadata ---------------------------------


def counting_body(calls, fail_at=None):
    """nl_body that counts its executions and raises at execution ``fail_at``."""

    def record(i):
        calls.append(int(i))
        if len(calls) == fail_at:
            raise RuntimeError("boom in the body")

    def body(i, x):
        jax.debug.callback(record, i)
        return nl_body(i, x, P0)

    return body


@pytest.mark.parametrize("fail_at", [5, 40], ids=["forward sweep", "reverse sweep"])
def test_exception_in_the_loop_body_removes_the_file(fail_at, systemp):
    scheme = Revolve(3, storage=HDF5Storage())
    calls = []
    loss = lambda x: fori_loop(0, 20, counting_body(calls, fail_at), x, scheme=scheme).sum()  # noqa: E731
    with pytest.raises(Exception, match="boom in the body"):
        jax.grad(loss)(X0)
    assert len(calls) == fail_at
    assert os.listdir(systemp) == []


def test_exception_after_the_loop_removes_the_file(systemp):
    scheme = Revolve(3, storage=HDF5Storage())

    def loss(x):
        fori_loop(0, 20, lambda i, x: nl_body(i, x, P0), x, scheme=scheme)
        assert len(os.listdir(systemp)) == 1  # the forward sweep's snapshots, waiting for the reverse
        raise ValueError("after the loop")

    try:
        jax.grad(loss)(X0)
    except ValueError:
        pass
    gc.collect()  # the pending reverse sweep, and with it the store, is garbage now
    assert os.listdir(systemp) == []


def test_store_is_opened_before_any_step_runs(tmp_path):
    directory = tmp_path / "gone"
    directory.mkdir()
    path = directory / "snapshots.h5"
    scheme = Revolve(3, storage=HDF5Storage(path))
    directory.rmdir()
    calls = []
    with pytest.raises(StorageError, match="snapshots.h5"):
        jax.grad(lambda x: fori_loop(0, 20, counting_body(calls), x, scheme=scheme).sum())(X0)
    assert calls == []


def test_kept_file_holds_metadata_and_the_states_at_its_slot_positions(tmp_path):
    path = tmp_path / "kept.h5"
    scheme = Revolve(3, storage=HDF5Storage(path, keep=True))
    jax.grad(lambda x: checkpointed_range(scheme, 3, 50, 2, lambda i, s: (nl_body(i, s[0], P0),), (x,))[0].sum())(X0)
    with HDF5Storage.load(path, [X0]) as store:
        assert store.meta["steps"] == 24 and store.meta["scheme"] == repr(scheme) and store.meta["level"] == 0
        assert len(store.steps) == 3 and store.steps[0] == 0
        for slot, position in enumerate(store.steps):
            x = X0
            for i in range(3, 3 + 2 * position, 2):
                x = nl_body(i, x, P0)
            np.testing.assert_allclose(store.read(slot)[1][0], x, rtol=1e-15)


# ---- jit, stats, progress --------------------------------------------------------------------


@pytest.mark.parametrize("storage", [HostStorage(), HDF5Storage()], ids=repr)
def test_under_jit_snapshots_move_through_ordered_callbacks(storage, systemp):
    scheme = Revolve(3, storage=storage)

    def loss(x, p):
        return jnp.sum(fori_loop(0, 20, lambda i, x: nl_body(i, x, p), x, scheme=scheme) ** 2)

    want = jax.grad(lambda x, p: jnp.sum(jax.lax.fori_loop(0, 20, lambda i, x: nl_body(i, x, p), x) ** 2), argnums=(0, 1))(X0, P0)
    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    for _ in range(2):  # the compiled program opens and closes its stores on every run
        for a, b in zip(grad(X0, P0), want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
        assert (scheme.last_stats.bytes_written, scheme.last_stats.bytes_read) == io_bytes(
            scheme.plan(20), {0}, 24, eager=False
        )
        assert scheme.last_stats.forward_steps == scheme.plan(20).forward_steps + 1
        assert os.listdir(systemp) == []


def test_vmap_of_a_gradient_on_host_storage_asks_for_memory(systemp):
    scheme = Revolve(3, storage=HDF5Storage())
    f = lambda x: fori_loop(0, 20, lambda i, x: nl_body(i, x, P0), x, scheme=scheme).sum()  # noqa: E731
    with pytest.raises(HostStorageTracedError, match=r"vmap.*MemoryStorage\(\)"):
        jax.vmap(jax.grad(f))(jnp.stack([X0, X0]))
    assert os.listdir(systemp) == []


def test_verbose_line_reports_the_io(capsys):
    scheme = Revolve(2, storage=HostStorage(), verbose=True)
    jax.grad(lambda x: fori_loop(0, 10, lambda i, x: nl_body(i, x, P0), x, scheme=scheme).sum())(X0)
    written, read = io_bytes(scheme.plan(10), {0}, 24)
    assert f"{written} bytes written, {read} bytes read" in capsys.readouterr().err


def test_progress_bars_count_both_sweeps(capsys):
    scheme = Revolve(2, storage=HostStorage(progress=True))
    jax.grad(lambda x: fori_loop(0, 10, lambda i, x: nl_body(i, x, P0), x, scheme=scheme).sum())(X0)
    err = capsys.readouterr().err
    plan = scheme.plan(10)
    forward = sum(a.to - a.step for a in plan.actions[: plan.forward_sweep_length] if a.op == ADVANCE)
    assert "forward sweep: 100%" in err and f"{forward}/{forward}" in err
    assert "reverse sweep: 100%" in err and "10/10" in err


def test_progress_without_tqdm_warns_and_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    scheme = Revolve(2, storage=HostStorage(progress=True))
    with pytest.warns(UserWarning, match="tqdm"):
        g = jax.grad(lambda x: fori_loop(0, 10, lambda i, x: nl_body(i, x, P0), x, scheme=scheme).sum())(X0)
    want = jax.grad(lambda x: jax.lax.fori_loop(0, 10, lambda i, x: nl_body(i, x, P0), x).sum())(X0)
    np.testing.assert_allclose(g, want, rtol=1e-12)


@pytest.mark.parametrize("storage", [HostStorage(), None], ids=["host-driven", "compiled table"])
def test_compiled_pieces_are_shared_only_by_the_same_computation(storage):
    from ckpt_transform.runtime import _compiled

    scheme = Revolve(2, storage=storage)

    def grads(c, start, loop):
        body = lambda i, s: (nl_body(i, s[0], c),)  # noqa: E731
        return jax.grad(lambda x: loop(body, x).sum())(X0)

    ours = lambda start: lambda body, x: checkpointed_range(scheme, start, start + 12, 1, body, (x,))[0]  # noqa: E731

    def plain(start):
        def run(body, x):
            for i in range(start, start + 12):
                (x,) = body(i, (x,))
            return x

        return run

    _compiled._CACHE.clear()
    for c in (np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])):  # constants baked into the body
        for start in (0, 5):  # the loop index map
            np.testing.assert_allclose(grads(c, start, ours(start)), grads(c, start, plain(start)), rtol=1e-12)
    assert len(_compiled._CACHE) == 4
    cached = dict(_compiled._CACHE)
    grads(np.array([3.0, 2.0, 1.0]), 5, ours(5))  # the same computation again: nothing compiled
    assert dict(_compiled._CACHE) == cached
    if storage is None:  # each sweep compiled once, though eager grad traced the loop five times
        assert all(s.forward._cache_size() == s.reverse._cache_size() == 1 for s in cached.values())


# ---- while loops placed online ---------------------------------------------------------------


@pytest.mark.parametrize("storage, snapshots, n", [
    (HDF5Storage(), 2, 7), (HDF5Storage(), 3, 60), (HDF5Storage(), 4, 0),  # 60: past the r=2 range
    (HostStorage(), 3, 9), (HostStorage(), 1, 5), (HostStorage(), 4, 1),
], ids=str)
def test_online_while_loop_matches_plain_jax_and_the_compiled_run(storage, snapshots, n, systemp):
    def loss(scheme):
        body = lambda c: (c[0] + 1, nl_body(c[0], c[1], P0))  # noqa: E731
        return lambda x: while_loop(lambda c: c[0] < n, body, (0, x), scheme=scheme)[1].sum()

    scheme = Online(snapshots, storage=storage)
    got = jax.grad(loss(scheme))(X0)
    want = jax.grad(lambda x: jax.lax.fori_loop(0, n, lambda i, x: nl_body(i, x, P0), x).sum())(X0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    compiled = Online(snapshots)
    jax.grad(loss(compiled))(X0)
    ours, theirs = scheme.last_stats, compiled.last_stats
    assert (ours.steps, ours.forward_steps, ours.adjoint_steps, ours.stores, ours.peak_snapshots) == (
        theirs.steps, theirs.forward_steps, theirs.adjoint_steps, theirs.stores, theirs.peak_snapshots)
    # the int state counter is stored too: 8 + 24 bytes per snapshot
    assert (ours.bytes_written, ours.bytes_read) == io_bytes(Online(snapshots).plan(n), {0}, 32)
    assert os.listdir(systemp) == []


def test_online_while_loop_under_jit_asks_for_eager_or_memory():
    scheme = Online(3, storage=HDF5Storage())
    f = lambda x: while_loop(lambda c: c[0] < 9, lambda c: (c[0] + 1, jnp.sin(c[1])), (0, x), scheme=scheme)[1].sum()  # noqa: E731
    with pytest.raises(HostStorageTracedError, match="MemoryStorage"):
        jax.jit(jax.grad(f))(X0)


def test_under_jit_a_run_stopped_by_the_body_is_closed_by_the_next_run(systemp):
    fail = [True]

    def check(i):
        if fail[0] and int(i) == 7:
            raise RuntimeError("boom in the body")

    def body(i, x):
        jax.debug.callback(check, i)
        return nl_body(i, x, P0)

    scheme = Revolve(3, storage=HDF5Storage())
    grad = jax.jit(jax.grad(lambda x: fori_loop(0, 20, body, x, scheme=scheme).sum()))
    with pytest.raises(Exception, match="boom in the body"):
        grad(X0)
    assert len(os.listdir(systemp)) == 1  # no hook into a failed compiled call
    fail[0] = False
    want = jax.grad(lambda x: jax.lax.fori_loop(0, 20, lambda i, x: nl_body(i, x, P0), x).sum())(X0)
    np.testing.assert_allclose(grad(X0), want, rtol=1e-12)
    assert os.listdir(systemp) == []


def test_inner_loop_on_hdf5_inside_a_checkpointed_loop(systemp):
    inner_scheme = Revolve(2, storage=HDF5Storage())

    def loss(x, p, outer_loop, inner_loop):
        inner = lambda j, x: 0.9 * inner_loop(0, 5, lambda i, y: nl_body(i, y, p), x)  # noqa: E731
        return jnp.sum(outer_loop(0, 4, inner, x) ** 2)

    ours = lambda x, p: loss(  # noqa: E731
        x, p, lambda a, b, f, x: fori_loop(a, b, f, x, scheme=Revolve(2, storage=HostStorage())),
        lambda a, b, f, x: fori_loop(a, b, f, x, scheme=inner_scheme))
    plain = lambda x, p: loss(x, p, jax.lax.fori_loop, jax.lax.fori_loop)  # noqa: E731
    for a, b in zip(jax.grad(ours, argnums=(0, 1))(X0, P0), jax.grad(plain, argnums=(0, 1))(X0, P0)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    assert inner_scheme.last_stats.bytes_written > 0  # the inner runs went through callbacks
    assert os.listdir(systemp) == []


def test_jit_of_the_vjp_of_an_eager_forward_pass_asks_for_eager():
    scheme = Revolve(2, storage=HostStorage())
    _, pull = jax.vjp(lambda x: fori_loop(0, 12, lambda i, x: nl_body(i, x, P0), x, scheme=scheme), X0)
    with pytest.raises(HostStorageTracedError, match="forward pass ran eagerly"):
        jax.jit(pull)(jnp.ones(3))
