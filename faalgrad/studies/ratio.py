"""The ratio ablation and the swap study (paper 5.5 and 5.6: Tables 2, 3 and 4, Figure 2).

Pages: ``book/ratio.ipynb`` (``Params(study="ratio")``: Tables 2 and 3, Figure 2, claims
``ratio`` and ``inner_steps``) and ``book/swap.ipynb`` (``Params(study="swap")``: Table 4,
the trend figure, claim ``swap``). Runs and infeasible cells:
:func:`faalgrad.runs.ablation_specs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faalgrad.datasets import DATASETS
from faalgrad.metrics import aggregate, mean_std
from faalgrad.runs import METHODS, RunSpec, ablation_specs
from faalgrad.runs.grids import STUDIES
from faalgrad.splits import PAPER_RATIOS, format_ratio, parse_ratio
from faalgrad.studies import PageResult, claims, forest, paper, stats
from faalgrad.studies._common import (
    DATASET_LABELS,
    in_dataset_order,
    k_of_n,
    number,
    paper_band,
    paper_vs_ours,
    seed_count,
)
from faalgrad.studies._sweep import BASE_THRESHOLD, sweep_curve, threshold_sweep
from faalgrad.validation import (
    check_choice,
    check_datasets,
    check_int_list,
    check_n_jobs,
    check_ratio_list,
    check_seeds,
)

__all__ = [
    "SWEEP_SERIES",
    "Params",
    "compute",
    "forest_figure",
    "glue_values",
    "specs",
    "verdicts",
]

SWEEP_SERIES = f"{METHODS['erm'].label}, threshold sweep"  #: Figure 2's name of the sweep curve.
_FAIRNESS: dict[str, str] = {
    "dp_diff": "DP",
    "eod_diff": "EOD",
}  #: The claims' metrics, with display names.
_STUDY_LABELS = {
    "ratio": "ratio: protected in X_s",
    "swap": "swap: unprotected in X_s",
}  #: The trend figure names.
_TABLE_METRICS = ("accuracy", "dp_diff", "eod_diff")
_GROUP_METRICS = ("acc_protected", "acc_unprotected")


@dataclass(frozen=True)
class Params:
    """The parameters of the ratio page (``study="ratio"``) and of the swap page (``"swap"``).

    Parameters
    ----------
    study : {"ratio", "swap"}
        Which group fills X_s: protected samples (ratio) or unprotected samples (swap).
    datasets, seeds, n_jobs
        Names from :data:`~faalgrad.datasets.DATASETS` (the prose quotes the first), seeds
        0..seeds-1, workers.
    ratios : sequence of float or str
        At least two distinct X_s shares (``0.2`` or ``"80:20"``).
    inner_steps : sequence of int
        Distinct inner-step counts I; at least two for ``ratio`` (its claim compares them).
    """

    study: str = "ratio"
    datasets: tuple[str, ...] = DATASETS
    seeds: int = 5
    ratios: tuple[float | str, ...] = tuple(format_ratio(r) for r in PAPER_RATIOS)
    inner_steps: tuple[int, ...] = (1, 10)
    n_jobs: int = 2

    def __post_init__(self) -> None:
        check_choice("study", self.study, STUDIES)
        least = 2 if self.study == "ratio" else 1
        object.__setattr__(self, "datasets", check_datasets("datasets", self.datasets))
        object.__setattr__(self, "ratios", check_ratio_list("ratios", self.ratios))
        object.__setattr__(
            self,
            "inner_steps",
            check_int_list("inner_steps", self.inner_steps, least=least, note="e.g. [1, 10]"),
        )
        check_seeds(self.seeds)
        check_n_jobs(self.n_jobs)


def _grid(params: Params, split: str) -> tuple[list[RunSpec], pd.DataFrame]:
    return ablation_specs(
        params.datasets, params.seeds, params.ratios, params.inner_steps, split=split
    )


def specs(params: Params) -> list[RunSpec]:
    """The study's feasible runs, then (swap page) those of the ratio study on the same grid."""
    return _grid(params, params.study)[0] + (
        _grid(params, "ratio")[0] if params.study == "swap" else []
    )


