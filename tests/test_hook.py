"""Import hook: transformed imports, the hash-checked cache, concurrency, unwritable caches.

Cross-process behaviour (the cache seen by a second interpreter, racing writers, environment
switches) is tested in fresh subprocesses on temporary packages with unique names; the rest
in-process. Cache hits are proven by the hook's own record (and its debug output), never by time.
"""

import importlib
import importlib.machinery
import importlib.resources
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import jax.numpy as jnp
import pytest

from ckpt_transform import __version__, _hook_cache
from ckpt_transform.hook import ImportHook, ImportHookWarning, install_import_hook

TAG = f"ckpt_transform-{__version__}"

# A marked loop over plain floats: importing it needs neither JAX nor the runtime.
LOOPS = """\
from ckpt_transform import Revolve, checkpoint

RATE = 1.5


def run(x, n):
    with checkpoint(Revolve(2), x):
        for i in range(n):
            x = x * RATE + i
    return x
"""

# The same loop with JAX arrays, and its unmarked twin for the plain-AD reference.
MODEL = """\
import jax.numpy as jnp

from ckpt_transform import Revolve, checkpoint


def simulate(x, p, n):
    with checkpoint(Revolve(3), x):
        for i in range(n):
            x = jnp.sin(x) * p + 0.01 * i
    return jnp.sum(x**2)


def simulate_plain(x, p, n):
    for i in range(n):
        x = jnp.sin(x) * p + 0.01 * i
    return jnp.sum(x**2)
"""


# LOOPS with its function under @transform as well, as the examples write it.
DECORATED = LOOPS.replace("from ckpt_transform import", "import ckpt_transform\nfrom ckpt_transform import").replace(
    "def run(", "@ckpt_transform.transform\ndef run("
)


def make_package(root: Path, files: dict) -> str:
    """Write a package with a unique name under ``root``; returns the name."""
    name = f"ckpt_hook_{uuid.uuid4().hex[:10]}"
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return name


def python(code: str, cwd: Path, **env) -> subprocess.Popen:
    """Start a fresh interpreter on ``code``; bytecode writing on unless ``env`` says otherwise."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    environ.update(JAX_PLATFORMS="cpu", **env)
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


# Import only (running the loop would import JAX, which costs a second per process): the report
# says whether the code came from libcst or the cache, which constant it holds, and whether its
# loop now calls the runtime.
IMPORT = """\
import json, sys
from ckpt_transform.hook import install_import_hook
with install_import_hook([{pkg!r}]) as hook:
    import {pkg}.{mod} as m
print(json.dumps(dict(transformed=hook.transformed, cached=hook.cached, libcst="libcst" in sys.modules,
                      jax="jax" in sys.modules, rate=getattr(m, "RATE", None),
                      calls_runtime="checkpointed_range" in getattr(m, "run", len).__code__.co_names
                      if hasattr(m, "run") else None)))
