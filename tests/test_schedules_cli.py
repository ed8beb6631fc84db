"""``ckpt-transform schedule``: costs, action list for small loops, plot file, clear errors."""

import argparse
import re
import subprocess
import sys

import pytest

from ckpt_transform import _schedule_cli
from ckpt_transform.schedules import Multistage, Online, Periodic, Revolve


def figures(out):
    return {m[0].strip(): m[1] for m in re.findall(r"^([a-z ]+?) {2,}(\S+)", out, re.M)}


def test_revolve_costs_and_actions(capsys):
    assert _schedule_cli.main(["revolve", "--steps", "10", "--snapshots", "3"]) == 0
    out = capsys.readouterr().out
    schedule = Revolve(3).plan(10)
    values = figures(out)
    assert values["scheme"] == "Revolve(3)"
    assert int(values["forward steps"]) == schedule.forward_steps == 15
    assert float(values["overhead"]) == pytest.approx(1.5)
    assert int(values["stores"]) == schedule.stores
    assert int(values["peak snapshots"]) == schedule.peak_snapshots
    assert int(values["binomial optimum"]) == 15
    listed = out.split("actions\n", 1)[1].splitlines()
    assert listed == [f"{k:6d}  {a}" for k, a in enumerate(schedule.actions)]


def test_large_loops_print_costs_only(capsys):
    assert _schedule_cli.main(["periodic", "--steps", "1000", "--snapshots", "10"]) == 0
    out = capsys.readouterr().out
    assert int(figures(out)["forward steps"]) == Periodic(10).plan(1000).forward_steps
    assert "actions" not in out


def test_online(capsys):
    assert _schedule_cli.main(["online", "--steps", "30", "--snapshots", "5"]) == 0
    values = figures(capsys.readouterr().out)
    assert int(values["forward steps"]) == Online(5).plan(30).forward_steps
    assert int(values["peak snapshots"]) <= 5


def test_multistage_and_storeall(capsys):
    assert _schedule_cli.main(["multistage", "--steps", "50", "--memory", "2", "--disk", "3"]) == 0
    values = figures(capsys.readouterr().out)
    assert int(values["forward steps"]) == Multistage(2, 3).plan(50).forward_steps == Revolve(5).plan(50).forward_steps
    assert _schedule_cli.main(["storeall", "--steps", "5"]) == 0
    assert int(figures(capsys.readouterr().out)["forward steps"]) == 4


@pytest.mark.parametrize(
    "argv, words",
    [
        (["revolve", "--steps", "10"], "revolve needs --snapshots"),
        (["revolve", "--steps", "10", "--snapshots", "0"], "snapshots must be >= 1"),
        (["revolve", "--steps", "-1", "--snapshots", "2"], "steps must be >= 0"),
        (["multistage", "--steps", "10", "--memory", "2"], "multistage needs --memory M and --disk D"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, words, capsys):
    assert _schedule_cli.main(argv) == 2
    assert words in capsys.readouterr().err


def test_argparse_rejects_unknown_scheme(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _schedule_cli.main(["binomial", "--steps", "3"])
    assert exit_info.value.code == 2


def test_plot_writes_the_file(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "revolve.png"
    assert _schedule_cli.main(["revolve", "--steps", "30", "--snapshots", "4", "--plot", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_add_parser_plugs_into_a_parent_parser(capsys):
    parser = argparse.ArgumentParser(prog="ckpt-transform")
    _schedule_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["schedule", "revolve", "--steps", "6", "--snapshots", "2"])
    assert args.func(args) == 0 and _schedule_cli.run(args) == 0
    assert "Revolve(2)" in capsys.readouterr().out


def test_runs_standalone_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "ckpt_transform._schedule_cli", "revolve", "--steps", "500", "--snapshots", "4"],
        capture_output=True, text=True, check=True,
    )
    assert int(figures(result.stdout)["forward steps"]) == 3213
