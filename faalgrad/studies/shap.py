"""SHAP attributions of the baseline MLP and of FaAlGrad (paper 5.8, Figures 3 and 4).

What is explained
    The model's predicted probability of y = 1 (the sigmoid of the MLP's logit), on a
    fixed seeded sample of ``n_explain`` test rows, against a fixed seeded background
    sample of ``n_background`` training rows. Both samples depend on the seed only, so
    the baseline and FaAlGrad of one seed are explained on the same rows. SHAP values
    are interventional: a feature "absent" takes its value from a background row.

Explainer
    ``shap.DeepExplainer`` (Deep SHAP: DeepLIFT's rescale rule averaged over the
    background rows) on a copy of the trained ``nn.Sequential`` with a final
    ``nn.Sigmoid``. It is additive by construction: each row's attributions sum to
    f(x) − E f(background) up to float rounding (:func:`additivity_error`), it runs in
    well under a second per model, and on COMPAS, whose eight features allow exact
    Shapley values over all 2^8 coalitions (:func:`exact_shap`), it ranks the features
    as the exact values do (:func:`explainer_accuracy` measures how close it is).
    A model-agnostic permutation explainer with ten model evaluations per feature took 4
    to 13 times as long on German Credit and Communities & Crime (58 and 96 inputs).

Features
    Attributions are per input column, i.e. per one-hot column for categorical features.
    The protected attribute is a single 0/1 input column named ``protected_feature``
    (:func:`sensitive_feature` checks it), so its attribution is one number per row.
"""
from __future__ import annotations

import copy
import math
import warnings
from typing import Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from faalgrad.claims import Verdict, verdict_from_counts
from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.experiments import RunSpec, single_thread, erm_model, fit, split_data
from faalgrad.experiments import check_parameters as _check_experiment_parameters
from faalgrad.metrics import mean_std
from faalgrad.presets import check_dataset
from faalgrad.splits import SplitData
from faalgrad.train import TrainResult

#: The two models compared: the baseline MLP and FaAlGrad (Config 1, I = 1).
MODELS: tuple[str, ...] = ("baseline", "faalgrad")
MODEL_LABELS = {"baseline": "Baseline MLP", "faalgrad": "FaAlGrad (Config 1, I = 1)"}
DATASET_LABELS = {"compas": "COMPAS", "adult": "Adult", "communities": "Communities & Crime", "german": "German Credit"}
#: Per-model statistics of the sensitive feature (:func:`sensitive_importance`).
STATS: tuple[str, ...] = ("mean_abs_shap", "share", "rank", "protected_shap")
#: What the attributions explain.
OUTPUT = "probability of y = 1"


def check_parameters(
    *, datasets: Iterable[str] | None = None, seeds: int | None = None, n_explain: int | None = None,
    n_background: int | None = None, n_jobs: int | None = None,
) -> None:
    """Validate the SHAP page's parameters; a ``ValueError`` names the parameter and the valid choices.

    ``datasets``, ``seeds``, ``n_jobs`` as in :func:`faalgrad.experiments.check_parameters`;
    ``n_explain`` (test rows explained) and ``n_background`` (training rows integrated
    over) are integers of at least 10.
    """
    _check_experiment_parameters(datasets=datasets, seeds=seeds, n_jobs=n_jobs)
    for name, value in (("n_explain", n_explain), ("n_background", n_background)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 10):
            raise ValueError(f"{name}={value!r} must be an integer >= 10 (a number of rows)")


# --- models and samples ---------------------------------------------------------------

def trained_model(dataset: str, seed: int, model: str) -> TrainResult:
    """The baseline MLP (``"baseline"``) or the FaAlGrad Config 1, I = 1 model (``"faalgrad"``) of ``seed``."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid choices: {', '.join(MODELS)}")
    if model == "baseline":
        return erm_model(dataset, seed)
    with single_thread():  # as in every run: results do not depend on the thread count
        return fit(RunSpec(dataset, "faalgrad", split="config1", inner_steps=1, seed=seed))[0]


def sample_rows(data: SplitData, *, n_explain: int, n_background: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the background (training split) and explained (test split) rows.

    Drawn without replacement from ``np.random.default_rng(data.seed)`` and sorted; a
    size above the split's size takes the whole split.
    """
    rng = np.random.default_rng(data.seed)
    background = rng.choice(len(data.X_train), size=min(n_background, len(data.X_train)), replace=False)
    explained = rng.choice(len(data.X_test), size=min(n_explain, len(data.X_test)), replace=False)
    return np.sort(background), np.sort(explained)


