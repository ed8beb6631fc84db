"""Command line: each flag, stdin, directories, mixed good and bad files, exit codes, ``run``.

The oracle for every transformed file is ``transform_source`` itself (the CLI must be that code
path and nothing else); most tests call ``cli.main`` in-process, two run real interpreters.
"""

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from ckpt_transform import _schedule_cli, cli
from ckpt_transform.transform import transform_source

GOOD = """\
from ckpt_transform import Revolve, checkpoint


def simulate(x, p, n):
    with checkpoint(Revolve(3), x):
        for i in range(n):
            x = x * p + i
    return x
"""
BAD = GOOD.replace("x = x * p + i", "x = x * p + i\n            if i > 3: break")
PLAIN = "def f(x):\n    return x + 1\n"


@pytest.fixture
def files(tmp_path):
    """good.py, bad.py, plain.py in tmp_path, as strings."""
    paths = {}
    for name, text in (("good", GOOD), ("bad", BAD), ("plain", PLAIN)):
        paths[name] = str(tmp_path / f"{name}.py")
        (tmp_path / f"{name}.py").write_text(text)
    return paths


def bad_position(filename: str) -> str:
    line = BAD.splitlines().index("            if i > 3: break") + 1
    return f"{filename}:{line}:{len('            if i > 3: ') + 1}: "


