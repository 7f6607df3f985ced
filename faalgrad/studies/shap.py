"""The SHAP page: Deep SHAP attributions of the baseline MLP and of FaAlGrad (Config 1,
I = 1), the sensitive feature's influence over the seeds, and Deep SHAP against exact
Shapley values (paper 5.8, Figures 3 and 4).

Page: ``book/shap.ipynb`` ("SHAP: the influence of the sensitive feature"); what is
explained and how is told there.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.metrics import mean_std
from faalgrad.runs import METHODS, SPLIT_LABELS, RunSpec, cached_split, erm_model, fit_run
from faalgrad.splits import SplitData
from faalgrad.studies import PageResult, claims, forest, stats
from faalgrad.studies._common import DATASET_LABELS, number
from faalgrad.train import TrainResult, as_tensor, single_thread
from faalgrad.validation import (
    check_choice,
    check_dataset,
    check_datasets,
    check_int,
    check_n_jobs,
    check_seeds,
)

__all__ = [
    "Params",
    "beeswarm_figure",
    "compute",
    "forest_figure",
    "glue_values",
    "specs",
    "verdicts",
]

#: The two models compared: the baseline MLP and FaAlGrad (Config 1, I = 1).
_MODELS: tuple[str, ...] = ("baseline", "faalgrad")
_MODEL_LABELS = {
    "baseline": METHODS["erm"].label,
    "faalgrad": f"{METHODS['faalgrad'].label} ({SPLIT_LABELS['config1']}, I = 1)",
}
#: Per-model statistics of the sensitive feature (:func:`_sensitive_importance`).
_STATS: tuple[str, ...] = ("mean_abs_shap", "share", "rank", "protected_shap")
#: What the attributions explain.
_OUTPUT = "probability of y = 1"
#: Dataset (eight input columns) and seed on which Deep SHAP is checked against exact Shapley
#: values.
_ACCURACY_DATASET = ("compas", 0)


@dataclass(frozen=True)
class Params:
    """Datasets, seeds (0..seeds-1), explained test rows and background training rows (>= 10),
    workers."""

    datasets: tuple[str, ...] = DATASETS
    seeds: int = 5
    n_explain: int = 100
    n_background: int = 100
    n_jobs: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", check_datasets("datasets", self.datasets))
        check_seeds(self.seeds)
        for name in ("n_explain", "n_background"):
            check_int(name, getattr(self, name), minimum=10, note="a number of rows")
        check_n_jobs(self.n_jobs)


def specs(params: Params) -> list[RunSpec]:
    """No grid runs: the page trains and explains its two models itself, in :func:`compute`."""
    return []


def _trained_model(dataset: str, seed: int, model: str) -> TrainResult:
    """The baseline MLP (``"baseline"``) or the FaAlGrad Config 1, I = 1 model
    (``"faalgrad"``) of ``seed``."""
    check_choice("model", model, _MODELS)
    if model == "baseline":
        return erm_model(dataset, seed)
    with single_thread():  # as in every run: results do not depend on the thread count
        return fit_run(RunSpec(dataset, "faalgrad", split="config1", inner_steps=1, seed=seed))[0]


def _sample_rows(
    data: SplitData, *, n_explain: int, n_background: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices of the background (training split) and explained (test split) rows,
    drawn without replacement from ``np.random.default_rng(data.seed)``; a size above the
    split's takes it whole."""
    rng = np.random.default_rng(data.seed)
    background = rng.choice(
        len(data.X_train), size=min(n_background, len(data.X_train)), replace=False
    )
    explained = rng.choice(len(data.X_test), size=min(n_explain, len(data.X_test)), replace=False)
    return np.sort(background), np.sort(explained)


def _sensitive_feature(dataset: str, feature_names: Iterable[str] | None = None) -> str:
    """The input column of ``dataset``'s protected attribute; a ``ValueError`` if it is missing or
    repeated, or if another column looks like a one-hot level of it (same prefix before ``_``)."""
    name = load_dataset(check_dataset(dataset)).protected_feature
    names = list(cached_split(dataset, 0).feature_names if feature_names is None else feature_names)
    if names.count(name) != 1:
        raise ValueError(
            f"{dataset}: the protected attribute {name!r} must be exactly one input column, "
            f"found {names.count(name)}"
        )
    prefix = name.split("_", 1)[0] + "_"
    siblings = [n for n in names if n != name and n.startswith(prefix)]
    if siblings:
        raise ValueError(
            f"{dataset}: the protected attribute {name!r} looks one-hot encoded with {siblings}"
        )
    return name


