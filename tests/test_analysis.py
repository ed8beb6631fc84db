"""Unit tests of the dataflow analysis behind the carried-variable check (no JAX, nothing runs)."""

import textwrap

import libcst as cst
import pytest

from ckpt_transform.transform import _names
from ckpt_transform.transform._liveness import Liveness


def _analyse(src, which=0):
    """Live set at the head of the ``which``-th loop of the first function, and after it."""
    func = cst.parse_module(textwrap.dedent(src)).body[0]
    loops = []

    class Find(cst.CSTVisitor):
        def visit_For(self, node):
            loops.append(node)

        def visit_While(self, node):
            loops.append(node)

    func.visit(Find())
    loop = loops[which]
    live = Liveness([id(loop)])
    exit_live = _names.bound(func.body).globals
    live.scope(func.body, exit_live)
    return live.head[id(loop)]


def test_rebinding_is_carried_and_temporaries_are_not():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                t = 2 * x
                x = t + i
            return x
    """)
    assert "x" in head and "t" not in head and "i" not in head


def test_read_after_the_loop_is_live_at_the_head():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                t = 2 * x
            return t
    """)
    assert {"t", "x"} <= head


def test_assignment_on_one_branch_only_is_carried():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                if i == 2:
                    y = x
                z = y
                x = z
            return x
    """)
    assert "y" in head and "z" not in head


def test_assigned_on_every_branch_is_not_carried():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                if i == 2:
                    y = x
                else:
                    y = -x
                x = y
            return x
    """)
    assert "y" not in head


def test_outer_loop_back_edge_makes_a_temporary_live():
    head = _analyse("""
        def f(x, n):
            for e in range(3):
                print(d)
                for i in range(n):
                    d = x
                    x = d * 2
            return x
    """, which=1)
    assert "d" in head


def test_break_in_an_inner_loop_jumps_past_it():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                for k in range(3):
                    if k > i:
                        break
                    w = k
                x = x + w
            return x
    """)
    assert "w" in head  # after a break on the first inner iteration w is still the old one


def test_continue_goes_back_to_the_loop_head():
    head = _analyse("""
        def f(x, n):
            for i in range(3):
                u = x
                if i:
                    continue
                x = u
            return x
    """)
    assert "u" not in head and "x" in head


def test_while_condition_reads_are_live():
    head = _analyse("""
        def f(x, tol):
            while err > tol:
                err = x / 2
                x = err
            return x
    """)
    assert {"err", "tol", "x"} <= head


def test_exception_handler_reads_make_names_live():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                try:
                    last = x
                    x = g(x)
                except ValueError:
                    x = last
            return x
    """)
    assert "last" in head  # the handler may run before `last = x` of this iteration


def test_closures_read_their_free_names_where_they_are_created():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                g = lambda a: a * k + x
                k = i
                x = g(x)
            return x
    """)
    assert "k" in head and "a" not in head


def test_comprehension_and_lambda_parameters_are_not_reads():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                x = [j * x for j in range(3)][0]
                x = (lambda j: j)(x)
                j = 0
            return x
    """)
    assert "j" not in head


def test_walrus_binds_in_the_enclosing_scope():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                if (y := x * 2) > 1:
                    x = y
            return x
    """)
    assert "y" not in head


def test_global_names_are_live_at_scope_exit():
    head = _analyse("""
        def f(x, n):
            global counter
            for i in range(n):
                counter = i
                x = x + 1
            return x
    """)
    assert "counter" in head


def test_match_captures_bind_names():
    head = _analyse("""
        def f(x, n):
            for i in range(n):
                match x:
                    case (a, b):
                        x = (b, a)
                    case _:
                        pass
            return x
    """)
    assert "a" not in head and "b" not in head and "x" in head


@pytest.mark.parametrize("src, names", [
    ("a = 1", ["a"]),
    ("a, (b, *c) = x", ["a", "b", "c"]),
    ("a.b = 1", []),
    ("a[i] = 1", []),
])
def test_target_names(src, names):
    target = cst.parse_statement(src).body[0].targets[0].target
    assert [n.value for n in _names.target_names(target)] == names


def test_small_statement_reads_and_binds():
    stmt = cst.parse_statement("x.a[i] += f(y, key=z)").body[0]
    uses, binds = _names.small_statement(stmt)
    assert uses == {"x", "i", "f", "y", "z"} and binds == set()
    stmt = cst.parse_statement("t += 1").body[0]
    assert _names.small_statement(stmt) == ({"t"}, {"t"})


def test_free_names_of_a_nested_function():
    func = cst.parse_statement(textwrap.dedent("""
        @deco(a)
        def g(p, q=b):
            r = p + c
            def h():
                nonlocal r
                return r + d
            return h
    """))
    assert _names.free_names(func) == {"deco", "a", "b", "c", "d"}
