from faalgrad.datasets import DATASETS
from faalgrad.studies import paper


def test_table1_has_every_row_of_every_dataset():
    t = paper.table1()
    assert len(t) == 32
    assert set(t["dataset"]) == set(DATASETS)
    assert t["accuracy"].between(0, 1).all()  # converted from percent
    assert t.groupby("dataset").size().eq(8).all()


def test_table2_marks_infeasible_ratios():
    t = paper.table2()
    infeasible = t[t["accuracy"].isna()]
    assert set(infeasible["dataset"]) == {"adult", "german"}
    assert set(infeasible["ratio"]) == {"50:50"}


def test_tables_without_inner_steps_build():
    t4, t5 = paper.table4(), paper.table5()
    assert list(t4["ratio"]) == ["80:20", "70:30", "60:40", "50:50"]
    assert t4["accuracy"].between(0, 1).all()
    assert "inner_steps" not in t5 and t5["accuracy"].between(0, 1).all()
