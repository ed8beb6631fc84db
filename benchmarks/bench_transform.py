"""Cost of the rewriter: every stdlib file through transform_source, and a 2,000-line marked module.

1. Every ``.py`` file of this Python's standard library goes through ``transform_source``: each must
   come back unchanged (the same string) without error. Its total time is compared with the cheap
   text check alone (``has_marker``) and with what parsing the files with libcst would cost
   (estimated from a sample), to show that unmarked modules pay only for the text check.
2. A generated 2,000-line module with a few marked loops: ``transform_source`` and
   ``compile_source`` times (median of several runs) against the 1 s budget.

All figures are measured in this one process. Usage: python benchmarks/bench_transform.py
[--parse-all] (the latter also runs the libcst parse and the analysis over every stdlib file).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sysconfig
import time
from pathlib import Path

import libcst as cst

from ckpt_transform.transform import compile_source, has_marker, transform_source
from ckpt_transform.transform._errors import Locator
from ckpt_transform.transform._liveness import Liveness
from ckpt_transform.transform._markers import Markers
from ckpt_transform.transform._rewrite import analyse
from ckpt_transform.transform._statements import walk_statements


def stdlib_files() -> list:
    """The standard library's own files (installed packages under site-packages excluded)."""
    return sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")
                  if "site-packages" not in p.parts and "dist-packages" not in p.parts)


def parse_all(sources) -> None:
    """The slow path on real code: parse every file with libcst, look for marked blocks with every
    spelling enabled, and run the liveness pass over every function. Nothing may fail."""
    markers = Markers(names={"checkpoint"}, modules={"ckpt_transform"})
    parsed, functions, failed, start = 0, 0, [], time.perf_counter()
    for path, code in sources:
        try:
            module = cst.parse_module(code)
        except Exception:  # noqa: BLE001 -- not valid Python 3 (lib2to3 test data and the like)
            continue
        parsed += 1
        try:
            assert analyse(module, markers, Locator(module, str(path))) == []
            for stmt, _ in walk_statements(module.body):
                if isinstance(stmt, cst.FunctionDef):
                    Liveness().scope(stmt.body)
                    functions += 1
        except Exception as exc:  # noqa: BLE001 -- reported
            failed.append((path, exc))
    print(f"  --parse-all: {parsed} files parsed, liveness over {functions} functions, "
          f"{len(failed)} failures, {time.perf_counter() - start:.0f} s")
    for path, exc in failed[:10]:
        print(f"    failure {path}: {exc!r}")