def _probability_module(result: TrainResult) -> nn.Module:
    """A copy of the trained MLP (its best-validation parameters) followed by a sigmoid."""
    model = copy.deepcopy(result.model)
    model.load_state_dict(result.params)
    return nn.Sequential(*model, nn.Sigmoid()).eval()


def _explain_model(
    result: TrainResult, data: SplitData, *, n_explain: int = 100, n_background: int = 100
):
    """Deep SHAP (``shap.DeepExplainer``) of ``result``'s predicted probability on ``data``'s
    seeded test sample.

    Parameters
    ----------
    result : TrainResult
    data : SplitData
        The seed's split; :func:`_sample_rows` draws the explained (test) and background
        (training) rows.
    n_explain, n_background : int

    Returns
    -------
    shap.Explanation
        ``values`` (rows × features), ``base_values`` (E f(background)), ``data``,
        ``feature_names``.
    """
    import shap

    background, explained = _sample_rows(data, n_explain=n_explain, n_background=n_background)
    X = data.X_test[explained]
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.DeepExplainer(
            _probability_module(result), as_tensor(data.X_train[background])
        )
        values = explainer.shap_values(as_tensor(X), check_additivity=False)
    values = np.asarray(values, dtype=np.float64).reshape(len(X), X.shape[1])
    base = float(np.asarray(explainer.expected_value).reshape(-1)[0])
    return shap.Explanation(
        values=values,
        base_values=np.full(len(X), base),
        data=X.astype(np.float64),
        feature_names=list(data.feature_names),
    )


def _predicted_probability(result: TrainResult, X: np.ndarray) -> np.ndarray:
    """f(x): the probability the explained module outputs (float64)."""
    with torch.no_grad(), single_thread():
        return _probability_module(result)(as_tensor(X)).double().numpy().reshape(-1)


def _additivity_error(explanation, f_x: np.ndarray) -> float:
    """max over rows of |Σ_features SHAP + base value − f(x)| (local accuracy; 0 when exact)."""
    total = np.asarray(explanation.values).sum(axis=1) + np.asarray(explanation.base_values)
    return float(np.max(np.abs(total - np.asarray(f_x))))


def _exact_shap(
    f, X: np.ndarray, background: np.ndarray, *, max_features: int = 12
) -> tuple[np.ndarray, float]:
    """Exact interventional Shapley values of ``f`` on ``X`` over every feature coalition.

    v(S) = mean over background rows b of f(x_S, b_rest); φ_i = Σ_{S ∌ i} |S|!(M−|S|−1)!/M!
    (v(S ∪ {i}) − v(S)). Costs 2^M × len(X) × len(background) evaluations of ``f``, so
    only ``M <= max_features``. Returns (values, base value v(∅)).
    """
    X, background = np.asarray(X, dtype=np.float64), np.asarray(background, dtype=np.float64)
    n, m = X.shape
    if m > max_features:
        raise ValueError(
            f"exact Shapley values need at most max_features={max_features} features, got {m}"
        )
    masks = (
        np.arange(2**m)[:, None] >> np.arange(m)
    ) & 1  # coalition c holds feature i if bit i is set
    v = np.empty((n, 2**m))
    for c, mask in enumerate(masks.astype(bool)):
        hybrid = np.where(mask, X[:, None, :], background[None, :, :])  # n × n_background × m
        v[:, c] = (
            np.asarray(f(hybrid.reshape(-1, m)), dtype=np.float64)
            .reshape(n, len(background))
            .mean(axis=1)
        )
    size = masks.sum(axis=1)
    weight = np.array(
        [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)]
        + [0.0]
    )
    values = np.zeros((n, m))
    for i in range(m):
        without = np.flatnonzero(masks[:, i] == 0)
        values[:, i] = (v[:, without + 2**i] - v[:, without]) @ weight[size[without]]
    return values, float(v[0, 0])


