"""The core stays light: importing it loads neither the run grid, the studies nor their
heavy dependencies (each of the book's kernels pays its imports)."""

import json
import subprocess
import sys

import pytest

#: The core: methods and data (the design's first layer).
CORE = (
    "faalgrad",
    "faalgrad.baselines",
    "faalgrad.datasets",
    "faalgrad.estimator",
    "faalgrad.metrics",
    "faalgrad.mitigators",
    "faalgrad.nash",
    "faalgrad.presets",
    "faalgrad.splits",
    "faalgrad.train",
    "faalgrad.validation",
)
#: What no core module may import.
NEVER = ("dask", "distributed", "jinja2", "faalgrad.runs", "faalgrad.studies")


def _loaded_after(module: str, watched: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps([m for m in {list(watched)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_runs_studies_dask_or_jinja2(module):
    assert _loaded_after(module, NEVER) == []


def test_train_imports_no_fairlearn_pandas_or_joblib():
    assert _loaded_after("faalgrad.train", (*NEVER, "fairlearn", "joblib", "pandas")) == []


def test_the_check_sees_a_heavy_import():
    assert _loaded_after("faalgrad.runs", NEVER) == ["faalgrad.runs"]


def test_top_level_names_load_on_first_use():
    import faalgrad

    for name in faalgrad.__all__:
        assert getattr(faalgrad, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        faalgrad.nope  # noqa: B018


def test_every_exported_name_has_a_home():
    import faalgrad

    assert list(faalgrad.__all__) == list(faalgrad._HOMES)
