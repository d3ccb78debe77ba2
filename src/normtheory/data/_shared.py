"""Pieces shared by the data families: argument checks and class geometry."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def check_int(name: str, value: object, minimum: int) -> int:
    """`value` as an int, or ValueError naming `name` if it is not an int >= minimum."""
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_nonnegative(name: str, value: float) -> float:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def class_geometry(
    key: jax.Array, num_classes: int, latent_dim: int, input_dim: int
) -> tuple[jax.Array, jax.Array]:
    """Class centres uniform on the unit sphere of `latent_dim`, and a fixed lift.

    Returns centers (K, latent_dim) with unit rows and lift (latent_dim, input_dim) with
    i.i.d. N(0, 1) entries.
    """
    dtype = jnp.result_type(float)
    center_key, lift_key = jax.random.split(key)
    centers = jax.random.normal(center_key, (num_classes, latent_dim), dtype=dtype)
    centers = centers / jnp.linalg.norm(centers, axis=-1, keepdims=True)
    return centers, jax.random.normal(lift_key, (latent_dim, input_dim), dtype=dtype)
