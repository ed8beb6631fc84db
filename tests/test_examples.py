"""The examples run in small configurations and pass their own checks (gradients against plain JAX
AD); a broken reference makes them fail; the sharded example gives the same gradient on 1 and 4
devices (two subprocesses, since the device count is fixed when JAX starts)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    """Import ``examples/<name>.py`` as a module (its directory on sys.path for ``_report``)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_heat_small_with_plots(tmp_path, capsys):
    heat = load("heat")
    assert heat.main(["--cells", "12", "--steps", "30", "--snapshots", "3", "--outdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gradient, mutable object:" in out and "all checks passed" in out
    for name in ("heat_temperature.png", "heat_gradient.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heat_fails_when_the_reference_disagrees(monkeypatch, capsys):
    """The self-check is not vacuous: a reference loop one step longer must make main return 1."""
    heat = load("heat")
    plain = heat.final_field_plain
    monkeypatch.setattr(heat, "final_field_plain", lambda T, lam, n: plain(T, lam, n + 1))
    assert heat.main(["--cells", "12", "--steps", "30", "--no-plot"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_adaptive_while_small(capsys):
    example = load("adaptive_while")
    assert example.main(["--t-final", "0.5", "--snapshots", "3"]) == 0
    assert "same number of steps: ok" in capsys.readouterr().out


def test_parameter_fit_small(tmp_path):
    example = load("parameter_fit")
    argv = ["--cells", "11", "--steps", "60", "--snapshots", "4", "--outdir", str(tmp_path)]
    assert example.main(argv) == 0
    assert (tmp_path / "parameter_fit_loss.png").stat().st_size > 0


def start_burgers(devices: int, out: Path) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    argv = ["--devices", str(devices), "--size", "16", "--steps", "12", "--snapshots", "3", "--save", str(out)]
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / "burgers2d.py"), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def burgers_runs(tmp_path_factory) -> dict:
    """{devices: (exit status, stdout + stderr, gradients file)} of two runs started side by side."""
    tmp = tmp_path_factory.mktemp("burgers")
    started = {n: (start_burgers(n, tmp / f"{n}.npz"), tmp / f"{n}.npz") for n in (1, 4)}
    runs = {}
    for n, (proc, path) in started.items():
        out, err = proc.communicate(timeout=300)
        runs[n] = (proc.returncode, out + err, path)
    return runs


def test_burgers_same_gradient_on_1_and_4_devices(burgers_runs):
    grads = {}
    for n, (_, output, path) in burgers_runs.items():
        assert "gradient w.r.t. u0, v0, nu: max abs error" in output, output
        assert "MISMATCH" not in output and "sharding: FAILED" not in output, output
        grads[n] = np.load(path)
    for key in ("du0", "dv0", "dnu", "energy"):
        one, four = grads[1][key], grads[4][key]
        assert np.max(np.abs(four - one)) <= 1e-12 * np.max(np.abs(one)), key


def test_burgers_snapshots_stay_sharded(burgers_runs):
    status, output, _ = burgers_runs[4]
    assert "snapshots split with the state: ok" in output, output
    assert status == 0, output


def test_plots_are_skipped_with_a_message_without_matplotlib(monkeypatch, capsys):
    load("heat")  # puts examples/ on sys.path
    import _report

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    assert _report.pyplot() is None
    assert "matplotlib is not installed: skipping the plots" in capsys.readouterr().out
