"""``ckpt-transform schedule ...``: print (or plot) a scheme's schedule for a loop length and its costs.

``ckpt_transform.cli`` dispatches its ``schedule`` subcommand here (``add_parser`` + ``run``);
``python -m ckpt_transform._schedule_cli revolve --steps 10 --snapshots 3`` runs it standalone.
"""

from __future__ import annotations

import argparse
import sys

SCHEMES = ("revolve", "periodic", "online", "storeall", "multistage")
#: loops up to this many steps get their action list printed
MAX_LISTED_STEPS = 40


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``schedule`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    parser = subparsers.add_parser(
        "schedule",
        help="print or plot a checkpointing schedule and its costs",
        description=__doc__.splitlines()[0],
    )
    _configure(parser)
    return parser


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scheme", choices=SCHEMES, help="checkpointing scheme")
    parser.add_argument("--steps", type=int, required=True, metavar="N", help="loop length")
    parser.add_argument("--snapshots", type=int, metavar="S", help="slots (revolve, online), segments (periodic)")
    parser.add_argument("--memory", type=int, metavar="M", help="memory slots (multistage)")
    parser.add_argument("--disk", type=int, metavar="D", help="disk slots (multistage)")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the schedule into this image file")
    parser.set_defaults(func=run)


def _scheme(args):
    from . import schedules

    if args.scheme == "storeall":
        return schedules.StoreAll()
    if args.scheme == "multistage":
        if args.memory is None or args.disk is None:
            raise ValueError("multistage needs --memory M and --disk D")
        return schedules.Multistage(args.memory, args.disk)
    if args.snapshots is None:
        raise ValueError(f"{args.scheme} needs --snapshots S")
    return getattr(schedules, args.scheme.capitalize())(args.snapshots)


def run(args: argparse.Namespace) -> int:
    """Print the costs (and the actions for small loops), optionally plot; return the exit code."""
    from .schedules._binomial import optimal_forward_steps

    try:
        scheme = _scheme(args)
        schedule = scheme.plan(args.steps)
    except (TypeError, ValueError) as error:
        print(f"ckpt-transform schedule: error: {error}", file=sys.stderr)
        return 2
    n = schedule.steps
    print(f"scheme            {scheme!r}")
    print(f"steps             {n}")
    print(f"forward steps     {schedule.forward_steps}")
    print(f"overhead          {schedule.overhead:.3f} (forward steps / steps)")
    slots = sum(schedule.budget)
    if slots:
        print(f"binomial optimum  {optimal_forward_steps(n, slots)} (Revolve({slots}))")
    print(f"adjoint steps     {schedule.reverse_steps}")
    print(f"stores            {schedule.stores}")
    print(f"peak snapshots    {schedule.peak_snapshots}")
    print(f"slot budget       {', '.join(map(str, schedule.budget)) or '0'} (per level)")
    if n <= MAX_LISTED_STEPS:
        print("actions")
        for k, action in enumerate(schedule.actions):
            print(f"{k:6d}  {action}")
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            figure = schedule.plot()
        except ImportError as error:
            print(f"ckpt-transform schedule: error: {error}", file=sys.stderr)
            return 1
        figure.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ckpt-transform schedule", description=__doc__.splitlines()[0])
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
