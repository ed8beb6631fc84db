"""pytest plugin (``pytest11`` entry point ``ckpt_transform``).

- ``--ckpt-packages=a,b`` (ini ``ckpt_packages``) installs the import hook before conftests and
  test modules are imported. The hook sits right behind pytest's assertion rewriter in
  ``sys.meta_path``, so the modules that rewriter claims (test files, conftests, registered
  plugins) are never transformed.
- Golden rewrite fixtures under the ini ``ckpt_golden_dir`` directories are collected as test
  items that show a diff on mismatch; ``--ckpt-update-golden`` rewrites the expected files
  (pytest >= 8; see ``_pytest_golden``).
- ``check_against_plain(fn, *args, ...)`` and the fixture ``ckpt_check`` compare a transformed
  function with plain JAX AD of its untransformed loop.

Loaded by every pytest run in an environment where ckpt_transform is installed, so importing it
must stay cheap: JAX and libcst are imported only when a feature is used.
"""

from __future__ import annotations

import sys

import pytest

from ckpt_transform._check_plain import check_against_plain

if hasattr(pytest, "Directory"):  # pytest >= 8 lets plugins collect whole directories
    from ckpt_transform._pytest_golden import pytest_collect_directory  # noqa: F401 (a hook)

__all__ = ["check_against_plain"]

_HOOK = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ckpt_transform", "checkpointed loops (ckpt_transform)")
    group.addoption(
        "--ckpt-packages",
        dest="ckpt_packages",
        default=None,
        metavar="A,B",
        help="comma-separated packages whose modules are transformed on import "
        "(overrides the ini option ckpt_packages)",
    )
    group.addoption(
        "--ckpt-update-golden",
        dest="ckpt_update_golden",
        action="store_true",
        help="rewrite the expected output of golden rewrite fixtures that do not match",
    )
    parser.addini(
        "ckpt_packages",
        type="args",
        default=[],
        help="packages whose modules ckpt_transform transforms on import (names or dotted prefixes)",
    )
    parser.addini(
        "ckpt_golden_dir",
        type="paths",
        default=[],
        help="directories of golden rewrite fixtures, collected as tests (relative to the ini file)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Install the hook before the initial conftests (and later the test modules) are imported."""
    option = early_config.known_args_namespace.ckpt_packages
    names = [option] if option is not None else early_config.getini("ckpt_packages")
    packages = [p.strip() for item in names for p in item.split(",") if p.strip()]
    if not packages:
        return
    from ckpt_transform.hook import ImportHook, ImportHookWarning, already_imported

    try:
        hook = ImportHook(packages)
    except ValueError as error:
        raise pytest.UsageError(f"--ckpt-packages / ini ckpt_packages: {error}") from None
    for name in already_imported(hook.packages):
        early_config.issue_config_time_warning(
            ImportHookWarning(
                f"--ckpt-packages: {name!r} was imported before pytest could install the "
                "import hook, so it runs untransformed; keep it out of plugins loaded earlier"
            ),
            stacklevel=2,
        )
    hook.install(_after_assertion_rewriter(early_config))
    early_config.stash[_HOOK] = hook
    early_config.add_cleanup(hook.uninstall)


def _after_assertion_rewriter(config: pytest.Config) -> int:
    """The ``sys.meta_path`` position right behind this run's assertion rewriter (0 without one)."""
    rewriter = config.pluginmanager.rewrite_hook
    return sys.meta_path.index(rewriter) + 1 if rewriter in sys.meta_path else 0


def pytest_report_header(config: pytest.Config) -> str | None:
    hook = config.stash.get(_HOOK, None)
    return None if hook is None else f"ckpt_transform: import hook for {', '.join(hook.packages)}"


@pytest.fixture
def ckpt_check():
    """``check_against_plain``: values and gradients of a transformed function vs its plain loop."""
    return check_against_plain
