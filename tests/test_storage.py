"""The store interface, exercised the same way on every external storage: round trips, checks,
statistics. File safety of HDF5Storage is in test_storage_hdf5.py."""

import pickle

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from ckpt_transform.storage import HDF5Storage, HostStorage, StorageError
from ckpt_transform.storage._store import LeafSpec, StorageStats

SPECS = [
    LeafSpec((3, 4), np.dtype("float64")),
    LeafSpec((7,), np.dtype("float32")),
    LeafSpec((), np.dtype("int32")),
    LeafSpec((2, 3, 2), np.dtype("int64")),
    LeafSpec((4,), np.dtype("bool")),
    LeafSpec((2,), np.dtype("complex128")),
    LeafSpec((0, 3), np.dtype("float32")),
    LeafSpec((5,), np.dtype(ml_dtypes.bfloat16)),
    LeafSpec((3,), np.dtype("float16")),
    LeafSpec((2, 2), np.dtype("uint8")),
    LeafSpec((3,), np.dtype("complex64")),
    LeafSpec((2,), np.dtype(">f8")),
]


def random_leaves(rng, specs=SPECS):
    leaves = []
    for spec in specs:
        values = rng.normal(size=spec.shape) * 100
        if spec.dtype.kind == "c":
            values = values + 1j * rng.normal(size=spec.shape)
        leaves.append(np.asarray(values).astype(spec.dtype))
    return leaves


