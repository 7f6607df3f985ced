"""Why the numbers differ: an attribution path from the authors' released setup to this
book's, then toward the paper's text, one factor at a time, with paired confidence
intervals for every step. Page: ``book/diagnosis.ipynb`` ("Why the numbers differ").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faalgrad.datasets import DATASETS
from faalgrad.metrics import aggregate, mean_std
from faalgrad.presets import CODE_SETTINGS
from faalgrad.runs import RunSpec, setup_fields
from faalgrad.studies import PageResult, claims, paper, stats
from faalgrad.studies._common import DATASET_LABELS, number
from faalgrad.validation import check_datasets, check_int, check_n_jobs, check_seeds

__all__ = [
    "CONFIGS",
    "Params",
    "compute",
    "glue_values",
    "specs",
    "verdicts",
]

CONFIGS: tuple[str, ...] = ("config1", "config2")
#: The compared metrics, with their display names.
_METRICS: dict[str, str] = {
    "accuracy": "accuracy",
    "dp_diff": "DP difference",
    "eod_diff": "EOD difference",
}
#: Longer training for the last step: (epoch cap, patience).
_LONGER = (300, 30)

#: The path, one factor per step: (key, label, what the step changes). The first state is
#: the authors' script replayed (COMPAS) or its procedure (other datasets).
_STEPS: tuple[tuple[str, str], ...] = (
    ("code", "authors' setup"),
    ("splits", "splits: 70/10/20 unstratified → 70/15/15 stratified"),
    ("inputs", "inputs: unscaled → standardised"),
    ("rates", "learning rates: code → paper"),
    ("protected", "protected attribute: input → excluded (paper text)"),
    ("direction", "Config 2 X_q: counter-stereotypical → stereotype-consistent (paper text)"),
    ("longer", f"training: at most 100 epochs, patience 10 → {_LONGER[0]}, {_LONGER[1]}"),
)
_LABELS = dict(_STEPS)
#: The step after which a run has this book's default setup.
_OURS = "rates"


@dataclass(frozen=True)
class Params:
    """The page's parameters: datasets, seeds (0..seeds-1, at least 10 for the intervals) and
    workers."""

    datasets: tuple[str, ...] = DATASETS
    seeds: int = 10
    n_jobs: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "datasets", check_datasets("datasets", self.datasets, distinct=True)
        )
        check_seeds(self.seeds)
        check_int(
            "seeds",
            self.seeds,
            minimum=2,
            note="paired intervals need at least 2 seeds; the page uses 10",
        )
        check_n_jobs(self.n_jobs)


def _path(dataset: str, split: str) -> list[tuple[str, dict]]:
    """The states of the path for one dataset and support/query split: ``(step key, RunSpec
    kwargs)``.

    COMPAS starts from the authors' script (:func:`~faalgrad.runs.setup_fields`); other
    datasets from its procedure (its splits, unscaled inputs; their paper learning rates,
    so the ``rates`` step is left out). The ``direction`` step applies to Config 2 only.
    """
    code = dataset in CODE_SETTINGS
    state: dict = (
        {**setup_fields("code", dataset, "faalgrad")}
        if code
        else {"split_procedure": "code", "inputs": "raw", "overrides": {}}
    )
    state = {"split": split, "include_protected": True, "direction": "counter", **state}
    out = [("code", dict(state))]
    changes = {
        "splits": {"split_procedure": "paper"},
        "inputs": {"inputs": "scaled"},
        "rates": {"overrides": {}},
        "protected": {"include_protected": False},
        "direction": {"direction": "consistent"},
        "longer": {"overrides": {"max_epochs": _LONGER[0], "patience": _LONGER[1]}},
    }
    for key, change in changes.items():
        if (key == "rates" and not code) or (key == "direction" and split != "config2"):
            continue
        state = {**state, **change}
        out.append((key, dict(state)))
    return out


def specs(params: Params) -> list[RunSpec]:
    """Every state of every path, on seeds 0..seeds-1 (the same seeds, paired across states)."""
    return [
        RunSpec(dataset, "faalgrad", seed=seed, **kwargs)
        for dataset in params.datasets
        for split in CONFIGS
        for _, kwargs in _path(dataset, split)
        for seed in range(params.seeds)
    ]


def _signature(split_procedure, inputs, include_protected, direction, overrides) -> tuple:
    return split_procedure, inputs, bool(include_protected), direction, overrides


def _state_keys(rows: pd.DataFrame) -> pd.Series:
    """The step key of each run row (its position on its path)."""
    lookup = {}
    for dataset, split in rows[["dataset", "split"]].drop_duplicates().itertuples(index=False):
        for key, kw in _path(dataset, split):
            text = ",".join(f"{k}={v}" for k, v in sorted(kw["overrides"].items()))
            lookup[
                (
                    dataset,
                    split,
                    _signature(
                        kw["split_procedure"],
                        kw["inputs"],
                        kw["include_protected"],
                        kw["direction"],
                        text,
                    ),
                )
            ] = key
    keys = [
        lookup.get(
            (
                r.dataset,
                r.split,
                _signature(
                    r.split_procedure,
                    r.inputs,
                    r.include_protected,
                    r.direction,
                    r.overrides if isinstance(r.overrides, str) else "",
                ),
            )
        )
        for r in rows.itertuples()
    ]
    if any(k is None for k in keys):
        raise ValueError("some run rows are on no path of this page")
    return pd.Series(keys, index=rows.index)


def _state_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of accuracy, DP and EOD difference per (dataset, split, state)."""
    rows = rows.assign(step=_state_keys(rows))
    return aggregate(rows, ["dataset", "split", "step"], tuple(_METRICS) + ("best_epoch",))


