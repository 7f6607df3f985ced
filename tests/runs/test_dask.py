"""run_grid on a Dask cluster gives the rows of a local serial run."""

import pandas as pd
import pytest

from faalgrad.__main__ import main
from faalgrad.runs import RunSpec, run_grid, runner

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c


def _specs():
    return [
        RunSpec("german", m, seed=s, overrides={"max_epochs": 5})
        for s in (0, 1)
        for m in ("erm", "threshold")
    ] + [
        RunSpec("german", "faalgrad", split="config2", seed=1, overrides={"max_epochs": 5}),
        RunSpec("german", "eg_dp", seed=0),
    ]


def test_rows_identical_to_serial(cluster):
    serial = run_grid(_specs(), n_jobs=1, progress=False)
    on_dask = run_grid(_specs(), n_jobs=-1, progress=False, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(serial, on_dask)


def test_cli_scheduler(cluster, capsys):
    assert (
        main(
            [
                "run",
                "--dataset",
                "german",
                "--seed",
                "2",
                "--epochs",
                "3",
                "--format",
                "csv",
                "--scheduler",
                cluster.scheduler_address,
            ]
        )
        == 0
    )
    assert "german" in capsys.readouterr().out


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ValueError, match="no Dask scheduler answers"):
        run_grid(_specs()[:1], scheduler="tcp://127.0.0.1:9", progress=False)