def assert_same(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert isinstance(a, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.fixture(
    params=["host", "hdf5-temp", "hdf5-path", "hdf5-gzip", "hdf5-lzf", "hdf5-gzip9"],
)
def storage(request, tmp_path):
    return {
        "host": lambda: HostStorage(),
        "hdf5-temp": lambda: HDF5Storage(),
        "hdf5-path": lambda: HDF5Storage(tmp_path / "snaps.h5"),
        "hdf5-gzip": lambda: HDF5Storage(tmp_path / "snaps.h5", compression="gzip"),
        "hdf5-lzf": lambda: HDF5Storage(compression="lzf"),
        "hdf5-gzip9": lambda: HDF5Storage(compression=9),
    }[request.param]()


def test_round_trip_every_dtype_and_shape(storage):
    rng = np.random.default_rng(0)
    with storage.open(3, SPECS, {"steps": 10, "scheme": "Revolve(3)"}) as store:
        assert store.steps == (-1, -1, -1)
        written = {slot: random_leaves(rng) for slot in range(3)}
        for slot, step in [(0, 0), (2, 4), (1, 7)]:
            store.write(slot, step, written[slot])
        assert store.steps == (0, 7, 4)
        for slot, step in [(2, 4), (0, 0), (1, 7), (0, 0)]:
            got_step, leaves = store.read(slot)
            assert got_step == step
            assert_same(leaves, written[slot])
        # overwrite a slot, free another
        newer = random_leaves(rng)
        store.write(2, 9, newer)
        store.free(0)
        assert store.steps == (-1, 7, 9)
        assert_same(store.read(2)[1], newer)
        with pytest.raises(ValueError, match="slot 0 is empty"):
            store.read(0)


def test_jax_leaves_are_copied_to_the_host(storage):
    specs = [LeafSpec((4, 4), np.dtype("float32")), LeafSpec((), np.dtype("float64"))]
    leaves = [jnp.arange(16, dtype=jnp.float32).reshape(4, 4), jnp.asarray(2.5)]
    with storage.open(1, specs) as store:
        store.write(0, 3, leaves)
        step, got = store.read(0)
    assert step == 3
    assert_same(got, [np.asarray(x) for x in leaves])


def test_snapshot_does_not_change_when_the_written_array_does(storage):
    spec = LeafSpec((5,), np.dtype("float64"))
    array = np.arange(5.0)
    with storage.open(1, [spec]) as store:
        store.write(0, 1, [array])
        array[:] = -1
        got = store.read(0)[1][0]
        np.testing.assert_array_equal(got, np.arange(5.0))
        if not got.flags.writeable:  # shared with the store: must not be writable
            with pytest.raises(ValueError):
                got[0] = 7


def test_specs_from_arrays_and_shape_dtype_structs():
    import jax

    specs = [np.zeros((2, 3), np.float32), jax.ShapeDtypeStruct((4,), jnp.int32), jnp.zeros(())]
    assert [LeafSpec.of(s) for s in specs] == [
        LeafSpec((2, 3), np.dtype("float32")),
        LeafSpec((4,), np.dtype("int32")),
        LeafSpec((), np.dtype("float64")),
    ]


def test_shape_dtype_and_count_mismatches_are_errors(storage):
    specs = [LeafSpec((4, 4), np.dtype("float32")), LeafSpec((2,), np.dtype("int32"))]
    good = [np.zeros((4, 4), np.float32), np.zeros(2, np.int32)]
    with storage.open(2, specs) as store:
        with pytest.raises(ValueError, match=r"slot 1 leaf 0: expected float32\[4, 4\], got float32\[4, 5\]"):
            store.write(1, 0, [np.zeros((4, 5), np.float32), good[1]])
        with pytest.raises(ValueError, match=r"slot 0 leaf 1: expected int32\[2\], got int64\[2\]"):
            store.write(0, 0, [good[0], np.zeros(2, np.int64)])
        with pytest.raises(ValueError, match=r"slot 0 leaf 0: expected float32\[4, 4\], got float64\[4, 4\]"):
            store.write(0, 0, [jnp.zeros((4, 4), jnp.float64), good[1]])
        with pytest.raises(ValueError, match="expected 2 leaves, got 1"):
            store.write(0, 0, good[:1])
        with pytest.raises(IndexError, match=r"slot must be an integer in \[0, 2\), got 2"):
            store.write(2, 0, good)
        with pytest.raises(IndexError, match="got -1"):
            store.read(-1)
        with pytest.raises(ValueError, match="step must be an integer >= 0"):
            store.write(0, -3, good)
        # nothing above reached the store
        assert store.steps == (-1, -1)
        assert store.stats == StorageStats()
        store.write(0, 5, good)
    with pytest.raises(ValueError, match="store is closed"):
        store.read(0)
    with pytest.raises(ValueError, match="slots must be an integer >= 0"):
        storage.open(-1, specs)


def test_a_failed_write_leaves_the_slot_empty(storage):
    class Unreadable:
        shape, dtype = (3,), np.dtype("float64")

        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("device lost")

    specs = [LeafSpec((3,), np.dtype("float64"))] * 2
    with storage.open(1, specs) as store:
        store.write(0, 2, [np.ones(3), np.ones(3)])
        with pytest.raises(RuntimeError, match="device lost"):
            store.write(0, 4, [np.zeros(3), Unreadable()])
        assert store.steps == (-1,)
        with pytest.raises(ValueError, match="slot 0 is empty"):
            store.read(0)


def test_stats_count_bytes_operations_and_time(storage):
    specs = [LeafSpec((64, 64), np.dtype("float32")), LeafSpec((10,), np.dtype("float64"))]
    nbytes = 64 * 64 * 4 + 10 * 8
    leaves = [np.ones((64, 64), np.float32), np.ones(10)]
    with storage.open(2, specs) as store:
        for step in range(5):
            store.write(step % 2, step, leaves)
        for _ in range(3):
            store.read(0)
        store.free(1)
        stats = store.stats
    assert (stats.bytes_written, stats.bytes_read, stats.writes, stats.reads) == (5 * nbytes, 3 * nbytes, 5, 3)
    assert isinstance(stats.io_seconds, float) and stats.io_seconds > 0
    assert store.stats is stats  # still readable after close


def test_storages_are_picklable_comparable_configurations(tmp_path):
    configs = [
        HostStorage(),
        HDF5Storage(),
        HDF5Storage(tmp_path / "a.h5", compression="gzip", keep=True),
        HDF5Storage(compression=4),
    ]
    for config in configs:
        assert pickle.loads(pickle.dumps(config)) == config
    assert configs[1] != configs[3] and configs[0] != configs[1]
    assert repr(configs[0]) == "HostStorage()"
    assert repr(configs[1]) == "HDF5Storage()"
    assert repr(configs[2]) == f"HDF5Storage({str(tmp_path / 'a.h5')!r}, compression='gzip', keep=True)"
    assert repr(configs[3]) == "HDF5Storage(compression=4)"


@pytest.mark.parametrize("bad", ["zlib", 10, -1, True, ("gzip", 4)])
def test_unknown_compression_is_rejected(bad):
    with pytest.raises(ValueError, match="compression must be None, 'gzip', 'lzf' or a gzip level 0-9"):
        HDF5Storage(compression=bad)


def test_keep_needs_an_explicit_path():
    with pytest.raises(ValueError, match="keep=True needs an explicit path"):
        HDF5Storage(keep=True)


def test_unstorable_dtype_and_meta_are_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="leaf 1 has dtype <U3"):
        HDF5Storage().open(1, [np.zeros(2), np.array(["abc"])])
    with pytest.raises(TypeError, match=r"meta\['scheme'\] = None cannot be stored"):
        HDF5Storage(tmp_path / "m.h5").open(1, [np.zeros(2)], {"scheme": None})
    assert list(tmp_path.iterdir()) == []
    assert StorageError.__mro__[1] is OSError
