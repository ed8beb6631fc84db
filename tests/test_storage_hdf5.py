"""HDF5Storage file safety: temporary files always removed, kept files readable with their
metadata, truncated / foreign / unfinished files never read as good snapshots, unwritable paths
refused up front, concurrent processes independent."""

import gc
import os
import subprocess
import sys
import tempfile
import textwrap

import h5py
import numpy as np
import pytest

from ckpt_transform.storage import HDF5Storage, StorageError
from ckpt_transform.storage._store import LeafSpec

SPECS = [LeafSpec((8, 8), np.dtype("float32")), LeafSpec((), np.dtype("int64"))]
META = {"steps": 12, "scheme": "Revolve(3)", "level": 0, "budget": [3, 0], "x64": True, "leaves": ["T", "n"]}


def leaves(step):
    return [np.full((8, 8), step, np.float32) + np.arange(64, dtype=np.float32).reshape(8, 8), np.int64(step)]


def kept_file(path, steps=(0, 5, 9)):
    with HDF5Storage(path, keep=True).open(len(steps) + 1, SPECS, META) as store:
        for slot, step in enumerate(steps):
            store.write(slot, step, leaves(step))
    return path


# -- temporary files ------------------------------------------------------------------------------


def test_temporary_file_exists_while_open_and_is_removed_on_success(systemp):
    with HDF5Storage().open(2, SPECS, META) as store:
        store.write(1, 4, leaves(4))
        assert os.listdir(systemp) == [os.path.basename(store.path)]
        assert os.path.basename(store.path).startswith(f"ckpt_transform-{os.getpid()}-")
    assert os.listdir(systemp) == []


def test_temporary_file_is_removed_when_an_exception_escapes(systemp):
    with pytest.raises(ZeroDivisionError):
        with HDF5Storage(compression="gzip").open(2, SPECS, META) as store:
            store.write(0, 1, leaves(1))
            1 / 0
    assert store.closed
    assert os.listdir(systemp) == []


def test_temporary_file_is_removed_when_a_store_is_abandoned(systemp):
    store = HDF5Storage().open(2, SPECS)
    store.write(0, 1, leaves(1))
    assert len(os.listdir(systemp)) == 1
    del store
    gc.collect()
    assert os.listdir(systemp) == []


def test_temporary_file_is_removed_when_open_fails(systemp):
    with pytest.raises(TypeError, match="meta"):
        HDF5Storage().open(2, SPECS, {"bad": object()})
    assert os.listdir(systemp) == []


def test_explicit_path_without_keep_is_removed_on_success_and_on_error(tmp_path):
    path = tmp_path / "run.h5"
    with HDF5Storage(path).open(1, SPECS) as store:
        store.write(0, 0, leaves(0))
        assert path.exists()
    assert not path.exists()
    with pytest.raises(KeyError):
        with HDF5Storage(path).open(1, SPECS):
            raise KeyError("in the loop")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_temp_dir_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(StorageError, match="cannot create a temporary file in .*missing.*TMPDIR"):
        HDF5Storage().open(1, SPECS)


# -- kept files -----------------------------------------------------------------------------------


def test_kept_file_is_readable_with_its_metadata(tmp_path):
    path = kept_file(tmp_path / "kept.h5")
    with HDF5Storage.load(path, SPECS) as store:
        assert store.read_only and store.slots == 4
        assert store.meta == META
        assert store.steps == (0, 5, 9, -1)
        for slot, step in enumerate((0, 5, 9)):
            got_step, got = store.read(slot)
            assert got_step == step
            np.testing.assert_array_equal(got[0], leaves(step)[0])
            assert got[1].dtype == np.int64 and got[1].shape == () and got[1] == step
        with pytest.raises(ValueError, match="read-only"):
            store.write(3, 1, leaves(1))
        with pytest.raises(ValueError, match="read-only"):
            store.free(0)
    # plain h5py sees the same layout
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "ckpt_transform.snapshots" and f.attrs["status"] == "closed"
        assert f["steps"][()].tolist() == [0, 5, 9, -1]
        assert f["meta"].attrs["scheme"] == "Revolve(3)"
        assert f["leaves/0"].shape == (4, 8, 8) and f["leaves/0"].dtype == np.float32
        np.testing.assert_array_equal(f["leaves/0"][1], leaves(5)[0])  # data written with pwrite
        assert f["leaves/1"][2] == 9


def test_uncompressed_leaves_move_by_raw_io_at_the_dataset_offset(tmp_path):
    path = tmp_path / "raw.h5"
    with HDF5Storage(path, keep=True).open(3, SPECS, META) as store:
        assert all(offset is not None for offset in store._offsets)
        store.write(2, 7, leaves(7))
        step, got = store.read(2)
        assert step == 7 and got[0].ctypes.data % 64 == 0  # aligned: JAX adopts it without a copy
        np.testing.assert_array_equal(got[0], leaves(7)[0])
        with h5py.File(path, "r") as f:
            offset = f["leaves/0"].id.get_offset()
        with open(path, "rb") as f:  # the bytes sit where HDF5 says the dataset's data is
            f.seek(offset + 2 * 8 * 8 * 4)
            np.testing.assert_array_equal(np.frombuffer(f.read(8 * 8 * 4), np.float32).reshape(8, 8), leaves(7)[0])
    with HDF5Storage(tmp_path / "gz.h5", compression="gzip").open(2, SPECS) as store:
        assert store._offsets == [None, None]  # chunked and filtered: through h5py
        store.write(1, 3, leaves(3))
        np.testing.assert_array_equal(store.read(1)[1][0], leaves(3)[0])


