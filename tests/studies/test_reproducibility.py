"""faalgrad.reproducibility: settings from the code, timings file round trip, parameter checks."""
import json

import pytest

from faalgrad import reproducibility as rep
from faalgrad.presets import faalgrad_config


def test_settings_read_from_the_code():
    table = rep.settings_table()
    assert list(table.columns) == ["setting", "applies to", "value", "source"]
    assert table["source"].str.len().min() > 0
    lr = table[(table["setting"] == "inner lr / outer lr") & (table["applies to"] == "german")]["value"].item()
    c = faalgrad_config("german")
    assert lr == f"{c.inner_lr} / {c.outer_lr}"
    assert {"compas", "adult", "communities", "german"} <= set(table["applies to"])


def test_discrepancies_and_versions():
    d = rep.discrepancies()
    assert len(d) == len(rep.DISCREPANCIES) and d.notna().all().all()
    v = rep.package_versions().set_index("package")["version"]
    import torch

    assert v["torch"] == torch.__version__.split("+")[0] or v["torch"] == torch.__version__
    assert "python" in v.index


def test_timings_round_trip(tmp_path):
    path = tmp_path / "timings.json"
    rep.record_timing(path, "table1", 171.26)
    rep.record_timing(path, "ratio", 80.0)
    rep.record_timing(path, "table1", 170.0)  # overwritten, not duplicated
    times = rep.execution_times(path, order=["table1", "ratio", "absent"])
    assert list(times["notebook"]) == ["table1", "ratio", "total"]
    assert list(times["seconds"]) == [170.0, 80.0, 250.0]
    assert rep.machine(path)["cpus"] >= 1
    assert not list(tmp_path.glob("*.tmp"))


def test_check_parameters(tmp_path):
    with pytest.raises(ValueError, match="timings_file=.*does not exist.*make book"):
        rep.check_parameters(timings_file=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"notebooks": []}))
    with pytest.raises(ValueError, match="malformed"):
        rep.check_parameters(timings_file=bad)
    good = tmp_path / "good.json"
    rep.record_timing(good, "x", 1.0)
    rep.check_parameters(timings_file=good)
