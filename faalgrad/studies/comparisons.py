"""The Comparisons page: Table 5, and FaAlGrad beside peers measured on the same splits and
seeds (the baseline MLP, fairlearn's mitigators, Nash-Meta-Learning and its one-stage
baselines), with the Nash paper's hypergradient-conflict claim.

Page: ``book/comparisons.ipynb`` ("Comparisons: Table 5, fairlearn mitigators and
Nash-Meta-Learning"); the page explains the best-ratio rule and the Nash schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faalgrad.datasets import DATASETS
from faalgrad.metrics import aggregate, mean_std
from faalgrad.nash import NASH_METHODS, OBJECTIVES, nash_config, synthetic_two_group
from faalgrad.runs import METHODS, SPLIT_LABELS, RunSpec, cached_split, comparison_specs
from faalgrad.splits import format_ratio
from faalgrad.studies import PageResult, claims, forest, paper, stats
from faalgrad.studies._common import DATASET_LABELS, number, seed_count
from faalgrad.validation import (
    check_choice,
    check_datasets,
    check_int,
    check_n_jobs,
    check_number,
    check_seeds,
)

__all__ = [
    "Params",
    "compute",
    "forest_figure",
    "glue_values",
    "specs",
    "verdicts",
]

#: The authors' Nash-Meta-Learning schedule: (epochs, bargaining epochs).
_AUTHORS_NASH: tuple[int, int] = (50, 15)
#: Metrics of the comparison table, with their column names.
_COMPARISON_METRICS: dict[str, str] = {
    "accuracy": "accuracy (%)",
    "dp_diff": "DP diff",
    "eod_diff": "EOD diff",
    "dp_ratio": "DPR",
    "eod_ratio": "EODR",
    "auc": "AUC overall",
    "auc_gap": "AUC max group gap",
    "auc_worst": "AUC worst group",
}  # the AUCs print under one "AUC" header
#: The comparison's metrics of the hard predictions and of the scores (the Nash paper's
#: three AUC metrics), printed as two tables.
_HARD_METRICS = ("accuracy", "dp_diff", "eod_diff", "dp_ratio", "eod_ratio")
_SCORE_METRICS = ("auc", "auc_gap", "auc_worst")
_FA = METHODS["faalgrad"].label
#: Row key -> label of the comparison's rows, in display order: the registry's, FaAlGrad in
#: three settings.
_ROW_LABELS: dict[str, str] = {
    "erm": f"{METHODS['erm'].label} (ERM)",
    "config1": f"{_FA} {SPLIT_LABELS['config1']}",
    "config2": f"{_FA} {SPLIT_LABELS['config2']}",
    "best_ratio": f"{_FA} best ratio",
    **{k: m.label for k, m in METHODS.items() if m.family not in ("baseline", "FaAlGrad")},
}
_T5 = {"accuracy": "acc", "dp_ratio": "DPR", "eod_ratio": "EODR"}
_QUOTED, _PRINTED, _MEASURED = "quoted from the paper", "as printed in the paper", "measured here"
#: Table 5's sources as printed in its "source" column (the prose says what each means).
_SOURCE_SHORT = {_QUOTED: "quoted", _PRINTED: "paper", _MEASURED: "measured"}
_NO_T5 = "none of this run's datasets is among Table 5's (COMPAS, Adult, Communities)"


@dataclass(frozen=True)
class Params:
    """The page's parameters: ``datasets`` (distinct), ``seeds`` (0..seeds-1), ``n_jobs``, the
    Nash-style methods' schedule ``nash_epochs`` / ``nash_bargain_epochs`` (the authors':
    :data:`_AUTHORS_NASH`) and the best-ratio floor ``min_val_accuracy`` (``None``: the
    validation majority-class rate)."""

    datasets: tuple[str, ...] = DATASETS
    seeds: int = 5
    n_jobs: int = 2
    nash_epochs: int = 20
    nash_bargain_epochs: int = 6
    min_val_accuracy: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "datasets", check_datasets("datasets", self.datasets, distinct=True)
        )
        check_seeds(self.seeds)
        check_n_jobs(self.n_jobs)
        epochs = check_int(
            "nash_epochs", self.nash_epochs, note=f"the authors': {_AUTHORS_NASH[0]}"
        )
        check_int(
            "nash_bargain_epochs",
            self.nash_bargain_epochs,
            minimum=0,
            maximum=epochs,
            note=f"0 to nash_epochs={epochs}; "
            f"the authors': {_AUTHORS_NASH[1]} of {_AUTHORS_NASH[0]}",
        )
        if self.min_val_accuracy is not None:
            check_number(
                "min_val_accuracy",
                self.min_val_accuracy,
                0,
                1,
                note="or None: the validation majority-class rate",
            )


def specs(params: Params) -> list[RunSpec]:
    """Every run of the page: :func:`~faalgrad.runs.comparison_specs` with the page's Nash
    schedule."""
    return comparison_specs(
        params.datasets,
        params.seeds,
        nash_epochs=params.nash_epochs,
        nash_bargain_epochs=params.nash_bargain_epochs,
    )


def _majority_rate(dataset: str, seeds: int) -> float:
    """Mean over the seeds of the validation split's majority-class rate (a constant
    predictor's accuracy)."""
    return float(
        np.mean(
            [
                max(np.mean(y := cached_split(dataset, s).y_val), 1 - np.mean(y))
                for s in range(seeds)
            ]
        )
    )


