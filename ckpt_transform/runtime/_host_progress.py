"""Progress bars of host-driven runs (``progress=True`` on a storage), with tqdm when installed."""

from __future__ import annotations

import warnings


class _NoBar:
    def update(self, count: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, total: int | None, desc: str):
    """A tqdm bar counting ``total`` steps (None: unknown), or a no-op bar when disabled or tqdm
    is missing."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn(
            "progress=True shows the sweeps with tqdm, which is not installed; install it with "
            "`pip install tqdm` (or the `progress` extra of ckpt_transform). Running without a "
            "progress bar.",
            stacklevel=2,
        )
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True)