def test_a_file_truncated_under_a_running_store_is_an_error_not_garbage(tmp_path):
    path = tmp_path / "cut.h5"
    with HDF5Storage(path).open(2, SPECS) as store:
        store.write(1, 4, leaves(4))
        os.truncate(path, store._offsets[0] + 8 * 8 * 4 + 10)  # slot 1 of leaf 0 cut short
        with pytest.raises(StorageError, match="cut.h5.*truncated"):
            store.read(1)


def test_kept_file_survives_an_exception_with_its_valid_slots(tmp_path):
    path = tmp_path / "kept.h5"
    with pytest.raises(RuntimeError):
        with HDF5Storage(path, keep=True).open(2, SPECS, META) as store:
            store.write(1, 3, leaves(3))
            raise RuntimeError("diverged")
    with HDF5Storage.load(path) as store:
        assert store.steps == (-1, 3)
        assert store.leaf_specs == tuple(SPECS)


def test_kept_file_marks_a_slot_whose_write_failed_as_empty(tmp_path):
    class Unreadable:
        shape, dtype = (), np.dtype("int64")

        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("device lost")

    path = tmp_path / "kept.h5"
    with HDF5Storage(path, keep=True).open(2, SPECS) as store:
        store.write(0, 1, leaves(1))
        store.write(1, 2, leaves(2))
        with pytest.raises(RuntimeError, match="device lost"):
            store.write(0, 3, [leaves(3)[0], Unreadable()])  # leaf 0 of step 3 already in the file
        with h5py.File(path, "r") as f:  # what a reader sees while the run goes on
            assert f["steps"][()].tolist() == [-1, 2]
    with HDF5Storage.load(path) as store:
        assert store.steps == (-1, 2)
        np.testing.assert_array_equal(store.read(1)[1][0], leaves(2)[0])


def test_load_checks_shapes_and_dtypes(tmp_path):
    path = kept_file(tmp_path / "kept.h5")
    wrong = [LeafSpec((8, 8), np.dtype("float64")), SPECS[1]]
    with pytest.raises(ValueError, match=r"holds leaves \[float32\[8, 8\], int64\[\]\], expected \[float64"):
        HDF5Storage.load(path, wrong)
    # a file whose datasets were tampered with is caught on read as well
    with h5py.File(path, "a") as f:
        del f["leaves/0"]
        f["leaves"].create_dataset("0", shape=(3, 8, 8), dtype=np.float32)
    with pytest.raises(StorageError, match="is damaged: the slot axis"):
        HDF5Storage.load(path)


def test_compression_is_applied_and_smaller_for_smooth_data(tmp_path):
    spec = [LeafSpec((256, 256), np.dtype("float64"))]
    smooth = np.add.outer(np.linspace(0, 1, 256), np.linspace(0, 1, 256))
    sizes = {}
    for compression in (None, "gzip", "lzf", 9):
        path = tmp_path / f"{compression}.h5"
        with HDF5Storage(path, compression=compression, keep=True).open(2, spec) as store:
            store.write(0, 0, [smooth])
            store.write(1, 1, [smooth * 2])
        with HDF5Storage.load(path, spec) as store:
            np.testing.assert_array_equal(store.read(1)[1][0], smooth * 2)
        with h5py.File(path, "r") as f:
            ds = f["leaves/0"]
            assert ds.compression == {None: None, "gzip": "gzip", "lzf": "lzf", 9: "gzip"}[compression]
            assert ds.chunks in (None, (1, 256, 256))
        sizes[compression] = path.stat().st_size
    for compression in ("gzip", "lzf", 9):
        assert sizes[compression] < 0.8 * sizes[None]


# -- files that must never pass for good snapshots -----------------------------------------------


