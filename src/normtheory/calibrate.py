"""The norm as a free confidence score for retrieval, measured in the simulations.

After training, every query is retrieved against a gallery by cosine (top-1), and four
per-query scores are asked to predict whether the top-1 is correct: the query's norm
(which cosine throws away), the top-1 cosine and the margin between the top two (the
usual baselines), and a cross-validated logistic combination of the three; the same
combination without the norm says whether the norm adds anything to the baselines.

Retrieval tasks:
- ambiguity data: queries are the inputs (free table: the trained rows; MLP: fresh,
  held-out views of every input, `VIEWS` per input); the gallery is the learned class
  prototypes. The reference label of a query is one annotator's label, drawn from the
  input's soft label (as a human label is one draw from the annotators' disagreement),
  so an input of entropy log K is right by chance only. The feature the norm should
  track is the soft-label entropy (THEORY.md item 14).
- hierarchy data: queries are all nodes but the root (leaves too when a separate leaf
  tower gives the gallery); the gallery is the leaves' context embeddings. A node with
  m leaves below it is right when its m nearest leaves are exactly those (for a leaf:
  its own context is the top-1); plain top-1-in-subtree is almost always right for inner
  nodes and would leave nothing to predict. The feature is the depth (item 13).

Theory's expected direction of the norm's AUROC (> 0.5: longer queries are more often
right). Ambiguity lowers accuracy, so the direction is minus the sign THEORY.md gives
for the norm-entropy correlation: free table under SGD (with or without decay): generic
and ambiguous items keep a large gradient energy and grow longer (law 6, item 13), so
AUROC < 0.5; AdamW equalises the norms (item 11), so AUROC near 0.5; a shared MLP makes
ambiguous inputs shorter (item 14), so AUROC > 0.5. In the hierarchy the direction is the
sign of the norm-depth correlation THEORY.md gives (free table: generic longer;
compositional: specific longer; AdamW: flat) times the sign of the measured correlation
between correctness and depth in that run, which the theory does not fix.

Simulations run in float32 (the metrics in float64); each regime's retrieval arrays are
cached by config like simulation runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import cache, confidence
from normtheory import data as D
from normtheory.config import ConfigError, SimConfig
from normtheory.engine import train
from normtheory.models import mlp
from normtheory.problems import ambiguity_data, make_problem

VIEWS = 4  # held-out views per input for MLP queries
# Code identity of the cached retrieval arrays: the engine plus this module.
CODE = cache.code_identity("calibrate.py")
PROTOCOL = 1  # bump when the retrieval protocol changes (part of the cache key)
SCORES = ("norm", "top1_cosine", "margin", "combined", "combined_without_norm")

AMBIGUITY = SimConfig(
    data="ambiguity",
    loss="prototype",
    num_items=500,
    num_classes=4,
    ambiguity_levels=5,
    dim=16,
    batch=64,
    steps=3000,
    stride=500,
    tracked=1,
    width=32,
    noise=0.3,
)
HIERARCHY = SimConfig(
    data="hierarchy",
    depth=5,
    branching=3,
    towers=2,
    frequency_mode="coupled",
    dim=8,
    batch=64,
    steps=3000,
    stride=500,
    tracked=1,
)
OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "weight_decay": 0.0},
    "sgd+wd": {"optimizer": "sgd", "weight_decay": 5e-3},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
}
SGD_LR = {"table": 0.5, "compositional": 0.5, "mlp": 0.05}
FAMILIES = {"ambiguity": ("table", "mlp"), "hierarchy": ("table", "compositional")}

# THEORY.md's sign of the norm's correlation with the regime's feature (entropy for
# ambiguity, depth for the hierarchy); 0 where it predicts no dependence (AdamW).
THEORY_SIGN = {
    ("ambiguity", "table"): +1,
    ("ambiguity", "mlp"): -1,
    ("hierarchy", "table"): -1,
    ("hierarchy", "compositional"): +1,
}


@dataclasses.dataclass(frozen=True)
class Regime:
    """One trained setting: data family, model family and optimizer, as a config."""

    name: str
    config: SimConfig

    @property
    def theory_sign(self) -> int:
        """THEORY.md's sign of corr(norm, feature): +1, -1, or 0 (no dependence)."""
        if self.config.optimizer == "adamw":
            return 0
        return THEORY_SIGN[(self.config.data, self.config.model)]


