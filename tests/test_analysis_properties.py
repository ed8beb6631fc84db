"""Property test of the carried-variable analysis on random loop bodies (pure Python, no JAX).

Soundness: whenever the rewriter accepts a block, the rewritten loop computes what the plain loop
computes. The rewritten code runs against a reference executor of the runtime contract
(``state = body(i, state)`` for each index, no checkpointing), so only the rewrite is under test.
Completeness: naming every variable the body assigns as state is always accepted.
"""

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ckpt_transform.runtime as runtime
from ckpt_transform.transform import TransformError, transform_source

VARS = ["a", "b", "c", "d"]


def _reference_range(scheme, start, stop, step, body, state):
    for i in range(start, stop, step):
        state = body(i, state)
    return state


def _reference_while(scheme, cond, body, state):
    while cond(state):
        state = body(state)
    return state


expr = st.builds(lambda x, op, y: f"{x} {op} {y}", st.sampled_from(VARS + ["i", "1", "2"]),
                 st.sampled_from(["+", "-", "*", "%  7 +"]), st.sampled_from(VARS + ["i", "3"]))
assign = st.builds(lambda v, e: [f"{v} = {e}"], st.sampled_from(VARS), expr)


def sum_lines(blocks):
    return [line for block in blocks for line in block]


def _if(cond, then, other):
    lines = [f"if {cond} % 2 == 0:"] + ["    " + line for line in then]
    if other:
        lines += ["else:"] + ["    " + line for line in other]
    return lines


statement = st.recursive(
    assign,
    lambda inner: st.one_of(
        st.builds(_if, st.sampled_from(VARS + ["i"]), st.lists(inner, min_size=1, max_size=2).map(sum_lines),
                  st.lists(inner, max_size=2).map(sum_lines)),
        st.builds(lambda body: ["for k in range(2):"] + ["    " + line for line in body],
                  st.lists(inner, min_size=1, max_size=2).map(sum_lines)),
    ),
    max_leaves=6,
)


def _module(body, state, result, loop="for"):
    if loop == "while":  # the counter is state; `i` is a plain variable the body may read
        state, body = ["n", *state], ["i = n"] + body + ["n = n - 1"]
    lines = ["from ckpt_transform import checkpoint", "", "def f(a, b, c, d, n):",
             f"    with checkpoint(None, ({', '.join(state)},)):",
             "        for i in range(n):" if loop == "for" else "        while n > 0:"]
    lines += ["            " + line for line in body]
    lines += [f"    return ({', '.join(result)},)", ""]
    return "\n".join(lines)


def _run(code, transformed):
    namespace = {}
    exec(compile(code, "<random>", "exec"), namespace)
    if not transformed:
        namespace["checkpoint"] = lambda *args: contextlib.nullcontext()
    try:
        return namespace["f"](1, 2, 3, 4, 5)
    except NameError as exc:  # a variable first assigned in the loop, read before on some path
        return ("NameError", str(exc))


@pytest.fixture
def reference_runtime(monkeypatch):
    monkeypatch.setattr(runtime, "checkpointed_range", _reference_range)
    monkeypatch.setattr(runtime, "checkpointed_while", _reference_while)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.lists(statement, min_size=1, max_size=5).map(sum_lines),
       state=st.lists(st.sampled_from(VARS), min_size=1, max_size=4, unique=True),
       result=st.lists(st.sampled_from(VARS), min_size=1, max_size=2, unique=True),
       loop=st.sampled_from(["for", "while"]))
def test_accepted_rewrites_compute_what_the_plain_loop_computes(reference_runtime, body, state, result, loop):
    code = _module(body, state, result, loop)
    try:
        rewritten = transform_source(code)
    except TransformError as exc:
        assert "not in the checkpoint state" in exc.msg, exc.msg
        return
    assert _run(rewritten, True) == _run(code, False), rewritten


@settings(max_examples=40, deadline=None)
@given(body=st.lists(statement, min_size=1, max_size=5).map(sum_lines),
       result=st.lists(st.sampled_from(VARS), min_size=1, max_size=2, unique=True))
def test_all_assigned_variables_as_state_is_always_accepted(body, result):
    transform_source(_module(body, VARS, result))