"""


def our_pycs(directory: Path) -> list:
    return sorted(p.name for p in directory.rglob(f"*{TAG}*"))


def test_hooked_import_gives_plain_ad_gradients_then_hits_the_cache(tmp_path):
    pkg = make_package(tmp_path, {"model.py": MODEL})
    first = python(
        f"""\
        import json
        import jax, jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        from ckpt_transform.hook import install_import_hook
        with install_import_hook([{pkg!r}]) as hook:
            from {pkg} import model
        x, p = jnp.linspace(0.1, 1.0, 5), jnp.float64(0.9)
        g = jax.grad(model.simulate, argnums=(0, 1))(x, p, 12)
        g_plain = jax.grad(model.simulate_plain, argnums=(0, 1))(x, p, 12)
        err = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(g, g_plain))
        print(json.dumps(dict(transformed=hook.transformed, cached=hook.cached, err=err,
                              scale=float(jnp.max(jnp.abs(g[0]))))))
        """,
        tmp_path,
        CKPT_TRANSFORM_DEBUG="1",
    )
    report, err = finish(first)
    assert report["transformed"] == [f"{pkg}.model"] and report["cached"] == []
    assert report["err"] <= 1e-12 and report["scale"] > 1e-3
    assert f"ckpt_transform: {pkg}.model: transformed" in err and "checkpointed_range(" in err  # debug: source
    tag = sys.implementation.cache_tag  # the package's unmarked __init__ is cached too: plain code
    assert our_pycs(tmp_path / pkg) == [f"__init__.{tag}-{TAG}.pyc", f"model.{tag}-{TAG}.pyc"]

    second, err = finish(python(IMPORT.format(pkg=pkg, mod="model"), tmp_path, CKPT_TRANSFORM_DEBUG="1"))
    assert second["transformed"] == [] and second["cached"] == [pkg, f"{pkg}.model"]
    assert "from cache" in err and "def simulate" not in err
    assert not second["libcst"], "a cache hit must not import the rewriter"


def test_edit_within_the_same_second_invalidates_the_cache(tmp_path):
    pkg = make_package(tmp_path, {"loops.py": LOOPS})
    source = tmp_path / pkg / "loops.py"
    first, _ = finish(python(IMPORT.format(pkg=pkg, mod="loops"), tmp_path))
    assert first["transformed"] == [f"{pkg}.loops"] and first["rate"] == 1.5 and first["calls_runtime"]

    stat = source.stat()
    source.write_text(LOOPS.replace("RATE = 1.5", "RATE = 2.5"))  # same size,
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: only the hash differs
    assert source.stat().st_mtime_ns == stat.st_mtime_ns and source.stat().st_size == stat.st_size

    second, _ = finish(python(IMPORT.format(pkg=pkg, mod="loops"), tmp_path))
    assert second["transformed"] == [f"{pkg}.loops"] and second["cached"] == [pkg]
    assert second["rate"] == 2.5 and second["calls_runtime"]
    third, _ = finish(python(IMPORT.format(pkg=pkg, mod="loops"), tmp_path))
    assert third["cached"] == [pkg, f"{pkg}.loops"] and third["rate"] == 2.5 and third["calls_runtime"]
    assert not third["libcst"] and not third["jax"]


def test_four_processes_importing_at_once_all_succeed_and_leave_a_valid_cache(tmp_path):
    pkg = make_package(tmp_path, {"loops.py": LOOPS})
    start = time.time() + 1.5  # all four wait for the same instant, then import
    racing = IMPORT.format(pkg=pkg, mod="loops").replace(
        "import json, sys", f"import json, sys, time\ntime.sleep(max(0.0, {start} - time.time()))"
    )
    reports = [finish(p)[0] for p in [python(racing, tmp_path) for _ in range(4)]]
    assert all(r["calls_runtime"] and r["rate"] == 1.5 for r in reports)
    assert any(r["transformed"] for r in reports)
    cache_dir = tmp_path / pkg / "__pycache__"
    leftovers = [p.name for p in cache_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    (pyc,) = cache_dir.glob(f"loops.*{TAG}.pyc")
    source = tmp_path / pkg / "loops.py"
    assert _hook_cache.same_source(pyc.read_bytes(), source.read_bytes(), str(source)) is not None


def make_read_only(directory):
    """Mode 555, or for root (whom permissions do not stop) the immutable attribute."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no read-only directory to test")


def make_writable(directory):
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(directory)], capture_output=True)
    directory.chmod(0o755)


@pytest.mark.parametrize("case", ["dont_write_bytecode", "read_only_dir", "cache_dir_is_a_file", "pycache_prefix"])
def test_unwritable_or_redirected_cache(tmp_path, case):
    pkg = make_package(tmp_path / "src", {"loops.py": LOOPS})
    package_dir = tmp_path / "src" / pkg
    env = {}
    if case == "dont_write_bytecode":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    elif case == "read_only_dir":
        make_read_only(package_dir)
    elif case == "cache_dir_is_a_file":
        (package_dir / "__pycache__").write_text("not a directory")
    else:
        env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "prefix")
    try:
        for attempt in range(2 if case == "pycache_prefix" else 1):  # the prefix case must hit
            report, err = finish(python(IMPORT.format(pkg=pkg, mod="loops"), tmp_path / "src", **env))
            assert report["calls_runtime"] and report["rate"] == 1.5
            assert err == ""  # silent fallback
    finally:
        make_writable(package_dir)
    assert our_pycs(package_dir) == []
    if case == "pycache_prefix":  # the interpreter's mirror tree, and a hit the second time
        assert report["cached"] == [pkg, f"{pkg}.loops"]
        mirrored = tmp_path / "prefix" / package_dir.relative_to(package_dir.anchor)
        tag = sys.implementation.cache_tag
        assert our_pycs(mirrored) == [f"__init__.{tag}-{TAG}.pyc", f"loops.{tag}-{TAG}.pyc"]
    else:
        assert report["transformed"] == [f"{pkg}.loops"]