def regimes(
    data: Sequence[str] = ("ambiguity", "hierarchy"),
    optimizers: Sequence[str] = tuple(OPTIMIZERS),
    changes: Mapping[str, object] | None = None,
) -> list[Regime]:
    """The default regimes: each data family x its two model families x the optimizers.

    `changes` (field -> value) is applied to every regime last, so a user can move all
    of them (for example steps or dim) and keep the comparison.
    """
    out = []
    for name in data:
        if name not in FAMILIES:
            raise ConfigError(f"calibration supports data {sorted(FAMILIES)}, not {name!r}")
        base = AMBIGUITY if name == "ambiguity" else HIERARCHY
        for model in FAMILIES[name]:
            for opt in optimizers:
                if opt not in OPTIMIZERS:
                    raise ConfigError(
                        f"unknown optimizer regime {opt!r}; known: {list(OPTIMIZERS)}"
                    )
                settings = {"lr": SGD_LR[model], **OPTIMIZERS[opt]}
                cfg = base.replace(model=model, **settings, **dict(changes or {}))
                out.append(Regime(f"{name}/{model}/{opt}", cfg))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _ranking(queries: np.ndarray, gallery: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cosines (Q, G), gallery indices of each query by decreasing cosine (Q, G))."""
    cos = _unit(queries) @ _unit(gallery).T
    return cos, np.argsort(-cos, axis=1, kind="stable")


def _top_two(cos: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, ...]:
    """(top-1 index, top-1 cosine, top-1 minus top-2 cosine) of each query (`_ranking`)."""
    rows = np.arange(len(cos))
    first, second = cos[rows, order[:, 0]], cos[rows, order[:, 1]]
    return order[:, 0], first, first - second


def _seed(params, s: int):
    return jax.tree.map(lambda x: jnp.asarray(x[s]), params)


def _ambiguity_queries(config: SimConfig, params, seeds: int) -> dict[str, np.ndarray]:
    data = ambiguity_data(config)
    dtype = jnp.dtype(config.dtype)
    labels = jnp.asarray(data.labels, dtype=dtype)
    out = {k: [] for k in ("norm", "top1", "margin", "correct", "feature", "seed")}
    for s in range(seeds):
        p = _seed(params, s)
        key = jax.random.fold_in(jax.random.key(config.seed + s), 0x43414C)  # held-out draws
        k_views, k_labels = jax.random.split(key)
        if config.model == "table":
            ids = np.arange(config.num_items)
            z = np.asarray(p["inputs"]["table"])
        else:
            ids = np.tile(np.arange(config.num_items), VIEWS)
            x = D.continuous_inputs(
                k_views,
                labels[ids],
                jnp.asarray(data.centers, dtype),
                config.noise,
                jnp.asarray(data.lift, dtype),
            )
            z = np.asarray(mlp.embed(p["inputs"], x, config.activation))
        annotator = np.asarray(D.sample_positive_classes(k_labels, labels, jnp.asarray(ids)))
        top, first, margin = _top_two(*_ranking(z, np.asarray(p["classes"]["table"])))
        out["norm"].append(np.linalg.norm(z, axis=-1))
        out["top1"].append(first)
        out["margin"].append(margin)
        out["correct"].append(top == annotator)
        out["feature"].append(np.asarray(data.entropy)[ids])
        out["seed"].append(np.full(len(ids), s))
    return {k: np.concatenate(v) for k, v in out.items()}


def _hierarchy_queries(config: SimConfig, params, seeds: int) -> dict[str, np.ndarray]:
    tree = D.make_tree(config.depth, config.branching)
    nodes = np.arange(1, tree.num_nodes)
    if config.towers == 1:
        nodes = nodes[~tree.is_leaf[nodes]]  # a leaf would retrieve itself
    everything = dataclasses.replace(config, tracked=0)
    probe = _anchor_probe(everything)
    out = {k: [] for k in ("norm", "top1", "margin", "correct", "feature", "seed")}
    for s in range(seeds):
        p = _seed(params, s)
        anchors = np.asarray(probe(p))
        gallery = (
            np.asarray(p["context"]["table"]) if config.towers == 2 else anchors[tree.leaf_ids]
        )
        z = anchors[nodes]
        cos, order = _ranking(z, gallery)
        _, first, margin = _top_two(cos, order)
        out["norm"].append(np.linalg.norm(z, axis=-1))
        out["top1"].append(first)
        out["margin"].append(margin)
        out["correct"].append(_subtree_retrieved(tree, nodes, order))
        out["feature"].append(tree.depth[nodes].astype(float))
        out["seed"].append(np.full(len(nodes), s))
    return {k: np.concatenate(v) for k, v in out.items()}


def _subtree_retrieved(tree, nodes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Whether the m nearest leaves of each node are exactly its m subtree leaves.

    `order`: each node's leaves by decreasing cosine (`_ranking`). For a leaf (m = 1)
    this is top-1 retrieval of its own context; for an inner node it asks the concept to
    rank all its instances above every other leaf.
    """
    counts = tree.leaf_count[nodes]
    ranked_in = np.take_along_axis(tree.subtree_leaves[nodes], order, axis=1)
    hits = np.cumsum(ranked_in, axis=1)[np.arange(len(nodes)), counts - 1]
    return hits == counts


