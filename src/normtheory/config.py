"""Simulation configuration: one frozen dataclass, validated on construction.

A `SimConfig` holds what changes the numbers of a run (the science): sizes and choices,
which are static (a change recompiles), and hyper-parameters, which are traced (they
may differ between the runs of one vmapped jit). Which is which is stated on the field
itself (`traced()`); `SimConfig.traced_fields()` lists them. How a run is executed
(chunking, progress, divergence policy) is not part of the config: those are arguments
of `simulate` and `run`, so they never enter the results cache's key.

Every construction validates (`__post_init__`), so an invalid config cannot exist: a
wrong type or an impossible value raises `ConfigError` naming the field. `override`
applies `key=value` strings as given on the command line (`--set lr=0.1`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

DATA = ("frequency", "hierarchy", "ambiguity", "imbalance", "wordnet")
MODELS = ("table", "compositional", "mlp")
LOSSES = ("symmetric", "one_sided", "prototype", "supervised")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw")
DTYPES = ("float32", "float64")
FREQUENCY_MODES = ("coupled", "decoupled")
ACTIVATIONS = ("relu", "tanh", "gelu")
# Random keys are made from unsigned 32-bit seeds; larger or negative seeds would alias.
SEED_LIMIT = 2**32

# Which models and losses each data family supports.
SUPPORTED = {
    "frequency": (("table",), ("symmetric", "one_sided")),
    "hierarchy": (("table", "compositional"), ("symmetric", "one_sided")),
    "ambiguity": (("table", "mlp"), ("prototype",)),
    "imbalance": (("mlp",), ("supervised",)),
    "wordnet": (("table", "compositional"), ("symmetric", "one_sided")),
}


def traced(default: float) -> Any:
    """A hyper-parameter field: a traced number that may differ between vmapped runs."""
    return dataclasses.field(default=default, metadata={"traced": True})


class ConfigError(ValueError):
    """An impossible or unknown configuration value; the message names the field."""


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """A simulation. Defaults: the free-table frequency workload of THEORY.md laws 6-9.

    Data families (`data`), with the models and losses each supports (`SUPPORTED`):
    - "frequency": `num_items` items drawn with Zipf(`zipf`) frequencies (0 is uniform);
      positives are direction-space views normalize(u + view_noise * noise) of the
      anchor's current direction u (constant in the gradient), so the loss is exactly
      scale-invariant. Model "table"; loss "symmetric" or "one_sided" (in-batch).
    - "hierarchy": a concept tree of `depth` levels and `branching`; every node is an
      item, anchored with frequency `frequency_mode` ("coupled": proportional to its
      number of leaves; "decoupled": equal); its positive is a leaf of its subtree,
      embedded by the same model (`towers`=1) or by a separate leaf table (`towers`=2).
      Models "table" or "compositional" (sum of path features).
    - "ambiguity": `num_items` inputs, each with a soft label over `num_classes` classes
      at one of `ambiguity_levels` evenly spaced mixing levels in [0, 1]; the positive is
      a class drawn from the soft label, embedded by a learned prototype table; loss
      "prototype" (softmax over all classes). Models "table" or "mlp" (on fixed inputs in
      `input_dim` lifted from a `latent_dim` sphere with `noise`).
    - "imbalance": THEORY.md's reference setup: `num_classes` classes with weights
      1:2:4:...:2^(K-1), centres on a `latent_dim` sphere, Gaussian `noise`, lifted to
      `input_dim`; model "mlp"; loss "supervised" (anchors without a positive in the
      batch are left out of the mean). Tracked items are the classes, probed at their
      noise-free centres.
    - "wordnet": the hierarchy on real structure (`normtheory.data.wordnet`): the
      `num_items` most frequent nouns of the real-model probe with distinct first noun
      senses, each at its first sense, joined by the first-listed-hypernym path of that
      sense up to entity.n.01; nodes are the synsets on these paths. Words are anchored
      with their wordfreq frequencies; word-less synsets with the summed frequency of
      their subtree's words (`frequency_mode` "coupled") or one flat frequency of the
      same total ("decoupled"). A node's positive is a word of its subtree, drawn by
      frequency, embedded as for "hierarchy" (`towers` 1 or 2; models "table" or
      "compositional"). Tracked items are the words (node w is word w, most frequent
      first). Needs WordNet 3.0 (apt-get install wordnet-base) and wordfreq (the probe
      extra); both are read when the problem is built, not here.
    Data that are not resampled (tree, soft labels, inputs, class geometry) come from
    `data_seed` and are shared by all seeds; `seed` drives initialisation and sampling.
    Optimizers: "sgd" (coupled L2 if weight_decay > 0), "momentum" (heavy ball, coupled
    L2), "nesterov", "adam" (coupled L2, i.e. Adam + L2), "adamw" (decoupled decay).
    Tracing: every `stride` steps the norms, gradient energy and norm budget of the
    `tracked` first items (0 = all) are recorded.

    Fields made with `traced(...)` (lr, weight_decay, tau, momentum, b1, b2, view_noise)
    are hyper-parameters: numbers traced through the compiled step, sweepable inside one
    jit (`simulate(..., grid=...)`). Every other field is static.

    Attributes:
        data: the data family (above).
        model: "table", "compositional" or "mlp" (which ones a family takes: above).
        loss: "symmetric" or "one_sided" InfoNCE, "prototype" or "supervised".
        optimizer: one of OPTIMIZER_NAMES (above).
        num_items: items (frequency, ambiguity) or nouns (wordnet, >= 2); >= 1.
        dim: embedding dimension d; >= 2.
        batch: draws per step B; >= 2 (and > num_classes for the supervised loss).
        steps: optimizer steps T; >= 1 and a multiple of `stride`.
        zipf: Zipf exponent of the item frequencies (frequency data); >= 0, 0 uniform.
        view_noise: sigma of the direction-space views (frequency data); >= 0.
        tau: InfoNCE temperature; > 0.
        lr: learning rate eta; > 0.
        weight_decay: lambda; >= 0 with lr * weight_decay < 1 (coupled L2, except
            decoupled under adamw).
        momentum: heavy-ball / Nesterov coefficient alpha; in [0, 1).
        b1, b2: Adam moment decays; in [0, 1).
        eps: Adam's denominator offset; >= 0.
        init_scale: scale of the initial parameters; > 0 (not so small that squared
            norms underflow in `dtype`).
        dtype: "float32" or "float64" (verification runs are float64).
        stride: steps per traced window; >= 1.
        tracked: items whose norm budget is traced (the first ones; 0 = all).
        seed: first seed (seed s of a vmapped run uses seed + s); in [0, 2**32).
        depth, branching: the concept tree (hierarchy data); >= 1 and >= 2.
        frequency_mode: "coupled" or "decoupled" anchor frequencies (hierarchy, wordnet).
        towers: 1 (positives embedded by the same model) or 2 (a separate table).
        num_classes: classes (ambiguity, imbalance); >= 2.
        ambiguity_levels: soft-label mixing levels (ambiguity).
        latent_dim, input_dim, noise: the fixed inputs of the MLP families.
        width, layers, activation: the MLP (hidden width, hidden layers, "relu", "tanh"
            or "gelu").
        data_seed: seed of the fixed data (tree, soft labels, inputs, class geometry); in
            [0, 2**32).
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
    view_noise: float = traced(0.1)
    tau: float = traced(0.1)
    lr: float = traced(0.5)
    weight_decay: float = traced(0.0)
    momentum: float = traced(0.9)
    b1: float = traced(0.9)
    b2: float = traced(0.999)
    eps: float = 1e-8
    init_scale: float = 1.0
    dtype: str = "float32"
    stride: int = 10
    tracked: int = 0
    seed: int = 0
    depth: int = 3
    branching: int = 3
    frequency_mode: str = "coupled"
    towers: int = 1
    num_classes: int = 4
    ambiguity_levels: int = 5
    latent_dim: int = 10
    input_dim: int = 64
    noise: float = 0.1
    width: int = 64
    layers: int = 1
    activation: str = "relu"
    data_seed: int = 0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = _typed(field.name, _kind(field), getattr(self, field.name))
            object.__setattr__(self, field.name, value)
        self._check_values()

    @classmethod
    def traced_fields(cls) -> tuple[str, ...]:
        """Names of the traced hyper-parameters, in field order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("traced"))

    def hyperparameters(self) -> dict[str, float]:
        """The traced hyper-parameters of this config, by name."""
        return {name: getattr(self, name) for name in self.traced_fields()}

    def static(self) -> SimConfig:
        """This config with every traced number and the seed at their defaults.

        Two configs with equal `static()` share one compiled program.
        """
        defaults = {name: _DEFAULTS[name] for name in self.traced_fields()}
        return dataclasses.replace(self, seed=0, **defaults)

    @property
    def num_tracked_max(self) -> int:
        """Number of items of the data: items, tree nodes, inputs or classes."""
        if self.data == "hierarchy":
            return sum(self.branching**k for k in range(self.depth + 1))
        if self.data == "imbalance":
            return self.num_classes
        return self.num_items  # frequency and ambiguity items; wordnet words

    @property
    def eta_lam(self) -> float:
        """eta * lam of one step: the weight-decay shrink is (1 - eta_lam) z."""
        return self.lr * self.weight_decay

    def _check_values(self) -> None:
        """Raise ConfigError naming the first field with an impossible value."""
        choices = {
            "data": DATA,
            "model": MODELS,
            "loss": LOSSES,
            "optimizer": OPTIMIZER_NAMES,
            "dtype": DTYPES,
            "frequency_mode": FREQUENCY_MODES,
            "activation": ACTIVATIONS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected one of {allowed}")
        models, loss_names = SUPPORTED[self.data]
        if self.model not in models:
            raise ConfigError(f"model={self.model!r}: data={self.data!r} supports {models}")
        if self.loss not in loss_names:
            raise ConfigError(f"loss={self.loss!r}: data={self.data!r} supports {loss_names}")
        for name in (
            "num_items",
            "dim",
            "batch",
            "steps",
            "stride",
            "depth",
            "ambiguity_levels",
            "latent_dim",
            "input_dim",
            "width",
            "layers",
        ):
            _require(name, getattr(self, name), getattr(self, name) >= 1, "must be >= 1")
        _require("dim", self.dim, self.dim >= 2, "must be >= 2 (a direction needs a sphere)")
        _require("batch", self.batch, self.batch >= 2, "must be >= 2 (InfoNCE needs negatives)")
        for name in ("tau", "lr", "init_scale"):
            _require(name, getattr(self, name), getattr(self, name) > 0, "must be > 0")
        # A squared norm below the smallest normal float of the dtype underflows to 0
        # and the first normalisation divides by zero; refuse such a scale up front.
        tiny = {"float32": 1.2e-38, "float64": 2.3e-308}[self.dtype]
        _require(
            "init_scale",
            self.init_scale,
            self.init_scale**2 > 1e6 * tiny,
            f"is too small for {self.dtype}: squared norms would underflow to 0",
        )
        for name in ("seed", "data_seed"):
            # Keys are built from uint32 seeds: -1 and 2**32 - 1 would alias.
            value = getattr(self, name)
            _require(name, value, 0 <= value < SEED_LIMIT, "must be in [0, 2**32)")
        _require("branching", self.branching, self.branching >= 2, "must be >= 2")
        if self.data == "wordnet":
            _require("num_items", self.num_items, self.num_items >= 2, "must be >= 2 (words)")
        _require("num_classes", self.num_classes, self.num_classes >= 2, "must be >= 2")
        _require("towers", self.towers, self.towers in (1, 2), "must be 1 or 2")
        if self.loss == "supervised":
            # Pigeonhole: a batch larger than the class count always holds a positive pair.
            _require(
                "batch",
                self.batch,
                self.batch > self.num_classes,
                f"must exceed num_classes={self.num_classes} for the supervised loss",
            )
        for name in ("weight_decay", "view_noise", "zipf", "eps", "noise"):
            _require(name, getattr(self, name), getattr(self, name) >= 0, "must be >= 0")
        for name in ("momentum", "b1", "b2"):
            value = getattr(self, name)
            _require(name, value, 0 <= value < 1, "must be in [0, 1)")
        _require(
            "tracked",
            self.tracked,
            0 <= self.tracked <= self.num_tracked_max,
            f"must be in [0, {self.num_tracked_max}] (the items of this data; 0 tracks all)",
        )
        _require(
            "steps",
            self.steps,
            self.steps % self.stride == 0,
            f"must be a multiple of stride={self.stride}",
        )
        _require(
            "weight_decay",
            self.weight_decay,
            self.eta_lam < 1,
            f"lr * weight_decay = {self.eta_lam:g} must be < 1 (decay would flip signs)",
        )

    def replace(self, **changes: Any) -> SimConfig:
        """A copy with `changes` applied (validated like any construction)."""
        unknown = sorted(set(changes) - _DEFAULTS.keys())
        if unknown:
            raise ConfigError(f"unknown field(s) {unknown}; known fields: {', '.join(_DEFAULTS)}")
        return dataclasses.replace(self, **changes)


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SimConfig)}


def _kind(field: dataclasses.Field) -> str:
    return field.type if isinstance(field.type, str) else field.type.__name__


def _typed(name: str, kind: str, value: Any) -> Any:
    """`value` as a field of type `kind`, or ConfigError naming the field.

    Integers are accepted for float fields (and stored as floats, so 1 and 1.0 are the
    same config); booleans only for bool fields; floats must be finite.
    """
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        if hasattr(value, "__index__") and not isinstance(value, bool):
            return int(value.__index__())
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{name}={value!r} must be finite")
            return float(value)
        if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
            return _typed(name, kind, value.item())
    elif kind == "str":
        if isinstance(value, str):
            return value
    article = "an" if kind[0] in "aeiou" else "a"
    raise ConfigError(f"{name}={value!r}: expected {article} {kind}, got {type(value).__name__}")


def _require(name: str, value: Any, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} {message}")


def _parse(field: dataclasses.Field, text: str) -> Any:
    kind = _kind(field)
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
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(f"{field.name}={text!r}: expected {article} {kind}") from None
    return text


def parse_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """Parse `key=value` strings into typed field values (unknown keys raise ConfigError)."""
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        if key not in fields:
            raise ConfigError(f"unknown field {key!r}; known fields: {', '.join(fields)}")
        if key in changes:
            raise ConfigError(f"--set {key}= is given twice; give each field once")
        changes[key] = _parse(fields[key], text.strip())
    return changes


def override(config: SimConfig, assignments: Iterable[str]) -> SimConfig:
    """Apply `key=value` strings; unknown keys and malformed values raise ConfigError."""
    return config.replace(**parse_assignments(assignments))
