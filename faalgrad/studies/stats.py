"""Paired statistics for verdicts: seeds share their splits across methods, so two methods
are compared per seed (paired t-interval of the difference), and the cells of one claim are
corrected together with Holm's step-down method. Used by every page that decides a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from faalgrad.validation import check_choice

__all__ = [
    "ALPHA",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "OPPOSITE",
    "OUTCOMES",
    "POWER",
    "REPRODUCED",
    "REPRODUCED_SMALLER",
    "cell_outcomes",
    "holm",
    "paired_cells",
    "paired_difference",
    "power",
    "seeds_for_power",
]

#: Family-wise error rate of one claim's cells (and 1 - the confidence level of intervals).
ALPHA = 0.05


def paired_difference(
    treated: Sequence[float], control: Sequence[float], *, confidence: float = 1 - ALPHA
) -> dict:
    """Mean of ``treated - control`` over pairs, its t confidence interval and two-sided p-value.

    Parameters
    ----------
    treated, control : sequence of float
        Paired values (same seeds, same order). Pairs with a missing value are dropped.
    confidence : float
        Confidence level of the interval.

    Returns
    -------
    dict
        ``n`` (pairs used), ``mean``, ``low``, ``high`` and ``p`` (``scipy.stats.ttest_rel``);
        with fewer than two pairs, or no spread, the interval and p-value are NaN.
    """
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape:
        raise ValueError(f"treated has {t.shape} values, control {c.shape}: they must be paired")
    keep = ~(np.isnan(t) | np.isnan(c))
    t, c = t[keep], c[keep]
    d = t - c
    out = {
        "n": int(len(d)),
        "mean": float(d.mean()) if len(d) else np.nan,
        "low": np.nan,
        "high": np.nan,
        "p": np.nan,
    }
    if len(d) >= 2 and np.ptp(d) > 1e-12 * max(
        1.0, float(np.abs(d).max())
    ):  # else: no spread to estimate
        res = stats.ttest_rel(t, c)
        ci = res.confidence_interval(confidence_level=confidence)
        out.update(low=float(ci.low), high=float(ci.high), p=float(res.pvalue))
    elif len(d) >= 2:  # every pair differs by the same amount (up to rounding)
        out.update(low=out["mean"], high=out["mean"], p=0.0 if out["mean"] != 0 else 1.0)
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    Parameters
    ----------
    pvalues : sequence of float
        One p-value per cell of a claim.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order: a cell is significant at level α after
        correction when its adjusted p-value is at most α.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def paired_cells(
    rows: pd.DataFrame,
    cells: Sequence[str],
    metric: str,
    treated: pd.Series,
    control: pd.Series,
    *,
    match_on: Sequence[str] | None = None,
    pair_on: str = "seed",
    confidence: float = 1 - ALPHA,
    spread: bool = False,
) -> pd.DataFrame:
    """Paired differences ``treated - control`` of ``metric`` per cell, Holm-corrected across cells.

    Parameters
    ----------
    rows : pandas.DataFrame
        Run rows holding ``cells``, ``pair_on`` and ``metric`` columns.
    cells : sequence of str
        Columns naming a cell (e.g. ``["dataset", "inner_steps"]``).
    match_on : sequence of str, optional
        The cell columns a control row must share with the cell (default: all of ``cells``;
        e.g. ``["dataset"]`` when one baseline serves every cell of a dataset).
    metric : str
        The compared column.
    treated, control : pandas.Series of bool
        Masks of ``rows``: the treated runs (one per cell and seed) and the control runs.
    pair_on : str
        The column pairing runs (the seed: methods share their splits per seed).
    confidence : float
        Confidence level of each interval.
    spread : bool
        Also give ``sd``, the standard deviation of the paired differences across seeds.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``n``, ``mean``, ``low``, ``high``, ``p`` (and ``sd``) and
        ``p_holm``.
    """
    t_rows, c_rows = rows[treated], rows[control]
    shared = list(cells if match_on is None else match_on)
    out = []
    for key, t in t_rows.groupby(list(cells), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        match = c_rows
        for col in shared:
            match = match[match[col] == dict(zip(cells, key, strict=True))[col]]
        pairs = t[[pair_on, metric]].merge(
            match[[pair_on, metric]], on=pair_on, suffixes=("_t", "_c")
        )
        out.append(
            {
                **dict(zip(cells, key, strict=True)),
                **paired_difference(
                    pairs[f"{metric}_t"], pairs[f"{metric}_c"], confidence=confidence
                ),
                "sd": (pairs[f"{metric}_t"] - pairs[f"{metric}_c"]).std(ddof=1),
            }
        )
    columns = [*cells, "n", "mean", "low", "high", "p", *(["sd"] if spread else [])]
    table = pd.DataFrame(out, columns=columns)
    table["p_holm"] = holm(table["p"])
    return table


#: The outcome of one cell of a claim (one metric, one dataset and setting), against the
#: paper's own effect there. Precedence, when several tests hold: opposite, then reproduced
#: and contradicted together ("reproduced, smaller than the paper's"), then reproduced,
#: then contradicted; a cell where none holds is inconclusive.
REPRODUCED = "reproduced"
REPRODUCED_SMALLER = "reproduced, smaller than the paper's"
CONTRADICTED = "contradicted"
OPPOSITE = "opposite"
INCONCLUSIVE = "inconclusive"
OUTCOMES = (REPRODUCED, REPRODUCED_SMALLER, CONTRADICTED, OPPOSITE, INCONCLUSIVE)
#: The power a claim's seeds are chosen for, against the paper's own effect.
POWER = 0.8


def _one_sided_p(mean: float, sd: float, n: int, null: float, *, above: bool) -> float:
    """p-value of the one-sided t-test of "the mean difference is above (below) ``null``"."""
    if n < 2 or not np.isfinite(sd):
        return np.nan
    if sd == 0:
        return 0.0 if (mean > null if above else mean < null) else 1.0
    t = (mean - null) / (sd / np.sqrt(n))
    return float(stats.t.sf(t, n - 1) if above else stats.t.cdf(t, n - 1))


def cell_outcomes(
    cells: pd.DataFrame, *, alpha: float = ALPHA, direction: int | None = None
) -> pd.DataFrame:
    """Each cell's outcome against the paper's effect, Holm-corrected across the cells.

    Three one-sided t-tests per cell, each family Holm-corrected across the claim's cells:
    the paired difference lies on the paper's side of 0 (*reproduced*), on the other side
    (*opposite*), or closer to 0 than the paper's own effect (*contradicted*: the data rule
    out an effect as large as the paper's, as in the non-inferiority half of a TOST).
    :data:`OUTCOMES` gives the precedence.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per cell with ``n`` (seeds), ``mean`` and ``sd`` of the paired difference
        (ours treated − ours control) and ``paper_effect`` (the paper's treated − control,
        non-zero; its sign is the paper's direction).
    alpha : float
        Family-wise level of each test family.
    direction : {-1, 1}, optional
        The claim's direction, for claims whose cells do not all have a paper effect in it
        (a trend the paper's own numbers show in some cells only). A cell whose
        ``paper_effect`` is missing or points the other way is tested in ``direction``
        without the *contradicted* test (there is no effect of the paper's to rule out): it
        is reproduced, opposite or inconclusive.

    Returns
    -------
    pandas.DataFrame
        ``cells`` with ``p_direction``, ``p_opposite`` and ``p_smaller`` (Holm-adjusted;
        ``p_smaller`` is NaN for cells without a paper effect) and ``outcome``.
    """
    out = cells.copy()
    effect = out["paper_effect"].to_numpy(dtype=float)
    sign = np.sign(effect)
    if direction is None:
        if (sign == 0).any() or np.isnan(sign).any():
            raise ValueError("every cell needs a non-zero paper_effect (its sign is the direction)")
        has_effect = np.ones(len(out), dtype=bool)
    else:
        check_choice("direction", direction, (-1, 1))
        has_effect = sign == direction
        sign = np.full(len(out), float(direction))
    raw = {"p_direction": [], "p_opposite": [], "p_smaller": []}
    for s, ok, row in zip(sign, has_effect, out.itertuples(), strict=True):
        up = bool(s > 0)
        raw["p_direction"].append(_one_sided_p(row.mean, row.sd, row.n, 0.0, above=up))
        raw["p_opposite"].append(_one_sided_p(row.mean, row.sd, row.n, 0.0, above=not up))
        raw["p_smaller"].append(
            _one_sided_p(row.mean, row.sd, row.n, row.paper_effect, above=not up) if ok else np.nan
        )
    for name, values in raw.items():
        out[name] = holm(values)  # a cell without the test (NaN) is not counted
    direction_found = out["p_direction"] <= alpha
    smaller = out["p_smaller"] <= alpha
    outcome = np.select(
        [out["p_opposite"] <= alpha, direction_found & smaller, direction_found, smaller],
        [OPPOSITE, REPRODUCED_SMALLER, REPRODUCED, CONTRADICTED],
        default=INCONCLUSIVE,
    )
    out["outcome"] = outcome
    return out


def power(effect: float, sd: float, n: int, *, alpha: float = ALPHA) -> float:
    """Power of the one-sided paired t-test at level ``alpha`` to find ``effect`` with ``n`` seeds.

    Parameters
    ----------
    effect : float
        The true mean paired difference (its sign is the tested direction).
    sd : float
        The standard deviation of the paired differences across seeds.
    n : int
        The number of seeds (pairs).
    alpha : float
        The test's level (e.g. Holm's first step: the family level over the claim's cells).

    Returns
    -------
    float
        P(reject) under the non-central t distribution with ``n - 1`` degrees of freedom.
    """
    if n < 2:
        return np.nan
    if sd <= 0:
        return 1.0
    noncentrality = abs(effect) * np.sqrt(n) / sd
    critical = stats.t.isf(alpha, n - 1)
    value = float(stats.nct.sf(critical, n - 1, noncentrality))
    if not np.isfinite(value):  # scipy's series fails for a vanishing seed spread
        value = 1.0 if noncentrality > critical else 0.0
    return value


def seeds_for_power(
    effect: float, sd: float, *, alpha: float = ALPHA, target: float = POWER, most: int = 1000
) -> int | None:
    """The fewest seeds whose one-sided paired t-test reaches ``target`` power for ``effect``.

    Returns ``None`` when even ``most`` seeds do not (e.g. an effect of 0).
    """
    if not np.isfinite(sd) or not np.isfinite(effect) or effect == 0:
        return None
    for n in range(2, most + 1):
        if power(effect, sd, n, alpha=alpha) >= target:
            return n
    return None