def _anchor_probe(config: SimConfig) -> Callable:
    return make_problem(config, jnp.dtype(config.dtype)).probe


def retrieval(config: SimConfig, seeds: int, *, progress: bool = False) -> dict[str, np.ndarray]:
    """Train `config` for `seeds` seeds and return the pooled per-query arrays.

    Keys: norm, top1 (cosine), margin, correct (bool), feature (entropy or depth),
    seed. Data "ambiguity" or "hierarchy" only.
    """
    if config.data not in FAMILIES:
        raise ConfigError(f"retrieval is defined for data {sorted(FAMILIES)}, not {config.data!r}")
    params, _ = train(config, seeds, progress=progress)
    if config.data == "ambiguity":
        return _ambiguity_queries(config, params, seeds)
    return _hierarchy_queries(config, params, seeds)


def cached_retrieval(
    config: SimConfig, seeds: int, *, use_cache: bool = True, progress: bool = False, log=print
) -> dict[str, np.ndarray]:
    """`retrieval` through the results cache (keyed by config, seeds and protocol)."""
    if not use_cache:
        return retrieval(config, seeds, progress=progress)
    spec = {
        "computation": "calibration",
        "protocol": PROTOCOL,
        "views": VIEWS,
        "seeds": seeds,
        "config": dataclasses.asdict(config),
    }
    entry = cache.load_or_compute(
        cache.cache_dir(),
        cache.config_key(spec, CODE),
        lambda: (retrieval(config, seeds, progress=progress), {"config": spec}),
        log=log,
        expected_config=spec,
        code=CODE,
    )
    return entry.arrays


@dataclasses.dataclass(frozen=True)
class RegimeResult:
    """The calibration of one regime: per-score summaries and the curves for figures."""

    regime: Regime
    n: int
    accuracy: float
    feature_name: str
    rho_norm_feature: float
    rho_correct_feature: float
    expected_direction: int  # +1: norm AUROC > 0.5 expected, -1: < 0.5, 0: no prediction
    scores: list[dict]  # confidence.summarize records, one per score
    bins: confidence.Bins  # accuracy per normalised-norm bin
    curves: dict[str, confidence.RiskCoverage]

    @property
    def norm(self) -> dict:
        return next(s for s in self.scores if s["score"] == "norm")

    @property
    def verdict(self) -> str:
        """Whether the norm's AUROC lies on theory's side of 0.5 (95% bootstrap CI)."""
        lo, hi = self.norm["auroc_lo"], self.norm["auroc_hi"]
        side = +1 if lo > 0.5 else (-1 if hi < 0.5 else 0)
        if self.expected_direction == 0:
            return "agrees" if side == 0 else "disagrees"
        if side == 0:
            return "inconclusive"
        return "agrees" if side == self.expected_direction else "disagrees"


