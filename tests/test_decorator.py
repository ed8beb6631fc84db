"""@ckpt_transform.transform: one function rewritten from its module source, everything else kept."""

import functools

import pytest

import ckpt_transform
from ckpt_transform import Revolve, checkpoint
from ckpt_transform._marker import NotTransformedError
from ckpt_transform.transform import TransformError, transform


def _marked(T, n):
    with checkpoint(Revolve(2), T):
        for i in range(n):
            T = T + i
    return T


def test_untransformed_marker_explains_the_three_ways():
    with pytest.raises(NotTransformedError) as info:
        _marked(1.0, 3)
    msg = str(info.value)
    assert "@ckpt_transform.transform" in msg and "install_import_hook" in msg and "ckpt-transform" in msg


def test_metadata_defaults_and_globals_are_kept():
    def f(T, n=3, *, scale: float = 2.0):
        """Docstring."""
        with checkpoint(Revolve(2), T):
            for i in range(n):
                T = T * scale
        return T

    f.custom = "attr"
    g = transform(f)
    assert g is not f and g.__code__ is not f.__code__
    assert g.__name__ == "f" and g.__qualname__ == f.__qualname__ and g.__doc__ == "Docstring."
    assert g.__module__ == __name__ and g.__defaults__ == (3,) and g.__kwdefaults__ == {"scale": 2.0}
    assert g.__annotations__ == {"scale": float} and g.custom == "attr" and g.__wrapped__ is f
    assert g.__globals__ is f.__globals__
    assert "checkpointed_range" in g.__code__.co_names and "checkpoint" not in g.__code__.co_names


def test_closure_cells_are_shared_with_the_original():
    lam = 1.0

    @transform
    def f(T, n):
        with checkpoint(Revolve(2), T):
            for i in range(n):
                T = T + lam
        return T

    assert f.__code__.co_freevars == ("lam",)
    lam = 5.0  # the transformed function sees the cell's current value, like the original would
    assert f.__closure__[0].cell_contents == 5.0


def test_methods_with_super_keep_the_class_cell():
    class Base:
        def scale(self):
            return 2.0

    class Model(Base):
        @transform
        def run(self, T, n):
            scale = super().scale
            with checkpoint(Revolve(2), T):
                for i in range(n):
                    T = T * scale()
            return T

    assert "__class__" in Model.run.__code__.co_freevars
    assert Model.run.__closure__[Model.run.__code__.co_freevars.index("__class__")].cell_contents is Model


def test_function_without_marked_block_is_returned_as_is():
    def f(x):
        return x

    assert transform(f) is f


def test_rejections_point_at_the_users_file_and_line():
    with pytest.raises(TransformError) as info:
        @transform
        def f(T, n):
            with checkpoint(Revolve(2), T):
                for i in range(n):
                    T = T + 1
                    break
            return T

    err = info.value
    assert err.filename == __file__
    assert err.text.strip() == "break" and err.offset == err.text.index("break") + 1
    assert open(__file__).read().splitlines()[err.lineno - 1] == err.text


def test_source_unavailable_names_the_alternatives():
    namespace = {"checkpoint": checkpoint, "Revolve": Revolve}
    exec("def f(T):\n    with checkpoint(Revolve(2), T):\n        for i in range(3):\n            T = T + 1\n    return T\n", namespace)
    with pytest.raises(TransformError) as info:
        transform(namespace["f"])
    msg = str(info.value)
    assert "install_import_hook" in msg and "ckpt-transform" in msg and "python -m ckpt_transform run" in msg


def test_not_a_function_is_a_type_error():
    with pytest.raises(TypeError, match="directly above `def`"):
        transform(functools.partial(print))
    with pytest.raises(TypeError):
        transform(lambda x: x)


def test_package_attribute_works_as_the_decorator():
    # ckpt_transform.transform is the subpackage once imported; it is callable as the decorator
    import ckpt_transform.transform as package  # noqa: F401

    def f(T, n):
        with checkpoint(Revolve(2), T):
            for i in range(n):
                T = T + 1
        return T

    g = ckpt_transform.transform(f)
    assert g.__wrapped__ is f and "checkpointed_range" in g.__code__.co_names


def test_nested_function_with_two_space_indent_and_a_column_zero_string(tmp_path):
    import importlib.util

    path = tmp_path / "two_space.py"
    path.write_text(
        "from ckpt_transform import checkpoint, Revolve, transform\n\n\n"
        "def outer(scale):\n"
        "  def inner(T, n):\n"
        '    doc = """\ntext at column 0\n"""\n'
        "    with checkpoint(Revolve(2), T):\n"
        "      for i in range(n):\n"
        "        T = T * scale + len(doc)\n"
        "    return T\n"
        "  return transform(inner)\n"
    )
    spec = importlib.util.spec_from_file_location("two_space", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inner = module.outer(2.0)
    assert inner.__code__.co_freevars == ("scale",) and inner.__code__.co_firstlineno == 5
    assert float(inner(1.0, 3)) == ((1.0 * 2 + 18) * 2 + 18) * 2 + 18
