"""Golden before/after rewrites in fixtures/ (format: fixtures/README.md).

Set CKPT_UPDATE_GOLDEN=1 to regenerate the expected files deliberately, then review `git diff`.
"""

import os
from pathlib import Path

import pytest

from ckpt_transform.transform import GoldenCase, TransformError, find_cases, transform_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES = find_cases(FIXTURES)


def test_enough_cases_of_both_kinds():
    rewrites = [c for c in CASES if not c.rejects]
    rejections = [c for c in CASES if c.rejects]
    assert len(rewrites) >= 25 and len(rejections) >= 20
    assert all(c.name.startswith("reject_") == c.rejects for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case):
    if os.environ.get("CKPT_UPDATE_GOLDEN"):
        case = GoldenCase(case.name, case.source, case.update())
    diff = case.check()
    assert diff is None, diff


@pytest.mark.parametrize("case", [c for c in CASES if not c.rejects], ids=lambda c: c.name)
def test_rewrite_compiles_and_is_idempotent(case):
    out = case.expected.read_text()
    compile(out, str(case.expected), "exec")
    assert transform_source(out, filename=case.expected.name) == out
    assert "checkpoint(" not in out.replace("import checkpoint", "") or out == case.source.read_text()


@pytest.mark.parametrize("case", [c for c in CASES if c.rejects], ids=lambda c: c.name)
def test_rejection_is_a_located_syntax_error(case):
    source = case.source.read_text()
    with pytest.raises(SyntaxError) as info:
        transform_source(source, filename=str(case.source))
    err = info.value
    assert isinstance(err, TransformError)
    assert err.filename == str(case.source)
    assert err.text == source.splitlines()[err.lineno - 1]
    assert "Fix:" in err.msg