def test_prints_the_transformed_source(files, capsys):
    assert cli.main([files["good"]]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out == transform_source(GOOD, filename=files["good"]) and out != GOOD
    compile(out, files["good"], "exec")


def test_unmarked_file_comes_out_byte_identical(files, capsys):
    assert cli.main([files["plain"]]) == 0
    assert capsys.readouterr().out == PLAIN


def test_diff_shows_only_the_rewrite(files, capsys):
    assert cli.main(["--diff", files["plain"], files["good"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {files['good']}\n+++ {files['good']} (transformed)\n@@")
    removed = [line[1:] for line in out.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert "    with checkpoint(Revolve(3), x):" in removed
    assert set(removed) <= set(GOOD.splitlines())
    assert set(added) <= set(transform_source(GOOD, filename=files["good"]).splitlines())


def test_check_prints_one_located_problem_per_bad_file_and_exits_1(files, capsys):
    assert cli.main(["--check", files["good"], files["plain"]]) == cli.EXIT_OK
    assert capsys.readouterr() == ("", "")
    assert cli.main(["--check", files["good"], files["bad"], files["plain"]]) == cli.EXIT_PROBLEMS
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert line.startswith(bad_position(files["bad"])) and "break" in line
    assert err == ""


def test_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode())))
    assert cli.main(["-"]) == 0
    assert capsys.readouterr().out == transform_source(GOOD, filename="<stdin>")


def make_tree(root):
    """A project: a package with a marked and an unmarked module, plus things to skip."""
    for rel, text in {
        "proj/pkg/__init__.py": PLAIN,
        "proj/pkg/model.py": GOOD,
        "proj/pkg/__pycache__/stale.py": BAD,
        "proj/.venv/lib.py": BAD,
        "proj/notes.txt": "not python",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "proj"


def test_a_directory_is_walked_in_order_skipping_caches_and_hidden_dirs(tmp_path, capsys):
    proj = make_tree(tmp_path)
    assert cli.main([str(proj)]) == 0
    out = capsys.readouterr().out
    init, model = proj / "pkg" / "__init__.py", proj / "pkg" / "model.py"
    assert out == (
        f"# ==> {init} <==\n{PLAIN}# ==> {model} <==\n{transform_source(GOOD, filename=str(model))}"
    )


def test_output_dir_mirrors_the_tree_and_prints_nothing(tmp_path, capsys):
    proj = make_tree(tmp_path)
    out_dir = tmp_path / "out"
    assert cli.main([str(proj), "-o", str(out_dir)]) == 0
    assert capsys.readouterr() == ("", "")
    written = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    assert written == ["proj/pkg/__init__.py", "proj/pkg/model.py"]
    assert (out_dir / "proj/pkg/__init__.py").read_text() == PLAIN
    model = proj / "pkg" / "model.py"
    assert (out_dir / "proj/pkg/model.py").read_text() == transform_source(GOOD, filename=str(model))


def test_one_bad_file_does_not_stop_the_others(files, tmp_path, capsys):
    out_dir = tmp_path / "out"
    args = [files["bad"], files["good"], str(tmp_path / "missing.py"), files["plain"], "-o", str(out_dir)]
    assert cli.main(args) == cli.EXIT_USAGE  # the worst outcome: a missing file
    err = capsys.readouterr().err
    assert bad_position(files["bad"]) in err and "missing.py: no such file or directory" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["good.py", "plain.py"]
    assert cli.main([files["bad"], files["good"], "-o", str(out_dir)]) == cli.EXIT_PROBLEMS


def test_internal_error_exits_3_and_the_other_files_still_run(files, monkeypatch, capsys):
    import ckpt_transform.transform as transform

    real = transform.transform_source

    def flaky(code, *, filename):
        if filename.endswith("plain.py"):
            raise RuntimeError("rewriter bug")
        return real(code, filename=filename)

    monkeypatch.setattr(transform, "transform_source", flaky)
    assert cli.main([files["plain"], files["good"]]) == cli.EXIT_INTERNAL
    out, err = capsys.readouterr()
    assert "plain.py: internal error of ckpt_transform" in err and "RuntimeError: rewriter bug" in err
    assert out.endswith(real(GOOD, filename=files["good"]))


@pytest.mark.parametrize("argv", [[], ["--diff", "--check", "x.py"], ["-", "-o", "out"], ["--nope", "x.py"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == cli.EXIT_USAGE
    assert "usage: ckpt-transform" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "exit status" in out
    for code in (cli.EXIT_OK, cli.EXIT_PROBLEMS, cli.EXIT_USAGE, cli.EXIT_INTERNAL):
        assert f"\n  {code}  " in out


def test_schedule_subcommand_is_the_schedule_cli(capsys):
    argv = ["revolve", "--steps", "12", "--snapshots", "3"]
    assert cli.main(["schedule", *argv]) == _schedule_cli.main(argv) == 0
    via_cli, direct = capsys.readouterr().out.split("scheme", 2)[1:]
    assert via_cli == direct and "Revolve(3)" in via_cli


def test_console_script_and_module_entry_point(files):
    (script,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "ckpt-transform"]
    assert script.value == "ckpt_transform.cli:main"
    proc = subprocess.run(
        [sys.executable, "-m", "ckpt_transform", "--check", files["good"], files["bad"]],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == cli.EXIT_PROBLEMS and proc.stdout.startswith(bad_position(files["bad"]))


def test_run_executes_a_script_transformed_with_the_hook_for_its_packages(tmp_path):
    pkg = f"ckpt_cli_{uuid.uuid4().hex[:10]}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "model.py").write_text(GOOD.replace("x * p + i", "jnp.sin(x) * p + i").replace(
        "from ckpt_transform", "import jax.numpy as jnp\nfrom ckpt_transform"))
    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent(f"""\
        import json, sys
        import jax, jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        from ckpt_transform import Revolve, checkpoint
        from {pkg}.model import simulate

        def loop(x, p):
            with checkpoint(Revolve(2), x):
                for i in range(6):
                    x = jnp.cos(x) * p
            return simulate(x, p, 5).sum()

        def loop_plain(x, p):
            for i in range(6):
                x = jnp.cos(x) * p
            for i in range(5):
                x = jnp.sin(x) * p + i
            return x.sum()

        x, p = jnp.linspace(0.0, 1.0, 4), jnp.float64(0.7)
        g, g_plain = jax.grad(loop, (0, 1))(x, p), jax.grad(loop_plain, (0, 1))(x, p)
        print(json.dumps(dict(argv=sys.argv[1:], name=__name__, path0=sys.path[0],
                              err=max(float(jnp.abs(a - b).max()) for a, b in zip(g, g_plain)))))
        """))
    env = {k: v for k, v in os.environ.items()}
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-m", "ckpt_transform", "run", "--packages", pkg, str(script), "a", "--b"],
        cwd=tmp_path.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["argv"] == ["a", "--b"] and report["name"] == "__main__"
    assert report["path0"] == str(tmp_path) and report["err"] <= 1e-12


def test_run_reports_a_transform_error_like_a_syntax_error(files, tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "missing.py")]) == cli.EXIT_USAGE
    assert "missing.py: cannot read" in capsys.readouterr().err
    argv_before, main_before = sys.argv[:], sys.modules["__main__"]
    assert cli.main(["run", files["bad"]]) == 1
    err = capsys.readouterr().err
    assert f'File "{files["bad"]}", line {BAD.splitlines().index("            if i > 3: break") + 1}' in err
    assert "TransformError" in err and sys.argv == argv_before and sys.modules["__main__"] is main_before
