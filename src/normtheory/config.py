"""Simulation configuration: one frozen dataclass, validated, overridable by name.

Sizes and choices (static: a change recompiles) and hyper-parameters (numbers that can
also be swept inside one jit) live together; `validate` rejects impossible values with
an error naming the field, and `override` applies `key=value` strings as given on the
command line (`normtheory simulate EXPERIMENT --set lr=0.1`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

DATA = ("frequency",)
MODELS = ("table",)
LOSSES = ("symmetric", "one_sided")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
DTYPES = ("float32", "float64")

# Fields that may be swept inside one jit (vmapped); every other field is static.
HYPERPARAMETERS = ("lr", "weight_decay", "tau", "momentum", "b1", "b2", "view_noise")


class ConfigError(ValueError):
    """An impossible or unknown configuration value; the message names the field."""


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """A simulation. Defaults: the free-table frequency workload of THEORY.md laws 6-9.

    Data: `num_items` items drawn with Zipf(`zipf`) frequencies (0 is uniform), positives
    are direction-space views normalize(u + view_noise * noise) of the anchor's current
    direction u (held constant in the gradient), so the loss is exactly scale-invariant.
    Optimizers: "sgd" (coupled L2 if weight_decay > 0), "momentum" (heavy ball, coupled
    L2), "nesterov", "adam" (coupled L2, i.e. Adam + L2), "adamw" (decoupled decay).
    Tracing: every `stride` steps the norms, gradient energy and norm budget of the
    `tracked` first items (0 = all) are recorded; `chunk` steps run per jit call.
    """

    data: str = "frequency"
    model: str = "table"
    loss: str = "symmetric"
    optimizer: str = "sgd"
    num_items: int = 1000
    dim: int = 32
    batch: int = 256
    steps: int = 2000
    zipf: float = 1.1
    view_noise: float = 0.1
    tau: float = 0.1
    lr: float = 0.5
    weight_decay: float = 0.0
    momentum: float = 0.9
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    init_scale: float = 1.0
    dtype: str = "float32"
    stride: int = 10
    chunk: int = 500
    tracked: int = 0
    seed: int = 0
    record_divergence: bool = False

    @property
    def num_tracked(self) -> int:
        return self.tracked or self.num_items

    @property
    def eta_lam(self) -> float:
        """eta * lam of one step: the weight-decay shrink is (1 - eta_lam) z."""
        return self.lr * self.weight_decay

    def validate(self) -> SimConfig:
        """Return self, or raise ConfigError naming the first bad field."""
        choices = {
            "data": DATA,
            "model": MODELS,
            "loss": LOSSES,
            "optimizer": OPTIMIZERS,
            "dtype": DTYPES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected one of {allowed}")
        for name in ("num_items", "dim", "batch", "steps", "stride", "chunk"):
            _require(name, getattr(self, name), getattr(self, name) >= 1, "must be >= 1")
        _require("dim", self.dim, self.dim >= 2, "must be >= 2 (a direction needs a sphere)")
        _require("batch", self.batch, self.batch >= 2, "must be >= 2 (InfoNCE needs negatives)")
        for name in ("tau", "lr", "init_scale"):
            _require(name, getattr(self, name), getattr(self, name) > 0, "must be > 0")
        for name in ("weight_decay", "view_noise", "zipf", "eps"):
            _require(name, getattr(self, name), getattr(self, name) >= 0, "must be >= 0")
        for name in ("momentum", "b1", "b2"):
            value = getattr(self, name)
            _require(name, value, 0 <= value < 1, "must be in [0, 1)")
        _require(
            "tracked",
            self.tracked,
            0 <= self.tracked <= self.num_items,
            f"must be in [0, num_items={self.num_items}] (0 tracks all)",
        )
        _require(
            "steps",
            self.steps,
            self.steps % self.stride == 0,
            f"must be a multiple of stride={self.stride}",
        )
        _require(
            "chunk",
            self.chunk,
            self.chunk % self.stride == 0,
            f"must be a multiple of stride={self.stride}",
        )
        _require(
            "weight_decay",
            self.weight_decay,
            self.eta_lam < 1,
            f"lr * weight_decay = {self.eta_lam:g} must be < 1 (decay would flip signs)",
        )
        return self

    def replace(self, **changes: Any) -> SimConfig:
        return dataclasses.replace(self, **changes).validate()


def _require(name: str, value: Any, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} {message}")


def _parse(field: dataclasses.Field, text: str) -> Any:
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    try:
        if kind == "bool":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return lowered in ("true", "1")
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"{field.name}={text!r}: expected a {kind}") from None
    return text


def override(config: SimConfig, assignments: Iterable[str]) -> SimConfig:
    """Apply `key=value` strings; unknown keys and malformed values raise ConfigError."""
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        if key not in fields:
            raise ConfigError(f"unknown field {key!r}; known fields: {', '.join(fields)}")
        changes[key] = _parse(fields[key], text.strip())
    return config.replace(**changes)