def _explainer_accuracy(
    dataset: str = "compas",
    seed: int = 0,
    *,
    n_explain: int = 100,
    n_background: int = 100,
    explanations: dict | None = None,
) -> pd.DataFrame:
    """Deep SHAP against exact Shapley values (:func:`_exact_shap`), per model, on one dataset
    and seed.

    Parameters
    ----------
    dataset, seed : str, int
        A dataset with at most 12 input columns, and the seed of the models and samples.
    n_explain, n_background : int
    explanations : dict, optional
        ``{(dataset, seed, model): Explanation}`` computed with the same sizes; used instead
        of explaining again.

    Returns
    -------
    pandas.DataFrame
        Per model: ``model`` (label), ``additivity_error`` (local-accuracy error),
        ``max_abs_error`` (largest |Deep − exact|), ``sensitive_deep`` / ``_exact`` (the
        sensitive feature's mean |SHAP|), ``rank_deep`` / ``_exact`` (its rank), ``spearman``
        (rank correlation of all features).
    """
    data = cached_split(dataset, seed)
    feature = _sensitive_feature(dataset, data.feature_names)
    background, explained = _sample_rows(data, n_explain=n_explain, n_background=n_background)
    X, B = data.X_test[explained], data.X_train[background]
    rows = []
    for model in _MODELS:
        result = _trained_model(dataset, seed, model)
        deep = (explanations or {}).get((dataset, seed, model))
        if deep is None:
            deep = _explain_model(result, data, n_explain=n_explain, n_background=n_background)
        values, _ = _exact_shap(
            lambda Z, result=result: _predicted_probability(result, Z.astype(np.float32)), X, B
        )
        imp_deep, imp_exact = (
            _feature_importance(deep),
            _feature_importance(_with_values(deep, values)),
        )
        rows.append(
            {
                "model": _MODEL_LABELS[model],
                "additivity_error": _additivity_error(deep, _predicted_probability(result, X)),
                "max_abs_error": float(np.abs(deep.values - values).max()),
                "sensitive_deep": imp_deep.loc[feature, "mean_abs_shap"],
                "sensitive_exact": imp_exact.loc[feature, "mean_abs_shap"],
                "rank_deep": int(imp_deep.loc[feature, "rank"]),
                "rank_exact": int(imp_exact.loc[feature, "rank"]),
                "spearman": float(
                    imp_deep["mean_abs_shap"].rank().corr(imp_exact["mean_abs_shap"].rank())
                ),
            }
        )
    return pd.DataFrame(rows)


def _with_values(explanation, values: np.ndarray, names: list[str] | None = None):
    import shap

    return shap.Explanation(
        values=values,
        base_values=np.asarray(explanation.base_values),
        data=np.asarray(explanation.data),
        feature_names=list(explanation.feature_names) if names is None else names,
    )


def _explain_both(dataset: str, seed: int, n_explain: int, n_background: int) -> dict[str, object]:
    return {
        model: _explain_model(
            _trained_model(dataset, seed, model),
            cached_split(dataset, seed),
            n_explain=n_explain,
            n_background=n_background,
        )
        for model in _MODELS
    }


def _explain_all(params: Params) -> dict[str, object]:
    """Explain both :data:`_MODELS` on every dataset and seed; check Deep SHAP against exact values.

    Parameters
    ----------
    params : Params
        The page's parameters. One joblib task per (dataset, seed), on one torch thread.

    Returns
    -------
    dict
        ``explanations`` (``{(dataset, seed, model): shap.Explanation}``) and ``accuracy``
        (:func:`_explainer_accuracy` on :data:`_ACCURACY_DATASET`).
    """
    from joblib import Parallel, delayed

    tasks = [(d, s) for d in params.datasets for s in range(params.seeds)]
    order = sorted(
        range(len(tasks)), key=lambda i: -len(load_dataset(tasks[i][0]))
    )  # largest datasets first
    results = Parallel(n_jobs=params.n_jobs, batch_size=1)(
        delayed(_explain_both)(*tasks[i], params.n_explain, params.n_background) for i in order
    )
    by_task = dict(zip((tasks[i] for i in order), results, strict=True))
    explanations = {(d, s, m): by_task[(d, s)][m] for d, s in tasks for m in _MODELS}
    accuracy = _explainer_accuracy(
        *_ACCURACY_DATASET,
        n_explain=params.n_explain,
        n_background=params.n_background,
        explanations=explanations,
    )
    return {"explanations": explanations, "accuracy": accuracy}


