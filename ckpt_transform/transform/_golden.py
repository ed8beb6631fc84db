"""Golden rewrite fixtures: ``NAME.in.py`` with ``NAME.out.py`` (the expected rewrite) or
``NAME.err`` (the expected rejection, ``line:col: message``). See ``fixtures/README.md``.

Shared by the test suite and the pytest plugin, so the format lives in one place.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from ._errors import TransformError
from ._rewrite import transform_source


@dataclass(frozen=True)
class GoldenCase:
    """One fixture: the input file and the file holding its expected result."""

    name: str
    source: Path
    expected: Path

    @property
    def rejects(self) -> bool:
        return self.expected.suffix == ".err"

    def actual(self) -> tuple:
        """``(text, suffix)``: the rewritten source and ``.out.py``, or ``line:col: message`` and ``.err``."""
        try:
            return transform_source(self.source.read_text(), filename=self.source.name), ".out.py"
        except TransformError as exc:
            return exc.located() + "\n", ".err"

    def check(self) -> str | None:
        """None when the rewriter still produces the expected result, else a unified diff."""
        if not self.expected.exists():
            return f"{self.expected} is missing; create it with `CKPT_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`"
        want, (got, suffix) = self.expected.read_text(), self.actual()
        if want == got and self.expected.name.endswith(suffix):
            return None
        return "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            str(self.expected), f"{self.source} (rewritten now)")) or (
            f"{self.source}: expected a {''.join(self.expected.suffixes)} result, got {suffix}")

    def update(self) -> Path:
        """Write the current result as the expected one (deliberate regeneration only)."""
        text, suffix = self.actual()
        target = self.source.with_name(self.name + suffix)
        if self.expected != target and self.expected.exists():
            self.expected.unlink()
        target.write_text(text)
        return target


def find_cases(directory) -> list:
    """The golden cases in ``directory``, sorted by name.

    An input without an expected file is returned as a rewrite case whose expected file does not
    exist yet; ``update()`` creates it (``.out.py``, or ``.err`` when the input is rejected).
    """
    cases = []
    for source in sorted(Path(directory).glob("*.in.py")):
        name = source.name[: -len(".in.py")]
        err, out = source.with_name(name + ".err"), source.with_name(name + ".out.py")
        cases.append(GoldenCase(name, source, err if err.exists() else out))
    return cases

