"""Tests for :mod:`faalgrad.datasets`."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest

import faalgrad.datasets as fd
from faalgrad.datasets import DATASETS, ChecksumError, Dataset, _files, load_dataset

# name -> (rows, positives y == 1, protected a == 1, n features), computed once
# from the shipped files and pinned here.
EXPECTED = {
    "compas": (6172, 3363, 3175, 5),
    "adult": (48842, 11687, 16192, 12),
    "communities": (1993, 954, 715, 95),
    "german": (1000, 700, 310, 19),
}
# name -> (positive rate, protected rate), rounded to 4 decimals.
EXPECTED_RATES = {
    "compas": (0.5449, 0.5144),
    "adult": (0.2393, 0.3315),
    "communities": (0.4787, 0.3588),
    "german": (0.7000, 0.3100),
}
RAW_FILES = {
    "compas": ("compas-scores-two-years.csv.gz",),
    "adult": ("adult.data.gz", "adult.test.gz"),
    "communities": ("crime.csv.gz",),
    "german": ("german.data.gz",),
}


@pytest.fixture
def fresh_cache():
    """Clear the dataset cache before and after a test that patches files."""
    fd._clear_cache()
    yield
    fd._clear_cache()


@pytest.fixture
def raw_copy(tmp_path, monkeypatch, fresh_cache):
    """Copy the shipped raw files to ``tmp_path`` and point the loader there."""
    for filename in _files._SHA256:
        shutil.copyfile(_files._RAW_DIR / filename, tmp_path / filename)
    monkeypatch.setattr(_files, "_RAW_DIR", tmp_path)
    return tmp_path


def test_dataset_names():
    assert DATASETS == ("compas", "adult", "communities", "german")
    assert set(RAW_FILES) == set(DATASETS)
    assert {f for files in RAW_FILES.values() for f in files} == set(_files._SHA256)


@pytest.mark.parametrize("name", DATASETS)
def test_shape_and_counts(name):
    ds = load_dataset(name)
    rows, positives, protected, n_features = EXPECTED[name]
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert len(ds) == rows
    assert ds.features.shape == (rows, n_features)
    assert ds.y.shape == ds.a.shape == (rows,)
    assert int(ds.y.sum()) == positives
    assert int(ds.a.sum()) == protected
    y_rate, a_rate = EXPECTED_RATES[name]
    assert ds.y.mean() == pytest.approx(y_rate, abs=5e-5)
    assert ds.a.mean() == pytest.approx(a_rate, abs=5e-5)
    # Both groups and both labels are well represented.
    assert 0.2 < ds.y.mean() < 0.8
    assert 0.2 < ds.a.mean() < 0.6
    for group in (0, 1):
        assert 0 < ds.y[ds.a == group].sum() < (ds.a == group).sum()


@pytest.mark.parametrize("name", DATASETS)
def test_types_and_missing_values(name):
    ds = load_dataset(name)
    for arr in (ds.y, ds.a):
        assert isinstance(arr, np.ndarray)
        assert arr.dtype == np.int64
        assert set(np.unique(arr)) == {0, 1}
    assert not ds.features.isna().any().any()
    assert isinstance(ds.features.index, pd.RangeIndex)
    assert ds.features.index.equals(pd.RangeIndex(len(ds)))
    for column in ds.categorical:
        assert ds.features[column].dtype == object
        assert all(type(v) is str for v in ds.features[column])
    for column in ds.numeric:
        assert ds.features[column].dtype == np.float64
        assert np.isfinite(ds.features[column]).all()


@pytest.mark.parametrize("name", DATASETS)
def test_column_bookkeeping(name):
    ds = load_dataset(name)
    columns = tuple(ds.features.columns)
    assert ds.categorical + ds.numeric == columns
    assert not set(ds.categorical) & set(ds.numeric)
    assert len(set(columns)) == len(columns)
    assert ds.protected_feature not in columns
    assert len(ds.group_names) == 2
    assert ds.label_meaning


@pytest.mark.parametrize(
    ("name", "forbidden"),
    [
        ("compas", {"race", "two_year_recid", "is_recid", "decile_score",
                    "score_text"}),
        ("adult", {"sex", "income", "fnlwgt"}),
        ("communities", {"racepctblack", "racePctWhite", "racePctAsian", "racePctHisp",
                         "ViolentCrimesPerPop", ">0.06black", "high_crime",
                         "communityname", "fold", "state_6"}),
        ("german", {"personal_status", "label"}),
    ],
)  # fmt: skip
def test_protected_attribute_and_label_not_in_features(name, forbidden):
    assert not forbidden & set(load_dataset(name).features.columns)


def test_feature_columns():
    assert load_dataset("compas").categorical == ("c_charge_degree", "sex")
    assert load_dataset("compas").numeric == ("age", "priors_count", "length_of_stay")
    assert load_dataset("communities").categorical == ()
    german = load_dataset("german")
    assert german.numeric == (
        "duration", "credit_amount", "installment_rate", "residence_since",
        "age", "existing_credits", "people_liable",
    )  # fmt: skip
    assert set(german.features["status"]) == {"A11", "A12", "A13", "A14"}


def test_metadata():
    compas = load_dataset("compas")
    assert compas.protected_feature == "race_african_american"
    assert compas.group_names == ("other races", "African-American")
    assert compas.label_meaning == "no two-year recidivism"
    assert load_dataset("adult").protected_feature == "sex_female"
    assert load_dataset("german").protected_feature == "sex_female"
    communities = load_dataset("communities")
    assert communities.protected_feature == "black_top2"
    assert communities.group_names == (
        "other communities", "African-American top-2 share",
    )  # fmt: skip


def test_compas_details():
    ds = load_dataset("compas")
    features = ds.features
    assert set(features["c_charge_degree"]) == {"F", "M"}
    assert set(features["sex"]) == {"Male", "Female"}
    stay = features["length_of_stay"]
    # 183 rows are released on the day of booking with an earlier clock time.
    assert int((stay < 0).sum()) == 183
    assert stay.min() > -1.0
    assert stay.mean() == pytest.approx(15.1112, abs=1e-4)
    assert stay.median() == pytest.approx(1.1983, abs=1e-4)


def test_adult_missing_category():
    adult = load_dataset("adult")
    features = adult.features
    counts = {c: int((features[c] == "missing").sum()) for c in adult.categorical}
    assert counts == {
        "workclass": 2799, "education": 0, "marital-status": 0,
        "occupation": 2809, "relationship": 0, "race": 0, "native-country": 857,
    }  # fmt: skip
    assert not (features[list(adult.categorical)] == "?").any().any()


def test_communities_label_is_within_state():
    ds = load_dataset("communities")
    raw = pd.read_csv(_files._raw_path("crime.csv.gz"))
    states = [c for c in raw.columns if c.startswith("state_")]
    assert len(states) == 46
    state = raw[states].idxmax(axis=1)
    y = pd.Series(ds.y)
    # Strictly above the median: at most half of each state is positive.
    assert (y.groupby(state).mean() <= 0.5).all()
    # Single-community states (state_10, state_11, state_20) are all negative.
    singletons = state.map(state.value_counts()) == 1
    assert singletons.sum() == 3
    assert (y[singletons] == 0).all()


def test_arrays_read_only():
    ds = load_dataset("german")
    for arr in (ds.y, ds.a):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 1 - arr[0]


def test_cached_same_object():
    assert load_dataset("german") is load_dataset("german")


def test_frozen():
    ds = load_dataset("german")
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]


def test_repr_is_short():
    text = repr(load_dataset("adult"))
    assert text.startswith("Dataset(name='adult', n=48842")
    assert "\n" not in text


@pytest.mark.parametrize("bad", ["foo", "COMPAS", "", None, 3])
def test_unknown_name(bad):
    with pytest.raises(ValueError) as info:
        load_dataset(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "compas, adult, communities, german" in message


def test_shipped_checksums():
    for filename, expected in _files._SHA256.items():
        data = (_files._RAW_DIR / filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected
        # Deterministic gzip: MTIME header field is zero, no file name stored.
        assert data[:4] == b"\x1f\x8b\x08\x00"
        assert data[4:8] == b"\x00\x00\x00\x00"
        content = gzip.decompress(data)
        assert hashlib.sha256(content).hexdigest() == _files._SOURCE_SHA256[filename]


@pytest.mark.parametrize("name", DATASETS)
def test_checksum_mismatch(name, raw_copy):
    target = raw_copy / RAW_FILES[name][-1]
    corrupted = bytearray(target.read_bytes())
    corrupted[-9] ^= 0xFF  # flip a byte inside the deflate stream / trailer
    target.write_bytes(bytes(corrupted))
    actual = hashlib.sha256(corrupted).hexdigest()
    with pytest.raises(ChecksumError) as info:
        load_dataset(name)
    message = str(info.value)
    assert str(target) in message
    assert _files._SHA256[target.name] in message
    assert actual in message
    assert isinstance(info.value, ValueError)
    assert info.value.path == target


def test_checksum_failure_is_not_cached(raw_copy):
    target = raw_copy / "german.data.gz"
    original = target.read_bytes()
    target.write_bytes(original + b"\x00")
    with pytest.raises(ChecksumError):
        load_dataset("german")
    target.write_bytes(original)
    assert len(load_dataset("german")) == 1000


def test_loads_from_patched_directory(raw_copy):
    ds = load_dataset("german")
    assert ds is not None and len(ds) == 1000
    assert _files._raw_path("german.data.gz") == raw_copy / "german.data.gz"


def test_missing_file(raw_copy):
    (raw_copy / "crime.csv.gz").unlink()
    with pytest.raises(FileNotFoundError, match="crime.csv.gz"):
        load_dataset("communities")


def test_dataset_validation():
    ds = load_dataset("german")
    kwargs = dict(
        name="x", features=ds.features, y=ds.y, a=ds.a, categorical=ds.categorical,
        numeric=ds.numeric, protected_feature="sex_female", group_names=("m", "f"),
        label_meaning="good",
    )  # fmt: skip
    Dataset(**kwargs)
    with pytest.raises(ValueError, match="categorical"):
        Dataset(**{**kwargs, "numeric": ds.numeric[::-1]})
    with pytest.raises(ValueError, match="protected feature"):
        Dataset(**{**kwargs, "protected_feature": "age"})
    with pytest.raises(ValueError, match="int64"):
        Dataset(**{**kwargs, "y": ds.y.astype(np.float64)})
    with pytest.raises(ValueError, match="0 and 1"):
        Dataset(**{**kwargs, "a": ds.a * 2})
