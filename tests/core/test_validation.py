"""Tests for :mod:`faalgrad.validation`: the seed counts of a page."""

from __future__ import annotations

import re

import pytest

from faalgrad.runs import table1_specs
from faalgrad.studies import table1
from faalgrad.validation import check_seed_counts


def test_one_count_for_every_dataset():
    assert check_seed_counts(3, ["german", "compas"]) == {"german": 3, "compas": 3}


def test_a_count_per_dataset_ignores_datasets_not_run():
    counts = {"compas": 20, "adult": 10, "german": 4}
    assert check_seed_counts(counts, ["german", "compas"]) == {"german": 4, "compas": 20}


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        (0, "seeds=0 must be a positive integer"),
        ({"german": 2}, "gives no count for compas; give one per dataset (german, compas)"),
        ({"german": 2, "compas": 1.5}, "seeds['compas']=1.5 must be a positive integer"),
    ],
)
def test_bad_seed_counts_name_the_value(seeds, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_seed_counts(seeds, ["german", "compas"])


def test_table1_runs_each_dataset_at_its_own_seeds():
    specs = table1_specs(["german", "compas"], {"german": 2, "compas": 3})
    seeds = {(s.dataset, s.seed) for s in specs}
    assert seeds == {("german", 0), ("german", 1), ("compas", 0), ("compas", 1), ("compas", 2)}
    params = table1.Params(datasets=("german",), seeds={"german": 2, "adult": 7})
    assert params.seeds == {"german": 2}
    assert {s.seed for s in table1.specs(params)} == {0, 1}
