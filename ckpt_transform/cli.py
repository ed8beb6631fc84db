"""Command line: ``ckpt-transform FILE_OR_DIR...`` and its ``run`` and ``schedule`` subcommands.

Every file goes through ``transform_source``, the code path the import hook and the decorator use.
One file's failure is reported and the others are still processed; the exit status is the worst
outcome (see ``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import sys
import tokenize
import traceback
from dataclasses import dataclass
from pathlib import Path

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_CODES = f"""\
exit status (the worst outcome over all files):
  {EXIT_OK}  every file was transformed (or, with --check, every marked loop can be)
  {EXIT_PROBLEMS}  some marked loop cannot be transformed, or a file is not valid Python;
     each problem is printed as FILE:LINE:COL: MESSAGE
  {EXIT_USAGE}  bad command line, or a file or directory could not be read or written
  {EXIT_INTERNAL}  internal error of ckpt_transform (a bug: please report the traceback)"""
SUBCOMMANDS = ("run", "schedule")


def main(argv: list[str] | None = None, prog: str = "ckpt-transform") -> int:
    """Entry point of ``ckpt-transform`` and ``python -m ckpt_transform``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        args = _command_parser(prog).parse_args(argv)
        return args.func(args)
    args = _transform_parser(prog).parse_args(argv)
    if args.output and "-" in args.paths:
        _transform_parser(prog).error("-o/--output cannot write standard input ('-') to a file")
    return _transform_all(args)


def _transform_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the source of Python files with their `with checkpoint(...)` loops rewritten\n"
        "into checkpointed runtime calls. Files without a marked loop come out unchanged.",
        epilog=f"""\
other commands:
  {prog} run [--packages A,B] SCRIPT [ARGS...]   run a script with the import hook
  {prog} schedule ...                           print or plot a checkpointing schedule
  (a file named 'run' or 'schedule' can be given as ./run)

{EXIT_CODES}""",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="Python files, directories (searched for *.py), or '-' for standard input",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--diff", action="store_true", help="print a unified diff instead of the transformed source"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="print nothing but the problems (FILE:LINE:COL: MESSAGE, on stdout); "
        f"exit {EXIT_PROBLEMS} if any marked loop cannot be transformed",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write the transformed files under DIR (a directory argument keeps its name and "
        "layout) instead of printing them",
    )
    return parser


def _command_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a script with the import hook installed",
        description="Run SCRIPT as __main__ with its marked loops transformed, and with the import "
        "hook installed for the packages named by --packages.",
    )
    run.add_argument(
        "--packages",
        default="",
        metavar="A,B",
        help="comma-separated packages (or dotted prefixes) whose modules are transformed on import",
    )
    run.add_argument("script", help="the Python file to run")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed on to the script")
    run.set_defaults(func=_run)
    from ckpt_transform import _schedule_cli

    _schedule_cli.add_parser(commands)  # sets its own func
    return parser


def _run(args: argparse.Namespace) -> int:
    from ckpt_transform._hook_script import run_script

    packages = [p.strip() for p in args.packages.split(",") if p.strip()]
    return run_script(args.script, args.args, packages)


@dataclass
class _Source:
    """One input: the name shown to the user, its file (None for stdin), its place under -o."""

    name: str
    path: Path | None
    relative: Path | None


def _transform_all(args: argparse.Namespace) -> int:
    status = EXIT_OK
    sources = []
    for arg in args.paths:
        found = _expand(arg)
        if found is None:
            print(f"{arg}: no such file or directory", file=sys.stderr)
            status = EXIT_USAGE
        sources.extend(found or ())
    for source in sources:
        status = max(status, _transform_one(source, args, header=len(sources) > 1))
    return status


def _expand(arg: str) -> list[_Source] | None:
    """The Python files named by one argument; None if it does not exist."""
    if arg == "-":
        return [_Source("<stdin>", None, None)]
    path = Path(arg)
    if path.is_dir():
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            files.extend(Path(root) / n for n in sorted(names) if n.endswith(".py"))
        top = path.resolve().name
        return [_Source(str(f), f, Path(top) / f.relative_to(path)) for f in files]
    if path.is_file():
        return [_Source(arg, path, Path(path.name))]
    return None


def _transform_one(source: _Source, args: argparse.Namespace, header: bool) -> int:
    try:
        if source.path is None:
            data = sys.stdin.buffer.read()
        else:
            data = source.path.read_bytes()
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError) as e:
        print(f"{source.name}: cannot read: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from ckpt_transform.transform import transform_source

        result = transform_source(text, filename=source.name)
    except SyntaxError as e:  # TransformError, or a file that is not Python
        print(_problem(source.name, e), file=sys.stdout if args.check else sys.stderr)
        return EXIT_PROBLEMS
    except Exception:
        print(
            f"{source.name}: internal error of ckpt_transform (please report):\n"
            f"{traceback.format_exc()}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    if args.check:
        return EXIT_OK
    if args.diff:
        sys.stdout.write(_unified_diff(text, result, source.name))
    if args.output:
        target = Path(args.output) / source.relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding=encoding, newline="") as f:
                f.write(result)
        except OSError as e:
            print(f"{target}: cannot write: {e}", file=sys.stderr)
            return EXIT_USAGE
    elif not args.diff:
        if header:
            print(f"# ==> {source.name} <==")
        sys.stdout.write(result)
    return EXIT_OK


def _problem(name: str, error: SyntaxError) -> str:
    """``FILE:LINE:COL: MESSAGE`` (1-based line and column), the format editors jump to."""
    return f"{error.filename or name}:{error.lineno or 1}:{error.offset or 1}: {error.msg}"


def _unified_diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=name,
        tofile=f"{name} (transformed)",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
