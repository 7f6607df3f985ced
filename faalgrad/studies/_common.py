"""What the book's pages share: display labels, the paper-versus-ours formatter, the one
table styler (:func:`styled`) with its paper-band marks (:func:`paper_band`), glue.

Number-to-text formatting lives here, so that notebooks only glue finished strings.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from faalgrad.datasets import DATASETS
from faalgrad.metrics import mean_std

__all__ = [
    "BAND_MARKS",
    "DATASET_LABELS",
    "PAPER_METRICS",
    "glue_all",
    "in_dataset_order",
    "k_of_n",
    "number",
    "paper_band",
    "paper_vs_ours",
    "seed_count",
    "seeds_per_dataset",
    "styled",
]

#: Display names of the datasets.
DATASET_LABELS = {
    "compas": "COMPAS",
    "adult": "Adult",
    "communities": "Communities & Crime",
    "german": "German Credit",
}
#: The paper's table metrics: (column prefix, display scale, display name), for
#: :func:`paper_vs_ours`.
PAPER_METRICS = (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD"))
#: Per band value (True: within the paper's ± spread): symbol, tooltip, background colour.
BAND_MARKS = {
    True: ("✓", "within the paper's ± spread", "#d5efd5"),
    False: ("✗", "outside the paper's ± spread", "#fddcbf"),
}


def seed_count(counts) -> str:
    """The number of seeds behind some cells: ``"20"``, or ``"10–20"`` when they differ."""
    counts = [int(c) for c in counts]
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


def seeds_per_dataset(seeds: dict[str, int]) -> str:
    """``"COMPAS 20, Adult 10, ..."``: a page's seed count per dataset."""
    return ", ".join(f"{DATASET_LABELS[d]} {n}" for d, n in seeds.items())


def number(value, digits: int, scale: float = 1.0, sign: bool = False) -> str:
    """``scale * value`` with ``digits`` decimals (``+`` sign if ``sign``).

    A missing value is shown as "–".
    """
    if pd.isna(value):
        return "–"
    return f"{scale * value:+.{digits}f}" if sign else f"{scale * value:.{digits}f}"


def paper_vs_ours(
    table: pd.DataFrame,
    metrics: Sequence[tuple[str, float, str]],
    digits: int = 2,
    feasible: pd.Series | None = None,
) -> pd.DataFrame:
    """ "<name> paper", "<name> ours" (mean ± std) and "<name> diff" (ours − paper) columns.

    Parameters
    ----------
    table : pandas.DataFrame
        Holds ``<metric>_paper``, ``<metric>_mean``, ``<metric>_std`` and ``<metric>_diff``.
    metrics : sequence of (metric, scale, name)
        E.g. ``("accuracy", 100, "acc")`` prints accuracy in percent under "acc ...".
    digits : int
        Decimals.
    feasible : pandas.Series of bool, optional
        Where False, the "ours" cell reads "infeasible".

    Returns
    -------
    pandas.DataFrame
        The formatted columns, indexed like ``table``.
    """
    ok = [True] * len(table) if feasible is None else list(feasible)
    out = pd.DataFrame(index=table.index)
    for m, scale, name in metrics:
        out[f"{name} paper"] = [number(v, digits, scale) for v in table[f"{m}_paper"]]
        out[f"{name} ours"] = [
            mean_std(a, b, digits, scale) if good else "infeasible"
            for a, b, good in zip(table[f"{m}_mean"], table[f"{m}_std"], ok, strict=True)
        ]
        out[f"{name} diff"] = [number(v, digits, scale, sign=True) for v in table[f"{m}_diff"]]
    return out


def glue_all(values: Mapping[str, object]) -> None:
    """Glue every ``name: text`` pair of ``values`` for the page's prose (not displayed)."""
    from myst_nb import glue

    for name, text in values.items():
        glue(name, text, display=False)


def k_of_n(holds) -> str:
    """``"k of n"``: how many of the booleans ``holds`` are true."""
    return f"{int(np.sum(holds))} of {len(holds)}"


