"""transform_source / compile_source properties: the one code path, without running anything."""

import ast
import dis
import random
import sysconfig
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from ckpt_transform.transform import TransformError, compile_source, find_cases, has_marker, transform_source
from ckpt_transform.transform import _liveness, _markers, _rewrite
from ckpt_transform.transform._errors import Locator
from ckpt_transform.transform._statements import walk_statements

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SOURCE = textwrap.dedent("""\
    from ckpt_transform import checkpoint, Revolve


    def simulate(T, lam, n):
        with checkpoint(Revolve(4), T):
            for i in range(3, n, 2):
                dT = lam * T
                T = T + dT * i
        return T
""")


def _stdlib_sample(k, seed=0):
    files = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")
                   if "site-packages" not in p.parts and "dist-packages" not in p.parts)
    return random.Random(seed).sample(files, k)


def test_unmarked_source_is_returned_untouched_without_parsing(monkeypatch):
    def no_parse(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(cst, "parse_module", no_parse)
    code = "import os\n\ndef f(x):\n    with open(x) as f:\n        return f.read()\n"
    assert transform_source(code) is code
    assert not has_marker(code)


def test_marker_text_without_marked_block_comes_back_identical():
    code = "from ckpt_transform import checkpoint\nwith open('f') as f:  # checkpoint later\n    pass\n"
    assert has_marker(code)
    assert transform_source(code) is code


def test_deterministic_idempotent_and_compiles():
    out = transform_source(SOURCE)
    assert out == transform_source(SOURCE)
    assert transform_source(out) == out
    compile(out, "x.py", "exec")
    assert "checkpointed_range(Revolve(4), 3, n, 2, _ckpt_body_0, (T,))" in out


@pytest.mark.parametrize("imports, call", [
    ("from ckpt_transform import checkpoint", "checkpoint"),
    ("from ckpt_transform import checkpoint as ck", "ck"),
    ("import ckpt_transform as ct", "ct.checkpoint"),
    ("import ckpt_transform", "ckpt_transform.checkpoint"),
    ("from ckpt_transform._marker import checkpoint", "checkpoint"),
])
def test_every_marker_spelling_is_found(imports, call):
    code = f"{imports}\n\ndef f(T, n):\n    with {call}(S, T):\n        for i in range(n):\n            T = T + 1\n    return T\n"
    assert "checkpointed_range(S, 0, n, 1," in transform_source(code)


def test_a_checkpoint_from_elsewhere_is_not_the_marker():
    code = "import ckpt_transform\nfrom torch.utils.checkpoint import checkpoint\nwith checkpoint(a, b):\n    for i in range(3):\n        b = b + 1\n"
    assert transform_source(code) is code


def test_fresh_names_avoid_every_identifier_in_the_file():
    code = SOURCE.replace("dT = lam * T", "_ckpt_rt = _ckpt_state = _ckpt_body_0 = lam * T").replace("dT * i", "_ckpt_rt * i")
    out = transform_source(code)
    assert "as _ckpt_rt_1" in out and "def _ckpt_body_0_1(i, _ckpt_state_1):" in out
    compile(out, "x.py", "exec")


def test_transform_error_is_a_located_syntax_error():
    code = SOURCE.replace("T = T + dT * i", "T = T + dT * i\n            break")
    with pytest.raises(SyntaxError) as info:
        transform_source(code, filename="/work/model.py")
    err = info.value
    assert isinstance(err, TransformError)
    assert (err.filename, err.lineno, err.offset) == ("/work/model.py", 9, 13)
    assert err.text == "            break"
    assert "`break`" in err.msg and "Fix:" in err.msg


def test_parse_errors_are_syntax_errors_with_the_filename():
    with pytest.raises(SyntaxError) as info:
        transform_source("from ckpt_transform import checkpoint\nwith checkpoint(:\n", filename="bad.py")
    assert info.value.filename == "bad.py" and info.value.lineno == 2


def test_parse_error_position_is_pythons_own():
    code = "from ckpt_transform import checkpoint\nx = = 1\ndef f(T):\n    with checkpoint(R, T):\n        pass\n"
    with pytest.raises(SyntaxError) as expected:
        compile(code, "bad.py", "exec")
    with pytest.raises(SyntaxError) as info:
        transform_source(code, filename="bad.py")
    assert (info.value.lineno, info.value.offset) == (expected.value.lineno, expected.value.offset) == (2, 5)


def test_compile_source_keeps_the_users_lines_and_columns():
    code = compile_source(SOURCE, "/work/model.py")
    simulate = next(c for c in code.co_consts if getattr(c, "co_name", "") == "simulate")
    body = next(c for c in simulate.co_consts if getattr(c, "co_name", "") == "_ckpt_body_0")
    assert body.co_filename == "/work/model.py"
    assert body.co_firstlineno == 6  # the `for` line
    assert {line for _, line in dis.findlinestarts(body)} == {6, 7, 8}
    assert {line for _, line in dis.findlinestarts(simulate)} == {4, 5, 6, 9}
    # columns too: `lam * T` sits at columns 17-24 of line 7
    positions = {p for p in body.co_positions() if p[0] == 7}
    assert (7, 7, 17, 24) in positions


def test_compile_source_of_unmarked_code_is_plain_compile():
    code = compile_source("x = 1\n", "m.py")
    assert code.co_filename == "m.py"
    namespace = {}
    exec(code, namespace)
    assert namespace["x"] == 1


def test_stdlib_sample_passes_through_unchanged():
    for path in _stdlib_sample(60):
        code = path.read_text(encoding="utf-8", errors="replace")
        assert transform_source(code, filename=str(path)) is code, path


def test_analysis_and_rewrite_survive_real_code():
    """Force the slow path on stdlib modules: parse, look for markers, run liveness on every function."""
    for path in _stdlib_sample(12, seed=1):
        code = path.read_text(encoding="utf-8", errors="replace")
        try:
            module = cst.parse_module(code)
        except cst.ParserSyntaxError:
            continue
        markers = _markers.Markers(names={"checkpoint"}, modules={"ckpt_transform"})
        assert _rewrite.analyse(module, markers, Locator(module, str(path))) == []
        for stmt, _ in walk_statements(module.body):
            if isinstance(stmt, cst.FunctionDef):
                _liveness.Liveness().scope(stmt.body)


def test_parsing_only_marked_definitions_gives_the_whole_module_result(monkeypatch):
    """transform_source parses only the top-level definitions that mention the marker; parsing the
    whole module instead must give the same text and the same errors."""
    def outcome(source, name):
        try:
            return transform_source(source, filename=name)
        except TransformError as exc:
            return exc.located()

    cases = find_cases(FIXTURES)
    fast = {c.name: outcome(c.source.read_text(), c.source.name) for c in cases}
    monkeypatch.setattr(_rewrite, "_marked_spans", lambda *args: None)
    for case in cases:
        assert outcome(case.source.read_text(), case.source.name) == fast[case.name], case.name


def test_form_feeds_and_semicolons_do_not_confuse_the_spans():
    code = SOURCE.replace("\n\ndef simulate", "\n\x0c\ndef helper(): pass; x = 1\n\ndef simulate")
    out = transform_source(code)
    assert "\x0c\ndef helper(): pass; x = 1\n" in out and "checkpointed_range(" in out
    compile(out, "x.py", "exec")


def test_internal_failures_say_they_are_ours(monkeypatch):
    from ckpt_transform.transform._errors import InternalError

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(_rewrite, "_check_carried", broken)
    with pytest.raises(InternalError, match="bug in ckpt_transform") as info:
        transform_source(SOURCE, filename="model.py")
    assert "model.py" in str(info.value) and "for i in range(3, n, 2):" in str(info.value)


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_lines"):
            yield from _code_objects(const)


@pytest.mark.parametrize("case", [c for c in find_cases(FIXTURES) if not c.rejects], ids=lambda c: c.name)
def test_compiled_positions_are_the_originals(case):
    """Every line and column the compiled fixture reports lies on real code of the original file,
    and every statement of the original has code at its own line."""
    source = case.source.read_text()
    lines = source.splitlines()
    compiled = compile_source(source, str(case.source))
    reported = set()
    for code in _code_objects(compiled):
        for line, end_line, col, end_col in code.co_positions():
            if line is None:
                continue
            reported.add(line)
            assert lines[line - 1].strip(), (code.co_name, line)
            if end_line == line and col is not None and end_col is not None and end_col > col:
                assert lines[line - 1][col:end_col].strip(), (code.co_name, line, col, end_col)
    statements = {node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.stmt)
                  and not isinstance(node, (ast.Pass, ast.Global, ast.Nonlocal, ast.Import, ast.ImportFrom))}
    assert statements - reported <= {n.lineno for n in ast.walk(ast.parse(source))
                                     if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.decorator_list}


def test_transform_error_pickles():
    import pickle

    err = TransformError("msg. Fix: x", "f.py", 3, 5, "text")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.msg, back.filename, back.lineno, back.offset, back.text) == (
        TransformError, "msg. Fix: x", "f.py", 3, 5, "text")
