"""pytest plugin (``pytest11`` entry point ``ckpt_transform``).

- ``--ckpt-packages=a,b`` (ini ``ckpt_packages``) installs the import hook before conftests and
  test modules are imported. The hook sits right behind pytest's assertion rewriter in
  ``sys.meta_path``, so the modules that rewriter claims (test files, conftests, registered
  plugins) are never transformed.
- Golden rewrite fixtures under the ini ``ckpt_golden_dir`` directories are collected as test
  items that show a diff on mismatch; ``--ckpt-update-golden`` rewrites the expected files.
- ``check_against_plain(fn, *args, ...)`` and the fixture ``ckpt_check`` compare a transformed
  function with plain JAX AD of its untransformed loop.

Loaded by every pytest run in an environment where ckpt_transform is installed, so importing it
must stay cheap: JAX and libcst are imported only when a feature is used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ckpt_transform._check_plain import check_against_plain

__all__ = ["check_against_plain"]

_HOOK = pytest.StashKey()
_GOLDEN_CASES = pytest.StashKey()


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
    from ckpt_transform.hook import ImportHook, ImportHookWarning

    hook = ImportHook(packages)
    for name in hook.packages:
        if name in sys.modules:
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


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """A ``NAME.in.py`` inside a ``ckpt_golden_dir`` is one golden rewrite case."""
    if not file_path.name.endswith(".in.py"):
        return None
    config = parent.config
    golden_dirs = {Path(d).resolve() for d in config.getini("ckpt_golden_dir")}
    if file_path.parent.resolve() not in golden_dirs:
        return None
    return GoldenFile.from_parent(parent, path=file_path)


class GoldenFile(pytest.File):
    """The input of one golden case (the format is ``ckpt_transform.transform._golden``'s)."""

    def collect(self):
        from ckpt_transform.transform import find_cases

        cache = self.config.stash.setdefault(_GOLDEN_CASES, {})
        directory = self.path.parent
        if directory not in cache:
            cache[directory] = {case.source.name: case for case in find_cases(directory)}
        case = cache[directory][self.path.name]
        yield GoldenItem.from_parent(self, name=case.name, case=case)


class GoldenMismatch(Exception):
    """The rewriter's output differs from the expected file; the argument is the diff."""


class GoldenItem(pytest.Item):
    """Rewrite ``NAME.in.py`` and compare with ``NAME.out.py`` (or the rejection in ``NAME.err``)."""

    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        diff = self.case.check()
        if diff is None:
            return
        if not self.config.getoption("ckpt_update_golden"):
            raise GoldenMismatch(diff)
        self.case.update()
        diff = self.case.check()
        if diff is not None:  # the rewrite is not deterministic
            raise GoldenMismatch(f"still differs after --ckpt-update-golden:\n{diff}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GoldenMismatch):
            return (
                f"golden rewrite {self.case.name!r}: the rewriter's output differs from "
                f"{self.case.expected.name}\n{excinfo.value}\n"
                "If the change is intended, accept it with --ckpt-update-golden and review `git diff`."
            )
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"golden rewrite: {self.case.name}"


@pytest.fixture
def ckpt_check():
    """``check_against_plain``: values and gradients of a transformed function vs its plain loop."""
    return check_against_plain
