"""Test-wide settings: float64, so gradients can be compared with plain JAX AD to 1e-12; fixtures
shared by several test files."""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def systemp(tmp_path, monkeypatch):
    """The system temp dir, redirected so a test sees every file a temporary storage leaves."""
    directory = tmp_path / "systemp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory
