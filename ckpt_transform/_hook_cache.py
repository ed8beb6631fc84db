"""Bytecode cache of the import hook: one hash-checked pyc per transformed module.

The file is a PEP 552 "checked hash" pyc (magic, flags, source hash, marshalled code), so a stale
entry is detected from the source bytes themselves, not from an mtime that two edits within one
second share. Its name carries the tool version and the interpreter's cache tag
(``mod.cpython-311-ckpt_transform-0.1.0.pyc``), so it never collides with the interpreter's own pyc
of the untransformed module, nor with a pyc written by another version of the rewriter. Writes go to
a temporary file that is renamed into place, so concurrent importers only ever see complete files;
any failure to write (read-only directory, full disk) is silent and only costs a re-transform.
"""

from __future__ import annotations

import importlib.util
import io
import marshal
import os
import sys
import threading
import types

from ckpt_transform import __version__

_FLAGS = (0b11).to_bytes(4, "little")  # PEP 552: hash-based, checked against the source
_HEADER = len(importlib.util.MAGIC_NUMBER) + len(_FLAGS) + 8
_OPT = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
_TAIL = (  # the file name after the module's stem; None without a cache tag (no caching at all)
    None
    if sys.implementation.cache_tag is None
    else f".{sys.implementation.cache_tag}-ckpt_transform-{__version__}{_OPT}.pyc"
)


def cache_path(source_path: str) -> str | None:
    """Where the transformed code of ``source_path`` is cached; None when caching is impossible.

    The directory follows the interpreter's rules (``__pycache__`` next to the source, or the
    mirror tree under ``sys.pycache_prefix``); only the file name differs.
    """
    if _TAIL is None:
        return None
    head, name = os.path.split(source_path)
    stem = name.rpartition(".")[0] or name
    if sys.pycache_prefix:  # rare: let the interpreter map the directory
        head = os.path.dirname(importlib.util.cache_from_source(source_path))
    else:
        head = os.path.join(head, "__pycache__")
    return os.path.join(head, stem + _TAIL)


def read(pyc: str, source: bytes, filename: str) -> types.CodeType | None:
    """The cached code for ``source`` compiled under ``filename``, or None if absent or stale."""
    try:
        with io.FileIO(pyc, "r") as f:  # unbuffered: one read of the whole file
            data = f.readall()
    except OSError:
        return None
    expected = importlib.util.MAGIC_NUMBER + _FLAGS + importlib.util.source_hash(source)
    if data[:_HEADER] != expected:
        return None
    try:
        code = marshal.loads(data[_HEADER:])
    except (EOFError, ValueError, TypeError):
        return None
    # A moved tree keeps its __pycache__ but must not keep the old file name in tracebacks.
    if not isinstance(code, types.CodeType) or code.co_filename != filename:
        return None
    return code


def write(pyc: str, source: bytes, code: types.CodeType, mode: int) -> bool:
    """Atomically store ``code`` for ``source`` at ``pyc``; False (silently) if that fails."""
    if sys.dont_write_bytecode:
        return False
    payload = (
        importlib.util.MAGIC_NUMBER + _FLAGS + importlib.util.source_hash(source) + marshal.dumps(code)
    )
    tmp = f"{pyc}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, (mode & 0o666) | 0o600)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, pyc)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
