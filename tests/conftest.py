"""Test-wide settings: float64, so gradients can be compared with plain JAX AD to 1e-12."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
