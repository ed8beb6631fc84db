"""``ckpt-transform run SCRIPT``: run a script as ``__main__``, transformed, with the import hook.

Like ``python SCRIPT``: the script's directory comes first on ``sys.path``, ``sys.argv`` is the
script and its arguments, and a transform error is reported like a syntax error (exit status 1).
"""

from __future__ import annotations

import builtins
import importlib.util
import os
import sys
import traceback
import types


def run_script(script: str, args: list[str], packages: list[str]) -> int:
    """Run ``script`` with ``args``; modules of ``packages`` are transformed on import."""
    from ckpt_transform.hook import install_import_hook
    from ckpt_transform.transform import compile_source

    try:
        with open(script, "rb") as f:
            text = importlib.util.decode_source(f.read())
    except OSError as e:
        print(f"{script}: cannot read: {e}", file=sys.stderr)
        return 2
    try:
        code = compile_source(text, script)  # plain compile() when the text has no marker
    except SyntaxError as e:
        sys.stderr.write("".join(traceback.format_exception_only(type(e), e)))
        return 1
    hook = install_import_hook(packages) if packages else None
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __builtins__=builtins, __cached__=None)
    saved = sys.argv, sys.path[:], sys.modules["__main__"]
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        sys.argv, sys.path[:], sys.modules["__main__"] = saved
        if hook is not None:
            hook.uninstall()
    return 0
