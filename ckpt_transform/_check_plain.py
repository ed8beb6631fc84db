"""``check_against_plain``: a transformed function must agree with the plain loop it came from.

The reference is the user's own function run with its marked blocks as ordinary loops
(``run_untransformed``) and differentiated by plain JAX AD; the transformed function must give the
same values and the same vector-Jacobian products, and optionally match central finite
differences. Tolerances default to float64 rounding; pass looser ones under float32.
"""

from __future__ import annotations

import inspect
import types


def check_against_plain(
    fn,
    *args,
    argnums=0,
    transformed=None,
    finite_differences: bool = False,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    fd_eps: float = 1e-6,
    fd_rtol: float = 1e-5,
    seed: int = 0,
):
    """Check ``fn(*args)`` transformed against the plain loop; raise AssertionError if they differ.

    ``fn`` is the user's function: as written (it is then transformed with
    ``ckpt_transform.transform``), already decorated (the original is found through
    ``__wrapped__``), or from a module the import hook transformed (the plain version is compiled
    from the module's source; only ``fn``'s own loops become plain, not those of the functions it
    calls). ``transformed`` overrides the function under test. Gradients are taken with
    respect to ``argnums`` (an int or a tuple) through ``jax.vjp``, with a cotangent of ones for
    scalar outputs and a fixed random one for arrays, so the function may return any pytree of
    float arrays. Returns ``(value, vjp)`` of the transformed function: for a scalar output, its
    gradients (a tuple when ``argnums`` is).
    """
    import jax
    import numpy as np

    from ckpt_transform._marker import run_untransformed
    from ckpt_transform.hook import hooked_module_of

    name = getattr(fn, "__qualname__", repr(fn))
    plain = inspect.unwrap(fn)
    hooked = hooked_module_of(plain)
    if hooked is not None:  # the import hook rewrote it: rebuild the plain loop from the source
        transformed = transformed or plain
        plain = _original_function(plain, hooked, name)
    elif transformed is None:
        if plain is fn:
            from ckpt_transform.transform import transform

            transformed = transform(fn)
        else:
            transformed = fn
    argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for k in argnums:
        if not 0 <= k < len(args):
            raise ValueError(f"check_against_plain(argnums=...): {k} is not an index of the {len(args)} args")

    def on(f, run=None):
        """``f`` as a function of the differentiated arguments only."""

        def g(*diff):
            full = list(args)
            for k, x in zip(argnums, diff):
                full[k] = x
            if run is None:
                return f(*full)
            with run():
                return f(*full)

        return g

    primals = [args[k] for k in argnums]
    value_plain, vjp_plain = jax.vjp(on(plain, run_untransformed), *primals)
    value, vjp = jax.vjp(on(transformed), *primals)
    _assert_close(f"{name}: value of the transformed function", value, value_plain, rtol, atol)

    rng = np.random.default_rng(seed)
    cotangent = jax.tree_util.tree_map(lambda v: _probe(rng, v, scalar_one=True), value)
    grads_plain = vjp_plain(cotangent)
    grads = vjp(cotangent)
    for k, g, g_plain in zip(argnums, grads, grads_plain):
        _assert_close(f"{name}: gradient w.r.t. argument {k}, against plain JAX AD", g, g_plain, rtol, atol)

    if finite_differences:
        direction = [
            jax.tree_util.tree_map(lambda p: _probe(rng, p, scalar_one=False), p)
            for p in primals
        ]
        f = on(transformed)

        def shifted(sign):
            moved = [
                jax.tree_util.tree_map(lambda p, d: p + sign * fd_eps * d, p, d) for p, d in zip(primals, direction)
            ]
            return _dot(cotangent, f(*moved))

        fd = (shifted(1.0) - shifted(-1.0)) / (2 * fd_eps)
        ad = sum(_dot(g, d) for g, d in zip(grads, direction))
        _assert_close(f"{name}: directional derivative against central finite differences", ad, fd, fd_rtol, fd_rtol)
    return value, grads[0] if len(argnums) == 1 else tuple(grads)


def _original_function(fn, module, name: str):
    """``fn`` with the code compiled from its module's untransformed source (same globals, defaults)."""
    from ckpt_transform.transform._compile import function_code

    source = module.__loader__.get_source(module.__name__)
    module_code = compile(source, module.__file__, "exec", dont_inherit=True)
    code = function_code(module_code, fn.__code__.co_name, fn.__code__.co_firstlineno)
    if code is None or code.co_freevars != fn.__code__.co_freevars:
        raise ValueError(
            f"check_against_plain({name}): cannot rebuild the plain loop of this function of the "
            f"hooked module {module.__name__} (was its file edited after the import?). Pass a "
            "function from a module imported without the hook, or one decorated with @transform."
        )
    plain = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    plain.__kwdefaults__ = fn.__kwdefaults__
    return plain


def _probe(rng, like, scalar_one: bool):
    """A fixed random array shaped like ``like`` (1 for a scalar when ``scalar_one``)."""
    import numpy as np

    like = np.asarray(like)
    if scalar_one and like.size == 1:
        return np.ones_like(like)
    return rng.standard_normal(like.shape).astype(like.dtype)


def _dot(a, b) -> float:
    import jax
    import numpy as np

    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    return float(sum(np.vdot(np.asarray(x), np.asarray(y)) for x, y in pairs))


def _assert_close(what: str, actual, expected, rtol: float, atol: float) -> None:
    import jax
    import numpy as np

    actual_leaves, actual_tree = jax.tree_util.tree_flatten(actual)
    expected_leaves, expected_tree = jax.tree_util.tree_flatten(expected)
    if actual_tree != expected_tree:
        raise AssertionError(f"{what}: structure {actual_tree} differs from the reference {expected_tree}")
    for i, (a, e) in enumerate(zip(actual_leaves, expected_leaves)):
        leaf = f" (leaf {i} of {len(actual_leaves)})" if len(actual_leaves) > 1 else ""
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol, err_msg=f"{what}{leaf}")