def test_truncated_file_is_rejected_and_not_overwritten(tmp_path):
    path = kept_file(tmp_path / "kept.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StorageError, match=r"kept\.h5' is not a readable HDF5 file \(truncated"):
        HDF5Storage.load(path)
    with pytest.raises(StorageError, match="refusing to overwrite it; delete it or choose another path"):
        HDF5Storage(path).open(1, SPECS)
    assert path.read_bytes() == data[: len(data) // 2]


def test_foreign_files_are_rejected_and_not_overwritten(tmp_path):
    foreign = tmp_path / "results.h5"
    with h5py.File(foreign, "w") as f:
        f["temperature"] = np.arange(10.0)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all\n")
    for path, why in [(foreign, "is not a ckpt_transform snapshot file"), (text, "is not a readable HDF5 file")]:
        before = path.read_bytes()
        with pytest.raises(StorageError, match=why):
            HDF5Storage.load(path)
        with pytest.raises(StorageError, match=f"{why}.*refusing to overwrite"):
            with HDF5Storage(path).open(1, SPECS):
                pytest.fail("opened a foreign file")
        assert path.read_bytes() == before


def test_newer_format_version_is_rejected(tmp_path):
    path = kept_file(tmp_path / "kept.h5")
    with h5py.File(path, "a") as f:
        f.attrs["version"] = 99
    with pytest.raises(StorageError, match="format version 99; this ckpt_transform reads up to 1"):
        HDF5Storage.load(path)


def test_our_own_and_empty_files_are_overwritten(tmp_path):
    path = kept_file(tmp_path / "kept.h5")
    with HDF5Storage(path, keep=True).open(1, SPECS[:1], {"steps": 2}) as store:
        store.write(0, 1, leaves(1)[:1])
    with HDF5Storage.load(path) as store:
        assert store.meta == {"steps": 2} and store.steps == (1,)
    empty = tmp_path / "empty.h5"
    empty.touch()
    with HDF5Storage(empty).open(1, SPECS):
        pass
    assert not empty.exists()


def run_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_a_run_that_died_before_closing_is_rejected(tmp_path):
    path = tmp_path / "crashed.h5"
    result = run_python(
        f"""
        import os, numpy as np
        from ckpt_transform.storage import HDF5Storage
        store = HDF5Storage({str(path)!r}, keep=True).open(2, [np.zeros(3)])
        store.write(0, 0, [np.ones(3)])
        store.write(0, 1, [np.ones(3)])   # frees slot 0 first, then rewrites it
        os._exit(0)                       # dies without closing, like a killed job
        """
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(StorageError, match="was not closed cleanly .*snapshots may be incomplete"):
        HDF5Storage.load(path)


@pytest.mark.skipif(os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE", reason="HDF5 locks disabled")
def test_a_file_in_use_by_another_process_is_not_touched(tmp_path):
    path = tmp_path / "shared.h5"
    with HDF5Storage(path, keep=True).open(1, SPECS) as store:
        store.write(0, 1, leaves(1))
        result = run_python(
            f"""
            from ckpt_transform.storage import HDF5Storage, StorageError
            for attempt in (lambda: HDF5Storage({str(path)!r}).open(1, []), lambda: HDF5Storage.load({str(path)!r})):
                try:
                    attempt()
                except StorageError as exc:
                    print(exc)
            """
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("is open in another process (HDF5 file lock); choose another path") == 2
        assert store.read(0)[0] == 1
    with HDF5Storage.load(path) as store:
        assert store.steps == (1,)


# -- paths that cannot be written ----------------------------------------------------------------


def test_unwritable_paths_fail_at_construction_naming_the_path(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "snaps.h5"
    with pytest.raises(StorageError, match=f"cannot write snapshots to '{missing}': directory .* does not exist"):
        HDF5Storage(missing)
    with pytest.raises(StorageError, match=f"cannot write snapshots to '{tmp_path}': it is a directory"):
        HDF5Storage(tmp_path)
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    with pytest.raises(StorageError, match="does not exist"):
        HDF5Storage(a_file / "snaps.h5")


def test_path_that_became_unwritable_fails_at_open(tmp_path):
    directory = tmp_path / "out"
    directory.mkdir()
    storage = HDF5Storage(directory / "snaps.h5")
    directory.rmdir()
    with pytest.raises(StorageError, match=f"cannot write snapshots to '{directory / 'snaps.h5'}'"):
        storage.open(1, SPECS)


# -- concurrency ----------------------------------------------------------------------------------

WORKER = """
import os, sys, time
import numpy as np
from ckpt_transform.storage import HDF5Storage

me, other, sync = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
spec = [np.zeros((64, 64))]
with HDF5Storage().open(4, spec, {"worker": me}) as store:
    print(store.path, flush=True)
    open(os.path.join(sync, f"ready{me}"), "w").close()
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(sync, f"ready{other}")):   # both files open at once
        assert time.time() < deadline, "other worker never started"
        time.sleep(0.01)
    for step in range(200):
        store.write(step % 4, step, [np.full((64, 64), 1000.0 * me + step)])
        got_step, (got,) = store.read((step - 3) % 4 if step >= 3 else step % 4)
        assert np.all(got == 1000.0 * me + got_step), (me, step, got_step, got[0, 0])
    assert store.steps == (196, 197, 198, 199)
print("ok", flush=True)
"""


def test_two_processes_with_temporary_storage_do_not_interfere(tmp_path):
    systemp = tmp_path / "systemp"
    systemp.mkdir()
    env = {**os.environ, "TMPDIR": str(systemp)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(me), str(1 - me), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for me in (0, 1)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
        assert out.splitlines()[-1] == "ok"
    paths = [out.splitlines()[0] for out, _ in outputs]
    assert paths[0] != paths[1] and all(os.path.dirname(p) == str(systemp) for p in paths)
    assert os.listdir(systemp) == []
