"""Bytecode cache of the import hook: one hash-checked pyc per transformed module.

The file starts like a PEP 552 "checked hash" pyc (magic, flags, source hash), so a stale entry is
detected from the source bytes themselves, not from an mtime that two edits within one second
share. Reading and hashing the source costs as much as the rest of a cached import, though, so
the header also holds a stat key of the source as it was when hashed (inode, size, mtime, ctime,
the way git's index proves a file unchanged): when the source's stat still gives that key, its
bytes are the hashed ones and the source is not read. Nobody can set a ctime (``os.utime`` and
every write move it to now), so an edit always changes the key, except within the file system's
timestamp granularity of the hash itself; a key is therefore only recorded for sources last
changed over two seconds before they were hashed ("racy" ones are hashed on every import until
then). Any mismatch falls back to the hash, which decides.

The name carries the tool version and the interpreter's cache tag
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
import struct
import sys
import threading
import time
import types

from ckpt_transform import __version__

_FLAGS = (0b11).to_bytes(4, "little")  # PEP 552: hash-based, checked against the source
_MAGIC = importlib.util.MAGIC_NUMBER + _FLAGS
_HASH = slice(len(_MAGIC), len(_MAGIC) + 8)
_STAT_KEY = struct.Struct("<4q")  # st_ino, st_size, st_mtime_ns, st_ctime_ns of the hashed source
_KEY = slice(_HASH.stop, _HASH.stop + _STAT_KEY.size)
_NO_KEY = bytes(_STAT_KEY.size)  # recorded for racy sources: never matches, the hash decides
_RACY_NS = 2_000_000_000  # above any file system's timestamp granularity (FAT: 2 s)
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
    if sys.pycache_prefix:  # rare: let the interpreter map the directory
        return os.path.join(os.path.dirname(importlib.util.cache_from_source(source_path)), _stem(source_path) + _TAIL)
    # string operations, not os.path: this runs for every module of a hooked package
    head, sep, name = (source_path.replace(os.altsep, os.sep) if os.altsep else source_path).rpartition(os.sep)
    return f"{head}{sep}__pycache__{os.sep}{_stem(name)}{_TAIL}"


def _stem(path: str) -> str:
    name = os.path.basename(path)
    return name.rpartition(".")[0] or name


def read(pyc: str | None) -> bytes:
    """The cache file's bytes; empty when there is none."""
    if pyc is None or not os.access(pyc, os.R_OK):  # most modules have none: no exception to raise
        return b""
    try:
        with io.FileIO(pyc, "r") as f:  # unbuffered: one read of the whole file
            return f.readall()
    except OSError:
        return b""


def unchanged(cached: bytes, st: os.stat_result, filename: str) -> types.CodeType | None:
    """The cached code when the source's stat proves it unchanged since it was hashed, else None."""
    key = cached[_KEY]
    if cached[: len(_MAGIC)] != _MAGIC or key == _NO_KEY or key != _stat_key(st):
        return None
    return _code(cached, filename)


def same_source(cached: bytes, source: bytes, filename: str) -> types.CodeType | None:
    """The cached code when it was compiled from exactly ``source``, else None."""
    if not cached or cached[: _HASH.stop] != _MAGIC + importlib.util.source_hash(source):
        return None
    return _code(cached, filename)


def write(pyc: str, source: bytes, st: os.stat_result, code: types.CodeType) -> bool:
    """Atomically store ``code`` for ``source``, whose stat, taken before it was read, is ``st``."""
    payload = _MAGIC + importlib.util.source_hash(source) + _key(st) + marshal.dumps(code)
    return _replace(pyc, payload, st.st_mode)


def refresh(pyc: str, cached: bytes, st: os.stat_result) -> None:
    """Record the stat key of a source the hash found unchanged (touched, copied, no longer racy)."""
    key = _key(st)
    if key != _NO_KEY and key != cached[_KEY]:
        _replace(pyc, cached[: _HASH.stop] + key + cached[_KEY.stop :], st.st_mode)


def _stat_key(st: os.stat_result) -> bytes:
    return _STAT_KEY.pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _key(st: os.stat_result) -> bytes:
    """The key to record: none while an edit could still leave the same timestamps."""
    return _stat_key(st) if time.time_ns() - st.st_ctime_ns > _RACY_NS else _NO_KEY


def _code(cached: bytes, filename: str) -> types.CodeType | None:
    try:
        code = marshal.loads(memoryview(cached)[_KEY.stop :])
    except (EOFError, ValueError, TypeError):
        return None
    # A moved tree keeps its __pycache__ but must not keep the old file name in tracebacks.
    if not isinstance(code, types.CodeType) or code.co_filename != filename:
        return None
    return code


def _replace(pyc: str, payload: bytes, mode: int) -> bool:
    """Write ``payload`` to ``pyc`` through a temporary file; False (silently) if that fails."""
    if sys.dont_write_bytecode:
        return False
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
