"""Import hook: modules of chosen packages are rewritten by ``transform_source`` as they are imported.

Built the way pytest's assertion rewriter is: a meta-path finder that asks the finders behind it
where a module lives, and a loader (a ``SourceFileLoader`` whose ``get_code`` is ours) that
transforms, compiles and caches. Nothing in importlib is patched. Every source module of a hooked
package gets the loader and a cache entry (a module without a marked loop caches its plain code),
so a cached import makes the system calls a plain one makes: the finder stats the source and reads
the cache file, and a source whose stat proves it unchanged since its code was cached is not even
read. Otherwise the source is read; a cache entry for exactly these bytes (by hash) still serves,
and only a miss runs the marker text check, then libcst (marked) or the interpreter's own
compilation and pyc (unmarked). libcst is imported only to transform, never on a hit.

Set ``CKPT_TRANSFORM_DEBUG=1`` before installing the hook to print each transformed module's
source to stderr (and a line for each module taken from the cache).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable

from ckpt_transform import _hook_cache
from ckpt_transform.transform import has_marker  # libcst-free; the rewriter itself loads on demand

__all__ = ["ImportHook", "ImportHookWarning", "install_import_hook"]

DEBUG_ENV = "CKPT_TRANSFORM_DEBUG"


class ImportHookWarning(UserWarning):
    """A requested package was imported before the hook, so it runs untransformed."""


def install_import_hook(packages: str | Iterable[str]) -> ImportHook:
    """Transform the modules of ``packages`` (names or dotted prefixes) when they are imported.

    Returns the installed hook; ``hook.uninstall()`` removes it, and ``with
    install_import_hook([...]):`` does both. Modules imported before the hook stay as they are
    (a warning names them).
    """
    hook = ImportHook(packages)
    for name in already_imported(hook.packages):
        warnings.warn(
            f"ckpt_transform: package {name!r} was imported before the import hook was "
            "installed, so its modules already loaded will run untransformed; install the hook "
            "first (or use `python -m ckpt_transform run --packages ...`)",
            ImportHookWarning,
            stacklevel=2,
        )
    hook.install()
    return hook


class ImportHook(importlib.abc.MetaPathFinder):
    """Meta-path finder for the modules of ``packages``; also the handle users keep."""

    def __init__(self, packages: str | Iterable[str]):
        self.packages = _check_packages(packages)
        self._submodules_of = tuple(p + "." for p in self.packages)
        self.transformed: list[str] = []  # module names rewritten by libcst in this process
        self.cached: list[str] = []  # module names whose code came from the hook's cache
        self.debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")  # read once: imports are hot

    def install(self, position: int = 0) -> ImportHook:
        """Put the finder at ``position`` in ``sys.meta_path`` (first by default)."""
        if self not in sys.meta_path:
            sys.meta_path.insert(position, self)
        return self

    def uninstall(self) -> None:
        """Stop transforming; modules already imported stay transformed."""
        while self in sys.meta_path:
            sys.meta_path.remove(self)

    def __enter__(self) -> ImportHook:
        return self

    def __exit__(self, *exc_info) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        return f"<ckpt_transform import hook for {', '.join(self.packages)}>"

    def find_spec(self, name, path=None, target=None):
        # Runs for every import in the process, and in full for each module of a hooked package,
        # mostly once per process with nothing of it warm yet: kept to a few calls.
        if name not in self.packages and not name.startswith(self._submodules_of):
            return None
        spec = self._find_behind(name, path, target)
        loader = getattr(spec, "loader", None)
        if (
            not isinstance(loader, importlib.machinery.SourceFileLoader)
            or isinstance(loader, _TransformingLoader)
            or not spec.has_location
        ):
            return spec
        pyc = _hook_cache.cache_path(spec.origin)
        try:
            found = _hook_cache.lookup(spec.origin, pyc)
        except OSError:
            return spec
        # the finder behind made this spec for this import alone: only its loader changes
        spec.loader = _TransformingLoader(name, spec.origin, found, pyc, self)
        spec.cached = pyc
        return spec

    def _find_behind(self, name, path, target):
        """The spec the finders after this one would give: what the import would be without us."""
        try:
            behind = sys.meta_path[sys.meta_path.index(self) + 1 :]
        except ValueError:  # called while not installed
            behind = sys.meta_path
        for finder in behind:
            find = getattr(finder, "find_spec", None)
            if find is not None and finder is not self:
                spec = find(name, path, target)
                if spec is not None:
                    return spec
        return None


class _TransformingLoader(importlib.machinery.SourceFileLoader):
    """Source loader whose code comes from the hook's cache, else from the rewriter.

    The finder has already looked in the cache (and read the source if it had to), so a cache hit
    arrives with its code. A miss compiles the transformed module, or hands a module without a
    marked loop to the standard ``get_code``, and caches the code either way. Everything else
    (``get_source`` for tracebacks, ``get_data`` and ``get_resource_reader`` for
    importlib.resources, ``is_package``) is the standard file loader's.
    """

    def __init__(self, fullname, path, found, pyc: str | None, hook: ImportHook):
        super().__init__(fullname, path)
        self._found = found
        self._pyc = pyc
        self._hook = hook

    def get_code(self, fullname):
        found, self._found = self._found, None
        if found is None:  # a reload: look again
            found = _hook_cache.lookup(self.path, self._pyc)
        if found.code is not None:
            self._hook.cached.append(fullname)
            if self._hook.debug:
                print(f"ckpt_transform: {fullname}: code from cache {self._pyc}", file=sys.stderr)
            return found.code
        # Latin-1 decodes any bytes; the marker words are ASCII, so the check stays exact.
        if has_marker(found.source.decode("latin-1")):
            code = self._transform(fullname, importlib.util.decode_source(found.source))
        else:  # nothing to rewrite: what the import would be without the hook (its pyc included)
            code = super().get_code(fullname)
        if self._pyc:
            _hook_cache.write(self._pyc, found.source, found.key, code, found.st.st_mode)
        return code

    def _transform(self, fullname, text):
        from ckpt_transform.transform import compile_source, transform_source

        code = compile_source(text, self.path)
        self._hook.transformed.append(fullname)
        if self._hook.debug:
            print(
                f"ckpt_transform: {fullname}: transformed {self.path}\n{transform_source(text, filename=self.path)}",
                file=sys.stderr,
            )
        return code


def _check_packages(packages) -> tuple[str, ...]:
    if isinstance(packages, str):
        packages = [packages]
    try:
        names = tuple(packages)
    except TypeError:
        raise TypeError(
            f"install_import_hook(packages=...): expected a package name or a list of them, "
            f"got {type(packages).__name__}"
        ) from None
    for name in names:
        if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(
                f"install_import_hook(packages=...): {name!r} is not a module name; pass importable "
                "names such as 'mypkg' or 'mypkg.models'"
            )
    if not names:
        raise ValueError("install_import_hook(packages=...): name at least one package to transform")
    return names


def loaded_by_hook(module) -> bool:
    """Whether ``module`` was transformed by an import hook."""
    return isinstance(getattr(module, "__loader__", None), _TransformingLoader)


def hooked_module_of(fn):
    """The module whose hooked import compiled the function ``fn``, or None.

    Such a function's marked loops are rewritten already: the hook rewrites every marked loop of a
    module, or the import fails."""
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    code = getattr(fn, "__code__", None)
    if module is None or code is None or not loaded_by_hook(module) or code.co_filename != module.__file__:
        return None
    return module


def already_imported(packages: tuple[str, ...]) -> list[str]:
    """The requested packages that were imported untransformed before the hook was installed."""
    return [name for name in packages if name in sys.modules and not loaded_by_hook(sys.modules[name])]