def _step_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Each step's effect: paired difference (this state − the previous one) per metric.

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, split, step, metric): ``n`` seeds, ``mean``, 95 % ``low`` and
        ``high``, ``p`` and ``p_holm`` (Holm across the steps of one dataset, split and metric).
    """
    rows = rows.assign(step=_state_keys(rows))
    out = []
    for (dataset, split), group in rows.groupby(["dataset", "split"], sort=False):
        keys = [k for k, _ in _path(dataset, split)]
        for metric in _METRICS:
            wide = group.pivot(index="seed", columns="step", values=metric)
            part = [
                {
                    "dataset": dataset,
                    "split": split,
                    "step": after,
                    "metric": metric,
                    **stats.paired_difference(wide[after], wide[before]),
                }
                for before, after in zip(keys[:-1], keys[1:], strict=True)
            ]
            adjusted = stats.holm([r["p"] for r in part])
            out += [{**r, "p_holm": p} for r, p in zip(part, adjusted, strict=True)]
    return pd.DataFrame(out)


def _waterfall_frame(
    states: pd.DataFrame, steps: pd.DataFrame, metric: str = "dp_diff"
) -> pd.DataFrame:
    """Bars of a waterfall per (dataset, split): start = the previous state's mean, end = this
    state's."""
    frames = []
    for (dataset, split), group in states.groupby(["dataset", "split"], sort=False):
        means = group.set_index("step")[f"{metric}_mean"]
        keys = [k for k, _ in _path(dataset, split)]
        change = steps[
            (steps["dataset"] == dataset) & (steps["split"] == split) & (steps["metric"] == metric)
        ]
        change = change.set_index("step")
        frames.append(
            pd.DataFrame(
                {
                    "dataset": dataset,
                    "split": split,
                    "step": keys,
                    "label": [_LABELS[k] for k in keys],
                    "start": [np.nan] + [means[k] for k in keys[:-1]],
                    "end": [means[k] for k in keys],
                    "low": [np.nan]
                    + [
                        means[b] + change.loc[k, "low"]
                        for b, k in zip(keys[:-1], keys[1:], strict=True)
                    ],
                    "high": [np.nan]
                    + [
                        means[b] + change.loc[k, "high"]
                        for b, k in zip(keys[:-1], keys[1:], strict=True)
                    ],
                    "paper": _paper_value(dataset, split, metric),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _paper_value(dataset: str, split: str, metric: str) -> float:
    reported = paper.table1()
    cell = reported[
        (reported["dataset"] == dataset)
        & (reported["row"] == split)
        & (reported["inner_steps"] == 1)
    ]
    return float(cell[metric].iloc[0]) if len(cell) else np.nan


def _format_step_legend() -> pd.DataFrame:
    """The steps of the path in order: short name (as :func:`_format_steps` prints it) and what
    the step changes (from → to)."""
    steps = [label.partition(": ") for key, label in _STEPS if key != "code"]
    return pd.DataFrame({"step": [s for s, _, _ in steps], "change": [c for _, _, c in steps]})


def _format_steps(steps: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """Printable :func:`_step_table`: one row per (dataset, split, step) in path order, the
    step by its short name (:func:`_format_step_legend` says what it changes), per metric the
    mean change Δ ("*": significant after Holm) with its 95 % CI in one cell (accuracy in
    points, one decimal; DP and EOD, three); indexed by (dataset, split), so that each is
    shown once."""
    printed = steps.set_index(["dataset", "split", "step", "metric"])[
        ["mean", "low", "high", "p_holm"]
    ].unstack("metric")
    out = []
    order = [(d, c, k) for d in datasets for c in CONFIGS for k, _ in _path(d, c)[1:]]
    for dataset, split, step in order:
        if (dataset, split, step) not in printed.index:
            continue
        row = printed.loc[(dataset, split, step)]
        entry = {
            "dataset": DATASET_LABELS[dataset],
            "split": split.replace("config", "Config "),
            "step": _LABELS[step].partition(": ")[0],
        }
        for metric, name in (("accuracy", "accuracy"), ("dp_diff", "DP"), ("eod_diff", "EOD")):
            scale, digits = (100, 1) if metric == "accuracy" else (1, 3)
            star = " *" if row[("p_holm", metric)] < stats.ALPHA else ""
            entry[f"Δ [95 % CI] {name}"] = (
                f"{number(row[('mean', metric)], digits, scale, sign=True)}{star} "
                f"[{number(row[('low', metric)], digits, scale, sign=True)}, "
                f"{number(row[('high', metric)], digits, scale, sign=True)}]"
            )
        out.append(entry)
    return pd.DataFrame(out).set_index(["dataset", "split"])


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """``states`` (mean per state), ``steps`` (paired step effects), ``waterfall`` (DP, for the
    figure), ``printed`` (the step table as text, one row per step, for the page: see
    :func:`_format_steps`) with its ``step_legend`` (:func:`_format_step_legend`), ``starts``
    (where each path starts) and ``setting`` (the seeds)."""
    states, steps = _state_table(rows), _step_table(rows)
    start = states[states["step"] == "code"]
    starts = pd.DataFrame(
        {
            "dataset": start["dataset"].map(DATASET_LABELS),
            "split": start["split"].str.replace("config", "Config "),
            "accuracy": [
                mean_std(m, s, 1, 100)
                for m, s in zip(start["accuracy_mean"], start["accuracy_std"], strict=True)
            ],
            "DP difference": [
                mean_std(m, s, 3)
                for m, s in zip(start["dp_diff_mean"], start["dp_diff_std"], strict=True)
            ],
            "EOD difference": [
                mean_std(m, s, 3)
                for m, s in zip(start["eod_diff_mean"], start["eod_diff_std"], strict=True)
            ],
        }
    )
    return {
        "states": states,
        "steps": steps,
        "waterfall": _waterfall_frame(states, steps),
        "printed": _format_steps(steps, params.datasets),
        "step_legend": _format_step_legend(),
        "starts": starts.reset_index(drop=True),
        "setting": pd.DataFrame({"seeds": [params.seeds]}),
    }


def _largest(steps: pd.DataFrame, dataset: str, split: str, metric: str = "dp_diff") -> pd.Series:
    part = steps[
        (steps["dataset"] == dataset) & (steps["split"] == split) & (steps["metric"] == metric)
    ]
    return part.loc[part["mean"].abs().idxmax()]


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text (per dataset and split: start, ours, the
    largest DP step with its interval)."""
    states, steps = result["states"], result["steps"]
    values = {"n_seeds": str(int(result["setting"]["seeds"].iloc[0]))}
    for (dataset, split), group in states.groupby(["dataset", "split"], sort=False):
        means = group.set_index("step")
        tag = f"{dataset}_{split}"
        big = _largest(steps, dataset, split)
        values.update(
            {
                f"{tag}_dp_start": number(means.loc["code", "dp_diff_mean"], 3),
                f"{tag}_dp_ours": number(
                    means.loc[_OURS if _OURS in means.index else "inputs", "dp_diff_mean"], 3
                ),
                f"{tag}_dp_paper": number(_paper_value(dataset, split, "dp_diff"), 2),
                f"{tag}_big_step": _LABELS[big["step"]],
                f"{tag}_big_dp": f"{number(big['mean'], 3, sign=True)} "
                f"[{number(big['low'], 3, sign=True)}, "
                f"{number(big['high'], 3, sign=True)}]",
            }
        )
    return values


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page decides no claim of the paper: it explains differences (no verdict)."""
    return []