def evaluate(
    regime: Regime, arrays: Mapping[str, np.ndarray], *, n_boot: int = 1000
) -> RegimeResult:
    """Score the norm and the baselines on one regime's retrieval arrays."""
    correct = np.asarray(arrays["correct"], bool)
    if correct.all() or not correct.any():
        raise ValueError(
            f"{regime.name}: every top-1 is {'right' if correct.all() else 'wrong'}; "
            "the scores cannot be compared (change the regime, e.g. more noise or steps)"
        )
    base = {
        "norm": np.asarray(arrays["norm"], float),
        "top1_cosine": np.asarray(arrays["top1"], float),
        "margin": np.asarray(arrays["margin"], float),
    }
    features = np.stack([base["norm"], base["top1_cosine"], base["margin"]], axis=1)
    scores = {
        **base,
        "combined": confidence.logistic_cv(features, correct),
        "combined_without_norm": confidence.logistic_cv(features[:, 1:], correct),
    }
    feature = np.asarray(arrays["feature"], float)
    rho_nf = confidence.spearman(base["norm"], feature)
    rho_cf = confidence.spearman(correct.astype(float), feature)
    if regime.config.data == "ambiguity":
        expected = -regime.theory_sign
    else:
        expected = regime.theory_sign * int(np.sign(round(rho_cf, 12)))
    return RegimeResult(
        regime=regime,
        n=len(correct),
        accuracy=float(correct.mean()),
        feature_name="entropy" if regime.config.data == "ambiguity" else "depth",
        rho_norm_feature=rho_nf,
        rho_correct_feature=rho_cf,
        expected_direction=expected,
        scores=confidence.summarize(scores, correct, n_boot=n_boot),
        bins=confidence.accuracy_by_bin(base["norm"], correct),
        curves={name: confidence.risk_coverage(s, correct) for name, s in scores.items()},
    )


def calibrate(
    selected: Sequence[Regime] | None = None,
    seeds: int = 3,
    *,
    n_boot: int = 1000,
    use_cache: bool = True,
    progress: bool = True,
    log=print,
) -> list[RegimeResult]:
    """Train and score every regime (default: `regimes()`); a line of progress per regime."""
    if seeds < 1:
        raise ConfigError(f"seeds={seeds} must be >= 1")
    selected = regimes() if selected is None else list(selected)
    results = []
    for i, regime in enumerate(selected, 1):
        if progress:
            log(f"[{i}/{len(selected)}] {regime.name}")
        arrays = cached_retrieval(regime.config, seeds, use_cache=use_cache, log=log)
        results.append(evaluate(regime, arrays, n_boot=n_boot))
    return results


def _arrow(direction: int) -> str:
    return {1: "> 0.5", -1: "< 0.5", 0: "~ 0.5"}[direction]