def _feature_importance(explanation) -> pd.DataFrame:
    """Per feature (index, input-column order): ``mean_abs_shap`` over the explained rows, its
    ``share`` of the sum over features (NaN if all are 0), and its ``rank`` (1 = most
    influential; ties share the best rank)."""
    values = np.abs(np.asarray(explanation.values, dtype=np.float64))
    if values.ndim != 2:
        raise ValueError(f"expected rows × features SHAP values, got shape {values.shape}")
    mean_abs = values.mean(axis=0)
    total = mean_abs.sum()
    out = pd.DataFrame(
        {"mean_abs_shap": mean_abs}, index=pd.Index(list(explanation.feature_names), name="feature")
    )
    out["share"] = mean_abs / total if total > 0 else np.nan
    out["rank"] = out["mean_abs_shap"].rank(ascending=False, method="min").astype(int)
    return out


def _sensitive_importance(explanation, feature: str) -> dict[str, float]:
    """``feature``'s ``mean_abs_shap``, ``share``, ``rank``, the number of features
    ``n_features``, and ``protected_shap``: its mean signed SHAP value on the explained rows
    where it is 1 (the protected group; NaN if none; negative = it lowers their predicted
    probability of y = 1)."""
    table = _feature_importance(explanation)
    if feature not in table.index:
        raise ValueError(f"feature {feature!r} is not among the explained features")
    row = table.loc[feature]
    column = list(explanation.feature_names).index(feature)
    protected = np.asarray(explanation.data)[:, column] == 1
    values = np.asarray(explanation.values, dtype=np.float64)[protected, column]
    return {
        "mean_abs_shap": float(row["mean_abs_shap"]),
        "share": float(row["share"]),
        "rank": int(row["rank"]),
        "n_features": len(table),
        "protected_shap": float(values.mean()) if len(values) else float("nan"),
    }


def _sensitive_rows(explanations: dict) -> pd.DataFrame:
    """One tidy row per (dataset, seed, model): the sensitive feature, its mean |SHAP|, share
    and rank."""
    rows = []
    for (dataset, seed, model), explanation in explanations.items():
        feature = _sensitive_feature(dataset, explanation.feature_names)
        rows.append(
            {
                "dataset": dataset,
                "seed": seed,
                "model": model,
                "feature": feature,
                **_sensitive_importance(explanation, feature),
            }
        )
    return pd.DataFrame(rows)


def _sensitive_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset (first-seen order), from :func:`_sensitive_rows`: ``dataset``, ``feature``,
    ``n_features``, ``n_seeds`` and, for each of :data:`_STATS` and :data:`_MODELS`, the mean
    and std over the seeds, ``<stat>_<model>_mean`` and ``<stat>_<model>_std``."""
    missing = {"dataset", "seed", "model", "feature", "n_features", *_STATS} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack column(s) {', '.join(sorted(missing))}")
    out = []
    for dataset, group in rows.groupby("dataset", sort=False):
        entry = {
            "dataset": dataset,
            "feature": group["feature"].iloc[0],
            "n_features": int(group["n_features"].iloc[0]),
            "n_seeds": int(group["seed"].nunique()),
        }
        for stat in _STATS:
            for model in _MODELS:
                values = group.loc[group["model"] == model, stat].astype(float)
                entry[f"{stat}_{model}_mean"] = values.mean()
                entry[f"{stat}_{model}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
        out.append(entry)
    return pd.DataFrame(out)


#: :func:`_explainer_accuracy`'s columns as the page prints them.
_ACCURACY_HEADERS = {
    "model": "model",
    "additivity_error": "additivity error",
    "max_abs_error": "max |Deep − exact|",
    "sensitive_deep": "sensitive feature mean |SHAP| (Deep)",
    "sensitive_exact": "sensitive feature mean |SHAP| (exact)",
    "rank_deep": "sensitive feature rank (Deep)",
    "rank_exact": "sensitive feature rank (exact)",
    "spearman": "rank correlation",
}


def _format_sensitive_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Printable :func:`_sensitive_table`: per dataset, one row per model (baseline, then
    FaAlGrad) with "mean ± std" strings of each statistic; indexed by (dataset, sensitive
    feature, features), so that these are shown once per dataset."""
    models = (("baseline", "baseline"), ("faalgrad", METHODS["faalgrad"].label))
    out = []
    for _, row in table.iterrows():
        for model, word in models:
            entry = {
                "dataset": row["dataset"],
                "sensitive feature": row["feature"],
                "features": int(row["n_features"]),
                "model": word,
            }
            for stat, name, d in (
                ("mean_abs_shap", "mean |SHAP|", digits),
                ("share", "share", digits),
                ("rank", "rank", 1),
                ("protected_shap", "SHAP protected", digits),
            ):
                entry[name] = mean_std(row[f"{stat}_{model}_mean"], row[f"{stat}_{model}_std"], d)
            out.append(entry)
    return pd.DataFrame(out).set_index(["dataset", "sensitive feature", "features"])


