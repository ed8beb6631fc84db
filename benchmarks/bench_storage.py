"""I/O throughput of each storage through the store interface a host-driven executor uses.

Writes a 512x512 float32 state (a smooth field, as a diffusion run would hold, given as a JAX
array so the device-to-host copy is counted) N times round-robin over the slots, then reads it
back N times, and prints MB/s per storage and the time per snapshot relative to HostStorage,
all measured in this one process. Usage: python benchmarks/bench_storage.py [-n 200] [--slots 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import jax.numpy as jnp
import numpy as np

from ckpt_transform.storage import HDF5Storage, HostStorage, MemoryStorage


def measure(storage, state, n: int, slots: int):
    with storage.open(slots, [state], {"benchmark": "bench_storage"}) as store:
        start = time.perf_counter()
        for k in range(n):
            store.write(k % slots, k, [state])
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        for k in range(n):
            _, (leaf,) = store.read(k % slots)
            np.asarray(leaf)  # a MemoryStore returns device arrays; make the read complete
        read_s = time.perf_counter() - start
        stats = store.stats
    return write_s, read_s, stats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="snapshots written, then read")
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)

    x = np.linspace(0.0, 1.0, args.size, dtype=np.float32)
    state = jnp.asarray(np.sin(3 * np.add.outer(x, 2 * x)))
    kept = tempfile.TemporaryDirectory()
    storages = [
        MemoryStorage(),
        HostStorage(),
        HDF5Storage(),
        HDF5Storage(os.path.join(kept.name, "kept.h5"), keep=True),  # durable slot markers
        HDF5Storage(compression="lzf"),
        HDF5Storage(compression="gzip"),
    ]
    print(f"{args.n} writes + {args.n} reads of a {args.size}x{args.size} float32 state, {args.slots} slots")
    width = max(len(repr(s)) for s in storages)
    header = ("write MB/s", "read MB/s", "ms/write", "ms/read", "vs Host")
    print(f"{'storage':{width}s} " + " ".join(f"{h:>{w}s}" for h, w in zip(header, (11, 10, 9, 8, 8))))
    measure(HostStorage(), state, 5, args.slots)  # warm up allocations and imports
    rows = []
    for storage in storages:
        write_s, read_s, stats = measure(storage, state, args.n, args.slots)
        rows.append((storage, write_s, read_s, stats))
    host_s = next(w + r for s, w, r, _ in rows if isinstance(s, HostStorage))
    for storage, write_s, read_s, stats in rows:
        print(
            f"{storage!r:{width}s} {stats.bytes_written / write_s / 1e6:11.0f} {stats.bytes_read / read_s / 1e6:10.0f} "
            f"{1e3 * write_s / args.n:9.3f} {1e3 * read_s / args.n:8.3f} {(write_s + read_s) / host_s:7.2f}x"
        )
    kept.cleanup()
    print(f"bytes moved per storage: {rows[0][3].bytes_written / 1e6:.1f} MB written, "
          f"{rows[0][3].bytes_read / 1e6:.1f} MB read")


if __name__ == "__main__":
    main()
