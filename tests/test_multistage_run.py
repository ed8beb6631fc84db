"""Multistage runs with its two levels: fast slots in device memory (or host), the rest on disk."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ckpt_transform.runtime import fori_loop
from ckpt_transform.schedules import Multistage
from ckpt_transform.storage import HDF5Storage, HostStorage
from _loop_cases import P0, X0, check_heat_seed, io_bytes, nl_body


def test_heat_seed_memory_2_disk_6_on_hdf5(systemp):
    scheme = Multistage(2, 6, disk_storage=HDF5Storage())
    plan, stats = check_heat_seed(scheme)
    # only the disk level is I/O; level 0 stays in device memory
    assert (stats.bytes_written, stats.bytes_read) == io_bytes(plan, {1}, 800)
    assert 0 < stats.bytes_written < 800 * plan.stores
    assert os.listdir(systemp) == []


@pytest.mark.parametrize("memory", [None, HostStorage()], ids=["device", "host"])
def test_nonlinear_gradient_on_two_levels_matches_plain_jax(memory, tmp_path):
    path = tmp_path / "disk.h5"
    scheme = Multistage(1, 3, storage=memory, disk_storage=HDF5Storage(path, keep=True))

    def loss(x, p):
        return jnp.sum(fori_loop(0, 40, lambda i, x: nl_body(i, x, p), x, scheme=scheme) ** 2)

    def plain(x, p):
        return jnp.sum(jax.lax.fori_loop(0, 40, lambda i, x: nl_body(i, x, p), x) ** 2)

    got = jax.grad(loss, argnums=(0, 1))(X0, P0)
    want = jax.grad(plain, argnums=(0, 1))(X0, P0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    plan = scheme.plan(40)
    levels = {1} if memory is None else {0, 1}
    assert (scheme.last_stats.bytes_written, scheme.last_stats.bytes_read) == io_bytes(plan, levels, 24)
    with HDF5Storage.load(path, [X0]) as store:
        assert store.meta["level"] == 1 and store.meta["steps"] == 40
        assert len(store.steps) == plan.slots[1] == 3


def test_disk_level_defaults_to_a_temporary_hdf5_file_also_under_jit(systemp):
    scheme = Multistage(1, 3)

    def loss(x):
        return jnp.sum(fori_loop(0, 30, lambda i, x: nl_body(i, x, P0), x, scheme=scheme) ** 2)

    want = jax.grad(lambda x: jnp.sum(jax.lax.fori_loop(0, 30, lambda i, x: nl_body(i, x, P0), x) ** 2))(X0)
    for grad, eager in ((jax.grad(loss), True), (jax.jit(jax.grad(loss)), False)):
        np.testing.assert_allclose(grad(X0), want, rtol=1e-12, atol=0)
        stats = scheme.last_stats
        assert (stats.bytes_written, stats.bytes_read) == io_bytes(scheme.plan(30), {1}, 24, eager=eager)
        assert stats.bytes_written > 0 and os.listdir(systemp) == []
    # without disk slots the schedule uses device memory only: the compiled executor runs it
    memory_only = Multistage(3, 0)
    jax.grad(lambda x: fori_loop(0, 30, lambda i, x: nl_body(i, x, P0), x, scheme=memory_only).sum())(X0)
    assert memory_only.last_stats.bytes_written == 0 and memory_only.last_stats.stores > 0
