"""The Reproducibility page (faalgrad.studies.reproducibility): settings from the code, timings
file round trip, parameters, tables and glue."""

import json

import pandas as pd
import pytest

from faalgrad.presets import faalgrad_config
from faalgrad.runs import METHODS
from faalgrad.studies import reproducibility as rep


def test_settings_read_from_the_code():
    table = rep._settings_table()
    assert list(table.columns) == ["setting", "applies to", "value", "source"]
    assert table["source"].str.len().min() > 0
    lr = table[(table["setting"] == "inner lr / outer lr") & (table["applies to"] == "german")][
        "value"
    ].item()
    c = faalgrad_config("german")
    assert lr == f"{c.inner_lr} / {c.outer_lr}"
    assert {"compas", "adult", "communities", "german"} <= set(table["applies to"])
    assert METHODS["mba_eod"].label in set(table["applies to"])


def test_discrepancies_and_versions():
    d = rep._discrepancies()
    assert len(d) == len(rep._DISCREPANCIES) and d.notna().all().all()
    v = rep._package_versions().set_index("package")["version"]
    import torch

    assert v["torch"] == torch.__version__.split("+")[0] or v["torch"] == torch.__version__
    assert "python" in v.index


def test_timings_round_trip(tmp_path):
    path = tmp_path / "timings.json"
    rep.record_timing(path, "table1", 171.26)
    rep.record_timing(path, "ratio", 80.0)
    rep.record_timing(path, "table1", 170.0)  # overwritten, not duplicated
    times = rep._execution_times(path, order=["table1", "ratio", "absent"])
    assert list(times["notebook"]) == ["table1", "ratio", "total"]
    assert list(times["seconds"]) == [170.0, 80.0, 250.0]
    assert rep._machine(path)["cpus"] >= 1
    assert not list(tmp_path.glob("*.tmp"))


def test_params(tmp_path):
    with pytest.raises(ValueError, match="timings_file=.*does not exist.*make book"):
        rep.Params(timings_file=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"notebooks": []}))
    with pytest.raises(ValueError, match="malformed"):
        rep.Params(timings_file=bad)
    good = tmp_path / "good.json"
    rep.record_timing(good, "x", 1.0)
    assert rep.Params(timings_file=good).timings_file == str(good)


def test_tables_and_glue_values(tmp_path):
    path = tmp_path / "timings.json"
    rep.record_timing(path, "shap", 30.0)
    rep.record_timing(path, "table1", 60.0)
    rep.record_timing(path, "not_a_page", 99.0)
    params = rep.Params(timings_file=str(path))
    assert rep.specs(params) == []  # no grid: the page trains nothing
    result = rep.compute(params, pd.DataFrame())
    assert set(result) == {"settings", "discrepancies", "versions", "times", "machine"}
    assert list(result["times"]["notebook"]) == ["table1", "shap", "total"]  # in _PAGE_ORDER
    values = rep.glue_values(result)
    assert values["total_minutes"] == "1.5"
    assert values["machine_cpus"] == str(rep._machine(path)["cpus"]) and values["machine_platform"]
    assert rep.verdicts(result) == []