@pytest.fixture
def importable(tmp_path, monkeypatch):
    """Make packages under tmp_path importable in this process, and forget them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    made = []
    yield lambda files: made.append(make_package(tmp_path, files)) or made[-1]
    for name in [m for m in sys.modules if m.split(".")[0] in made]:
        del sys.modules[name]


def test_modules_of_hooked_packages_get_the_hook_and_only_marked_ones_are_transformed(importable):
    pkg = importable({"loops.py": LOOPS, "plain.py": "X = 1\n", "sub/__init__.py": LOOPS})
    other = importable({"loops.py": LOOPS})
    with install_import_hook([pkg]) as hook:
        from_pkg = [importlib.import_module(f"{pkg}.{m}") for m in ("plain", "loops", "sub")]
        untouched = importlib.import_module(f"{other}.loops")
    assert hook not in sys.meta_path
    plain, loops, sub = from_pkg
    for module in (sys.modules[pkg], plain, loops, sub):  # all served (and cached) by the hook
        assert isinstance(module.__loader__, importlib.machinery.SourceFileLoader)
        assert type(module.__loader__) is not importlib.machinery.SourceFileLoader
        assert module.__cached__.endswith(f"{TAG}.pyc") and Path(module.__cached__).is_file()
    assert sub.__path__ == [str(Path(sub.__file__).parent)]  # a hooked package stays a package
    assert sorted(hook.transformed) == sorted([f"{pkg}.loops", f"{pkg}.sub"])
    # the unmarked ones hold the interpreter's own compilation of their source
    assert plain.X == 1 and Path(importlib.util.cache_from_source(plain.__file__)).is_file()
    x = jnp.linspace(0.0, 1.0, 3)
    expected = ((x * 1.5) * 1.5 + 1) * 1.5 + 2
    assert jnp.allclose(loops.run(x, 3), expected) and jnp.allclose(sub.run(x, 3), expected)
    assert type(untouched.__loader__) is importlib.machinery.SourceFileLoader
    with pytest.raises(Exception, match="not transformed"):
        untouched.run(x, 3)


def test_dotted_prefix_hooks_only_that_subpackage(importable):
    pkg = importable({"a/__init__.py": "", "a/loops.py": LOOPS, "b/__init__.py": "", "b/loops.py": LOOPS})
    with install_import_hook(f"{pkg}.a") as hook:
        importlib.import_module(f"{pkg}.a.loops")
        importlib.import_module(f"{pkg}.b.loops")
    assert hook.transformed == [f"{pkg}.a.loops"]


def test_importlib_resources_work_for_a_hooked_package(importable, tmp_path):
    pkg = importable({"__init__.py": LOOPS})
    (tmp_path / pkg / "data.txt").write_text("payload")
    with install_import_hook([pkg]) as hook:
        module = importlib.import_module(pkg)
    assert hook.transformed == [pkg]
    assert importlib.resources.files(module).joinpath("data.txt").read_text() == "payload"
    assert module.__loader__.get_source(pkg) == LOOPS  # tracebacks show the user's source


def test_transform_errors_name_the_users_file_and_line(importable, tmp_path):
    bad = LOOPS.replace("x = x * RATE + i", "x = x * RATE + i\n            break")
    pkg = importable({"bad.py": bad})
    with install_import_hook([pkg]), pytest.raises(SyntaxError) as info:
        importlib.import_module(f"{pkg}.bad")
    assert info.value.filename == str(tmp_path / pkg / "bad.py")
    assert info.value.lineno == bad.splitlines().index("            break") + 1


def test_tracebacks_point_at_the_users_lines(importable, tmp_path):
    failing = LOOPS.replace("x = x * RATE + i", "x = x * RATE + i\n            check(x)").replace(
        "RATE = 1.5", "RATE = 1.5\n\n\ndef check(x):\n    raise ValueError('diverged')"
    )
    pkg = importable({"failing.py": failing})
    with install_import_hook([pkg]):
        module = importlib.import_module(f"{pkg}.failing")
    with pytest.raises(ValueError, match="diverged") as info:
        module.run(jnp.ones(2), 3)
    frames = [(entry.path, entry.lineno + 1) for entry in info.traceback]
    assert (tmp_path / pkg / "failing.py", failing.splitlines().index("            check(x)") + 1) in frames


def test_warns_when_a_requested_package_was_already_imported(importable):
    pkg = importable({"loops.py": LOOPS})
    importlib.import_module(pkg)
    with pytest.warns(ImportHookWarning, match=pkg):
        install_import_hook([pkg]).uninstall()


def test_handle_uninstalls_and_checks_its_argument():
    hook = install_import_hook(["some_pkg", "other.sub"])
    assert sys.meta_path[0] is hook and hook.packages == ("some_pkg", "other.sub")
    hook.uninstall()
    hook.uninstall()
    assert hook not in sys.meta_path
    for bad in ([], ["not a name"], [3]):
        with pytest.raises(ValueError, match="install_import_hook"):
            ImportHook(bad)


def test_permission_denied_cache_is_silent(importable, monkeypatch):
    """What a read-only directory does to a non-root user, simulated so that it runs as root too."""
    pkg = importable({"loops.py": LOOPS})

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_hook_cache.os, "makedirs", denied)
    with install_import_hook([pkg]) as hook:
        loops = importlib.import_module(f"{pkg}.loops")
    assert hook.transformed == [f"{pkg}.loops"] and "checkpointed_range" in loops.run.__code__.co_names
    assert not Path(loops.__cached__).exists()


@pytest.mark.filterwarnings("ignore::ckpt_transform.hook.ImportHookWarning")  # the package stays imported
def test_stat_key_spares_reading_an_unchanged_source_and_the_hash_still_decides(importable, tmp_path, monkeypatch):
    pkg = importable({"loops.py": LOOPS})
    source = tmp_path / pkg / "loops.py"
    pyc = Path(_hook_cache.cache_path(str(source)))

    def import_loops():
        sys.modules.pop(f"{pkg}.loops", None)
        with install_import_hook([pkg]) as hook:
            module = importlib.import_module(f"{pkg}.loops")
        return hook, module

    hook, _ = import_loops()  # just written: racy, so no stat key is recorded and the hash decides
    assert hook.transformed == [f"{pkg}.loops"] and pyc.read_bytes()[_hook_cache._KEY] == _hook_cache.NO_KEY
    hook, _ = import_loops()
    assert hook.cached == [f"{pkg}.loops"] and pyc.read_bytes()[_hook_cache._KEY] == _hook_cache.NO_KEY

    monkeypatch.setattr(_hook_cache, "_RACY_NS", -(10**18))  # as if the source were long unchanged
    hook, _ = import_loops()  # the hash hit records the key
    assert hook.cached == [f"{pkg}.loops"] and pyc.read_bytes()[_hook_cache._KEY] != _hook_cache.NO_KEY
    reads, real_read = [], _hook_cache._read

    def counted_read(path):  # the cache file is read through the same function: count the source
        reads.extend([path] if path == str(source) else [])
        return real_read(path)

    monkeypatch.setattr(_hook_cache, "_read", counted_read)
    hook, module = import_loops()
    assert hook.cached == [f"{pkg}.loops"] and reads == [] and module.RATE == 1.5

    stat = source.stat()  # same size, same mtime: only the ctime (and the hash) tell
    source.write_text(LOOPS.replace("RATE = 1.5", "RATE = 2.5"))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    hook, module = import_loops()
    assert hook.transformed == [f"{pkg}.loops"] and reads == [str(source)] and module.RATE == 2.5

    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, not changed: hash hit
    hook, module = import_loops()
    assert hook.cached == [f"{pkg}.loops"] and len(reads) == 2 and module.RATE == 2.5
    hook, module = import_loops()  # ... which recorded the new key
    assert hook.cached == [f"{pkg}.loops"] and len(reads) == 2


@pytest.mark.filterwarnings("ignore::ckpt_transform.hook.ImportHookWarning")  # the package stays imported
def test_transform_decorator_leaves_a_hooked_function_to_the_hook(importable, tmp_path):
    from ckpt_transform.pytest_plugin import check_against_plain

    pkg = importable({"loops.py": DECORATED})
    first, _ = finish(python(IMPORT.format(pkg=pkg, mod="loops"), tmp_path))
    second, _ = finish(python(IMPORT.format(pkg=pkg, mod="loops"), tmp_path))
    assert first["transformed"] == [f"{pkg}.loops"] and first["calls_runtime"]
    assert second["cached"] == [pkg, f"{pkg}.loops"] and second["calls_runtime"]
    assert not second["libcst"], "@transform of a function the hook rewrote must not import the rewriter"
    with install_import_hook([pkg]) as hook:
        m = importlib.import_module(f"{pkg}.loops")
    assert hook.cached == [pkg, f"{pkg}.loops"] and not hasattr(m.run, "__wrapped__")
    value, grad = check_against_plain(m.run, jnp.float64(0.5), 3)  # its plain loop is rebuilt too
    assert value == ((0.5 * 1.5) * 1.5 + 1) * 1.5 + 2 and grad == 1.5**3


def test_an_unmarked_module_comes_from_the_cache_until_a_marked_loop_is_added(importable, tmp_path):
    pkg = importable({"plain.py": "X = 1\n"})

    def import_plain():
        sys.modules.pop(f"{pkg}.plain", None)
        with install_import_hook([pkg]) as hook:
            module = importlib.import_module(f"{pkg}.plain")
        return hook, module

    hook, module = import_plain()
    assert (hook.transformed, hook.cached, module.X) == ([], [], 1)
    hook, module = import_plain()
    assert (hook.transformed, hook.cached, module.X) == ([], [f"{pkg}.plain"], 1)
    (tmp_path / pkg / "plain.py").write_text(LOOPS)
    hook, module = import_plain()
    assert hook.transformed == [f"{pkg}.plain"] and "checkpointed_range" in module.run.__code__.co_names


def test_reload_of_an_edited_hooked_module_transforms_the_new_source(importable, tmp_path):
    pkg = importable({"loops.py": LOOPS})
    with install_import_hook([pkg]) as hook:
        module = importlib.import_module(f"{pkg}.loops")
        (tmp_path / pkg / "loops.py").write_text(LOOPS.replace("RATE = 1.5", "RATE = 2.5"))
        module = importlib.reload(module)
    assert hook.transformed == [f"{pkg}.loops"] * 2 and module.RATE == 2.5
    assert "checkpointed_range" in module.run.__code__.co_names
    again = module.__loader__.get_code(module.__name__)  # asked twice (runpy, coverage): from the cache
    assert hook.cached == [module.__name__] and again.co_filename == module.__file__


def test_a_stat_key_is_recorded_only_when_no_clock_calls_the_source_racy(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    st = source.stat()
    assert _hook_cache.stat_key(st) == _hook_cache.NO_KEY  # just changed: racy by the local clock
    monkeypatch.setattr(_hook_cache.time, "time_ns", lambda: st.st_ctime_ns + 3 * 10**9)
    assert _hook_cache.stat_key(st) != _hook_cache.NO_KEY  # taken when the source is read, not later
    code = compile("X = 1\n", str(source), "exec")
    pyc = tmp_path / "__pycache__" / "mod.pyc"
    for age, recorded in ((0, False), (10 * 10**9, True)):  # the cache file's mtime: the file system's clock
        key = _hook_cache._STAT_KEY.pack(st.st_ino, st.st_size, st.st_mtime_ns, time.time_ns() - age)
        assert _hook_cache.write(str(pyc), source.read_bytes(), key, code, 0o644)
        assert (pyc.read_bytes()[_hook_cache._KEY] == key) is recorded
        assert (pyc.read_bytes()[_hook_cache._KEY] == _hook_cache.NO_KEY) is not recorded


def test_check_against_plain_rebuilds_the_plain_loop_of_a_hooked_function(importable, tmp_path):
    from ckpt_transform.pytest_plugin import check_against_plain
    from ckpt_transform.transform import compile_source

    right, wrong = importable({"loops.py": LOOPS}), importable({"loops.py": LOOPS})
    # A wrong rewrite served from the cache: code of another loop under this source's hash.
    source = tmp_path / wrong / "loops.py"
    other = compile_source(LOOPS.replace("x * RATE + i", "x * RATE - i"), str(source))
    key = _hook_cache.stat_key(source.stat())
    assert _hook_cache.write(_hook_cache.cache_path(str(source)), source.read_bytes(), key, other, 0o644)
    with install_import_hook([right, wrong]) as hook:
        good, bad = (importlib.import_module(f"{pkg}.loops") for pkg in (right, wrong))
    assert hook.transformed == [f"{right}.loops"] and hook.cached == [f"{wrong}.loops"]
    x = jnp.float64(0.5)
    value, grad = check_against_plain(good.run, x, 3)
    assert jnp.allclose(value, ((x * 1.5) * 1.5 + 1) * 1.5 + 2) and jnp.allclose(grad, 1.5**3)
    with pytest.raises(AssertionError, match="value of the transformed function"):
        check_against_plain(bad.run, x, 3)