def sensitive_feature(dataset: str, feature_names: Iterable[str] | None = None) -> str:
    """The input column of ``dataset``'s protected attribute, checked to be a single column.

    Raises a ``ValueError`` if the column is missing or repeated, or if another column
    looks like a one-hot level of the same attribute (same prefix before ``_``).
    """
    check_dataset(dataset)
    name = load_dataset(dataset).protected_feature
    names = list(split_data(dataset, 0).feature_names if feature_names is None else feature_names)
    if names.count(name) != 1:
        raise ValueError(f"{dataset}: the protected attribute {name!r} must be exactly one input column, "
                         f"found {names.count(name)}")
    prefix = name.split("_", 1)[0] + "_"
    siblings = [n for n in names if n != name and n.startswith(prefix)]
    if siblings:
        raise ValueError(f"{dataset}: the protected attribute {name!r} looks one-hot encoded with {siblings}")
    return name


# --- attributions -----------------------------------------------------------------------

def probability_module(result: TrainResult) -> nn.Module:
    """A copy of the trained MLP (its best-validation parameters) followed by a sigmoid."""
    model = copy.deepcopy(result.model)
    model.load_state_dict(result.params)
    return nn.Sequential(*model, nn.Sigmoid()).eval()


def shap_values(result: TrainResult, X: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, float]:
    """Deep SHAP values of ``result``'s predicted probability on ``X`` and the base value E f(background)."""
    import shap

    module = probability_module(result)
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.DeepExplainer(module, torch.as_tensor(background, dtype=torch.float32))
        values = explainer.shap_values(torch.as_tensor(X, dtype=torch.float32), check_additivity=False)
    values = np.asarray(values, dtype=np.float64).reshape(len(X), X.shape[1])
    return values, float(np.asarray(explainer.expected_value).reshape(-1)[0])


def explain_model(result: TrainResult, data: SplitData, *, n_explain: int = 100, n_background: int = 100):
    """``shap.Explanation`` of ``result`` on ``data``'s seeded test sample (see the module docstring).

    ``values`` (rows × features), ``base_values`` (E f(background)), ``data`` (the
    preprocessed inputs) and ``feature_names`` (the input columns).
    """
    import shap

    background, explained = sample_rows(data, n_explain=n_explain, n_background=n_background)
    X = data.X_test[explained]
    values, base = shap_values(result, X, data.X_train[background])
    return shap.Explanation(values=values, base_values=np.full(len(X), base), data=X.astype(np.float64),
                            feature_names=list(data.feature_names))


def explain(dataset: str, seed: int, model: str, *, n_explain: int = 100, n_background: int = 100):
    """:func:`explain_model` of :func:`trained_model` ``(dataset, seed, model)``."""
    return explain_model(trained_model(dataset, seed, model), split_data(dataset, seed),
                         n_explain=n_explain, n_background=n_background)


def predicted_probability(result: TrainResult, X: np.ndarray) -> np.ndarray:
    """f(x): the probability the explained module outputs (float64)."""
    with torch.no_grad(), single_thread():
        return probability_module(result)(torch.as_tensor(X, dtype=torch.float32)).double().numpy().reshape(-1)


def additivity_error(explanation, f_x: np.ndarray) -> float:
    """max over rows of |Σ_features SHAP + base value − f(x)| (local accuracy; 0 when exact)."""
    total = np.asarray(explanation.values).sum(axis=1) + np.asarray(explanation.base_values)
    return float(np.max(np.abs(total - np.asarray(f_x))))


def exact_shap(f, X: np.ndarray, background: np.ndarray, *, max_features: int = 12) -> tuple[np.ndarray, float]:
    """Exact interventional Shapley values of ``f`` on ``X`` over every feature coalition.

    v(S) = mean over background rows b of f(x_S, b_rest); φ_i = Σ_{S ∌ i} |S|!(M−|S|−1)!/M!
    (v(S ∪ {i}) − v(S)). Costs 2^M × len(X) × len(background) evaluations of ``f``, so
    only ``M <= max_features``. Returns (values, base value v(∅)).
    """
    X, background = np.asarray(X, dtype=np.float64), np.asarray(background, dtype=np.float64)
    n, m = X.shape
    if m > max_features:
        raise ValueError(f"exact Shapley values need at most max_features={max_features} features, got {m}")
    masks = (np.arange(2**m)[:, None] >> np.arange(m)) & 1  # coalition c holds feature i if bit i is set
    v = np.empty((n, 2**m))
    for c, mask in enumerate(masks.astype(bool)):
        hybrid = np.where(mask, X[:, None, :], background[None, :, :])  # n × n_background × m
        v[:, c] = np.asarray(f(hybrid.reshape(-1, m)), dtype=np.float64).reshape(n, len(background)).mean(axis=1)
    size = masks.sum(axis=1)
    weight = np.array([math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) if s < m else 0.0
                       for s in range(m + 1)])
    values = np.zeros((n, m))
    for i in range(m):
        without = np.flatnonzero(masks[:, i] == 0)
        values[:, i] = (v[:, without + 2**i] - v[:, without]) @ weight[size[without]]
    return values, float(v[0, 0])


