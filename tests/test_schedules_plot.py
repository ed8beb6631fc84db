"""Schedule.plot: draws step against action index; a clear error when matplotlib is missing."""

import sys

import pytest

from ckpt_transform.schedules import ADJOINT, RESTORE, STORE, Multistage, Revolve

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_plot_marks_every_store_restore_and_adjoint(tmp_path):
    import matplotlib.pyplot as plt

    schedule = Multistage(2, 2).plan(25)
    fig = schedule.plot()
    try:
        ax = fig.axes[0]
        points = {c.get_label(): len(c.get_offsets()) for c in ax.collections}
        counts = {op: sum(1 for a in schedule.actions if a.op == op) for op in (STORE, RESTORE, ADJOINT)}
        assert points["store"] + points["store (disk)"] == counts[STORE]
        assert points["restore"] + points["restore (disk)"] == counts[RESTORE]
        assert points["adjoint"] == counts[ADJOINT] == 25
        assert ax.get_xlabel() == "action index" and ax.get_ylabel() == "step"
        fig.savefig(tmp_path / "s.png")
        assert (tmp_path / "s.png").stat().st_size > 1000
    finally:
        plt.close(fig)


def test_plot_on_given_axes_and_empty_schedule():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert Revolve(3).plan(0).plot(ax=ax) is fig
    finally:
        plt.close(fig)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"ckpt_transform\[plot\]"):
        Revolve(2).plan(5).plot()