def in_dataset_order(frame: pd.DataFrame, then: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` sorted by dataset, then by ``then`` (stable).

    Datasets come in the order of :data:`~faalgrad.datasets.DATASETS`.
    """
    frame = frame.assign(_order=frame["dataset"].map({d: i for i, d in enumerate(DATASETS)}))
    return (
        frame.sort_values(["_order", *then], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def paper_band(
    table: pd.DataFrame,
    spreads: pd.DataFrame | None,
    on: Sequence[str] | Mapping[str, str],
    metrics: Sequence[tuple[str, float, str]] = PAPER_METRICS,
) -> pd.DataFrame:
    """Whether our mean lies within the paper's reported ± spread, per "<name> ours" cell.

    Parameters
    ----------
    table : pandas.DataFrame
        Holds the key columns ``on``, ``<metric>_mean`` and ``<metric>_paper`` (as for
        :func:`paper_vs_ours`).
    spreads : pandas.DataFrame or None
        The paper's table with the key columns and ``<metric>_spread``, in the unit of the metric
        (e.g. :func:`faalgrad.studies.paper.table1`: accuracy 0.02 is ± 2 points); a missing spread
        column, or None, means the paper reports no spread.
    on : sequence of str, or mapping of str to str
        The key columns; a mapping ``{column of table: column of spreads}`` where the names
        differ.
    metrics : sequence of (metric, scale, name)
        As for :func:`paper_vs_ours`; the scale is not used.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``table``, one nullable boolean column ``"<name> ours"`` per metric:
        True when |mean − paper| ≤ spread, False when outside, NA when the mean, the paper's
        value or its spread is missing. The ``band`` argument of :func:`styled`.
    """
    out = pd.DataFrame(index=table.index)
    keys = dict(on) if isinstance(on, Mapping) else {k: k for k in on}
    merged = pd.DataFrame(index=table.index)
    if spreads is not None:
        spreads = spreads.rename(columns={v: k for k, v in keys.items()})
        wanted = [f"{m}_spread" for m, _, _ in metrics if f"{m}_spread" in spreads]
        merged = table[list(keys)].merge(
            spreads[[*keys, *wanted]], on=list(keys), how="left", validate="many_to_one"
        )
        merged.index = table.index
    for m, _, name in metrics:
        spread = (
            merged[f"{m}_spread"].astype(float)
            if f"{m}_spread" in merged
            else pd.Series(np.nan, index=table.index)
        )
        gap = (table[f"{m}_mean"].astype(float) - table[f"{m}_paper"].astype(float)).abs()
        known = gap.notna() & spread.notna()
        out[f"{name} ours"] = pd.Series(gap <= spread + 1e-9, dtype="boolean").where(known, pd.NA)
    return out


_NUMERIC = re.compile(
    r"^[<>≤≥~]?\s*[+\-−]?\.?\d"
)  # "0.12 ± 0.03", "+1.20", "< 1e-6", "80:20, I = 1"
#: Text columns whose cells are at most this long never wrap; longer ones wrap where the page
#: is too narrow for the table, at least 7em wide, or 14em beyond :data:`_LONG` characters.
_ONE_LINE, _LONG = 16, 40
#: A bracketed part of a header ("[95 % CI]"), kept on one line where the header wraps.
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)")
#: A hyphenated word ("Nash-Meta-Learning"), kept on one line where its cell wraps.
_HYPHENATED = re.compile(r"(\S+-\S+)")
_PLACEHOLDERS = {"", "–", "-", "nan", "NaN", "<NA>", "None", "NaT", "infeasible"}


def _flat(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``frame`` with a meaningful (named or multi-level) index moved into leading columns."""
    index = frame.index
    if isinstance(index, pd.MultiIndex) or index.name is not None:
        names = [n if n is not None else f"level_{i}" for i, n in enumerate(index.names)]
        keys = index.to_frame(index=False, name=names)
        if isinstance(frame.columns, pd.MultiIndex):
            keys.columns = pd.MultiIndex.from_tuples(
                [("",) * (frame.columns.nlevels - 1) + (n,) for n in names]
            )
        return pd.concat([keys, frame.reset_index(drop=True)], axis=1), len(names)
    return frame.reset_index(drop=True), 0


def _headers(names: Sequence) -> list[tuple[str, str]]:
    """Two-level headers: consecutive columns sharing leading words form a group ("acc paper",
    "acc ours" -> ("acc", "paper"), ("acc", "ours")); other columns get ("", name)."""
    words = [str(n).split(" ") for n in names]
    out, i = [], 0
    while i < len(words):
        prefix, j = words[i][:-1], i + 1
        while prefix and j < len(words):
            common = []
            for a, b in zip(prefix, words[j][:-1], strict=False):
                if a != b:
                    break
                common.append(a)
            if not common:
                break
            prefix, j = common, j + 1
        if j - i >= 2:
            out += [(" ".join(prefix), " ".join(w[len(prefix) :])) for w in words[i:j]]
        else:
            out.append(("", str(names[i])))
            j = i + 1
        i = j
    return out


def _cell_text(column: pd.Series) -> list[str]:
    """The cells as pandas prints them (so floats keep the column's common format)."""
    if column.empty:
        return []
    lines = column.to_frame().to_string(index=False, header=False).split("\n")
    return (
        [line.strip() for line in lines]
        if len(lines) == len(column)
        else ["" if v is None else str(v) for v in column]
    )


def _is_numeric(texts: Sequence[str], column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    values = [t for t in texts if t not in _PLACEHOLDERS]
    return bool(values) and all(_NUMERIC.match(t) for t in values)


def styled(
    frame: pd.DataFrame, *, band: pd.DataFrame | None = None, caption: str | None = None
) -> Styler:
    """The book's one table format: ``frame`` as a pandas Styler for the page.

    No index column (a named or multi-level index becomes leading columns, repeated values
    shown once, with a line where the first one changes); numbers and "mean ± std" cells
    right-aligned and never wrapped, text left-aligned; short text (up to 16 characters) on
    one line, longer text wrapping where the page is too narrow for the table (never inside
    a hyphenated word); "<name> paper", "<name> ours", "<name> diff" (or any columns sharing
    leading words) grouped under one "<name>" header, with a line between groups; headers
    wrap, a bracketed part ("[95 % CI]") kept whole; compact font; a table still wider than
    the page scrolls inside its own box.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, cells already formatted as text or plain numbers (printed as pandas prints them).
    band : pandas.DataFrame, optional
        Nullable booleans (:func:`paper_band`) with some of ``frame``'s column names, aligned on
        its index: True (our mean within the paper's ± spread) gives the cell a green background
        and "✓", False an orange one and "✗"; NA cells are left unmarked. See
        :data:`BAND_MARKS`.
    caption : str, optional
        A caption above the table.

    Returns
    -------
    pandas.io.formats.style.Styler
        Render with ``to_html()``; a notebook displays it as HTML.
    """
    flat, n_keys = _flat(frame)
    labels = list(flat.columns)
    texts = {j: _cell_text(flat.iloc[:, j]) for j in range(len(labels))}
    numeric = [_is_numeric(texts[j], flat.iloc[:, j]) for j in range(len(labels))]
    if isinstance(flat.columns, pd.MultiIndex):
        headers = [tuple(str(x) for x in t) for t in labels]
    else:
        headers = [("", str(n)) for n in labels[:n_keys]] + _headers(labels[n_keys:])
    keys = list(range(n_keys)) or ([0] if labels and str(labels[0]) == "dataset" else [])
    n, width = len(flat), len(labels)
    longest = [max(map(len, texts[j]), default=0) for j in range(width)]
    cells = [
        [
            _HYPHENATED.sub(r'<span class="nobr">\1</span>', html.escape(texts[j][r]))
            if longest[j] > _ONE_LINE and not numeric[j]
            else html.escape(texts[j][r])
            for j in range(width)
        ]
        for r in range(n)
    ]
    kind = [
        "num"
        if numeric[j]
        else "txt short"
        if longest[j] <= _ONE_LINE
        else "txt"
        if longest[j] <= _LONG
        else "txt long"
        for j in range(width)
    ]
    sep = [j > 0 and headers[j][:-1] != headers[j - 1][:-1] for j in range(width)]
    classes = [[kind[j] + (" sep" if sep[j] else "") for j in range(width)] for _ in range(n)]
    runs = keys and any(texts[keys[0]][r] == texts[keys[0]][r - 1] for r in range(1, n))
    for r in range(1, n):  # a line where the first key changes, if it repeats at all
        if runs and texts[keys[0]][r] != texts[keys[0]][r - 1]:
            classes[r] = [c + " newgroup" for c in classes[r]]
    for i, k in enumerate(
        keys
    ):  # a key repeated from the row above (parent keys too) is shown once
        for r in range(1, n):
            if all(texts[q][r] == texts[q][r - 1] for q in keys[: i + 1]):
                cells[r][k] = ""
    if band is not None:
        band = band.reindex(frame.index)
        for j, label in enumerate(labels[n_keys:], start=n_keys):
            if label not in band.columns or band[label].isna().all():
                continue
            for r, value in enumerate(band[label]):
                mark = '<span class="band-mark"></span>'
                if not pd.isna(value):
                    symbol, title, _ = BAND_MARKS[bool(value)]
                    mark = f'<span class="band-mark" title="{html.escape(title)}">{symbol}</span>'
                    classes[r][j] += " in-band" if value else " off-band"
                cells[r][j] += mark
    grouped = any(any(h[:-1]) for h in headers)
    columns = pd.MultiIndex.from_tuples(headers) if grouped else pd.Index([h[-1] for h in headers])
    cells, classes = pd.DataFrame(cells, columns=columns), pd.DataFrame(classes, columns=columns)
    digest = hashlib.sha1((cells.to_csv() + str(caption)).encode()).hexdigest()[:10]
    styler = Styler(cells, uuid=digest, cell_ids=False, caption=caption).hide(axis="index")
    styler = styler.format_index(
        lambda label: _BRACKETED.sub(lambda m: m.group(0).replace(" ", "\xa0"), str(label)),
        escape="html",
        axis=1,
    ).set_td_classes(classes)
    rules = [
        (
            "",
            "display: block; overflow-x: auto; max-width: 100%; width: max-content; "
            "table-layout: auto; "
            "border-collapse: collapse; border: none; font-size: 0.85em; line-height: 1.35; "
            "margin: 0 0 1em 0; "
            "font-variant-numeric: tabular-nums",
        ),
        ("caption", "caption-side: top; text-align: left; font-size: 1em; padding: 0 0 0.4em 0"),
        ("th, td", "padding: 0.2em 0.45em; border: none; vertical-align: top"),
        ("thead th", "text-align: right; vertical-align: bottom; font-weight: 600"),
        ("thead tr:last-child th", "border-bottom: 1px solid #444"),
        ("td.num", "text-align: right; white-space: nowrap"),
        ("td.txt", "text-align: left; min-width: 7em"),
        ("td.short", "white-space: nowrap; min-width: 0"),
        ("td.long", "min-width: 14em"),
        (".nobr", "white-space: nowrap"),
        (".sep", "border-left: 1px solid #999"),
        ("td.newgroup", "border-top: 1px solid #bbb"),
        (
            ".band-mark",
            "display: inline-block; width: 1.1em; margin-left: 0.25em; text-align: center",
        ),
        ("td.in-band", f"background-color: {BAND_MARKS[True][2]}; color: #111"),
        ("td.off-band", f"background-color: {BAND_MARKS[False][2]}; color: #111"),
    ]
    rules += [(f"thead th.col{j}", "text-align: left") for j in range(width) if not numeric[j]]
    rules += [(f"thead th.col{j}", "border-left: 1px solid #999") for j in range(width) if sep[j]]
    if grouped:
        rules += [
            (f"thead th.level0.col{j}", "text-align: center; border-bottom: 1px solid #999")
            for j in range(width)
            if any(headers[j][:-1]) and (j == 0 or sep[j])
        ]
    return styler.set_table_styles([{"selector": s, "props": p} for s, p in rules])