def explainer_accuracy(
    dataset: str = "compas", seed: int = 0, *, n_explain: int = 100, n_background: int = 100,
    explanations: dict[tuple[str, int, str], object] | None = None,
) -> pd.DataFrame:
    """Deep SHAP against exact Shapley values (:func:`exact_shap`), per model, on one dataset and seed.

    Columns: ``model``, ``additivity_error`` (Deep SHAP's local-accuracy error),
    ``max_abs_error`` (largest |Deep − exact| over rows and features, in probability),
    ``sensitive_deep`` and ``sensitive_exact`` (the sensitive feature's mean |SHAP|),
    ``rank_deep`` and ``rank_exact`` (its rank), ``spearman`` (rank correlation of the
    features' mean |SHAP| under both). Needs a dataset with at most 12 input columns.
    Deep SHAP values already computed with the same sizes (:func:`explain_grid`) are
    taken from ``explanations`` when given.
    """
    data = split_data(dataset, seed)
    feature = sensitive_feature(dataset, data.feature_names)
    background, explained = sample_rows(data, n_explain=n_explain, n_background=n_background)
    X, B = data.X_test[explained], data.X_train[background]
    rows = []
    for model in MODELS:
        result = trained_model(dataset, seed, model)
        deep = (explanations or {}).get((dataset, seed, model))
        same_rows = deep is not None and np.array_equal(np.asarray(deep.data), X.astype(np.float64)) and np.isclose(
            np.asarray(deep.base_values)[0], predicted_probability(result, B).mean(), rtol=0, atol=1e-6)
        if not same_rows:
            deep = explain_model(result, data, n_explain=n_explain, n_background=n_background)
        values, _ = exact_shap(lambda Z: predicted_probability(result, Z.astype(np.float32)), X, B)
        imp_deep = feature_importance(deep)
        imp_exact = feature_importance(_with_values(deep, values))
        rows.append({
            "model": MODEL_LABELS[model],
            "additivity_error": additivity_error(deep, predicted_probability(result, X)),
            "max_abs_error": float(np.abs(deep.values - values).max()),
            "sensitive_deep": imp_deep.loc[feature, "mean_abs_shap"],
            "sensitive_exact": imp_exact.loc[feature, "mean_abs_shap"],
            "rank_deep": int(imp_deep.loc[feature, "rank"]),
            "rank_exact": int(imp_exact.loc[feature, "rank"]),
            "spearman": float(imp_deep["mean_abs_shap"].rank().corr(imp_exact["mean_abs_shap"].rank())),
        })
    return pd.DataFrame(rows)


def _with_values(explanation, values: np.ndarray):
    import shap

    return shap.Explanation(values=values, base_values=np.asarray(explanation.base_values),
                            data=np.asarray(explanation.data), feature_names=list(explanation.feature_names))


# --- importance of the sensitive feature -------------------------------------------------------

def feature_importance(explanation) -> pd.DataFrame:
    """Per feature: mean |SHAP| over the explained rows, its share of the total, and its rank.

    Indexed by feature name, in input-column order. ``rank`` 1 is the most influential
    feature; ties share the best rank (``method="min"``). ``share`` = mean |SHAP| divided
    by the sum over features (NaN if every attribution is 0).
    """
    values = np.abs(np.asarray(explanation.values, dtype=np.float64))
    if values.ndim != 2:
        raise ValueError(f"expected rows × features SHAP values, got shape {values.shape}")
    mean_abs = values.mean(axis=0)
    total = mean_abs.sum()
    out = pd.DataFrame({"mean_abs_shap": mean_abs}, index=pd.Index(list(explanation.feature_names), name="feature"))
    out["share"] = mean_abs / total if total > 0 else np.nan
    out["rank"] = out["mean_abs_shap"].rank(ascending=False, method="min").astype(int)
    return out