def bench_stdlib(parse_sample: int, slow_path: bool) -> None:
    sources = []
    for path in stdlib_files():
        try:
            sources.append((path, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    start = time.perf_counter()
    for _, code in sources:
        has_marker(code)
    check_s = time.perf_counter() - start
    changed, failed = [], []
    start = time.perf_counter()
    for path, code in sources:
        try:
            if transform_source(code, filename=str(path)) is not code:
                changed.append(path)
        except Exception as exc:  # noqa: BLE001 -- reported below, the benchmark is the check
            failed.append((path, exc))
    transform_s = time.perf_counter() - start
    marked = sum(has_marker(code) for _, code in sources)
    sample = random.Random(0).sample(sources, min(parse_sample, len(sources)))
    start = time.perf_counter()
    parsed_bytes = 0
    for _, code in sample:
        try:
            cst.parse_module(code)
            parsed_bytes += len(code)
        except Exception:  # noqa: BLE001 -- some stdlib test data is not valid Python 3
            pass
    parse_s_per_byte = (time.perf_counter() - start) / max(parsed_bytes, 1)
    total_bytes = sum(len(code) for _, code in sources)
    print(f"stdlib: {len(sources)} files, {total_bytes / 1e6:.1f} MB, {marked} pass the text check "
          f"(parsed, no marked block)")
    print(f"  unchanged: {len(sources) - len(changed) - len(failed)}, changed: {len(changed)}, errors: {len(failed)}")
    for path, exc in failed[:10]:
        print(f"    error {path}: {exc!r}")
    print(f"  transform_source, all files: {transform_s * 1e3:.1f} ms; text check alone: {check_s * 1e3:.1f} ms "
          f"(ratio {transform_s / check_s:.2f})")
    print(f"  parsing all with libcst would take ~{parse_s_per_byte * total_bytes:.1f} s "
          f"(from {len(sample)} files): {parse_s_per_byte * total_bytes / transform_s:.0f}x the transform_source total")
    if slow_path:
        parse_all(sources)


BLOCK = '''

def simulate_{k}(T, lam, forcing, n):
    """Marked loop number {k}."""
    scale = 1.0 + 0.01 * {k}
    with checkpoint(Revolve(4), (T, acc)):
        for i in range(1, n, 2):
            flux = lam * (T[2:] - 2 * T[1:-1] + T[:-2])
            if i % 3 == 0:
                flux = flux * scale
            T = T.at[1:-1].add(flux + forcing[i % 7])
            acc = acc + jnp.sum(T) * i
    return T, acc
'''

FILLER = '''

def helper_{k}(x, y, options=None):
    """Ordinary code around the marked loops."""
    options = dict(options or {{}})
    total = 0
    for item in range(len(x)):
        try:
            value = x[item] * y.get(item, 1)
        except (KeyError, TypeError) as exc:
            options.setdefault("errors", []).append(str(exc))
            continue
        if value > 10 and not options.get("clip"):
            total += value
        elif value < 0:
            total -= [v for v in range(item) if v % 2][-1:] or 0
        else:
            total = max(total, value)
    with open(options.get("log", "/dev/null"), "a") as log:
        log.write(f"{{total}}\\n")
    return total, {{k: v for k, v in options.items() if k != "clip"}}
'''


def big_module(lines: int, marked: int) -> str:
    parts = ["import jax.numpy as jnp\nfrom ckpt_transform import Revolve, checkpoint\n"]
    k = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(BLOCK.format(k=k) if k < marked else FILLER.format(k=k))
        k += 1
    return "".join(parts)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_big(lines: int, marked: int, repeat: int) -> None:
    code = big_module(lines, marked)
    n_lines = code.count("\n")
    out = transform_source(code, filename="big.py")
    assert out.count("checkpointed_range(") == marked
    t_transform = median_time(lambda: transform_source(code, filename="big.py"), repeat)
    t_compile = median_time(lambda: compile_source(code, "big.py"), repeat)
    t_plain = median_time(lambda: compile(code, "big.py", "exec"), repeat)
    t_parse = median_time(lambda: cst.parse_module(code), repeat)
    unmarked = code.replace("checkpoint", "chkpt").replace("ckpt_transform", "other")
    t_unmarked = median_time(lambda: transform_source(unmarked, filename="big.py"), repeat)
    print(f"{n_lines}-line module with {marked} marked loops (median of {repeat}):")
    print(f"  transform_source {t_transform * 1e3:.0f} ms ({t_transform / 1.0:.2f} of the 1 s budget; "
          f"libcst parse alone {t_parse * 1e3:.0f} ms, {t_transform / t_parse:.2f}x)")
    print(f"  compile_source {t_compile * 1e3:.0f} ms; plain compile() {t_plain * 1e3:.1f} ms")
    print(f"  same module unmarked: transform_source {t_unmarked * 1e6:.0f} us "
          f"({t_transform / t_unmarked:.0f}x cheaper than the marked one)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--marked", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parse-sample", type=int, default=60)
    parser.add_argument("--parse-all", action="store_true",
                        help="also run the analysis over every stdlib file (minutes)")
    args = parser.parse_args(argv)
    bench_big(args.lines, args.marked, args.repeat)
    bench_stdlib(args.parse_sample, args.parse_all)


if __name__ == "__main__":
    main()
