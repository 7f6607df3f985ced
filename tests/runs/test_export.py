"""Results as data: run rows and split indices written beside the book."""

import gzip

import numpy as np
import pandas as pd

from faalgrad.datasets import load_dataset
from faalgrad.runs import cached_split, export


def test_nothing_is_written_without_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(export.DATA_ENV, raising=False)
    assert export.export_rows(pd.DataFrame({"a": [1]}), "page") is None


def test_rows_round_trip(monkeypatch, tmp_path):
    monkeypatch.setenv(export.DATA_ENV, str(tmp_path / "data"))
    rows = pd.DataFrame({"dataset": ["german"], "seed": [0], "accuracy": [0.7123456789]})
    path = export.export_rows(rows, "table1")
    assert path == tmp_path / "data" / "table1.csv"
    pd.testing.assert_frame_equal(pd.read_csv(path), rows)


def test_split_indices_are_the_runs_splits(monkeypatch, tmp_path):
    table = export.split_indices(["german"], 2)
    assert set(table["part"]) == {"train", "validation", "test"}
    for seed in (0, 1):
        mine = table[table["seed"] == seed]
        assert sorted(mine["row"]) == list(range(1000))  # a partition of the rows
        data = cached_split("german", seed)
        train = mine.loc[mine["part"] == "train", "row"].to_numpy()
        assert len(train) == len(data.y_train)
        for part, labels in (
            ("train", data.y_train),
            ("validation", data.y_val),
            ("test", data.y_test),
        ):
            rows = mine.loc[mine["part"] == part, "row"].to_numpy()
            np.testing.assert_array_equal(load_dataset("german").y[rows], labels)
    monkeypatch.setenv(export.DATA_ENV, str(tmp_path))
    path = export.export_splits(["german"], 1)
    with gzip.open(path, "rt") as f:
        assert f.readline().strip() == "dataset,seed,part,row"
    first = path.read_bytes()
    export.export_splits(["german"], 1)
    assert path.read_bytes() == first  # byte-stable: no timestamp in the gzip header


def test_each_file_records_the_kernels_that_computed_it(monkeypatch, tmp_path):
    import json
    import threading

    monkeypatch.setenv(export.DATA_ENV, str(tmp_path))
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    pages = [f"page{i}" for i in range(8)]
    writers = [
        threading.Thread(target=export.export_rows, args=(pd.DataFrame({"a": [i]}), p))
        for i, p in enumerate(pages)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    recorded = json.loads((tmp_path / export.KERNELS_FILE).read_text())
    assert sorted(recorded) == sorted(f"{p}.csv" for p in pages)  # no write lost to another
    assert recorded["page0.csv"] == export.kernel_config()
    assert set(recorded["page0.csv"]) == {"torch_cpu", "openblas_core", "blas_threads", "mkl_cbwr"}
    assert recorded["page0.csv"]["mkl_cbwr"] == "AVX2"
