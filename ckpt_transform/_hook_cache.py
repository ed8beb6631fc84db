"""Bytecode cache of the import hook: one hash-checked pyc per module of a hooked package.

The file starts like a PEP 552 "checked hash" pyc (magic, flags, source hash), so a stale entry is
detected from the source bytes themselves, not from an mtime that two edits within one second
share. Reading and hashing the source costs time that grows with its size (hashing 86 kB: 25 us on
the development machine, besides the read), though, so the header also holds a stat key of the
source as it was when hashed (inode, size, mtime, ctime, the way git's index proves a file
unchanged): when the source's stat still gives that key, its bytes are the hashed ones and the
source is not read. Nobody can set a ctime (``os.utime`` and every write move it to now), so an
edit always changes the key, except within the file system's timestamp granularity of the moment
the source was read; a key is therefore only recorded for a source last changed over two seconds
before it was read, by this machine's clock when it was stat'ed and by the file system's own clock
(the cache file's mtime), which a file server may keep differently. "Racy" sources are hashed on
every import until then. On Windows, where ctime is the creation time, no key is recorded. Any
mismatch falls back to the hash, which decides.

The code cached is the transformed module's, or for a module without a marked loop its plain
compilation: then a hit reads one file, as a plain import does, not the source (for the marker
check) and then the interpreter's pyc. The name carries the tool version and the interpreter's
cache tag (``mod.cpython-311-ckpt_transform-0.1.0.pyc``), so it never collides with the
interpreter's own pyc of the module, nor with a pyc written by another version of the rewriter.
Writes go to a temporary file that is renamed into place, so concurrent importers only ever see
complete files; any failure to write (read-only directory, full disk) is silent and only costs a
re-transform.
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
from typing import NamedTuple

from ckpt_transform import __version__

_FLAGS = (0b11).to_bytes(4, "little")  # PEP 552: hash-based, checked against the source
_MAGIC = importlib.util.MAGIC_NUMBER + _FLAGS
_HASH = slice(len(_MAGIC), len(_MAGIC) + 8)
_STAT_KEY = struct.Struct("<4q")  # st_ino, st_size, st_mtime_ns, st_ctime_ns of the hashed source
_KEY = slice(_HASH.stop, _HASH.stop + _STAT_KEY.size)
NO_KEY = bytes(_STAT_KEY.size)  # recorded for racy sources: never matches, the hash decides
_RACY_NS = 2_000_000_000  # above any file system's timestamp granularity (FAT: 2 s)
_CTIME_IS_CREATION = os.name == "nt"  # there a rewrite that restores the mtime keeps the whole stat
_OPT = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
_TAIL = (  # the file name after the module's stem; None without a cache tag (no caching at all)
    None
    if sys.implementation.cache_tag is None
    else f".{sys.implementation.cache_tag}-ckpt_transform-{__version__}{_OPT}.pyc"
)


def cache_path(source_path: str) -> str | None:
    """Where the hook's code for ``source_path`` is cached; None when caching is impossible.

    The directory follows the interpreter's rules (``__pycache__`` next to the source, or the
    mirror tree under ``sys.pycache_prefix``); only the file name differs.
    """
    if _TAIL is None:
        return None
    # string operations, not os.path: this runs for every module of a hooked package
    head, sep, name = (source_path.replace(os.altsep, os.sep) if os.altsep else source_path).rpartition(os.sep)
    stem = name.rpartition(".")[0] or name
    if sys.pycache_prefix:  # rare: let the interpreter map the directory
        return os.path.join(os.path.dirname(importlib.util.cache_from_source(source_path)), stem + _TAIL)
    return f"{head}{sep}__pycache__{os.sep}{stem}{_TAIL}"


class Entry(NamedTuple):
    """What ``lookup`` found of a module."""

    code: types.CodeType | None  #: the cached code, when fresh
    source: bytes | None  #: the source's bytes; None when the stat alone proved the cache fresh
    key: bytes  #: the stat key to record with new code (``NO_KEY``: none)
    st: os.stat_result  #: the source's stat, taken before it was read


def lookup(source_path: str, pyc: str | None) -> Entry:
    """The cached code of the module at ``source_path``, if fresh, and what a new entry needs.

    It runs for every module of a hooked package, mostly in processes where it has not run
    before, so it makes the system calls a plain import of a cached module makes (a stat of the
    source, one read of a cache file) and little else. The stat is taken before anything is read,
    so a later edit cannot pass for the bytes read here; a stat equal to the recorded key proves
    the source unchanged (a recorded key is never racy, see ``stat_key``), else the source is
    read and its hash decides.
    """
    st = os.stat(source_path)
    cached = b""
    if pyc is not None:
        try:
            cached = _read(pyc)
        except OSError:  # not cached yet (a first import pays for this exception, and much more)
            pass
    now = _STAT_KEY.pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if cached[: _HASH.start] == _MAGIC and cached[_KEY] == now:  # never NO_KEY: a real mtime is not zero
        code = _code(cached, source_path)
        if code is not None:
            return Entry(code, None, NO_KEY, st)
    key = stat_key(st)
    source = _read(source_path)
    code = same_source(cached, source, source_path)
    if code is not None:
        refresh(pyc, cached, key, st.st_mode)
    return Entry(code, source, key, st)


def _read(path: str) -> bytes:
    with io.open_code(path) as f:  # as importlib reads what it runs: open_code hooks see it (PEP 578)
        return f.read()


def stat_key(st: os.stat_result) -> bytes:
    """The key to record for a source just stat'ed; ``NO_KEY`` (never matches) while an edit
    could still leave the same stat, or where ctime is a creation time (Windows). Call it before
    reading the source: it tells whether the bytes about to be read are racy."""
    if _CTIME_IS_CREATION or time.time_ns() - st.st_ctime_ns <= _RACY_NS:
        return NO_KEY
    return _STAT_KEY.pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def same_source(cached: bytes, source: bytes, filename: str) -> types.CodeType | None:
    """The cached code when it was compiled from exactly ``source``, else None."""
    if not cached or cached[: _HASH.stop] != _MAGIC + importlib.util.source_hash(source):
        return None
    return _code(cached, filename)


def write(pyc: str, source: bytes, key: bytes, code: types.CodeType, mode: int) -> bool:
    """Atomically store ``code`` for ``source``, whose ``stat_key`` was taken before it was read."""
    return _replace(pyc, _MAGIC + importlib.util.source_hash(source) + key + marshal.dumps(code), mode)


def refresh(pyc: str, cached: bytes, key: bytes, mode: int) -> None:
    """Record the stat key of a source the hash found unchanged (touched, copied, no longer racy)."""
    if key != NO_KEY and key != cached[_KEY]:
        _replace(pyc, cached[: _HASH.stop] + key + cached[_KEY.stop :], mode)


def _racy_by_file_clock(payload: bytes, written: os.stat_result) -> bool:
    """Whether the key in ``payload`` is racy by the clock of the file system that stamped the
    source's ctime (as seen in the mtime of the cache file being written): the local clock that
    ``stat_key`` used may run ahead of a file server's."""
    key = payload[_KEY]
    return key != NO_KEY and written.st_mtime_ns - _STAT_KEY.unpack(key)[3] <= _RACY_NS


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
            f.flush()
            if _racy_by_file_clock(payload, os.fstat(fd)):
                f.seek(_KEY.start)
                f.write(NO_KEY)
        os.replace(tmp, pyc)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