def _paper_values(split: str) -> pd.DataFrame:  # Table 2 (ratio) or Table 4 (swap: COMPAS, I = 1)
    table = (
        paper.table2()
        if split == "ratio"
        else paper.table4().assign(dataset="compas", inner_steps=1)
    )
    table = table.rename(columns={"ratio": "xq_xs"}).astype({"inner_steps": "Int64"})
    table["paper_feasible"] = table[list(_TABLE_METRICS)].notna().any(axis=1)
    return table[
        [
            "dataset",
            "inner_steps",
            "xq_xs",
            *_TABLE_METRICS,
            "paper_feasible",
            *table.filter(like="_spread"),
        ]
    ]


def _cells(
    rows: pd.DataFrame, infeasible: pd.DataFrame, split: str, metrics: Sequence[str]
) -> pd.DataFrame:
    """Our mean/std per (dataset, I, ratio), with the infeasible cells as rows of NaN."""
    rows = rows[rows["split"] == split] if len(rows) else rows
    ours = (
        aggregate(rows, ["dataset", "inner_steps", "ratio"], tuple(metrics))
        if len(rows)
        else pd.DataFrame(
            columns=["dataset", "inner_steps", "ratio", "n_seeds"]
            + [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
        )
    )
    ours["feasible"], ours["reason"] = True, ""
    bad = infeasible[infeasible["split"] == split] if len(infeasible) else infeasible
    bad = bad.assign(feasible=False, n_seeds=0)[
        ["dataset", "inner_steps", "ratio", "feasible", "reason", "n_seeds"]
    ]
    cells = pd.concat([ours, bad], ignore_index=True) if len(bad) else ours
    cells = cells.astype({"inner_steps": "Int64", "ratio": float, "n_seeds": int, "feasible": bool})
    return in_dataset_order(
        cells.assign(xq_xs=[format_ratio(r) for r in cells["ratio"]]), ["inner_steps", "ratio"]
    )


def _beside_paper(
    out: pd.DataFrame, metrics: Sequence[str], first: list[str], last: list[str]
) -> pd.DataFrame:
    for m in metrics:
        out[f"{m}_paper"] = out.pop(m).astype(float)
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[f"{m}_paper"]
    return out[
        first + [f"{m}_{s}" for m in metrics for s in ("paper", "mean", "std", "diff")] + last
    ]


def _ablation_table(
    rows: pd.DataFrame, infeasible: pd.DataFrame, *, split: str = "ratio"
) -> pd.DataFrame:
    """Table 2 (``ratio``) or Table 4 (``swap``) from run rows, beside the paper.

    Parameters
    ----------
    rows, infeasible : pandas.DataFrame
        Run rows (other splits are ignored) and the infeasible cells of
        :func:`~faalgrad.runs.ablation_specs`.
    split : {"ratio", "swap"}

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, I, ratio) cell, infeasible ones included (``feasible`` False,
        ``reason``): ``<metric>_paper``, ``_mean``, ``_std``, ``_diff`` (ours - paper) for
        accuracy (fraction), DP and EOD difference; ``paper_feasible`` (False: the paper
        reports it as not feasible; NaN: no such cell).
    """
    check_choice("split", split, STUDIES)
    cells = _cells(rows, infeasible, split, _TABLE_METRICS)
    cells = cells.merge(_paper_values(split), on=["dataset", "inner_steps", "xq_xs"], how="left")
    return _beside_paper(
        cells,
        _TABLE_METRICS,
        ["dataset", "inner_steps", "ratio", "xq_xs", "feasible", "reason"],
        ["paper_feasible", "n_seeds"],
    )


def _group_table(
    rows: pd.DataFrame, infeasible: pd.DataFrame, sweep: pd.DataFrame, *, dataset="compas"
) -> pd.DataFrame:
    """Table 3: per-group accuracy (fractions) of the baseline MLP (the ``sweep``'s
    threshold-0.5 rows; ``xq_xs`` "baseline", no I), then of each (I, ratio) cell of
    ``rows``/``infeasible`` (as for :func:`_ablation_table`), beside the paper:
    ``acc_{protected,unprotected}_{paper,mean,std,diff}``, ``gap_paper`` and ``gap_mean``
    (unprotected minus protected accuracy)."""
    cells = _cells(
        rows[rows["dataset"] == dataset] if len(rows) else rows,
        infeasible[infeasible["dataset"] == dataset] if len(infeasible) else infeasible,
        "ratio",
        _GROUP_METRICS,
    )
    base = sweep[(sweep["dataset"] == dataset) & np.isclose(sweep["threshold"], BASE_THRESHOLD)]
    if len(base):
        agg = aggregate(base.assign(row="baseline"), ["row"], _GROUP_METRICS).drop(columns="row")
        agg = agg.assign(
            dataset=dataset,
            inner_steps=pd.NA,
            ratio=np.nan,
            xq_xs="baseline",
            feasible=True,
            reason="",
        )
        cells = pd.concat([agg.astype({"inner_steps": "Int64"}), cells], ignore_index=True)
    reported = (
        paper.table3()
        if dataset == "compas"
        else pd.DataFrame(columns=["inner_steps", "ratio", *_GROUP_METRICS])
    )
    out = cells.merge(
        reported.rename(columns={"ratio": "xq_xs"}).astype({"inner_steps": "Int64"}),
        on=["inner_steps", "xq_xs"],
        how="left",
    )
    out = _beside_paper(
        out, _GROUP_METRICS, ["dataset", "inner_steps", "xq_xs", "feasible", "reason"], ["n_seeds"]
    )
    out.insert(
        len(out.columns) - 1, "gap_paper", out["acc_unprotected_paper"] - out["acc_protected_paper"]
    )
    out.insert(
        len(out.columns) - 1, "gap_mean", out["acc_unprotected_mean"] - out["acc_protected_mean"]
    )
    return out


def _why_infeasible(reason: str) -> str:
    """The builder's reason without its "ratio ... is infeasible for ...:" head."""
    head, sep, tail = reason.partition(": ")
    return tail if sep and "infeasible" in head else reason


def _format_infeasible(table: pd.DataFrame) -> pd.DataFrame:
    """Why cells of :func:`_ablation_table` are infeasible, shown below the table instead of
    a note per cell: per dataset with such a cell, the X_q:X_s ratios infeasible here (for
    every I: feasibility does not depend on it) with the builder's reason, and those the
    paper reports as not feasible."""
    says = table["paper_feasible"] if "paper_feasible" in table else pd.Series(index=table.index)
    in_paper = table.assign(
        here=~table["feasible"].astype(bool),
        paper=[isinstance(v, (bool, np.bool_)) and not v for v in says],
    )
    records = []
    for dataset, cells in in_paper.groupby("dataset", sort=False):
        here, paper_says = cells[cells["here"]], cells[cells["paper"]]
        if here.empty and paper_says.empty:
            continue
        records.append(
            {
                "dataset": dataset,
                "infeasible here": ", ".join(dict.fromkeys(here["xq_xs"])) or "–",
                "why": "; ".join(dict.fromkeys(_why_infeasible(r) for r in here["reason"])) or "–",
                "not feasible in the paper": ", ".join(dict.fromkeys(paper_says["xq_xs"])) or "–",
            }
        )
    if not records:
        return pd.DataFrame({"infeasible cells": ["none: every cell is feasible"]})
    return pd.DataFrame(records)


def _format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable :func:`_ablation_table` or :func:`_group_table`: accuracies in percent,
    "mean ± std" (or "infeasible") cells, paper and difference columns (why a cell is
    infeasible, here or in the paper, is :func:`_format_infeasible`'s table)."""
    groups = "gap_mean" in table
    shown = (
        (("acc_protected", 100, "protected"), ("acc_unprotected", 100, "unprotected"))
        if groups
        else (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD"))
    )
    out = pd.DataFrame(
        {"I": table["inner_steps"].astype("string").fillna("–"), "X_q:X_s": table["xq_xs"]}
    )
    out = pd.concat(
        [
            out if groups else out.assign(dataset=table["dataset"])[["dataset", "I", "X_q:X_s"]],
            paper_vs_ours(table, shown, digits, table["feasible"]),
        ],
        axis=1,
    )
    if groups:
        out["gap paper"] = [number(v, digits, 100) for v in table["gap_paper"]]
        out["gap ours"] = [number(v, digits, 100) for v in table["gap_mean"]]
    return out.reset_index(drop=True)


def _tradeoff_frame(table: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """Figure 2, long form: ``dataset``, ``series`` (:data:`SWEEP_SERIES`, then
    ``"FaAlGrad, I=<I>"``), ``label`` (threshold or X_q:X_s), ``accuracy`` (percent),
    ``dp_diff``; means over the seeds."""
    curve, ok = sweep_curve(sweep), table[table["feasible"]]
    line = pd.DataFrame(
        {
            "dataset": curve["dataset"],
            "series": SWEEP_SERIES,
            "label": [f"t={t:.2f}" for t in curve["threshold"]],
            "accuracy": 100 * curve["accuracy"],
            "dp_diff": curve["dp_diff"],
        }
    )
    series = [f"{METHODS['faalgrad'].label}, I={i}" for i in ok["inner_steps"]]
    points = pd.DataFrame(
        {
            "dataset": ok["dataset"],
            "series": series,
            "label": ok["xq_xs"],
            "accuracy": 100 * ok["accuracy_mean"],
            "dp_diff": ok["dp_diff_mean"],
        }
    )
    return pd.concat([line, points], ignore_index=True)


def _sweep_comparison(table: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """Per feasible cell of DP difference d: ``sweep_accuracy``, the best mean accuracy of a
    threshold whose mean DP difference is at most d (NaN if none), and ``above`` (the cell's
    accuracy exceeds it)."""
    curve = sweep_curve(sweep)
    out = table.loc[
        table["feasible"], ["dataset", "inner_steps", "xq_xs", "accuracy_mean", "dp_diff_mean"]
    ].copy()
    out["sweep_accuracy"] = np.asarray(
        [
            curve.loc[(curve["dataset"] == d) & (curve["dp_diff"] <= dp), "accuracy"].max()
            for d, dp in zip(out["dataset"], out["dp_diff_mean"], strict=True)
        ],
        dtype=float,
    )
    out["above"] = ~(out["sweep_accuracy"] >= out["accuracy_mean"])
    return out.reset_index(drop=True)


def _trend_long(rows: pd.DataFrame, *, with_paper: bool = True) -> pd.DataFrame:
    """DP and EOD difference against ``x_s_share`` per run, long form (``study``:
    :data:`_STUDY_LABELS`, ``source``: "ours"; with ``with_paper``, "paper" rows: Tables 2
    and 4 for the same datasets and I)."""
    names, keys = (
        {"dp_diff": "DP difference", "eod_diff": "EOD difference"},
        ["dataset", "split", "inner_steps", "ratio"],
    )
    rows = rows[rows["split"].isin(STUDIES)]
    frames = [
        rows.melt(
            id_vars=keys, value_vars=list(names), var_name="metric", value_name="value"
        ).assign(source="ours")
    ]
    for split in STUDIES if with_paper else ():
        if (rows["split"] == split).any():
            ran = rows.loc[rows["split"] == split, ["dataset", "inner_steps"]].drop_duplicates()
            reported = _paper_values(split).merge(
                ran.astype({"inner_steps": "Int64"}), on=["dataset", "inner_steps"]
            )
            reported = reported.assign(
                split=split, ratio=[parse_ratio(r) for r in reported["xq_xs"]]
            )
            frames.append(
                reported.melt(
                    id_vars=keys, value_vars=list(names), var_name="metric", value_name="value"
                )
                .dropna(subset=["value"])
                .assign(source="paper")
            )
    out = pd.concat(frames, ignore_index=True)
    out["study"], out["metric"] = out.pop("split").map(_STUDY_LABELS), out["metric"].map(names)
    out = out.rename(columns={"ratio": "x_s_share"}).astype({"inner_steps": int, "value": float})
    return out[["dataset", "study", "inner_steps", "source", "x_s_share", "metric", "value"]]


def _first_last(
    table: pd.DataFrame,
    value: str,
    along: str,
    within: list[str],
    names: list[str],
    rows: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per (dataset, ``within``, metric): ``value`` at the first and last setting ``along``.

    Without run ``rows``, ``holds`` means the value fell. With them, each case is the paired
    change over seeds (last setting − first: ``n``, ``mean``, ``sd``, ``low``, ``high``)
    beside the paper's own change between the same settings (``paper_effect``, missing
    where the paper has no value at either), and its ``outcome``
    (:func:`~faalgrad.studies.stats.cell_outcomes` in the claim's direction, a fall,
    Holm-corrected over the claim's cases); ``holds`` means *reproduced*.
    """
    out, tests = [], []
    for metric in _FAIRNESS:
        col = f"{metric}_{value}"
        for key, cell in (
            table[table[col].notna()].sort_values(along).groupby(["dataset", *within], sort=False)
        ):
            if len(cell) >= 2:
                first, last = cell.iloc[0], cell.iloc[-1]
                out.append((*key, metric, *cell[names[0]].iloc[[0, -1]], first[col], last[col]))
                if rows is not None:  # per seed, paired: last setting minus first
                    own = rows[(rows["dataset"] == key[0]) & np.isclose(rows[within[0]], key[1])]
                    wide = own.pivot_table(index="seed", columns=along, values=metric)
                    change = wide[last[along]] - wide[first[along]]
                    paper_col = f"{metric}_paper"
                    tests.append(
                        {
                            **stats.paired_difference(wide[last[along]], wide[first[along]]),
                            "sd": float(change.std(ddof=1)),
                            "paper_effect": last.get(paper_col, np.nan)
                            - first.get(paper_col, np.nan),
                        }
                    )
    cases = pd.DataFrame(out, columns=["dataset", *within, "metric", *names[1:]])
    holds = cases[names[-1]] < cases[names[-2]]
    if rows is not None and len(cases):
        cases = pd.concat([cases, pd.DataFrame(tests, index=cases.index)], axis=1)
        cases = stats.cell_outcomes(cases, direction=-1)
        holds = cases["outcome"].isin([stats.REPRODUCED, stats.REPRODUCED_SMALLER])
    return in_dataset_order(cases.assign(holds=holds), [*within, "metric"])


def _trend_cases(
    table: pd.DataFrame, value: str = "mean", rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per (dataset, I, metric) with two ratios or more: ``{metric}_{value}`` (``"mean"``:
    ours; ``"paper"``) at the smallest and largest ratio (``from_value``, ``to_value``);
    ``holds`` if it fell. With the run ``rows``, ``holds`` means a fall significant in a
    paired test over seeds, Holm-corrected across cases."""
    return _first_last(
        table,
        value,
        "ratio",
        ["inner_steps"],
        ["xq_xs", "from_ratio", "to_ratio", "from_value", "to_value"],
        rows,
    )


def _steps_cases(
    table: pd.DataFrame, value: str = "mean", rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per (dataset, ratio, metric) with two I or more: ``{metric}_{value}`` at the fewest and
    the most inner steps (``few_value``, ``many_value``); ``holds`` as in
    :func:`_trend_cases`."""
    return _first_last(
        table,
        value,
        "inner_steps",
        ["ratio", "xq_xs"],
        ["inner_steps", "few_steps", "many_steps", "few_value", "many_value"],
        rows,
    )


def _counted(cases: pd.DataFrame) -> tuple[str, str]:
    """The claim's verdict over its cases and their outcomes counted per metric.

    The rule is :func:`~faalgrad.studies.claims.verdict_on_every_dataset` over the cases
    of both metrics: *reproduced* when every dataset has a reproduced case and none is
    contradicted or opposite; *contradicted* when on some dataset every case is; otherwise
    *inconclusive*.
    """
    counts = "; ".join(
        f"{_FAIRNESS[m]}: {claims.outcome_counts(cases.loc[cases['metric'] == m, 'outcome'])}"
        for m in _FAIRNESS
        if (cases["metric"] == m).any()
    )
    return claims.verdict_on_every_dataset(cases), counts


def _power_note(cases: pd.DataFrame) -> str:
    """The seeds 80 % power would need where the data cannot tell and the paper has an effect."""
    open_cases = cases[(cases["outcome"] == stats.INCONCLUSIVE) & (cases["paper_effect"] < 0)]
    level = stats.ALPHA / max(int(cases["p_smaller"].notna().sum()), 1)
    needed = [
        stats.seeds_for_power(r.paper_effect, r.sd, alpha=level) for r in open_cases.itertuples()
    ]
    known = [n for n in needed if n is not None]
    if not needed:
        return ""
    if not known:
        return " Where the data cannot tell, no affordable number of seeds would decide it."
    return (
        f" Where the data cannot tell, 80 % power against the paper's change would take "
        f"{min(known)} to {max(known)} seeds per case"
        + (f"; more than 1000 in {len(needed) - len(known)} of them" if None in needed else "")
        + "."
    )


def _trend_verdict(cases: pd.DataFrame, study: str = "ratio") -> claims.Verdict:
    """Claim ``ratio`` (or ``swap``), from :func:`_trend_cases` with run rows, by the rule
    of :func:`_counted`."""
    key, what = (
        check_choice("study", study, STUDIES),
        {"ratio": "The fairness gap", "swap": "With unprotected samples in X_s, the gap"},
    )
    if cases.empty:
        raise ValueError(
            f"claim {key!r}: no (dataset, I) cell has two feasible ratios to compare; "
            "add ratios or datasets"
        )
    verdict, counts = _counted(cases)
    details = "; ".join(
        f"{dataset} I={steps} ({group['from_ratio'].iloc[0]}→{group['to_ratio'].iloc[0]}): "
        + ", ".join(
            f"{_FAIRNESS[r.metric]} {r.from_value:.3f}→{r.to_value:.3f}" for r in group.itertuples()
        )
        for (dataset, steps), group in cases.groupby(["dataset", "inner_steps"], sort=False)
    )
    return claims.Verdict(
        key,
        verdict,
        f"{what[key]} at the largest feasible ratio against the smallest, per (dataset, I) "
        f"case: {counts} (paired over {seed_count(cases['n'])} seeds and Holm-corrected over "
        f"the {len(cases)} cases, set against the paper's own change between the same "
        f"ratios).{_power_note(cases)} Means: {details}.",
    )


def _inner_steps_verdict(cases: pd.DataFrame) -> claims.Verdict:
    """Claim ``inner_steps``, from :func:`_steps_cases` with run rows, by the rule of
    :func:`_counted`."""
    if cases.empty:
        raise ValueError(
            "claim 'inner_steps': needs at least two inner_steps values with a common feasible cell"
        )
    verdict, counts = _counted(cases)
    lo, hi = int(cases["few_steps"].iloc[0]), int(cases["many_steps"].iloc[0])
    mean = (
        cases.assign(change=cases["many_value"] - cases["few_value"])
        .groupby(["dataset", "metric"], sort=False)["change"]
        .mean()
        .unstack("metric")
    )
    details = "; ".join(
        f"{d}: "
        + ", ".join(
            f"{_FAIRNESS[m]} {mean.loc[d, m]:+.3f}"
            for m in _FAIRNESS
            if m in mean and pd.notna(mean.loc[d, m])
        )
        for d in mean.index
    )
    return claims.Verdict(
        "inner_steps",
        verdict,
        f"The fairness gap at I={hi} against I={lo}, per (dataset, ratio) case: {counts} "
        f"(paired over {seed_count(cases['n'])} seeds and Holm-corrected over the "
        f"{len(cases)} cases, set against the paper's own change).{_power_note(cases)} "
        f"Mean change from I={lo} to I={hi} per dataset: {details}.",
    )


def _table_summary(table: pd.DataFrame, *, far: float = 0.05) -> dict[str, str]:
    """Text from :func:`_ablation_table`: ``n_infeasible`` ("k of n" cells),
    ``infeasible_cells`` and ``largest_feasible`` (per dataset), ``n_compared``,
    ``mean_abs_{acc,dp,eod}_diff`` (ours - paper, accuracy in points), ``far``, ``n_dp_far``
    (cells whose DP is more than ``far`` off), ``worst_dp_cell``."""
    ok, bad = table[table["feasible"]], table[~table["feasible"]].groupby("dataset", sort=False)
    both = ok[ok["dp_diff_paper"].notna()]
    limits = bad["reason"].first().map(lambda r: r.rpartition("largest feasible ratio is ")[2] or r)
    out = {
        "n_infeasible": k_of_n(~table["feasible"]),
        "infeasible_cells": "; ".join(f"{d} {', '.join(dict.fromkeys(s))}" for d, s in bad["xq_xs"])
        or "none",
        "largest_feasible": "; ".join(f"{d} {v}" for d, v in limits.items())
        or "no requested ratio exceeds it",
        "n_compared": str(int(ok["accuracy_paper"].notna().sum())),
        "mean_abs_acc_diff": number(ok["accuracy_diff"].abs().mean(), 1, 100),
        "mean_abs_dp_diff": number(both["dp_diff_diff"].abs().mean(), 3),
        "mean_abs_eod_diff": number(ok["eod_diff_diff"].abs().mean(), 3),
        "far": f"{far:.2f}",
        "n_dp_far": k_of_n(both["dp_diff_diff"].abs() > far),
        "worst_dp_cell": "–",
    }
    if len(both):
        worst = both.loc[both["dp_diff_diff"].abs().idxmax()]
        out["worst_dp_cell"] = (
            f"{worst['dataset']}, I={worst['inner_steps']}, {worst['xq_xs']}: "
            f"{worst['dp_diff_mean']:.2f} against the paper's {worst['dp_diff_paper']:.2f}"
        )
    return out


def _cell_value(
    table: pd.DataFrame, dataset: str, inner_steps: int, which: str, metric: str
) -> dict[str, str]:
    """Text (``xq_xs``, ``ours``, ``paper``) of ``metric`` at the first or last feasible ratio
    of a (dataset, I)."""
    cells = table[
        (table["dataset"] == dataset) & (table["inner_steps"] == inner_steps) & table["feasible"]
    ]
    if cells.empty:
        return {"xq_xs": "–", "ours": "–", "paper": "–"}
    row, scale = (
        cells.sort_values("ratio").iloc[0 if which == "first" else -1],
        100 if metric == "accuracy" else 1,
    )
    return {
        "xq_xs": row["xq_xs"],
        "ours": mean_std(row[f"{metric}_mean"], row[f"{metric}_std"], 2, scale),
        "paper": number(row[f"{metric}_paper"], 2, scale),
    }


def _group_summary(table: pd.DataFrame) -> dict[str, str]:
    """Text from :func:`_group_table`, percent: ``base_{protected,unprotected,gap}_{ours,paper}``
    (the baseline), ``gap_{ours,paper}`` (mean gap of the FaAlGrad cells both have),
    ``n_narrower`` (cells narrower than it)."""
    cells, base = (
        table[(table["xq_xs"] != "baseline") & table["feasible"]],
        table[table["xq_xs"] == "baseline"],
    )
    first = base.iloc[0] if len(base) else pd.Series(dtype=float)
    both, base_gap = cells.dropna(subset=["gap_mean", "gap_paper"]), first.get("gap_mean", np.nan)
    out = {
        f"base_{name}_{who}": number(first.get(f"{col}_{src}", np.nan), 2, 100)
        for name, col in (
            ("protected", "acc_protected"),
            ("unprotected", "acc_unprotected"),
            ("gap", "gap"),
        )
        for who, src in (("ours", "mean"), ("paper", "paper"))
    }
    return {
        **out,
        "gap_ours": number(both["gap_mean"].mean(), 2, 100),
        "gap_paper": number(both["gap_paper"].mean(), 2, 100),
        "n_narrower": k_of_n(cells["gap_mean"] < base_gap) if pd.notna(base_gap) else "–",
    }


def _sweep_summary(comparison: pd.DataFrame) -> dict[str, str]:
    """Text from :func:`_sweep_comparison`: ``n_above`` ("k of n" cells) and ``per_dataset``
    ("compas 3 of 8; ...")."""
    per = comparison.groupby("dataset", sort=False)["above"]
    return {
        "n_above": k_of_n(comparison["above"]),
        "per_dataset": "; ".join(f"{d} {k_of_n(a)}" for d, a in per) or "–",
    }


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Every table of the page; the ratio page also runs the baseline's threshold sweep
    (:func:`~faalgrad.studies._sweep.threshold_sweep`, Figure 2's curve) here.

    Parameters
    ----------
    params, rows
        The :class:`Params`; the rows of :func:`specs` run by :func:`faalgrad.runs.run_grid`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``headline`` (study, first dataset and I, seeds), ``table``
        (:func:`_ablation_table`), ``paper`` (printable), ``infeasible_shown`` (why cells are
        infeasible, :func:`_format_infeasible`), ``band`` (the "ours" cells in the paper's ±
        spread), ``trend_cases``; ratio page: ``steps_cases``, ``groups``
        (:func:`_group_table`), ``groups_shown``, ``tradeoff`` (Figure 2),
        ``sweep_comparison``; swap page: ``unswapped`` (the ratio study's cases), ``trend``.
    """
    infeasible = _grid(params, params.study)[1]
    table = _ablation_table(rows, infeasible, split=params.study)
    out = {
        "headline": pd.DataFrame(
            {
                "study": [params.study],
                "dataset": [params.datasets[0]],
                "inner_steps": [params.inner_steps[0]],
                "seeds": [params.seeds],
            }
        ),
        "table": table,
        "paper": _format_table(table),
        "infeasible_shown": _format_infeasible(table),
        "band": paper_band(table, _paper_values(params.study), ["dataset", "inner_steps", "xq_xs"]),
        "trend_cases": _trend_cases(table, rows=rows[rows["split"] == params.study]),
    }
    if params.study == "swap":
        return {
            **out,
            "unswapped": _trend_cases(
                _ablation_table(rows, _grid(params, "ratio")[1]),
                rows=rows[rows["split"] == "ratio"],
            ),
            "trend": _trend_long(rows),
        }
    out["steps_cases"] = _steps_cases(table, rows=rows[rows["split"] == "ratio"])
    sweep = threshold_sweep(params.datasets, params.seeds, n_jobs=params.n_jobs)
    groups = _group_table(rows, infeasible, sweep, dataset="compas")
    return {
        **out,
        "groups": groups,
        "groups_shown": _format_table(groups),
        "tradeoff": _tradeoff_frame(table, sweep),
        "sweep_comparison": _sweep_comparison(table, sweep),
    }


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the prose quotes, as text (``t2_``, ``t3_``, ``fig2_``: ratio page;
    ``t4_``: swap page)."""
    head, table = result["headline"].iloc[0], result["table"]
    dataset, steps, ratio = head["dataset"], int(head["inner_steps"]), head["study"] == "ratio"
    out = {
        "n_seeds": str(int(head["seeds"])),
        "head_dataset": dataset,
        "head_steps": str(steps),
        **{f"{'t2' if ratio else 't4'}_{k}": v for k, v in _table_summary(table).items()},
    }
    for metric, which in [
        (m, w)
        for m in (("dp_diff",) if ratio else ("accuracy", "dp_diff"))
        for w in ("first", "last")
    ]:
        name = f"head_{which}" if ratio else f"head_{metric}_{which}"
        out.update(
            {f"{name}_{k}": v for k, v in _cell_value(table, dataset, steps, which, metric).items()}
        )
    if not ratio:
        return {
            **out,
            "swap_paper_counts": k_of_n(_trend_cases(table, "paper")["holds"]),
            "unswapped_counts": k_of_n(result["unswapped"]["holds"]),
        }
    return {
        **out,
        **{f"t3_{k}": v for k, v in _group_summary(result["groups"]).items()},
        **{f"fig2_{k}": v for k, v in _sweep_summary(result["sweep_comparison"]).items()},
        "ratio_paper_counts": k_of_n(_trend_cases(table, "paper")["holds"]),
        "steps_paper_counts": k_of_n(_steps_cases(table, "paper")["holds"]),
    }


def forest_figure(result: PageResult, claim: str):
    """The forest plot of the page's claim ``claim`` ("ratio" or "swap": each case's change
    from the smallest to the largest ratio; "inner_steps": from the fewest to the most inner
    steps), with its 95 % interval, coloured by outcome, the paper's change (×).

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice("claim", claim, ("ratio", "inner_steps", "swap"))
    if claim == "inner_steps":
        cases = result["steps_cases"]
        labels = [
            f"{DATASET_LABELS[r.dataset]} · {r.xq_xs} · {_FAIRNESS[r.metric]}"
            for r in cases.itertuples()
        ]
        what = "most − fewest inner steps"
    else:
        cases = result["trend_cases"]
        labels = [
            f"{DATASET_LABELS[r.dataset]} · I={int(r.inner_steps)} · {_FAIRNESS[r.metric]}"
            for r in cases.itertuples()
        ]
        what = "largest − smallest ratio"
    return forest.forest_figure(cases, labels, f"change of the gap, {what} (×: the paper's)")


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts: ``ratio`` and ``inner_steps`` (ratio page), or ``swap``."""
    if result["headline"]["study"].iloc[0] == "swap":
        return [_trend_verdict(result["trend_cases"], "swap")]
    return [_trend_verdict(result["trend_cases"]), _inner_steps_verdict(result["steps_cases"])]
