"""Golden rewrite fixtures as pytest items: a ``ckpt_golden_dir`` is collected by us alone.

Its ``NAME.in.py`` files are cases, not test modules, so the directory gets its own collector
(``pytest_collect_directory``, pytest >= 8) instead of pytest's, which would import them. The
format and the comparison are ``ckpt_transform.transform._golden``'s; this module only reports.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector):
    """The collector of a ``ckpt_golden_dir``; other directories are left to pytest."""
    golden_dirs = {Path(d).resolve() for d in parent.config.getini("ckpt_golden_dir")}
    if path.resolve() in golden_dirs:
        return GoldenDirectory.from_parent(parent, path=path)
    return None


class GoldenDirectory(pytest.Directory):
    """The cases of one golden directory, in name order."""

    def collect(self):
        from ckpt_transform.transform import find_cases

        for case in find_cases(self.path):
            yield GoldenFile.from_parent(self, path=case.source, case=case)


class GoldenFile(pytest.File):
    """The input file of one case; its one item compares the rewrite with the expected file."""

    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def collect(self):
        yield GoldenItem.from_parent(self, name=self.case.name, case=self.case)


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
        self.case = dataclasses.replace(self.case, expected=self.case.update())  # .out.py <-> .err
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
