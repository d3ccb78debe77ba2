"""The laws of THEORY.md as derived SymPy expressions with JAX twins.

Every law is built by a derivation function on first use and cached; look one up by
name::

    from normtheory import laws
    law = laws.get("sgd_decay_equilibrium")
    law(eta=0.1, lam=1e-3, G2=1.0)   # JAX evaluation, arguments validated
    law.rhs, law.latex(), law.verify()

or as an attribute, ``laws.sgd_decay_equilibrium``. `names()` lists them in THEORY.md
order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from normtheory.laws import (
    adamw,
    adamw_rare,
    budget,
    cosine,
    gd_step,
    imprint_sign,
    infonce,
    kernel,
    li_arora,
    parameter_norm,
    weight_decay,
)
from normtheory.laws._law import Bound, Check, Law, Relation, ScalarRecurrence

_BUILDERS: dict[str, Callable[[], Law]] = {
    "cosine_gradient": cosine.cosine_gradient,
    "cosine_gradient_norm": cosine.cosine_gradient_norm,
    "infonce_gradient": infonce.infonce_gradient,
    "symmetric_infonce_gradient": infonce.symmetric_infonce_gradient,
    "supervised_infonce_gradient": infonce.supervised_infonce_gradient,
    "gd_norm_step": gd_step.gd_norm_step,
    "gd_norm_step_quartic": gd_step.gd_norm_step_quartic,
    "modified_flow_quartic_rate": gd_step.modified_flow_quartic_rate,
    "accumulation": gd_step.accumulation,
    "gd_angle_per_step": gd_step.gd_angle_per_step,
    "frequency_imprint": gd_step.frequency_imprint,
    "frequency_imprint_occurrences": gd_step.frequency_imprint_occurrences,
    "sgd_decay_step": weight_decay.sgd_decay_step,
    "sgd_decay_equilibrium": weight_decay.sgd_decay_equilibrium,
    "sgd_decay_angle": weight_decay.sgd_decay_angle,
    "sparse_decay_equilibrium": weight_decay.sparse_decay_equilibrium,
    "sparse_decay_equilibrium_quartic": weight_decay.sparse_decay_equilibrium_quartic,
    "sparse_decay_shot_noise": weight_decay.sparse_decay_shot_noise,
    "momentum_decay_equilibrium": weight_decay.momentum_decay_equilibrium,
    "momentum_decay_angle": weight_decay.momentum_decay_angle,
    "li_arora_learning_rate": li_arora.li_arora_learning_rate,
    "li_arora_scale": li_arora.li_arora_scale,
    "adamw_equilibrium": adamw.adamw_equilibrium,
    "adamw_angle": adamw.adamw_angle,
    "adamw_rare_row_equilibrium": adamw_rare.adamw_rare_row_equilibrium,
    "norm_budget": budget.norm_budget,
    "drift_scale": budget.drift_scale,
    "heat_scale": budget.heat_scale,
    "drift_heat_equilibrium": budget.drift_heat_equilibrium,
    "kernel_first_order": kernel.kernel_first_order,
    "kernel_split": kernel.kernel_split_law,
    "euler_self_drift": kernel.euler_self_drift,
    "compositional_sgd_kernel": kernel.compositional_sgd_kernel,
    "compositional_self_heat": kernel.compositional_self_heat,
    "compositional_adam_kernel": kernel.compositional_adam_kernel,
    "soft_label_gini": imprint_sign.soft_label_gini,
    "adam_draw_displacement": imprint_sign.adam_draw_displacement,
    "kernel_mean_heat": imprint_sign.kernel_mean_heat,
    "path_overlap_sum": imprint_sign.path_overlap_sum,
    "parameter_pythagoras": parameter_norm.parameter_pythagoras,
    "self_mean_heat": imprint_sign.self_mean_heat,
}

__all__ = ["Bound", "Check", "Law", "Relation", "ScalarRecurrence", "get", "names"]


def names() -> list[str]:
    """Registered law names, in THEORY.md item order."""
    return list(_BUILDERS)


@functools.cache
def get(name: str) -> Law:
    """The law called `name` (derived on first use, then cached).

    Args:
        name: a registered law name (`names()` lists them, in THEORY.md item order).

    Returns:
        The `Law`: its SymPy statement (`lhs`, `rhs`, `checks`), its JAX twin (call it
        with the law's parameters as keyword arrays; they broadcast), and its bounds.

    Raises:
        KeyError: an unknown name, listing the known ones.
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise KeyError(f"unknown law {name!r}; known: {', '.join(_BUILDERS)}") from None
    return builder()


def __getattr__(name: str) -> Law:
    if name in _BUILDERS:
        return get(name)
    raise AttributeError(f"module 'normtheory.laws' has no attribute {name!r}")