def _format_accuracy(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Printable :func:`_explainer_accuracy`: additivity as "< 1e-6" or ">= 1e-6", errors
    rounded; readable headers, the sensitive feature's mean |SHAP| and rank under one."""
    flags = accuracy["additivity_error"].lt(1e-6).map({True: "< 1e-6", False: ">= 1e-6"})
    shown = accuracy.assign(additivity_error=flags).round(
        {"max_abs_error": 3, "sensitive_deep": 3, "sensitive_exact": 3, "spearman": 2}
    )
    return shown.rename(columns=_ACCURACY_HEADERS)[list(_ACCURACY_HEADERS.values())]


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Explain both models on every dataset and seed, and build every table of the page.

    The page trains through no grid (:func:`specs` is empty): it trains and explains its
    models itself (:func:`_explain_all`), and ``rows`` is ignored.

    Parameters
    ----------
    params : Params
    rows : pandas.DataFrame
        The rows of ``run_grid(specs(params))`` (none); ignored.

    Returns
    -------
    dict
        ``explanations`` (``{(dataset, seed, model): shap.Explanation}``, for the
        beeswarm figures), and the tables of :func:`_tables`.
    """
    explained = _explain_all(params)
    return {
        "explanations": explained["explanations"],
        **_tables(explained["explanations"], explained["accuracy"], params),
    }


def _tables(explanations: dict, accuracy: pd.DataFrame, params: Params) -> dict[str, pd.DataFrame]:
    """Every table of the page from the explanations and the explainer's accuracy check.

    Parameters
    ----------
    explanations : dict
        ``{(dataset, seed, model): shap.Explanation}``.
    accuracy : pandas.DataFrame
        :func:`_explainer_accuracy`'s table.
    params : Params

    Returns
    -------
    dict of pandas.DataFrame
        ``accuracy`` and ``accuracy_shown`` (Deep SHAP against exact values), ``rows``
        (:func:`_sensitive_rows`), ``sensitive`` and ``sensitive_shown`` (over the seeds), and
        ``sizes`` (one row: ``n_seeds``, ``n_explain``, ``n_background`` as asked).
    """
    rows = _sensitive_rows(explanations)
    table = _sensitive_table(rows)
    sizes = pd.DataFrame(
        [
            {
                "n_seeds": params.seeds,
                "n_explain": params.n_explain,
                "n_background": params.n_background,
            }
        ]
    )
    return {
        "accuracy": accuracy,
        "accuracy_shown": _format_accuracy(accuracy),
        "rows": rows,
        "sensitive": table,
        "sensitive_shown": _format_sensitive_table(table),
        "sizes": sizes,
    }


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text (per dataset: ``<dataset>_before``, ...)."""
    acc, means = result["accuracy"], result["sensitive"].set_index("dataset")
    worst = acc["additivity_error"].max()
    relative = (
        (acc["sensitive_deep"] - acc["sensitive_exact"]).abs() / acc["sensitive_exact"]
    ).max()
    out = {name: str(int(value)) for name, value in result["sizes"].iloc[0].items()}
    out.update(
        {
            "acc_additivity": "below 1e-6" if worst < 1e-6 else f"{worst:.1e}",
            "acc_max_error": number(acc["max_abs_error"].max(), 3),
            "acc_rel_error": number(relative, 0, 100),
            "acc_rank_agree": str(int((acc["rank_deep"] == acc["rank_exact"]).sum())),
            "acc_min_spearman": number(acc["spearman"].min(), 2),
        }
    )
    for dataset, row in means.iterrows():
        out[f"{dataset}_feature"], out[f"{dataset}_n_features"] = (
            row["feature"],
            str(int(row["n_features"])),
        )
        for stat, key, digits, sign in (
            ("mean_abs_shap", "", 3, False),
            ("rank", "rank_", 1, False),
            ("protected_shap", "protected_", 3, True),
        ):
            out[f"{dataset}_{key}before"] = number(row[f"{stat}_baseline_mean"], digits, sign=sign)
            out[f"{dataset}_{key}after"] = number(row[f"{stat}_faalgrad_mean"], digits, sign=sign)
    lower = {
        stat: int((means[f"{stat}_faalgrad_mean"] < means[f"{stat}_baseline_mean"]).sum())
        for stat in ("mean_abs_shap", "share")
    }
    out.update(
        n_datasets=str(len(means)),
        n_lower=str(lower["mean_abs_shap"]),
        n_share_lower=str(lower["share"]),
        n_rank_down=str(int((means["rank_faalgrad_mean"] > means["rank_baseline_mean"]).sum())),
    )
    return out


def _shap_cases(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, the paired (by seed) change FaAlGrad − baseline of the sensitive
    feature's mean |SHAP| and of its share of the total, each with its outcome.

    The paper shows the drop in figures, with no number to test against, so the outcomes
    are :func:`~faalgrad.studies.stats.cell_outcomes` in the claim's direction (a drop)
    without a paper effect: reproduced, opposite or inconclusive, Holm-corrected over the
    cases.
    """
    if rows.empty:
        raise ValueError("no rows: explain at least one dataset and seed")
    wide = rows.pivot_table(
        index=["dataset", "seed"], columns="model", values=["mean_abs_shap", "share", "rank"]
    )
    if any((stat, m) not in wide.columns for stat in ("mean_abs_shap", "share") for m in _MODELS):
        raise ValueError(f"rows need both models: {', '.join(_MODELS)}")
    out = []
    for dataset in dict.fromkeys(rows["dataset"]):
        w = wide.loc[dataset]
        for stat in ("mean_abs_shap", "share"):
            change = w[(stat, "faalgrad")] - w[(stat, "baseline")]
            out.append(
                {
                    "dataset": dataset,
                    "statistic": stat,
                    **stats.paired_difference(w[(stat, "faalgrad")], w[(stat, "baseline")]),
                    "sd": float(change.std(ddof=1)) if len(change) > 1 else np.nan,
                    "paper_effect": np.nan,
                }
            )
    return stats.cell_outcomes(pd.DataFrame(out), direction=-1)


def _shap_claim(rows: pd.DataFrame) -> claims.Verdict:
    """claims.Verdict on "SHAP shows that FaAlGrad lowers the influence of the sensitive
    feature", from :func:`_sensitive_rows`: each dataset's outcome from :func:`_shap_cases`
    by :func:`~faalgrad.studies.claims.all_of` (both statistics must drop: a smaller |SHAP|
    alone may only mean smaller outputs), then the rule of
    :func:`~faalgrad.studies.claims.verdict_on_every_dataset` (rule: the page)."""
    cases = _shap_cases(rows)
    datasets = cases.groupby("dataset", sort=False)["outcome"].agg(claims.all_of).reset_index()
    wide = rows.pivot_table(
        index=["dataset", "seed"], columns="model", values=["mean_abs_shap", "share", "rank"]
    )
    parts = []
    for dataset, outcome in datasets.itertuples(index=False):
        m = wide.loc[dataset].mean()
        parts.append(
            f"{dataset} {m['mean_abs_shap', 'baseline']:.3f} → "
            f"{m['mean_abs_shap', 'faalgrad']:.3f} (share "
            f"{m['share', 'baseline']:.2f} → {m['share', 'faalgrad']:.2f}, "
            f"rank {m['rank', 'baseline']:.1f} → "
            f"{m['rank', 'faalgrad']:.1f}): {outcome}"
        )
    n_seeds = int(rows["seed"].nunique())
    evidence = (
        "The sensitive feature's mean |SHAP| on the predicted probability and its share of "
        f"the total both drop, per dataset: {claims.outcome_counts(datasets['outcome'])} "
        f"(baseline → {METHODS['faalgrad'].label} {SPLIT_LABELS['config1']}, I = 1, paired "
        f"over {n_seeds} seed{'s' if n_seeds != 1 else ''} and Holm-corrected over the "
        f"{len(cases)} cases). {'; '.join(parts)}."
    )
    return claims.Verdict("shap", claims.verdict_on_every_dataset(datasets), evidence)


def forest_figure(result: PageResult):
    """The claim's forest plot: per dataset, FaAlGrad's change of the sensitive feature's mean
    |SHAP| and of its share, paired by seed, with its 95 % interval, coloured by outcome.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cases = _shap_cases(result["rows"])
    names = {"mean_abs_shap": "mean |SHAP|", "share": "share of the total"}
    labels = [f"{DATASET_LABELS[r.dataset]} · {names[r.statistic]}" for r in cases.itertuples()]
    return forest.forest_figure(cases, labels, "change, FaAlGrad − baseline MLP")


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts: :func:`_shap_claim`."""
    return [_shap_claim(result["rows"])]


def _beeswarm(explanation, *, feature: str, ax, title: str, max_display: int = 10, seed: int = 0):
    """shap's beeswarm of ``explanation`` on ``ax`` (features by mean |SHAP|), the sensitive
    ``feature`` always shown, labelled with its rank (in the last shown row if it is not among
    the top ``max_display - 1``). NumPy's global generator is seeded with ``seed``: the
    beeswarm jitters with it."""
    import shap

    table = _feature_importance(explanation)
    rank = int(table.loc[feature, "rank"])
    order = list(np.argsort(-table["mean_abs_shap"].to_numpy(), kind="stable"))
    position = table.index.get_loc(feature)
    shown = max_display - 1 if len(order) > max_display else len(order)
    if order.index(position) >= shown:
        order.remove(position)
        order.insert(shown - 1, position)
    labelled = _with_values(
        explanation,
        np.asarray(explanation.values),
        [f"{n} (sensitive, rank {rank}/{len(table)})" if n == feature else n for n in table.index],
    )
    # shap's beeswarm jitters its dots with NumPy's global generator (it takes no generator),
    # and the published figures are drawn with this seed.
    np.random.seed(seed)  # noqa: NPY002
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap.plots.beeswarm(
            labelled,
            max_display=max_display,
            order=np.asarray(order),
            ax=ax,
            show=False,
            plot_size=None,
            color_bar_label="feature value",
        )
    ax.set_title(title)
    ax.set_xlabel(f"SHAP value (impact on the {_OUTPUT})")
    return ax


def beeswarm_figure(explanations: dict, dataset: str, seed: int = 0, *, max_display: int = 10):
    """The baseline's beeswarm above FaAlGrad's for one dataset and seed, on a shared x axis."""
    import matplotlib.pyplot as plt

    feature = _sensitive_feature(dataset, explanations[(dataset, seed, _MODELS[0])].feature_names)
    rows = min(max_display, len(explanations[(dataset, seed, _MODELS[0])].feature_names))
    fig, axes = plt.subplots(
        2, 1, figsize=(9, 2 * (0.4 * rows + 1.3)), sharex=True, layout="constrained"
    )
    for ax, model in zip(axes, _MODELS, strict=True):
        _beeswarm(
            explanations[(dataset, seed, model)],
            feature=feature,
            ax=ax,
            max_display=max_display,
            title=f"{DATASET_LABELS[dataset]}, seed {seed}: {_MODEL_LABELS[model]}",
        )
    axes[0].tick_params(labelbottom=True)
    return fig
