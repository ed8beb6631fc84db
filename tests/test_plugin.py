"""pytest plugin, exercised with ``pytester``: options, early installation, golden collection, the
update flag, and ``check_against_plain`` catching wrong rewrites.

Inner runs are in-process (``runpytest``), on packages with unique names. pytester drops the
modules an inner run imported when it ends, so the marker and the runtime are imported here once:
otherwise each run would get its own copy of their classes.
"""

import textwrap
import uuid

import pytest

import ckpt_transform._marker  # noqa: F401  (imported here so that inner runs share their classes)
import ckpt_transform.runtime  # noqa: F401
from ckpt_transform.transform import find_cases, transform_source

pytest_plugins = ["pytester"]

MODEL = """\
import jax.numpy as jnp

from ckpt_transform import Revolve, checkpoint


def simulate(x, p, n):
    with checkpoint(Revolve(2), x):
        for i in range(n):
            x = jnp.sin(x) * p
    return x
"""

USES_MODEL = """\
import jax.numpy as jnp
from {pkg} import model


def test_model_is_transformed():
    assert "checkpointed_range" in model.simulate.__code__.co_names
    x = jnp.linspace(0.0, 1.0, 3)
    assert jnp.allclose(model.simulate(x, 0.5, 4), jnp.sin(jnp.sin(jnp.sin(jnp.sin(x) * 0.5) * 0.5) * 0.5) * 0.5)
"""


@pytest.fixture
def project(pytester):
    """A package with a marked module, importable by the inner run; returns its name."""
    pkg = f"ckpt_plugin_{uuid.uuid4().hex[:10]}"
    pytester.mkpydir(pkg)
    (pytester.path / pkg / "model.py").write_text(MODEL)
    pytester.syspathinsert()
    return pkg


def test_option_installs_the_hook_before_conftests_are_imported(pytester, project):
    # The conftest imports the model at its top: only a hook installed before conftests helps.
    pytester.makeconftest(f"from {project} import model as imported_by_conftest\n")
    pytester.makepyfile(test_uses_model=USES_MODEL.format(pkg=project))
    result = pytester.runpytest(f"--ckpt-packages={project}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"ckpt_transform: import hook for {project}"])

    without = pytester.runpytest()
    without.assert_outcomes(failed=1)


def test_ini_option_and_command_line_override(pytester, project):
    pytester.makeini(f"[pytest]\nckpt_packages = {project}\n")
    pytester.makepyfile(test_uses_model=USES_MODEL.format(pkg=project))
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--ckpt-packages=some_other_package").assert_outcomes(failed=1)


def test_warns_about_a_package_imported_too_early_and_rejects_bad_names(pytester, project):
    # `-p` imports the package as a plugin before the hook can be installed.
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest("-p", project, f"--ckpt-packages={project}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*ImportHookWarning: --ckpt-packages: '{project}' was imported before*"])

    bad = pytester.runpytest("--ckpt-packages=not-a-name")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--ckpt-packages / ini ckpt_packages: *'not-a-name' is not a module name*"])


def test_modules_owned_by_the_assertion_rewriter_are_never_transformed(pytester, project):
    # A conftest and a test file inside the hooked package keep pytest's own loader.
    marked_function = MODEL.split("\n\n\n", 1)[1]
    (pytester.path / project / "conftest.py").write_text(
        "import jax.numpy as jnp\nfrom ckpt_transform import Revolve, checkpoint\n\n\n" + marked_function
    )
    (pytester.path / project / "test_inside.py").write_text(
        textwrap.dedent(
            f"""\
            import jax.numpy as jnp
            import pytest
            from ckpt_transform import Revolve, checkpoint
            from ckpt_transform._marker import NotTransformedError
            from {project} import conftest, model

            {textwrap.indent(marked_function, "            ").strip()}

            def test_pytest_owns_this_module_and_its_conftest():
                assert type(__loader__).__name__ == "AssertionRewritingHook"
                assert type(conftest.__loader__).__name__ == "AssertionRewritingHook"
                for own in (simulate, conftest.simulate):
                    with pytest.raises(NotTransformedError):
                        own(jnp.ones(2), 0.5, 3)
                assert "checkpointed_range" in model.simulate.__code__.co_names
            """
        )
    )
    pytester.runpytest(project, f"--ckpt-packages={project}").assert_outcomes(passed=1)