def table(records: Sequence[Mapping]) -> list[str]:
    """A Markdown table of `records(...)`: per regime, AUROC [95% CI] of each score, AURC."""
    head = (
        "| regime | queries | accuracy | rho(norm, feature) | AUROC norm | AUROC top-1 cosine | "
        "AUROC margin | AUROC combined (without norm) | AURC norm / top-1 / combined | theory | "
        "verdict |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in records:
        by = {s["score"]: s for s in r["scores"]}

        def ci(name: str, by: dict = by) -> str:
            s = by[name]
            return f"{s['auroc']:.3f} [{s['auroc_lo']:.3f}, {s['auroc_hi']:.3f}]"

        aurc = " / ".join(f"{by[k]['aurc']:.3f}" for k in ("norm", "top1_cosine", "combined"))
        other = by.get("combined_without_norm")  # absent from files of older versions
        without = f"{other['auroc']:.3f}" if other else "n/a"
        lines.append(
            f"| {r['regime']} | {r['n']} | {r['accuracy']:.2f} | "
            f"{r['rho_norm_feature']:+.2f} ({r['feature']}) | {ci('norm')} | "
            f"{ci('top1_cosine')} | {ci('margin')} | {ci('combined')} "
            f"({without}) | {aurc} | "
            f"{_arrow(r['expected_direction'])} | {r['verdict']} |"
        )
    return lines


def records(results: Sequence[RegimeResult]) -> list[dict]:
    """JSON-ready records, one per regime."""
    out = []
    for r in results:
        out.append(
            {
                "regime": r.regime.name,
                "data": r.regime.config.data,
                "model": r.regime.config.model,
                "optimizer": r.regime.config.optimizer,
                "lr": r.regime.config.lr,
                "weight_decay": r.regime.config.weight_decay,
                "n": r.n,
                "accuracy": r.accuracy,
                "feature": r.feature_name,
                "rho_norm_feature": r.rho_norm_feature,
                "rho_correct_feature": r.rho_correct_feature,
                "expected_direction": r.expected_direction,
                "verdict": r.verdict,
                "scores": [
                    {
                        k: (float(v) if isinstance(v, float | np.floating) else v)
                        for k, v in s.items()
                    }
                    for s in r.scores
                ],
            }
        )
    return out


_MARK = {1: "^", -1: "v", 0: "D"}


def draw(results: Sequence[RegimeResult], path) -> object:
    """Accuracy per norm bin, selective accuracy and AUROC per score, one row per data family.

    Left: accuracy per min-max normalised norm bin (bins with >= 10 queries). Middle:
    selective accuracy against coverage, ranking by the norm (solid) and by the top-1
    cosine (dotted). Right: AUROC of each score with its 95% bootstrap interval; the
    marker at the norm's row shows theory's expected side of 0.5 (triangle up: above,
    down: below, diamond: no dependence predicted).
    """
    import matplotlib.pyplot as plt

    from normtheory import figures

    families = [d for d in FAMILIES if any(r.regime.config.data == d for r in results)]
    with figures.style():
        fig, axes = plt.subplots(
            len(families), 3, figsize=(13.5, 3.9 * len(families)), squeeze=False
        )
        for row, family in zip(axes, families, strict=True):
            rows = [r for r in results if r.regime.config.data == family]
            colors = plt.cm.tab10(np.arange(len(rows)))
            for r, color in zip(rows, colors, strict=True):
                label = r.regime.name.split("/", 1)[1]
                centers = (r.bins.edges[:-1] + r.bins.edges[1:]) / 2
                ok = r.bins.valid
                row[0].plot(centers[ok], r.bins.accuracy[ok], "o-", ms=3, color=color, label=label)
                for name, style in (("norm", "-"), ("top1_cosine", ":")):
                    curve = r.curves[name]
                    row[1].plot(curve.coverage, curve.accuracy, style, color=color, lw=1.2)
            row[0].set_xlabel("min-max normalised query norm (bin centre)")
            row[0].set_ylabel("top-1 accuracy in bin")
            row[0].set_title(f"{family}: accuracy per norm bin")
            row[0].legend(fontsize=7, loc="best")
            row[1].set_xlabel("coverage (most confident fraction kept)")
            row[1].set_ylabel("selective accuracy")
            row[1].set_title(f"{family}: selective accuracy, norm (solid), top-1 cos. (dotted)")
            ax = row[2]
            names = list(SCORES[:4])  # the combination without the norm is in the table
            for i, (r, color) in enumerate(zip(rows, colors, strict=True)):
                by = {s["score"]: s for s in r.scores}
                for j, name in enumerate(names):
                    y = i + (j - 1.5) * 0.18
                    s = by[name]
                    ax.errorbar(
                        s["auroc"],
                        y,
                        xerr=[[s["auroc"] - s["auroc_lo"]], [s["auroc_hi"] - s["auroc"]]],
                        fmt="os^D"[j],
                        color=color,
                        ms=4,
                        mfc=color if name == "norm" else "none",
                        lw=1,
                    )
                ax.plot(
                    0.02,
                    i,
                    _MARK[r.expected_direction],
                    color="k",
                    ms=6,
                    transform=ax.get_yaxis_transform(),
                )
            ax.axvline(0.5, color="0.5", lw=0.8, ls="--")
            agree = sum(r.verdict == "agrees" for r in rows)
            useful = sum(r.norm["auroc_lo"] > 0.5 for r in rows)
            figures.annotate(
                row[1],
                f"norm AUROC on theory's side: {agree}/{len(rows)} regimes\n"
                f"norm AUROC > 0.5 (95% CI): {useful}/{len(rows)}",
                loc="lower right",
            )
            ax.set_yticks(range(len(rows)), [r.regime.name.split("/", 1)[1] for r in rows])
            ax.invert_yaxis()
            ax.set_xlabel(
                "AUROC for a correct top-1 (95% bootstrap CI)\n"
                "black: theory's side for the norm, \u25b2 > 0.5, \u25bc < 0.5, \u25c6 ~ 0.5"
            )
            ax.set_title("o norm (filled), s top-1 cos., ^ margin, D combined")
        fig.tight_layout()
        return figures.save(fig, path)
