"""The ``checkpoint`` marker. It only has meaning to the rewriter; run as-is it explains itself."""

from __future__ import annotations

import sys


class NotTransformedError(RuntimeError):
    """A ``with checkpoint(...)`` block ran without having been rewritten."""


def checkpoint(scheme, *state):
    """Mark ``with checkpoint(scheme, state): for i in range(...): ...`` for checkpointing.

    The block must be rewritten before it runs; reaching this call means it was not.
    """
    frame = sys._getframe(1)
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    raise NotTransformedError(
        f"{where}: this `with checkpoint(...)` block was not transformed, so it cannot checkpoint. "
        "Transform it in one of three ways: decorate the enclosing function with "
        "@ckpt_transform.transform; install the import hook "
        "(ckpt_transform.install_import_hook(['your_package']) before importing it, or run "
        "`python -m ckpt_transform run script.py`); or write the transformed source with "
        "`ckpt-transform FILE -o DIR`."
    )