def sensitive_importance(explanation, feature: str) -> dict[str, float]:
    """``feature``'s ``mean_abs_shap``, ``share``, ``rank``, the number of features ``n_features``,
    and ``protected_shap``: its mean *signed* SHAP value over the explained rows where it
    is 1 (the protected group; NaN if there is none). A negative ``protected_shap`` means
    the feature pushes the protected group's predicted probability of y = 1 down.
    """
    table = feature_importance(explanation)
    if feature not in table.index:
        raise ValueError(f"feature {feature!r} is not among the explained features")
    row = table.loc[feature]
    column = list(explanation.feature_names).index(feature)
    protected = np.asarray(explanation.data)[:, column] == 1
    values = np.asarray(explanation.values, dtype=np.float64)[protected, column]
    return {"mean_abs_shap": float(row["mean_abs_shap"]), "share": float(row["share"]), "rank": int(row["rank"]),
            "n_features": len(table), "protected_shap": float(values.mean()) if len(values) else float("nan")}


def _explain_both(dataset: str, seed: int, n_explain: int, n_background: int) -> dict[str, object]:
    return {model: explain(dataset, seed, model, n_explain=n_explain, n_background=n_background) for model in MODELS}


def explain_grid(
    datasets: Iterable[str] = DATASETS, seeds: int = 5, *, n_explain: int = 100, n_background: int = 100, n_jobs: int = 1,
) -> dict[tuple[str, int, str], object]:
    """``{(dataset, seed, model): Explanation}`` for both :data:`MODELS`, every dataset and seed 0..seeds-1.

    Each (dataset, seed) trains and explains its two models in one joblib task, on one
    torch thread, so the values do not depend on ``n_jobs``.
    """
    from joblib import Parallel, delayed

    datasets = list(datasets)
    check_parameters(datasets=datasets, seeds=seeds, n_explain=n_explain, n_background=n_background, n_jobs=n_jobs)
    tasks = [(d, s) for d in datasets for s in range(seeds)]
    # Largest datasets first, so that parallel workers finish together.
    order = sorted(range(len(tasks)), key=lambda i: -len(load_dataset(tasks[i][0])))
    results = Parallel(n_jobs=n_jobs, batch_size=1)(delayed(_explain_both)(*tasks[i], n_explain, n_background) for i in order)
    by_task = dict(zip((tasks[i] for i in order), results))
    return {(d, s, m): by_task[(d, s)][m] for d, s in tasks for m in MODELS}


def sensitive_rows(explanations: dict[tuple[str, int, str], object]) -> pd.DataFrame:
    """One tidy row per (dataset, seed, model): the sensitive feature, its mean |SHAP|, share and rank."""
    rows = []
    for (dataset, seed, model), explanation in explanations.items():
        feature = sensitive_feature(dataset, explanation.feature_names)
        rows.append({"dataset": dataset, "seed": seed, "model": model, "feature": feature,
                     **sensitive_importance(explanation, feature)})
    return pd.DataFrame(rows)


def sensitive_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and model: mean and std over seeds of the sensitive feature's statistics.

    Columns ``dataset``, ``feature``, ``n_features``, ``n_seeds`` and, for each of
    :data:`STATS`: ``<stat>_<model>_mean`` and ``<stat>_<model>_std``
    for ``model`` in :data:`MODELS`. Datasets keep their first-seen order.
    """
    missing = {"dataset", "seed", "model", "feature", "n_features", *STATS} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack column(s) {', '.join(sorted(missing))}")
    out = []
    for dataset, group in rows.groupby("dataset", sort=False):
        entry = {"dataset": dataset, "feature": group["feature"].iloc[0], "n_features": int(group["n_features"].iloc[0]),
                 "n_seeds": int(group["seed"].nunique())}
        for stat in STATS:
            for model in MODELS:
                values = group.loc[group["model"] == model, stat].astype(float)
                entry[f"{stat}_{model}_mean"] = values.mean()
                entry[f"{stat}_{model}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
        out.append(entry)
    return pd.DataFrame(out)


def format_sensitive_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Printable :func:`sensitive_table`: "mean ± std" strings, before (baseline) and after (FaAlGrad)."""
    out = pd.DataFrame({"dataset": table["dataset"], "sensitive feature": table["feature"],
                        "features": table["n_features"]})
    for stat, name, d in (("mean_abs_shap", "mean |SHAP|", digits), ("share", "share", digits), ("rank", "rank", 1),
                          ("protected_shap", "SHAP protected", digits)):
        for model, word in (("baseline", "baseline"), ("faalgrad", "FaAlGrad")):
            out[f"{name} {word}"] = [mean_std(m, s, d) for m, s in zip(table[f"{stat}_{model}_mean"], table[f"{stat}_{model}_std"])]
    return out