def _best_ratio(rows: pd.DataFrame, *, min_val_accuracy: float | None = None) -> pd.DataFrame:
    """FaAlGrad's best ratio setting per dataset, chosen on the validation split only (rule:
    see the page).

    Parameters
    ----------
    rows : pandas.DataFrame
        Run rows; the FaAlGrad ``split == "ratio"`` rows are the candidates.
    min_val_accuracy : float, optional
        The floor; ``None``: the validation majority-class rate (:func:`_majority_rate`).

    Returns
    -------
    pandas.DataFrame
        Per dataset: ``ratio``, ``xq_xs``, ``inner_steps``, their mean ``val_dp_ratio`` and
        ``val_accuracy``, ``floor``, ``floor_met`` (some setting reached it), ``n_settings``,
        ``n_candidates``.
    """
    out = []
    candidates_of = rows[(rows["method"] == "faalgrad") & (rows["split"] == "ratio")]
    for dataset, runs in candidates_of.groupby("dataset", sort=False):
        means = (
            runs.groupby(["ratio", "inner_steps"])[["val_dp_ratio", "val_accuracy"]]
            .mean()
            .reset_index()
        )
        floor = (
            _majority_rate(dataset, runs["seed"].nunique())
            if min_val_accuracy is None
            else float(min_val_accuracy)
        )
        passing = means[means["val_accuracy"] >= floor - 1e-12]
        candidates = passing if len(passing) else means
        pick = (
            candidates.assign(_dpr=candidates["val_dp_ratio"].fillna(-math.inf))
            .sort_values(
                ["_dpr", "val_accuracy", "ratio", "inner_steps"],
                ascending=[False, False, True, True],
            )
            .iloc[0]
        )
        out.append(
            {
                "dataset": dataset,
                "ratio": float(pick["ratio"]),
                "xq_xs": format_ratio(pick["ratio"]),
                "inner_steps": int(pick["inner_steps"]),
                "val_dp_ratio": float(pick["val_dp_ratio"]),
                "val_accuracy": float(pick["val_accuracy"]),
                "floor": floor,
                "floor_met": len(passing) > 0,
                "n_settings": len(means),
                "n_candidates": len(passing),
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "dataset",
            "ratio",
            "xq_xs",
            "inner_steps",
            "val_dp_ratio",
            "val_accuracy",
            "floor",
            "floor_met",
            "n_settings",
            "n_candidates",
        ],
    )