def golden_dir(pytester, cases: dict):
    """Inputs in golden/, with expected files written by the rewriter itself."""
    golden = pytester.mkdir("golden")
    for name, text in cases.items():
        (golden / f"{name}.in.py").write_text(text)
    for case in find_cases(golden):
        case.update()
    pytester.makeini("[pytest]\nckpt_golden_dir = golden\n")
    return golden


def test_golden_cases_are_collected_and_a_mismatch_shows_a_diff(pytester):
    rejected = MODEL.replace("x = jnp.sin(x) * p", "x = jnp.sin(x) * p\n            break")
    golden = golden_dir(pytester, {"loop": MODEL, "plain": "X = 1\n", "reject_break": rejected})
    assert (golden / "reject_break.err").exists() and (golden / "loop.out.py").exists()
    (pytester.path / "elsewhere.in.py").write_text(MODEL)  # outside the golden dir: not a case
    pytester.runpytest("-v").assert_outcomes(passed=3)

    expected = golden / "loop.out.py"
    expected.write_text(expected.read_text().replace("Revolve(2)", "Revolve(7)"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*golden rewrite 'loop': the rewriter's output differs from loop.out.py*",
            "-*Revolve(7)*",
            "+*Revolve(2)*",
            "*--ckpt-update-golden*",
        ]
    )


def test_update_flag_rewrites_the_expected_files(pytester):
    golden = golden_dir(pytester, {"loop": MODEL})
    expected = golden / "loop.out.py"
    expected.write_text("stale\n")
    (golden / "new_case.in.py").write_text(MODEL.replace("Revolve(2)", "Revolve(3)"))
    (golden / "now_rejected.in.py").write_text(MODEL.replace("range(n)", "[1, 2]"))
    (golden / "now_rejected.out.py").write_text(MODEL)
    pytester.runpytest("--ckpt-update-golden").assert_outcomes(passed=3)
    assert expected.read_text() == transform_source(MODEL, filename="loop.in.py")
    assert (golden / "new_case.out.py").exists()
    assert (golden / "now_rejected.err").exists() and not (golden / "now_rejected.out.py").exists()
    pytester.runpytest().assert_outcomes(passed=3)


def test_check_against_plain_passes_a_right_rewrite_and_fails_wrong_ones(pytester):
    pytester.makepyfile(
        test_helper=textwrap.dedent(
            """\
            import functools

            import jax
            import jax.numpy as jnp

            from ckpt_transform import Revolve, checkpoint, transform
            from ckpt_transform.pytest_plugin import check_against_plain

            jax.config.update("jax_enable_x64", True)
            X = jnp.linspace(0.1, 1.0, 4)


            def simulate(x, p):
                with checkpoint(Revolve(2), x):
                    for i in range(6):
                        x = jnp.sin(x) * p + 0.1 * i
                return jnp.sum(x**2)


            def one_step_short(x, p):
                with checkpoint(Revolve(2), x):
                    for i in range(5):
                        x = jnp.sin(x) * p + 0.1 * i
                return jnp.sum(x**2)


            @jax.custom_jvp
            def bad_sin(x):
                return jnp.sin(x)


            bad_sin.defjvp(lambda primals, tangents: (jnp.sin(primals[0]), 2 * jnp.cos(primals[0]) * tangents[0]))


            def wrong_derivative(x, p):
                with checkpoint(Revolve(2), x):
                    for i in range(6):
                        x = bad_sin(x) * p
                return jnp.sum(x**2)


            def test_right_rewrite(ckpt_check):
                value, (gx, gp) = ckpt_check(simulate, X, 0.8, argnums=(0, 1), finite_differences=True)
                assert gx.shape == (4,)


            def test_wrong_values():
                check_against_plain(functools.wraps(simulate)(transform(one_step_short)), X, 0.8)


            def test_lost_gradient():
                lost = functools.wraps(simulate)(lambda x, p: transform(simulate)(x, jax.lax.stop_gradient(p)))
                check_against_plain(lost, X, 0.8, argnums=(0, 1))


            def test_finite_differences_catch_a_wrong_derivative_rule():
                check_against_plain(wrong_derivative, X, 0.8, argnums=1)  # same rule on both sides: passes
                check_against_plain(wrong_derivative, X, 0.8, argnums=1, finite_differences=True)
            """
        )
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_wrong_values*",
            "*simulate: value of the transformed function*",
            "*test_lost_gradient*",
            "*simulate: gradient w.r.t. argument 1, against plain JAX AD*",
            "*test_finite_differences_catch_a_wrong_derivative_rule*",
            "*wrong_derivative: directional derivative against central finite differences*",
        ]
    )