def shap_claim(rows: pd.DataFrame) -> Verdict:
    """Verdict on "SHAP shows that FaAlGrad lowers the influence of the sensitive feature".

    ``rows`` is :func:`sensitive_rows`. The claim holds on a dataset when, paired by seed
    (same split, same explained rows), FaAlGrad's mean |SHAP| of the sensitive feature is
    below the baseline's by more than one standard error of the mean paired difference
    (with one seed: simply below), *and* its share of the total mean |SHAP| is lower on
    average, so that the drop is not only an overall shrinking of the model's output.
    Reproduced if it holds on every dataset, partly if on some.
    """
    if rows.empty:
        raise ValueError("no rows: explain at least one dataset and seed")
    wide = rows.pivot_table(index=["dataset", "seed"], columns="model", values=["mean_abs_shap", "share", "rank"])
    if any((stat, m) not in wide.columns for stat in ("mean_abs_shap", "share") for m in MODELS):
        raise ValueError(f"rows need both models: {', '.join(MODELS)}")
    holds, parts = [], []
    for dataset in dict.fromkeys(rows["dataset"]):
        w = wide.loc[dataset]
        diff = (w[("mean_abs_shap", "faalgrad")] - w[("mean_abs_shap", "baseline")]).to_numpy()
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        share_drop = bool(w[("share", "faalgrad")].mean() < w[("share", "baseline")].mean())
        ok = bool(diff.mean() < -se) and share_drop
        holds.append(ok)
        parts.append(
            f"{dataset} {w[('mean_abs_shap', 'baseline')].mean():.3f} → {w[('mean_abs_shap', 'faalgrad')].mean():.3f} "
            f"(share {w[('share', 'baseline')].mean():.2f} → {w[('share', 'faalgrad')].mean():.2f}, "
            f"rank {w[('rank', 'baseline')].mean():.1f} → {w[('rank', 'faalgrad')].mean():.1f})"
        )
    n_seeds = int(rows["seed"].nunique())
    evidence = (
        f"The sensitive feature's mean |SHAP| on the predicted probability (mean over {n_seeds} "
        f"seed{'s' if n_seeds != 1 else ''}, baseline → "
        f"FaAlGrad Config 1, I = 1) drops clearly, with a lower share of the total, on {sum(holds)} of {len(holds)} "
        f"datasets: {'; '.join(parts)}."
    )
    return Verdict("shap", verdict_from_counts(sum(holds), len(holds)), evidence)


# --- plot ----------------------------------------------------------------------------------

def beeswarm(explanation, *, feature: str, ax, title: str, max_display: int = 10, seed: int = 0):
    """shap's beeswarm of ``explanation`` on ``ax``, with the sensitive ``feature`` always shown.

    Features are ordered by mean |SHAP|. The sensitive feature's label gives its rank;
    if it falls outside the ``max_display - 1`` rows shown, it takes the last shown row
    (the rest are summed in shap's "Sum of other features" row). NumPy's global
    generator is seeded with ``seed`` first: the beeswarm jitters its points with it.
    """
    import shap

    table = feature_importance(explanation)
    rank = int(table.loc[feature, "rank"])
    order = list(np.argsort(-table["mean_abs_shap"].to_numpy(), kind="stable"))
    position = table.index.get_loc(feature)
    shown = max_display - 1 if len(order) > max_display else len(order)
    if order.index(position) >= shown:
        order.remove(position)
        order.insert(shown - 1, position)
    labelled = _with_values(explanation, np.asarray(explanation.values))
    labelled.feature_names = [f"{n} (sensitive, rank {rank}/{len(table)})" if n == feature else n for n in table.index]
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap.plots.beeswarm(labelled, max_display=max_display, order=np.asarray(order), ax=ax, show=False,
                            plot_size=None, color_bar_label="feature value")
    ax.set_title(title)
    ax.set_xlabel(f"SHAP value (impact on the {OUTPUT})")
    return ax


def beeswarm_figure(explanations: dict[tuple[str, int, str], object], dataset: str, seed: int = 0, *,
                    max_display: int = 10):
    """The baseline's beeswarm above FaAlGrad's for one dataset and seed, on a shared x axis."""
    import matplotlib.pyplot as plt

    feature = sensitive_feature(dataset, explanations[(dataset, seed, MODELS[0])].feature_names)
    rows = min(max_display, len(explanations[(dataset, seed, MODELS[0])].feature_names))
    fig, axes = plt.subplots(2, 1, figsize=(9, 2 * (0.4 * rows + 1.3)), sharex=True, layout="constrained")
    for ax, model in zip(axes, MODELS):
        beeswarm(explanations[(dataset, seed, model)], feature=feature, ax=ax, max_display=max_display,
                 title=f"{DATASET_LABELS.get(dataset, dataset)}, seed {seed}: {MODEL_LABELS[model]}")
    axes[0].tick_params(labelbottom=True)
    return fig