def _labelled(rows: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """The runs shown (ratio runs only at their dataset's best setting), with ``method_key``,
    ``row`` (a :data:`_ROW_LABELS` key), ``method`` (its label), ``family`` and ``setting``."""
    fa = rows["method"] == "faalgrad"
    keep = ~(fa & (rows["split"] == "ratio"))
    for r in best.itertuples():
        keep |= (
            fa
            & (rows["dataset"] == r.dataset)
            & (rows["split"] == "ratio")
            & np.isclose(rows["ratio"].astype(float), r.ratio)
            & (rows["inner_steps"] == r.inner_steps)
        )
    rows = rows[keep & rows["method"].isin([*_ROW_LABELS, "faalgrad"])].rename(
        columns={"method": "method_key"}
    )
    fa, nash = rows["method_key"] == "faalgrad", rows["method_key"].isin(NASH_METHODS)
    row = rows["method_key"].where(~fa, rows["split"].replace({"ratio": "best_ratio"}))
    ratio = rows["ratio"].map(lambda r: format_ratio(r) + ", " if pd.notna(r) else "")
    schedule = pd.Series(
        [
            _nash_setting(*r) if n else ""
            for r, n in zip(
                rows[["dataset", "method_key", "overrides"]].itertuples(False), nash, strict=True
            )
        ],
        index=rows.index,
    )
    setting = np.select(
        [fa, nash], [ratio + "I = " + rows["inner_steps"].astype(str), schedule], ""
    )
    return rows.assign(
        row=row,
        method=row.map(_ROW_LABELS),
        setting=setting,
        family=rows["method_key"].map(lambda k: METHODS[k].family),
    )


def _nash_setting(dataset: str, method: str, overrides: str) -> str:
    """ "20 epochs, 6 bargaining" from a Nash run row's ``overrides`` text
    ("bargain_epochs=6,epochs=20")."""
    pairs = (
        dict(item.split("=", 1) for item in overrides.split(",") if item)
        if isinstance(overrides, str)
        else {}
    )
    config = nash_config(
        dataset, **{k: int(v) for k, v in pairs.items() if k in ("epochs", "bargain_epochs")}
    )
    return f"{config.epochs} epochs" + (
        f", {config.bargain_epochs} bargaining" if method.startswith("nash_") else ""
    )


def _in_order(frame: pd.DataFrame, datasets, *keys: str) -> pd.DataFrame:
    """``frame`` sorted by dataset (in the order of ``datasets``), then by ``keys``."""
    order = {d: i for i, d in enumerate(dict.fromkeys(datasets))}
    frame = frame.assign(_d=frame["dataset"].map(order)).sort_values(["_d", *keys], kind="stable")
    return frame.drop(columns="_d").reset_index(drop=True)


def _comparison_table(rows: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """FaAlGrad beside its measured peers: the page's run ``rows`` with their
    :func:`_best_ratio` ``best``.

    Returns
    -------
    pandas.DataFrame
        Per (dataset, ``family``, ``row`` key, ``method`` label, ``setting``), in the rows'
        dataset order and :data:`_ROW_LABELS` order: ``<metric>_mean``, ``_std`` of
        :data:`_COMPARISON_METRICS`, ``n_seeds``.
    """
    table = aggregate(
        _labelled(rows, best),
        ["dataset", "family", "row", "method", "setting"],
        tuple(_COMPARISON_METRICS),
    )
    table["_m"] = table["row"].map({k: i for i, k in enumerate(_ROW_LABELS)})
    return _in_order(table, rows["dataset"], "_m", "setting").drop(columns="_m")


def _format_comparison(
    table: pd.DataFrame, metrics: Sequence[str] = tuple(_COMPARISON_METRICS), digits: int = 2
) -> pd.DataFrame:
    """Printable :func:`_comparison_table`, the columns of ``metrics`` (keys of
    :data:`_COMPARISON_METRICS`; the page prints the hard predictions' metrics,
    :data:`_HARD_METRICS`, and the scores' AUCs, :data:`_SCORE_METRICS`, as two tables):
    accuracy in percent, "mean ± std", indexed by (dataset, method, setting)."""
    out = pd.DataFrame(
        {
            "dataset": table["dataset"].map(DATASET_LABELS),
            "method": table["method"],
            "setting": table["setting"],
        }
    )
    for m in metrics:
        out[_COMPARISON_METRICS[m]] = [
            mean_std(a, b, digits, 100 if m == "accuracy" else 1)
            for a, b in zip(table[f"{m}_mean"], table[f"{m}_std"], strict=True)
        ]
    return out.set_index(["dataset", "method", "setting"])


def _tradeoff_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Long form for the accuracy-versus-fairness plot: per (dataset, method, fairness metric),
    ``family``, mean ``accuracy`` (percent) and mean ``fairness``. Config 1 / 2 labels carry their
    inner steps ("FaAlGrad Config 1 (I = 10)"); the best-ratio row keeps one label on every
    dataset, so that a plot's colours match across facets."""
    method = np.where(
        table["row"].isin(["config1", "config2"]),
        table["method"] + " (" + table["setting"] + ")",
        table["method"],
    )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "dataset": table["dataset"].map(DATASET_LABELS),
                    "family": table["family"],
                    "method": method,
                    "metric": name,
                    "accuracy": 100 * table["accuracy_mean"],
                    "fairness": table[f"{metric}_mean"],
                }
            )
            for metric, name in (("dp_diff", "DP difference"), ("eod_diff", "EOD difference"))
        ],
        ignore_index=True,
    )


