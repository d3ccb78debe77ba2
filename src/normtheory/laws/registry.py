"""The registry of laws: each name, in THEORY.md item order, with the module and
function that derives it.

Kept apart from `normtheory.laws` so that the modules which use one law (the engine
imports `normtheory.laws.budget`) do not import, or depend on the source of, every
other law; `normtheory.laws.get` loads a law's module on first use.
"""

from __future__ import annotations

BUILDERS: dict[str, tuple[str, str]] = {
    "cosine_gradient": ("cosine", "cosine_gradient"),
    "cosine_gradient_norm": ("cosine", "cosine_gradient_norm"),
    "infonce_gradient": ("infonce", "infonce_gradient"),
    "symmetric_infonce_gradient": ("infonce", "symmetric_infonce_gradient"),
    "supervised_infonce_gradient": ("infonce", "supervised_infonce_gradient"),
    "gd_norm_step": ("gd_step", "gd_norm_step"),
    "gd_norm_step_quartic": ("gd_step", "gd_norm_step_quartic"),
    "modified_flow_quartic_rate": ("gd_step", "modified_flow_quartic_rate"),
    "accumulation": ("gd_step", "accumulation"),
    "gd_angle_per_step": ("gd_step", "gd_angle_per_step"),
    "frequency_imprint": ("gd_step", "frequency_imprint"),
    "frequency_imprint_occurrences": ("gd_step", "frequency_imprint_occurrences"),
    "occurrence_energy_mixture": ("occurrence_energy", "occurrence_energy_mixture"),
    "occurrence_energy_slope": ("occurrence_energy", "occurrence_energy_slope"),
    "sgd_decay_step": ("weight_decay", "sgd_decay_step"),
    "sgd_decay_equilibrium": ("weight_decay", "sgd_decay_equilibrium"),
    "sgd_decay_angle": ("weight_decay", "sgd_decay_angle"),
    "sparse_decay_equilibrium": ("weight_decay", "sparse_decay_equilibrium"),
    "sparse_decay_equilibrium_quartic": ("weight_decay", "sparse_decay_equilibrium_quartic"),
    "sparse_decay_shot_noise": ("weight_decay", "sparse_decay_shot_noise"),
    "sparse_update_energy": ("sparse_energy", "sparse_update_energy"),
    "sparse_update_energy_square": ("sparse_energy", "sparse_update_energy_square"),
    "momentum_decay_equilibrium": ("weight_decay", "momentum_decay_equilibrium"),
    "momentum_decay_angle": ("weight_decay", "momentum_decay_angle"),
    "li_arora_learning_rate": ("li_arora", "li_arora_learning_rate"),
    "li_arora_scale": ("li_arora", "li_arora_scale"),
    "adamw_equilibrium": ("adamw", "adamw_equilibrium"),
    "adamw_angle": ("adamw", "adamw_angle"),
    "adamw_rare_row_equilibrium": ("adamw_rare", "adamw_rare_row_equilibrium"),
    "norm_budget": ("budget", "norm_budget"),
    "drift_scale": ("budget", "drift_scale"),
    "heat_scale": ("budget", "heat_scale"),
    "drift_heat_equilibrium": ("budget", "drift_heat_equilibrium"),
    "kernel_first_order": ("kernel", "kernel_first_order"),
    "kernel_split": ("kernel", "kernel_split_law"),
    "euler_self_drift": ("kernel", "euler_self_drift"),
    "compositional_sgd_kernel": ("kernel", "compositional_sgd_kernel"),
    "compositional_self_heat": ("kernel", "compositional_self_heat"),
    "compositional_adam_kernel": ("kernel", "compositional_adam_kernel"),
    "soft_label_gini": ("imprint_sign", "soft_label_gini"),
    "adam_draw_displacement": ("imprint_sign", "adam_draw_displacement"),
    "kernel_mean_heat": ("imprint_sign", "kernel_mean_heat"),
    "path_overlap_sum": ("imprint_sign", "path_overlap_sum"),
    "parameter_pythagoras": ("parameter_norm", "parameter_pythagoras"),
    "self_mean_heat": ("imprint_sign", "self_mean_heat"),
}
