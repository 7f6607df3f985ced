"""Parameter validation used by the book's notebooks (their second cell)."""
import pytest

from faalgrad import alignment
from faalgrad.experiments import check_parameters


def test_table1_defaults_pass():
    check_parameters(datasets=["compas", "adult", "communities", "german"], seeds=5, n_jobs=2)
    check_parameters(datasets=("german",), seeds=1, n_jobs=-1)


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"datasets": ["compass"]}, ["datasets", "compas", "german"]),
        ({"datasets": "german"}, ["datasets", "compas"]),
        ({"datasets": []}, ["datasets"]),
        ({"seeds": 0}, ["seeds"]),
        ({"seeds": 2.5}, ["seeds"]),
        ({"seeds": True}, ["seeds"]),
        ({"n_jobs": 0}, ["n_jobs"]),
        ({"n_jobs": "2"}, ["n_jobs"]),
    ],
)
def test_table1_bad_values_name_parameter_and_choices(kwargs, names):
    with pytest.raises(ValueError) as info:
        check_parameters(**kwargs)
    for name in names:
        assert name in str(info.value)


def test_method_check_defaults_pass():
    alignment.check_parameters(dataset="compas", seed=0, split="config1", etas=list(alignment.DEFAULT_ETAS))


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"dataset": "compass"}, ["dataset", "compas"]),
        ({"dataset": ["compas"]}, ["dataset", "compas"]),
        ({"seed": -1}, ["seed"]),
        ({"split": "ratio"}, ["split", "config1"]),
        ({"etas": [0.1, 0.01]}, ["etas"]),
        ({"etas": [0.1, 0.01, 0.0]}, ["etas"]),
        ({"etas": "0.1"}, ["etas"]),
    ],
)
def test_method_check_bad_values(kwargs, names):
    with pytest.raises(ValueError) as info:
        alignment.check_parameters(**kwargs)
    for name in names:
        assert name in str(info.value)