def _table5(rows: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Table 5: the numbers quoted from the paper beside FaAlGrad measured at its ``best``
    ratio setting.

    Returns
    -------
    pandas.DataFrame
        Per (method, dataset): ``source`` ("quoted from the paper" for Fair-MAML, m-FTML and
        FFML; "as printed in the paper" for FaAlGrad's own row; "measured here"), ``setting``,
        ``accuracy``, ``dp_ratio``, ``eod_ratio`` with ``_std`` (NaN when quoted),
        ``n_seeds``; datasets: Table 5's (COMPAS, Adult, Communities) among the ``rows``', in
        their order.
    """
    quoted, ours = paper.table5(), _labelled(rows, best)
    ours = ours[ours["row"] == "best_ratio"]
    datasets = [
        d
        for d in dict.fromkeys(rows["dataset"])
        if d in set(quoted["dataset"]) & set(ours["dataset"])
    ]
    quoted = quoted[quoted["dataset"].isin(datasets)]
    own = quoted["method"].str.startswith(_FA)
    q = pd.DataFrame(
        {
            "method": quoted["method"].where(
                own, quoted["method"] + " (" + quoted["citation"] + ")"
            ),
            "source": np.where(own, _PRINTED, _QUOTED),
            "setting": "",
            "dataset": quoted["dataset"],
            **{m: quoted[m].astype(float) for m in _T5},
        }
    )
    agg = aggregate(ours[ours["dataset"].isin(datasets)], ["dataset", "setting"], tuple(_T5))
    o = agg.rename(columns={f"{m}_mean": m for m in _T5}).assign(
        method=f"{_FA} (ours, best ratio on validation)", source=_MEASURED
    )
    columns = [
        "method",
        "source",
        "setting",
        "dataset",
        *(c for m in _T5 for c in (m, f"{m}_std")),
        "n_seeds",
    ]
    return _in_order(pd.concat([q, o], ignore_index=True), datasets).reindex(columns=columns)


def _format_table5(t5: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable Table 5: one row per (dataset, method, source as :data:`_SOURCE_SHORT`
    prints it) and the paper's columns (accuracy in percent, DPR, EODR; the measured row's
    X_q:X_s and I). A quoted method appears under the datasets its paper reports; "–" = not
    reported. Datasets in the order of ``t5``, methods in the paper's order within a source."""
    if t5.empty:
        return pd.DataFrame({"note": [_NO_T5]})
    sources = {_QUOTED: 0, _PRINTED: 1, _MEASURED: 2}
    methods = {m: i for i, m in enumerate(dict.fromkeys(paper.table5()["method"]))}
    datasets = {d: i for i, d in enumerate(dict.fromkeys(t5["dataset"]))}
    records = []
    for r in t5.itertuples():
        if r.source != _MEASURED and all(pd.isna(getattr(r, m)) for m in _T5):
            continue
        record = {
            "dataset": DATASET_LABELS[r.dataset],
            "method": f"{_FA} (ours, best ratio)" if r.source == _MEASURED else r.method,
            "source": _SOURCE_SHORT[r.source],
        }
        for m, name in _T5.items():
            value, std = getattr(r, m), getattr(r, f"{m}_std")
            scale = 100 if m == "accuracy" else 1
            record[name] = mean_std(value, std, digits, scale) if pd.notna(value) else "–"
        record["X_q:X_s, I"] = r.setting or "–"
        rank = (datasets[r.dataset], sources[r.source], methods.get(r.method.split(" (")[0], 99))
        records.append((rank, record))
    out = pd.DataFrame([record for _, record in sorted(records, key=lambda x: x[0])])
    return out.set_index(["dataset", "method", "source"])


def _beats_meta_cells(rows: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Claim ``beats_meta``'s cells: per (quoted method, dataset, ratio metric) that Table 5
    reports, our FaAlGrad at its best ratio setting minus the quoted value, over the seeds
    (the quoted value is a single number with no spread given: a one-sample t-test), beside
    the paper's own FaAlGrad minus the same quoted value (``paper_effect``); outcomes in the
    claim's direction (higher), Holm-corrected over the cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``method``, ``dataset``, ``metric`` ("DPR", "EODR"), ``quoted``,
        ``ours`` (mean), ``n``, ``mean``, ``low``, ``high``, ``p``, ``sd``,
        ``paper_effect``, ``p_direction``, ``p_opposite``, ``p_smaller``, ``outcome`` and
        ``seeds_for_power`` (80 % power against the paper's effect; NaN where the paper has
        none or more than 1000 would be needed).
    """
    quoted = paper.table5()
    own = quoted["method"].str.startswith(_FA)
    printed = quoted[own].set_index("dataset")
    ours = _labelled(rows, best)
    ours = ours[ours["row"] == "best_ratio"]
    out = []
    for r in quoted[~own].itertuples():
        runs = ours[ours["dataset"] == r.dataset]
        for m in ("dp_ratio", "eod_ratio"):
            value = getattr(r, m)
            if runs.empty or pd.isna(value):
                continue
            values = runs.sort_values("seed")[m].to_numpy(dtype=float)
            effect = printed[m].get(r.dataset, np.nan) - value
            out.append(
                {
                    "method": r.method,
                    "dataset": r.dataset,
                    "metric": _T5[m],
                    "quoted": value,
                    "ours": values.mean(),
                    **stats.paired_difference(values, np.full(len(values), value)),
                    "sd": float(np.std(values, ddof=1)) if len(values) > 1 else np.nan,
                    "paper_effect": effect,
                }
            )
    columns = ["method", "dataset", "metric", "quoted", "ours", "n", "mean", "low", "high", "p"]
    cells = pd.DataFrame(out, columns=[*columns, "sd", "paper_effect"])
    if cells.empty:
        return cells.assign(outcome=pd.Series(dtype=str))
    cells = stats.cell_outcomes(cells, direction=1)
    level = stats.ALPHA / max(int(cells["p_smaller"].notna().sum()), 1)
    cells["seeds_for_power"] = [
        stats.seeds_for_power(e, sd, alpha=level) if e > 0 else None
        for e, sd in zip(cells["paper_effect"], cells["sd"], strict=True)
    ]
    return cells


def _beats_meta_verdict(cells: pd.DataFrame) -> claims.Verdict:
    """Claim ``beats_meta`` from :func:`_beats_meta_cells`: every cell must be reproduced
    (:func:`claims.verdict_on_every_dataset` over single cells)."""
    if cells.empty:
        return claims.Verdict("beats_meta", claims.INCONCLUSIVE, f"not checked: {_NO_T5}")
    verdict = claims.verdict_on_every_dataset(cells, by=["method", "dataset", "metric"])
    lost = "; ".join(
        f"{r.method} {DATASET_LABELS[r.dataset]} {r.metric} {number(r.quoted, 2)} vs ours "
        f"{number(r.ours, 2)} ({r.outcome})"
        for r in cells[
            ~cells["outcome"].isin([claims.REPRODUCED, claims.REPRODUCED_SMALLER])
        ].itertuples()
    )
    needed = cells["seeds_for_power"].dropna()
    power = (
        f" Seeds for 80 % power against the paper's own margin: {int(needed.min())} to "
        f"{int(needed.max())} where it is finite."
        if len(needed)
        else ""
    )
    evidence = (
        "Our FaAlGrad (best ratio chosen on validation) against the ratio quoted for "
        f"Fair-MAML, m-FTML and FFML, per cell: {claims.outcome_counts(cells['outcome'])} "
        f"(higher; over {seed_count(cells['n'])} seeds, the quoted number taken as exact, "
        "Holm-corrected over the cells, set against the paper's own FaAlGrad margin over the "
        "same number). The quoted numbers come from the other methods' own papers, with "
        "other splits, preprocessing and models."
        + (f" Not reproduced in: {lost}." if lost else "")
        + power
    )
    return claims.Verdict("beats_meta", verdict, evidence)


def _conflict_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Share of batches with a hypergradient conflict, per (dataset, stage-2 objective), mean
    and std over seeds (``<name>_mean``, ``_std``): ``one_stage`` (the one-stage method, all
    batches), and on the two-stage method's bargaining batches, ``bargain_before`` (one-stage
    direction) and ``bargain_after`` (the Nash bargaining direction actually used)."""
    one = rows[rows["method"].isin(OBJECTIVES)]
    two = rows[rows["method"].isin([f"nash_{o}" for o in OBJECTIVES])]
    one = one.assign(objective=one["method"], one_stage=one["conflict_one_stage"])
    two = two.assign(
        objective=two["method"].str.removeprefix("nash_"),
        bargain_before=two["conflict_one_stage_bargain_batches"],
        bargain_after=two["conflict_after_bargaining"],
    )
    out = (
        aggregate(one, ["dataset", "objective"], ("one_stage",))
        .drop(columns="n_seeds")
        .merge(
            aggregate(two, ["dataset", "objective"], ("bargain_before", "bargain_after")),
            on=["dataset", "objective"],
            how="outer",
        )
    )
    out["_o"] = out["objective"].map({o: i for i, o in enumerate(OBJECTIVES)})
    return _in_order(out, rows["dataset"], "_o").drop(columns="_o")


def _format_conflicts(table: pd.DataFrame) -> pd.DataFrame:
    """Printable :func:`_conflict_table`, shares in percent."""
    out = pd.DataFrame(
        {
            "dataset": table["dataset"].map(DATASET_LABELS),
            "stage-2 objective": table["objective"].map(lambda o: METHODS[o].label),
        }
    )
    names = {
        "one_stage": "one-stage: all batches (%)",
        "bargain_before": "two-stage, bargaining batches: one-stage direction (%)",
        "bargain_after": "two-stage, bargaining batches: after bargaining (%)",
    }
    for key, name in names.items():
        out[name] = [
            mean_std(a, b, 1, 100)
            for a, b in zip(table[f"{key}_mean"], table[f"{key}_std"], strict=True)
        ]
    return out.set_index(["dataset", "stage-2 objective"])


def _conflict_cells(rows: pd.DataFrame, *, common: float = 0.5) -> pd.DataFrame:
    """Claim ``nash_conflict``'s cells: per (dataset, stage-2 objective), two tests over the
    seeds: ``common``, the one-stage method's share of conflicted batches minus ``common``
    (higher: conflicts are common), and ``resolved``, on the two-stage method's bargaining
    batches the share after bargaining minus the share under the one-stage direction,
    paired by run (lower: bargaining resolves conflicts). The Nash paper gives no number to
    rule out, so each test is reproduced, opposite or inconclusive; each test family is
    Holm-corrected over its cells (a cell needs both, an intersection-union test, so no
    correction between the two).

    Returns
    -------
    pandas.DataFrame
        One row per (``dataset``, ``objective``, ``test``): ``n``, ``mean``, ``low``,
        ``high``, ``p``, ``sd``, ``paper_effect`` (NaN), the one-sided p-values and
        ``outcome``.
    """
    parts = []
    for test, method_of, treated, control, direction in (
        ("common", lambda o: o, "conflict_one_stage", None, 1),
        (
            "resolved",
            lambda o: f"nash_{o}",
            "conflict_after_bargaining",
            "conflict_one_stage_bargain_batches",
            -1,
        ),
    ):
        out = []
        for dataset in dict.fromkeys(rows["dataset"]):
            for objective in OBJECTIVES:
                runs = rows[(rows["dataset"] == dataset) & (rows["method"] == method_of(objective))]
                if runs.empty or treated not in runs:
                    continue
                runs = runs.sort_values("seed")
                t = runs[treated].to_numpy(dtype=float)
                c = np.full(len(t), common) if control is None else runs[control].to_numpy(float)
                keep = ~(np.isnan(t) | np.isnan(c))
                if keep.sum() == 0:
                    continue
                d = t[keep] - c[keep]
                out.append(
                    {
                        "dataset": dataset,
                        "objective": objective,
                        "test": test,
                        **stats.paired_difference(t, c),
                        "sd": float(np.std(d, ddof=1)) if len(d) > 1 else np.nan,
                        "paper_effect": np.nan,
                    }
                )
        if out:
            parts.append(stats.cell_outcomes(pd.DataFrame(out), direction=direction))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _nash_conflict_verdict(cells: pd.DataFrame, *, common: float = 0.5) -> claims.Verdict:
    """Claim ``nash_conflict`` from :func:`_conflict_cells`: a (dataset, objective) cell
    counts when both of its tests are reproduced (:func:`claims.all_of`); the claim follows
    :func:`claims.verdict_on_every_dataset` over those cells."""
    if cells.empty or set(cells["test"]) != {"common", "resolved"}:
        return claims.Verdict(
            "nash_conflict", claims.INCONCLUSIVE, "not checked: no bargaining batches were run"
        )
    both = (
        cells.groupby(["dataset", "objective"], sort=False)["outcome"]
        .agg(claims.all_of)
        .reset_index()
    )
    counts = {
        test: claims.outcome_counts(cells.loc[cells["test"] == test, "outcome"])
        for test in ("common", "resolved")
    }
    evidence = (
        "One-stage conflicts common and fewer after bargaining, per dataset × objective: "
        f"{claims.outcome_counts(both['outcome'])} (over {seed_count(cells['n'])} seeds; "
        "the Nash paper gives no number, so a test is reproduced, opposite or inconclusive). "
        f"Conflicts in more than {number(common, 0, 100)} % of one-stage batches: "
        f"{counts['common']}; fewer conflicts after bargaining than under the one-stage "
        f"direction on the same batches: {counts['resolved']}."
    )
    return claims.Verdict("nash_conflict", claims.verdict_on_every_dataset(both), evidence)


def forest_figure(result: PageResult, claim: str):
    """The forest plot of the page's claim ``claim`` ("beats_meta": ours minus each quoted
    ratio, the paper's own margin ×; "nash_conflict": each cell's two tests).

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice("claim", claim, ("beats_meta", "nash_conflict"))
    if claim == "beats_meta":
        cells = result["beats_cells"]
        labels = [
            f"{r.method} · {DATASET_LABELS[r.dataset]} · {r.metric}" for r in cells.itertuples()
        ]
        return forest.forest_figure(
            cells, labels, "ratio, our FaAlGrad − quoted method (×: the paper's FaAlGrad)"
        )
    cells = result["conflict_cells"]
    names = {"common": "one-stage − 50 %", "resolved": "after − before bargaining"}
    labels = [
        f"{DATASET_LABELS[r.dataset]} · {METHODS[r.objective].label} · {names[r.test]}"
        for r in cells.itertuples()
    ]
    return forest.forest_figure(cells, labels, "share of batches with a conflict")


def _span(values: pd.Series) -> str:
    lo, hi = 100 * float(values.min()), 100 * float(values.max())
    return f"{lo:.0f} %" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f} %"


def _nash_gains(table: pd.DataFrame) -> pd.DataFrame:
    """Two-stage minus one-stage, per (dataset, objective), of the mean AUC, max group AUC gap and
    worst group AUC (from :func:`_comparison_table`); ``better_*`` flags whether bargaining
    helped."""
    out = []
    for dataset, t in table.groupby("dataset", sort=False):
        by = t.set_index("row")
        for o in (o for o in OBJECTIVES if {o, f"nash_{o}"} <= set(by.index)):
            change = {
                m: by.loc[f"nash_{o}", f"{m}_mean"] - by.loc[o, f"{m}_mean"]
                for m in ("auc", "auc_gap", "auc_worst")
            }
            out.append(
                {
                    "dataset": dataset,
                    "objective": o,
                    **{f"{m}_change": v for m, v in change.items()},
                    "better_auc": change["auc"] > 0,
                    "better_auc_gap": change["auc_gap"] < 0,
                    "better_auc_worst": change["auc_worst"] > 0,
                }
            )
    return pd.DataFrame(
        out,
        columns=[
            "dataset",
            "objective",
            "auc_change",
            "auc_gap_change",
            "auc_worst_change",
            "better_auc",
            "better_auc_gap",
            "better_auc_worst",
        ],
    )


def _synthetic_frame(traj: pd.DataFrame) -> pd.DataFrame:
    """:func:`faalgrad.nash.synthetic_two_group` output as a plot frame: ``objective`` (label),
    ``method`` ("one-stage" / "two-stage (bargaining first)"), ``start``, ``step`` and the two
    group losses, with the first and last step of each trajectory marked in ``point``."""
    out = traj[["objective", "method", "start", "step", "loss_g0", "loss_g1"]].copy()
    out["objective"] = out["objective"].map(lambda o: METHODS[o].label)
    out["method"] = out["method"].map(
        {"one_stage": "one-stage", "two_stage": "two-stage (bargaining first)"}
    )
    last = out.groupby(["objective", "method", "start"])["step"].transform("max")
    out["point"] = np.select([out["step"] == 0, out["step"] == last], ["start", "end"], "")
    return out


def _synthetic_summary(traj: pd.DataFrame) -> pd.DataFrame:
    """Per (objective, method): over the steps the two-stage runs bargain, the share of steps with
    a conflict under the one-stage direction, with a conflict in the update used, and where both
    group losses fall; and the mean final group losses."""
    t = traj.sort_values(["objective", "method", "start", "step"])
    g = t.groupby(["objective", "method", "start"])
    t = t.assign(
        both_fall=(g["loss_g0"].shift(-1) < t["loss_g0"]) & (g["loss_g1"].shift(-1) < t["loss_g1"])
    )
    bargained = t["bargained"].fillna(False).astype(bool)
    bargain_steps = int(t.loc[bargained, "step"].max()) + 1 if bargained.any() else 0
    early = t[t["step"] < bargain_steps]
    used = (
        early["conflict_after"].astype("boolean").fillna(early["conflict_before"].astype("boolean"))
    )
    early = early.assign(
        conflict_used=used.astype(float),
        conflict_before=early["conflict_before"].astype(float),
        both_fall=early["both_fall"].astype(float),
    )
    out = early.groupby(["objective", "method"])[
        ["conflict_before", "conflict_used", "both_fall"]
    ].mean()
    final = (
        t[t["step"] == t["step"].max()]
        .groupby(["objective", "method"])[["loss_g0", "loss_g1"]]
        .mean()
    )
    out = out.join(final).reset_index().assign(bargain_steps=bargain_steps)
    out["_o"] = out["objective"].map({o: i for i, o in enumerate(OBJECTIVES)})
    return out.sort_values(["_o", "method"]).drop(columns="_o").reset_index(drop=True)


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Every table of the page from the run ``rows`` of :func:`specs`; the synthetic two-group
    experiment (:func:`faalgrad.nash.synthetic_two_group`) is run here.

    ``run`` (the parameters, ``n_runs``, ``nash_runs``, ``nash_last_epoch_runs``: Nash-style
    runs that selected their last epoch), ``best``, ``table5``, ``comparison``, ``tradeoff``,
    ``gains``, ``conflicts`` (and ``<name>_printed``; the comparison's AUCs as
    ``comparison_auc_printed``), ``synthetic`` (the plot frame) and
    ``synthetic_summary``."""
    best = _best_ratio(rows, min_val_accuracy=params.min_val_accuracy)
    comparison, t5, conflicts = (
        _comparison_table(rows, best),
        _table5(rows, best),
        _conflict_table(rows),
    )
    beats_cells, conflict_cells = _beats_meta_cells(rows, best), _conflict_cells(rows)
    nash, traj = rows[rows["method"].isin(NASH_METHODS)], synthetic_two_group()
    last = int((nash["best_epoch"] == nash["epochs"] - 1).sum())
    run = pd.DataFrame(
        [
            {
                **{k: v for k, v in vars(params).items() if k != "datasets"},
                "n_runs": len(rows),
                "nash_runs": len(nash),
                "nash_last_epoch_runs": last,
            }
        ]
    )
    return {
        "run": run,
        "best": best,
        "table5": t5,
        "table5_printed": _format_table5(t5),
        "comparison": comparison,
        "comparison_printed": _format_comparison(comparison, _HARD_METRICS),
        "comparison_auc_printed": _format_comparison(comparison, _SCORE_METRICS),
        "tradeoff": _tradeoff_frame(comparison),
        "gains": _nash_gains(comparison),
        "conflicts": conflicts,
        "conflicts_printed": _format_conflicts(conflicts),
        "beats_cells": beats_cells,
        "conflict_cells": conflict_cells,
        "synthetic": _synthetic_frame(traj),
        "synthetic_summary": _synthetic_summary(traj),
    }


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text: how the page was run and the Nash
    schedule (``n_*``, ``nash_*``), the best ratio settings (``best_*``), Table 5 (``t5_*``),
    the comparison's leaders (``lead_*``), bargaining's AUC gains (``gain_*``), the synthetic
    experiment (``synth_*``) and the verdicts."""
    run, best, t5, table = (
        result["run"].to_dict("records")[0],
        result["best"],
        result["table5"],
        result["comparison"],
    )
    epochs, bargain, (a_epochs, a_bargain) = (
        run["nash_epochs"],
        run["nash_bargain_epochs"],
        _AUTHORS_NASH,
    )
    out = {
        "n_seeds": str(run["seeds"]),
        "n_runs": str(run["n_runs"]),
        "nash_epochs": str(epochs),
        "nash_bargain_epochs": str(bargain),
        "nash_authors_epochs": str(a_epochs),
        "nash_authors_bargain_epochs": str(a_bargain),
        "nash_bargain_share": f"{number(100 * bargain / epochs, 0)} %",
        "nash_authors_bargain_share": f"{number(100 * a_bargain / a_epochs, 0)} %",
        "nash_cost_share": f"{number(100 * epochs / a_epochs, 0)} %",
        "nash_last_epoch_runs": f"{run['nash_last_epoch_runs']} of {run['nash_runs']}",
        "best_floor": "the validation majority-class rate"
        if pd.isna(run["min_val_accuracy"])
        else f"{number(run['min_val_accuracy'], 1, 100)} %",
    }
    # FaAlGrad's best ratio settings
    missed = ", ".join(DATASET_LABELS[r.dataset] for r in best.itertuples() if not r.floor_met)
    out["best_chosen"] = (
        "; ".join(
            f"{DATASET_LABELS[r.dataset]} {r.xq_xs} with I = {r.inner_steps} "
            f"(validation DPR {number(r.val_dp_ratio, 2)}, "
            f"accuracy {number(r.val_accuracy, 1, 100)} %)"
            for r in best.itertuples()
        )
        or "none (no ratio setting was run)"
    )
    out["best_floor_missed"] = (
        f"on {missed} no setting reached the floor, so all settings were compared"
        if missed
        else "every dataset had at least one setting at or above the floor"
    )
    # our Table 5 row beside the paper's FaAlGrad row
    ours, printed = (
        t5[t5["source"] == source].set_index("dataset") for source in (_MEASURED, _PRINTED)
    )
    ratios, acc, lower, cells = [], [], 0, 0
    for dataset in ours.index.intersection(printed.index, sort=False):
        name, o, p = DATASET_LABELS[dataset], ours.loc[dataset], printed.loc[dataset]
        ratios.append(
            f"{name}: DPR {number(o['dp_ratio'], 2)} (paper {number(p['dp_ratio'], 2)}), "
            f"EODR {number(o['eod_ratio'], 2)} (paper {number(p['eod_ratio'], 2)})"
        )
        acc.append(
            f"{name} {number(o['accuracy'], 1, 100)} % (paper {number(p['accuracy'], 1, 100)} %)"
        )
        both = [m for m in ("dp_ratio", "eod_ratio") if pd.notna(p[m]) and pd.notna(o[m])]
        cells, lower = cells + len(both), lower + sum(int(o[m] < p[m]) for m in both)
    out.update(
        t5_ratios_vs_paper="; ".join(ratios) or "no Table 5 dataset in this run",
        t5_accuracy_vs_paper="; ".join(acc) or "no Table 5 dataset in this run",
        t5_lower_than_paper=f"{lower} of {cells}",
    )
    # per dataset: the lowest DP difference, the highest accuracy, FaAlGrad's rank by DP difference
    lowest, accurate, ranks = [], [], []
    fa = table["family"] == "FaAlGrad"
    table = table.assign(
        name=table["method"].where(~fa, table["method"] + " (" + table["setting"] + ")")
    )
    for dataset, t in table.groupby("dataset", sort=False):
        label = DATASET_LABELS[dataset]
        dp = t.sort_values(["dp_diff_mean", "accuracy_mean"], ascending=[True, False])
        top = t.sort_values("accuracy_mean", ascending=False).iloc[0]
        lowest.append(f"{label}: {dp.iloc[0]['name']} ({number(dp.iloc[0]['dp_diff_mean'], 2)})")
        accurate.append(f"{label}: {top['name']} ({number(top['accuracy_mean'], 1, 100)} %)")
        ranks.append(
            f"{label} {int((dp['family'] == 'FaAlGrad').to_numpy().argmax()) + 1} of {len(dp)}"
        )
    out.update(
        lead_lowest_dp="; ".join(lowest),
        lead_most_accurate="; ".join(accurate),
        lead_faalgrad_dp_rank="; ".join(ranks),
    )
    gains = result["gains"]
    out.update(
        {
            f"gain_{m}_better": f"{int(gains[f'better_{m}'].sum())} of {len(gains)}"
            for m in ("auc", "auc_gap", "auc_worst")
        }
    )
    # the synthetic experiment, over the bargaining steps: one-stage against two-stage
    synth = result["synthetic_summary"]
    by, losses = synth.set_index(["objective", "method"]), synth[["loss_g0", "loss_g1"]]
    for col in ("both_fall", "conflict_used"):
        out[f"synth_{col}"] = "; ".join(
            f"{METHODS[o].label} {number(by.loc[(o, 'one_stage'), col], 0, 100)} % one-stage, "
            f"{number(by.loc[(o, 'two_stage'), col], 0, 100)} % two-stage"
            for o in OBJECTIVES
            if o in by.index
        )
    out.update(
        synth_bargain_steps=str(int(synth["bargain_steps"].iloc[0])),
        synth_final_spread=f"{number(losses.min().min(), 2)}-{number(losses.max().max(), 2)}",
        synth_max_final_gap=number((synth["loss_g0"] - synth["loss_g1"]).abs().max(), 2),
    )
    for prefix, v in zip(("beats", "conflict"), verdicts(result), strict=True):
        out.update({f"{prefix}_verdict": v.verdict, f"{prefix}_evidence": v.evidence})
    return out


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts: ``beats_meta`` (Table 5), then ``nash_conflict``."""
    return [
        _beats_meta_verdict(result["beats_cells"]),
        _nash_conflict_verdict(result["conflict_cells"]),
    ]
