"""The ``checkpoint`` marker. It only has meaning to the rewriter; run as-is it explains itself."""

from __future__ import annotations

import contextlib
import contextvars
import sys

_RUN_PLAIN = contextvars.ContextVar("ckpt_transform_run_plain", default=False)

#: the ways to transform besides the decorator (also named by the decorator's own errors)
HOOK_OR_CLI = (
    "install the import hook (ckpt_transform.install_import_hook(['your_package']) before importing "
    "the module, or run `python -m ckpt_transform run script.py`), or write the transformed source "
    "with `ckpt-transform FILE -o DIR`"
)


class NotTransformedError(RuntimeError):
    """A ``with checkpoint(...)`` block ran without having been rewritten."""


def checkpoint(scheme, *state):
    """Mark ``with checkpoint(scheme, state): for i in range(...): ...`` for checkpointing.

    The block must be rewritten before it runs; reaching this call means it was not (except
    inside ``run_untransformed()``, where the block runs as the plain loop it wraps).
    """
    if _RUN_PLAIN.get():
        return contextlib.nullcontext()
    frame = sys._getframe(1)
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    raise NotTransformedError(
        f"{where}: this `with checkpoint(...)` block was not transformed, so it cannot checkpoint. "
        f"Fix: decorate the enclosing function with @ckpt_transform.transform, or {HOOK_OR_CLI}."
    )


@contextlib.contextmanager
def run_untransformed():
    """Run untransformed marked blocks as plain loops: the reference that tests compare against."""
    token = _RUN_PLAIN.set(True)
    try:
        yield
    finally:
        _RUN_PLAIN.reset(token)
