"""Errors raised inside a checkpointed loop body point at the user's file and line, through the
decorator and through compile_source (what the import hook uses)."""

import textwrap
import traceback

import jax.numpy as jnp
import pytest

from ckpt_transform import Revolve, checkpoint
from ckpt_transform.transform import compile_source, transform


def _failing_step(T, i):
    raise ValueError("the step failed")


def _body_frames(tb, filename):
    return [fr for fr in traceback.extract_tb(tb) if fr.filename == filename and fr.name.startswith("_ckpt_body")]


def test_through_the_decorator():
    @transform
    def f(T, n):
        with checkpoint(Revolve(2), T):
            for i in range(n):
                T = _failing_step(T, i)  # the frame we want in the traceback
        return T

    with pytest.raises(ValueError) as info:
        f(jnp.ones(3), 4)
    body = _body_frames(info.tb, __file__)
    assert body, traceback.format_tb(info.tb)
    assert body[-1].line == "T = _failing_step(T, i)  # the frame we want in the traceback"
    # and the caret columns of Python 3.11 cover the call in the user's line
    assert (body[-1].colno, body[-1].end_colno) == (20, 39)


def test_through_compile_source_with_a_real_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent("""\
        import jax.numpy as jnp
        from ckpt_transform import checkpoint, Revolve


        def simulate(T, n):
            scale = 2.0
            with checkpoint(Revolve(3), T):
                for i in range(n):
                    T = T * scale
                    T = T + jnp.ones(4)  # shapes (3,) and (4,) do not broadcast
            return T
    """))
    namespace = {"__name__": "model", "__file__": str(path)}
    exec(compile_source(path.read_text(), str(path)), namespace)
    with pytest.raises(Exception) as info:  # JAX's broadcasting TypeError
        namespace["simulate"](jnp.ones(3), 5)
    frames = [fr for fr in traceback.extract_tb(info.tb) if fr.filename == str(path)]
    assert [fr.lineno for fr in frames][0] == 7  # the call stands where the `with` stood
    body = [fr for fr in frames if fr.name == "_ckpt_body_0"]
    assert body and body[-1].lineno == 10
    assert body[-1].line == "T = T + jnp.ones(4)  # shapes (3,) and (4,) do not broadcast"
