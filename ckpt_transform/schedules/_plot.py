"""Drawing a Schedule: step against action index. matplotlib is optional and imported here only."""

from __future__ import annotations

from ._actions import ADJOINT, ADVANCE, RESTORE, STORE

_MARKED = {STORE: "store", RESTORE: "restore", ADJOINT: "adjoint"}


def plot_schedule(schedule, ax=None):
    """Draw ``schedule`` on ``ax`` (a new figure when None) and return the figure.

    The line follows the step of the state in hand (advances climb, restores drop back); stores,
    restores and adjoint steps are marked, disk-level ones (level 1) with hollow markers.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "Schedule.plot() needs matplotlib, which is not installed; "
            "install it with: pip install 'ckpt_transform[plot]'"
        ) from error
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    xs: list[float] = []
    ys: list[float] = []
    marks: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    for k, action in enumerate(schedule.actions):
        op, step, to, _slot, level = action
        if op == ADVANCE:
            xs += [k, k + 1]
            ys += [step, to]
        elif op == ADJOINT:
            xs += [k, float("nan")]
            ys += [step, float("nan")]
        if op in _MARKED:
            kx, ky = marks.setdefault((_MARKED[op], level), ([], []))
            kx.append(k)
            ky.append(step)
    ax.plot(xs, ys, color="0.6", linewidth=0.8, label="state in hand")
    styles = {"store": ("^", "tab:green"), "restore": ("o", "tab:blue"), "adjoint": ("x", "tab:red")}
    for (name, level), (kx, ky) in sorted(marks.items()):
        marker, color = styles[name]
        hollow = level > 0 and name != "adjoint"
        colors = {"facecolors": "none", "edgecolors": color} if hollow else {"color": color}
        ax.scatter(kx, ky, s=14, marker=marker, label=name + (" (disk)" if hollow else ""), linewidths=0.8, **colors)
    ax.set_xlabel("action index")
    ax.set_ylabel("step")
    ax.set_title(schedule.summary(), fontsize=8)
    if schedule.actions:
        ax.legend(loc="best", fontsize=7)
    return ax.figure
