"""The book's one table format (faalgrad.studies.styled) and the paper-band marks
(faalgrad.studies._common.paper_band)."""

import re

import numpy as np
import pandas as pd
import pytest
from pandas.io.formats.style import Styler

from faalgrad.studies import paper, styled
from faalgrad.studies._common import BAND_MARKS, paper_band, paper_vs_ours

METRICS = (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"))


def _cells(styler: Styler) -> list[list[tuple[str, str]]]:
    """(classes, inner HTML) of every body cell, row by row."""
    body = styler.to_html().split("<tbody>")[1]
    return [
        re.findall(r'<td class="([^"]*)" >(.*?)</td>', row)
        for row in body.split("</tr>")
        if "<td" in row
    ]


def _frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A Table 1-like printable frame (index 10, 11, 12) and its band."""
    table = pd.DataFrame(
        {
            "accuracy_paper": [0.60, 0.70, 0.80],
            "accuracy_mean": [0.61, 0.75, 0.81],
            "accuracy_std": [0.01, 0.01, 0.01],
            "dp_diff_paper": [0.10, 0.20, np.nan],
            "dp_diff_mean": [0.30, 0.21, 0.10],
            "dp_diff_std": [0.01, 0.02, 0.03],
        },
        index=[10, 11, 12],
    )
    for m in ("accuracy", "dp_diff"):
        table[f"{m}_diff"] = table[f"{m}_mean"] - table[f"{m}_paper"]
    shown = pd.concat(
        [
            pd.DataFrame(
                {"dataset": ["compas", "compas", "adult"], "method": ["a", "b", "c"]},
                index=table.index,
            ),
            paper_vs_ours(table, METRICS),
            pd.DataFrame({"note": ["", "x", ""]}, index=table.index),
        ],
        axis=1,
    )
    band = pd.DataFrame(
        {
            "acc ours": pd.array([True, False, pd.NA], dtype="boolean"),
            "DP ours": pd.array([False, pd.NA, pd.NA], dtype="boolean"),
        },
        index=table.index,
    )
    return shown, band


def test_styled_hides_the_index():
    shown, band = _frame()
    styler = styled(shown, band=band)
    assert isinstance(styler, Styler) and all(styler.hide_index_)
    html = styler.to_html()
    assert "row_heading" not in html and ">10<" not in html and ">12<" not in html
    assert len(_cells(styler)) == 3 and len(_cells(styler)[0]) == len(shown.columns)


def test_styled_groups_paper_ours_diff_under_one_header():
    shown, _ = _frame()
    styler = styled(shown)
    assert list(styler.data.columns) == [
        ("", "dataset"),
        ("", "method"),
        ("acc", "paper"),
        ("acc", "ours"),
        ("acc", "diff"),
        ("DP", "paper"),
        ("DP", "ours"),
        ("DP", "diff"),
        ("", "note"),
    ]
    html = styler.to_html()
    assert re.search(r'colspan="3"\s*>acc</th>', html) and re.search(
        r'colspan="3"\s*>DP</th>', html
    )
    classes = [c.split() for c, _ in _cells(styler)[0]]
    assert ["sep" in c for c in classes] == [
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
        True,
    ]  # a line per group


def test_styled_aligns_numbers_right_and_text_left_and_keeps_numbers_on_one_line():
    shown, _ = _frame()
    styler = styled(shown)
    kinds = ["num" if "num" in c.split() else "txt" for c, _ in _cells(styler)[0]]
    assert kinds == ["txt", "txt", "num", "num", "num", "num", "num", "num", "txt"]
    html = styler.to_html()
    assert re.search(r"td\.num \{\s*text-align: right;\s*white-space: nowrap;", html)
    assert re.search(r"td\.txt \{\s*text-align: left;", html)
    assert (
        "overflow-x: auto" in html and "max-width: 100%" in html
    )  # a wide table scrolls in its own box


def test_styled_marks_band_cells_with_colour_and_symbol():
    shown, band = _frame()
    styler = styled(shown, band=band)
    rows = _cells(styler)
    acc_in, dp_out, acc_out = rows[0][3], rows[0][6], rows[1][3]
    assert (
        "in-band" in acc_in[0].split()
        and BAND_MARKS[True][0] in acc_in[1]
        and BAND_MARKS[False][0] not in acc_in[1]
    )
    assert "off-band" in dp_out[0].split() and BAND_MARKS[False][0] in dp_out[1]
    assert "off-band" in acc_out[0].split() and BAND_MARKS[False][0] in acc_out[1]
    assert acc_in[1].startswith("61.00 ± 1.00") and dp_out[1].startswith("0.30 ± 0.01")
    html = styler.to_html()
    assert re.search(rf"td\.in-band \{{\s*background-color: {BAND_MARKS[True][2]}", html)
    assert re.search(rf"td\.off-band \{{\s*background-color: {BAND_MARKS[False][2]}", html)


def test_styled_leaves_na_band_cells_and_other_columns_unmarked():
    shown, band = _frame()
    rows = _cells(styled(shown, band=band))
    for classes, text in [rows[2][3], rows[1][6], rows[2][6], rows[0][2], rows[0][4], rows[1][2]]:
        assert not {"in-band", "off-band"} & set(classes.split())
        assert BAND_MARKS[True][0] not in text and BAND_MARKS[False][0] not in text
    unmarked = _cells(styled(shown))
    assert all(not {"in-band", "off-band"} & set(c.split()) for row in unmarked for c, _ in row)


def test_styled_shows_a_repeated_first_key_once_with_a_line_where_it_changes():
    shown, _ = _frame()
    rows = _cells(styled(shown))
    assert [r[0][1] for r in rows] == ["compas", "", "adult"]
    assert ["newgroup" in r[0][0].split() for r in rows] == [False, False, True]


def test_styled_moves_a_named_index_into_columns_and_keeps_existing_column_levels():
    frame = pd.DataFrame(
        {("COMPAS", "acc"): ["58.00", "–"], ("COMPAS", "DPR"): ["0.91", "0.95"]},
        index=pd.MultiIndex.from_tuples(
            [("Fair-MAML", "quoted"), ("FaAlGrad", "measured")], names=["method", "source"]
        ),
    )
    styler = styled(frame)
    assert list(styler.data.columns) == [
        ("", "method"),
        ("", "source"),
        ("COMPAS", "acc"),
        ("COMPAS", "DPR"),
    ]
    assert [[t for _, t in row] for row in _cells(styler)] == [
        ["Fair-MAML", "quoted", "58.00", "0.91"],
        ["FaAlGrad", "measured", "–", "0.95"],
    ]
    assert not any(
        "newgroup" in c for row in _cells(styler) for c, _ in row
    )  # no line between distinct keys


def test_styled_prints_numbers_as_pandas_does_and_escapes_text():
    frame = pd.DataFrame(
        {
            "eta": [1e-5, 0.1],
            "error": [1.98e-12, 2.2e-3],
            "holds": [True, False],
            "model": ["A & B", "<b>"],
        }
    )
    styler = styled(frame, caption="A caption")
    assert list(styler.data.columns) == [
        "eta",
        "error",
        "holds",
        "model",
    ]  # nothing to group: one header row
    rows = [[t for _, t in row] for row in _cells(styler)]
    assert rows[0][1] == "1.980000e-12" and rows[1][0] == "0.10000"
    assert rows[0][3] == "A &amp; B" and rows[1][3] == "&lt;b&gt;"
    assert "<caption>A caption</caption>" in styler.to_html()


def test_styled_is_deterministic_and_distinct_per_table():
    shown, band = _frame()
    assert styled(shown, band=band).to_html() == styled(shown, band=band).to_html()
    assert styled(shown).to_html() != styled(shown.iloc[:2]).to_html()
    assert re.search(r'<table id="T_(\w+)"', styled(shown).to_html()).group(1) != re.search(
        r'<table id="T_(\w+)"', styled(shown.iloc[:2]).to_html()
    ).group(1)


def test_paper_band_inside_outside_and_missing():
    table = pd.DataFrame(
        {
            "dataset": ["compas", "compas", "compas", "compas", "adult"],
            "row": ["a", "b", "c", "d", "a"],
            "accuracy_paper": [0.60, 0.60, 0.60, np.nan, 0.80],
            "accuracy_mean": [0.615, 0.63, np.nan, 0.60, 0.80],
            "dp_diff_paper": [0.10, 0.10, 0.10, 0.10, 0.10],
            "dp_diff_mean": [0.05, 0.16, 0.10, 0.10, 0.10],
        },
        index=[5, 6, 7, 8, 9],
    )
    spreads = pd.DataFrame(
        {
            "dataset": ["compas"] * 4,
            "key": ["a", "b", "c", "d"],  # no row for adult: no spread
            "accuracy_spread": [0.02, 0.02, 0.02, 0.02],
            "dp_diff_spread": [0.05, 0.05, None, 0.05],
        }
    )
    band = paper_band(table, spreads, {"dataset": "dataset", "row": "key"}, METRICS)
    assert list(band.columns) == ["acc ours", "DP ours"] and list(band.index) == [5, 6, 7, 8, 9]
    assert band["acc ours"].tolist() == [
        True,
        False,
        pd.NA,
        pd.NA,
        pd.NA,
    ]  # 1.5 in 2 points; 3 out; no mean; no paper
    assert band["DP ours"].tolist() == [
        True,
        False,
        pd.NA,
        True,
        pd.NA,
    ]  # on the edge counts as inside; no spread
    assert str(band["acc ours"].dtype) == "boolean"
    none = paper_band(table, None, ["dataset", "row"], METRICS)
    assert none.isna().all().all() and list(none.columns) == ["acc ours", "DP ours"]
    assert (
        paper_band(
            table,
            spreads.drop(columns="dp_diff_spread"),
            {"dataset": "dataset", "row": "key"},
            METRICS,
        )["DP ours"]
        .isna()
        .all()
    )


def test_paper_band_on_the_papers_table1_spreads():
    reported = paper.table1()
    table = reported[["dataset", "row", "inner_steps"]].copy()
    for m in ("accuracy", "dp_diff", "eod_diff"):
        table[f"{m}_paper"], table[f"{m}_mean"] = (
            reported[m],
            reported[m] + reported[f"{m}_spread"].fillna(0) * 1.5,
        )
    band = paper_band(table, reported, ["dataset", "row", "inner_steps"])
    with_spread = reported["accuracy_spread"].notna()
    assert (
        band.loc[with_spread, "acc ours"].eq(False).all()
        and band.loc[~with_spread, "acc ours"].isna().all()
    )
    table["accuracy_mean"] = (
        reported["accuracy"] + reported["accuracy_spread"].fillna(0) / 2
    )  # accuracy spread 0.02 = 2 points
    assert (
        paper_band(table, reported, ["dataset", "row", "inner_steps"])
        .loc[with_spread, "acc ours"]
        .all()
    )


@pytest.mark.parametrize(
    "band_values, marked", [([pd.NA, pd.NA, pd.NA], 0), ([True, pd.NA, False], 2)]
)
def test_styled_adds_mark_space_only_to_columns_with_a_mark(band_values, marked):
    shown, _ = _frame()
    band = pd.DataFrame({"acc ours": pd.array(band_values, dtype="boolean")}, index=shown.index)
    cells = [row[3][1] for row in _cells(styled(shown, band=band))]
    assert sum(BAND_MARKS[True][0] in c or BAND_MARKS[False][0] in c for c in cells) == marked
    assert all(("band-mark" in c) == bool(marked) for c in cells)


def test_styled_lets_longer_text_wrap_but_keeps_short_text_words_and_brackets_whole():
    frame = pd.DataFrame(
        {
            "method": ["Nash-Meta-Learning (LtR)", "LtR"],  # 24 characters: may wrap
            "split": ["Config 1", "Config 2"],  # short: never wraps
            "why": ["x" * 20 + " " + "y" * 30, ""],  # long: wraps, but not too narrow
            "change [95 % CI]": ["+0.1 [-0.2, +0.3]", "-0.1 [-0.3, +0.1]"],
        }
    )
    styler = styled(frame)
    classes = [set(c.split()) for c, _ in _cells(styler)[0]]
    assert classes[0] >= {"txt"} and not classes[0] & {"short", "long"}
    assert classes[1] >= {"txt", "short"} and classes[2] >= {"txt", "long"}
    assert "num" in classes[3]
    html = styler.to_html()
    assert re.search(r"td\.short \{\s*white-space: nowrap;", html)
    assert re.search(r"td\.txt \{\s*text-align: left;\s*min-width: 7em;", html)
    assert re.search(r"td\.long \{\s*min-width: 14em;", html)
    # a hyphenated word is never split at its hyphens; a header's bracketed part stays whole
    assert _cells(styler)[0][0][1] == '<span class="nobr">Nash-Meta-Learning</span> (LtR)'
    assert re.search(r"\.nobr \{\s*white-space: nowrap;", html)
    assert "change [95\xa0%\xa0CI]</th>" in html
