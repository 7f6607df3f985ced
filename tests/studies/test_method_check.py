"""The gradient-alignment approximation of the meta-gradient (paper 4.1), the alignment over
training, and the method-check page's parameters."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.func import grad

from faalgrad.datasets import DATASETS
from faalgrad.presets import erm_config
from faalgrad.runs import cached_split
from faalgrad.splits import support_query
from faalgrad.studies import method_check as page
from faalgrad.studies.claims import CONTRADICTED, INCONCLUSIVE, OPPOSITE, REPRODUCED
from faalgrad.train import TrainConfig, bce, build_mlp, gradient_cosine, train_erm


def _problem(activation="tanh", seed=0, hidden=(6,)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(float)
    model = build_mlp(5, TrainConfig(hidden=hidden, activation=activation), seed)
    return page._make_problem(model, X[:20], y[:20], X[20:], y[20:], inner_lr=0.01)


def _flat(g):
    return page._flat(g)


# --- one inner step -----------------------------------------------------------------------


def test_problem_is_float64():
    p = _problem()
    assert all(v.dtype == torch.float64 for v in p.params.values())
    assert p.X_s.dtype == torch.float64 and p.n_params == 5 * 6 + 6 + 6 + 1


@pytest.mark.parametrize("inner_steps", [1, 3])
def test_equal_to_exact_at_eta_zero(inner_steps):
    p = _problem()
    exact = _flat(page._exact_gradient(p, 0.0, inner_steps))
    approx = _flat(page._alignment_gradient(p, 0.0, inner_steps))
    torch.testing.assert_close(approx, exact, rtol=0, atol=1e-14)


def test_alignment_term_is_gradient_of_dot_product():
    # central finite difference of g_q . g_s along a random direction
    p = _problem()
    eta = 0.1
    g_dot = _flat(page._alignment_gradient(p, 0.0)) - _flat(page._alignment_gradient(p, eta))
    g_dot = g_dot / eta
    direction = {
        k: torch.randn_like(v, generator=torch.Generator().manual_seed(1))
        for k, v in p.params.items()
    }
    h = 1e-5
    plus = {k: p.params[k] + h * direction[k] for k in p.params}
    minus = {k: p.params[k] - h * direction[k] for k in p.params}
    f = lambda q: float(page._loss_grads_dot(q, p.model, p.X_s, p.y_s, p.X_q, p.y_q))  # noqa: E731
    fd = (f(plus) - f(minus)) / (2 * h)
    assert float(g_dot @ _flat(direction)) == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_alignment_term_is_hessian_vector_sum():
    # ∇(g_q·g_s) = H_q g_s + H_s g_q, the two terms of the paper's derivation
    p = _problem()
    g_dot = _flat(page._alignment_term(p))
    flat0 = _flat(p.params)
    shapes = {k: v.shape for k, v in p.params.items()}

    def unflat(v):
        out, i = {}, 0
        for k, s in shapes.items():
            n = int(np.prod(s))
            out[k] = v[i : i + n].reshape(s)
            i += n
        return out

    def loss(v, X, y):
        return bce(unflat(v), p.model, X, y)

    H_s = torch.autograd.functional.hessian(lambda v: loss(v, p.X_s, p.y_s), flat0)
    H_q = torch.autograd.functional.hessian(lambda v: loss(v, p.X_q, p.y_q), flat0)
    g_s = _flat(grad(bce)(p.params, p.model, p.X_s, p.y_s))
    g_q = _flat(grad(bce)(p.params, p.model, p.X_q, p.y_q))
    torch.testing.assert_close(g_dot, H_q @ g_s + H_s @ g_q, rtol=1e-10, atol=1e-12)


def test_inner_steps_scale_the_alignment_term():
    p = _problem()
    torch.testing.assert_close(
        _flat(page._alignment_gradient(p, 0.01, 4)),
        _flat(page._alignment_gradient(p, 0.04, 1)),
        rtol=0,
        atol=1e-15,
    )


def test_error_is_second_order_on_smooth_network():
    sweep = page._error_sweep(_problem("tanh"), np.logspace(-4, -1, 7))
    assert list(sweep.columns) == [
        "inner_steps",
        "eta",
        "error",
        "relative_error",
        "one_step_formula_error",
        "first_order_error",
        "activation_flips",
        "smooth",
        "resolved",
    ]
    assert sweep["smooth"].all() and sweep["resolved"].all()  # tanh: no ReLU kinks
    assert (sweep["inner_steps"] == 1).all()
    assert (sweep["one_step_formula_error"] == sweep["error"]).all()
    assert page._fitted_slope(sweep) == pytest.approx(2.0, abs=0.1)
    assert page._fitted_slope(sweep, "first_order_error") == pytest.approx(1.0, abs=0.1)
    assert (sweep["error"] < sweep["first_order_error"]).all()


def test_relu_flips_counted_and_smooth_fit():
    p = _problem("relu")
    sweep = page._error_sweep(p, [1e-6, 1e-5, 1e-4, 1e-3, 3.0e-1, 0.9])
    assert sweep["activation_flips"].is_monotonic_increasing
    assert sweep["smooth"].iloc[0] and not sweep["smooth"].iloc[-1]
    assert page._fitted_slope(sweep, smooth_only=True) == pytest.approx(2.0, abs=0.1)
    assert page._activation_flips(p, 0.0) == 0


def test_smooth_fit_needs_two_rows():
    sweep = pd.DataFrame({"eta": [0.1, 0.2], "error": [1.0, 4.0], "smooth": [True, False]})
    with pytest.raises(ValueError, match="flip-free"):
        page._fitted_slope(sweep, smooth_only=True)
    assert page._fitted_slope(sweep) == pytest.approx(2.0)


def test_roundoff_rows_are_not_resolved_and_not_fitted():
    p = _problem("tanh")
    sweep = page._error_sweep(p, [1e-9, 3e-9, 1e-3, 3e-3, 1e-2])
    assert not sweep["resolved"].iloc[:2].any() and sweep["resolved"].iloc[2:].all()
    assert list(page._fit_rows(sweep)) == [False, False, True, True, True]
    # the round-off rows would spoil the slope; the fit leaves them out
    assert page._fitted_slope(sweep, smooth_only=True) == pytest.approx(2.0, abs=0.05)
    assert abs(page._fitted_slope(sweep) - 2.0) > 0.1


def test_error_sweep_rejects_bad_inner_steps_and_etas():
    p = _problem()
    with pytest.raises(ValueError, match="inner_steps"):
        page._error_sweep(p, [1e-3, 1e-2, 1e-1], inner_steps=0)
    with pytest.raises(ValueError, match="etas"):
        page._error_sweep(p, "fixed")
    with pytest.raises(ValueError, match="etas"):
        page._error_sweep(p, [1e-3, 2.0, 1e-1])


# --- ReLU flips and the adaptive grid ------------------------------------------------------


def _reference_flips(p, eta, inner_steps):
    """Flips by hand: forward hooks on the ReLUs, at θ0 and at each explicit SGD iterate."""

    def preacts(params):
        seen = []
        model = build_mlp(5, TrainConfig(hidden=(6, 4), activation="relu"), 0).double()
        with torch.no_grad():
            for k, v in model.named_parameters():
                v.copy_(params[k])
        hooks = [
            m.register_forward_hook(lambda m, inp, out: seen.append(inp[0] > 0))
            for m in model
            if isinstance(m, nn.ReLU)
        ]
        model(torch.cat([p.X_s, p.X_q]))
        for h in hooks:
            h.remove()
        return seen

    base, flipped, theta = preacts(p.params), None, p.params
    for _ in range(inner_steps):
        g = grad(bce)(theta, p.model, p.X_s, p.y_s)
        theta = {k: theta[k] - eta * g[k] for k in theta}
        now = [a != b for a, b in zip(base, preacts(theta), strict=True)]
        flipped = now if flipped is None else [f | n for f, n in zip(flipped, now, strict=True)]
    return int(sum(int(f.sum()) for f in flipped))


@pytest.mark.parametrize("inner_steps", [1, 3])
@pytest.mark.parametrize("eta", [0.05, 0.5])
def test_activation_flips_match_hand_count(eta, inner_steps):
    p = _problem("relu", hidden=(6, 4))
    assert page._activation_flips(p, eta, inner_steps) == _reference_flips(p, eta, inner_steps)


def test_more_inner_steps_flip_at_least_as_many():
    p = _problem("relu")
    for eta in (0.01, 0.1, 0.5):
        assert page._activation_flips(p, eta, 4) >= page._activation_flips(p, eta, 1)
    assert page._activation_flips(_problem("tanh"), 0.5, 3) == 0


@pytest.mark.parametrize("inner_steps", [1, 4])
def test_first_flip_eta_brackets_the_first_flip(inner_steps):
    p = _problem("relu")
    eta_flip = page._first_flip_eta(p, inner_steps, rel_tol=0.01)
    assert np.isfinite(eta_flip)
    assert page._activation_flips(p, eta_flip, inner_steps) > 0
    assert page._activation_flips(p, eta_flip / 1.01, inner_steps) == 0
    assert page._first_flip_eta(_problem("tanh"), inner_steps) == float("inf")
    assert page._first_flip_eta(p, inner_steps, upper=eta_flip / 2) == float("inf")


def test_eta_grid_relu_places_flip_free_points_below_first_flip():
    p = _problem("relu", seed=3, hidden=(16,))  # first flip near η = 0.01
    eta_flip = page._first_flip_eta(p, upper=0.1)
    grid = page._eta_grid(p)
    assert grid == sorted(grid) and len(set(grid)) == len(grid)
    below = [e for e in grid if e < eta_flip]
    assert len(below) == 6 and max(below) <= eta_flip / 10**0.25 * 1.01
    assert min(below) == pytest.approx(max(below) / 10**1.5, rel=0.01)
    above = [e for e in grid if e >= eta_flip * 0.99]
    assert len(above) >= 2 and max(grid) == 0.1
    assert all(page._activation_flips(p, e) == 0 for e in below)
    assert page._eta_grid(p, flip_free_only=True) == below


def test_eta_grid_smooth_network_is_capped_by_total_step():
    p = _problem("tanh")
    assert max(page._eta_grid(p)) == 0.01
    assert max(page._eta_grid(p, 5)) == 0.002
    assert len(page._eta_grid(p, max_step=0.05, n_flip_free=4)) == 4


def test_auto_sweep_fits_on_relu_network():
    p = _problem("relu", seed=3, hidden=(16,))
    sweep = page._error_sweep(p)  # etas="auto"
    assert page._fit_rows(sweep).sum() >= 5 and (~sweep["smooth"]).any()
    assert page._fitted_slope(sweep, smooth_only=True) == pytest.approx(2.0, abs=0.05)


def test_describe_flips():
    p = _problem("relu", seed=3, hidden=(16,))
    sweep = page._error_sweep(p)
    text = page._describe_flips(sweep, page._first_flip_eta(p))
    assert (
        f"{int((~sweep['smooth']).sum())} of the {len(sweep)}" in text
        and "first sign change" in text
    )
    smooth = page._error_sweep(_problem("tanh"))
    assert "no hidden unit" in page._describe_flips(smooth, float("inf"))


# --- I > 1 ---------------------------------------------------------------------------------


def test_inner_steps_error_orders_on_smooth_network():
    p = _problem("tanh")
    sweep = page._inner_steps_sweep(p, [2, 5])
    assert sorted(sweep["inner_steps"].unique()) == [2, 5]
    table = page._slope_table(pd.concat([page._error_sweep(p), sweep], ignore_index=True))
    assert list(table["inner_steps"]) == [1, 2, 5]
    assert list(table.columns) == [
        "inner_steps",
        "eta_min",
        "eta_max",
        "n_fit",
        "slope",
        "slope_one_step_formula",
        "slope_first_order",
    ]
    np.testing.assert_allclose(table["slope"], 2.0, atol=0.05)
    assert table.loc[0, "slope_one_step_formula"] == pytest.approx(2.0, abs=0.05)
    np.testing.assert_allclose(table.loc[1:, "slope_one_step_formula"], 1.0, atol=0.05)
    np.testing.assert_allclose(table["slope_first_order"], 1.0, atol=0.05)
    # the I-step formula is the better one for I > 1
    multi = sweep[sweep["inner_steps"] > 1]
    assert (multi["error"] < multi["one_step_formula_error"]).all()


def test_inner_steps_on_relu_network_stay_flip_free():
    p = _problem("relu")
    sweep = page._inner_steps_sweep(p, [3])
    assert sweep["smooth"].all()
    assert page._fitted_slope(sweep, smooth_only=True) == pytest.approx(2.0, abs=0.05)
    assert page._fitted_slope(sweep, "one_step_formula_error", smooth_only=True) == pytest.approx(
        1.0, abs=0.05
    )


def test_long_form_has_quantities_regime_and_labels():
    sweep = page._error_sweep(_problem("relu"), [1e-3, 1e-2, 0.9])
    long = page._long_form(sweep)
    assert len(long) == 6 and long["quantity"].nunique() == 2
    assert set(long["regime"]) == {"flip-free", "ReLU flips"} and set(long["I"]) == {"I = 1"}
    long = page._long_form(sweep, ["error", "one_step_formula_error", "first_order_error"])
    assert set(long["quantity"]) == set(page._QUANTITY_LABELS.values())


def _slopes(slope_1=2.0, slopes_i=(2.0, 2.0), one_step=(1.0, 1.0)):
    return pd.DataFrame(
        {
            "inner_steps": [1, 2, 5],
            "slope": [slope_1, *slopes_i],
            "slope_one_step_formula": [slope_1, *one_step],
        }
    )


def test_derivation_verdict():
    v = page._derivation_verdict(_slopes(2.01, (1.98, 2.03), (1.0, 0.97)), dataset="compas")
    assert v.key == "derivation" and v.verdict == REPRODUCED
    assert (
        "5 reproduced of 5" in v.evidence
        and "2.010" in v.evidence
        and "compas" in v.evidence
        and "±0.1" in v.evidence
    )
    one_off = page._derivation_verdict(_slopes(1.5, (2.0, 2.0), (1.0, 1.0)))
    assert (
        one_off.verdict == CONTRADICTED and "4 reproduced, 1 contradicted of 5" in one_off.evidence
    )
    assert page._derivation_verdict(_slopes(2.0, (2.0, 2.0), (2.0, 2.0))).verdict == CONTRADICTED
    assert page._derivation_verdict(_slopes(1.0, (1.0, 1.0), (2.0, 2.0))).verdict == CONTRADICTED
    assert page._derivation_verdict(_slopes(2.15), tolerance=0.2).verdict == REPRODUCED
    checks = page._derivation_checks(_slopes(2.05, (2.3, 2.0), (1.0, 0.8)))
    assert list(checks["formula"]) == ["Iη", "Iη", "one-step", "Iη", "one-step"]
    assert list(checks["expected"]) == [2.0, 2.0, 1.0, 2.0, 1.0]
    assert checks["mean"].tolist() == pytest.approx([0.05, 0.3, 0.0, 0.0, -0.2])
    assert list(checks["outcome"]) == [
        REPRODUCED,
        CONTRADICTED,
        REPRODUCED,
        REPRODUCED,
        CONTRADICTED,
    ]
    with pytest.raises(ValueError, match="slope_tolerance"):
        page._derivation_verdict(_slopes(), tolerance=0.0)


# --- real datasets -----------------------------------------------------------------------


def test_dataset_problem_uses_config1_split():
    p = page._dataset_problem("german", 0)
    assert p.dataset == "german" and len(p.y_s) > 0 and len(p.y_q) > 0
    data = cached_split("german", 0)
    assert len(p.y_s) == int(data.a_train.sum()) and len(p.y_s) + len(p.y_q) == len(data.y_train)
    assert isinstance(p.model, nn.Sequential)


@pytest.mark.parametrize("dataset", DATASETS)
def test_auto_grid_gives_second_order_slope_on_every_dataset(dataset):
    # German flips a ReLU below η = 3e-5: a fixed grid starting at 1e-5 has no flip-free room there
    p = page._dataset_problem(dataset, 0)
    sweep = page._error_sweep(p)
    assert page._fit_rows(sweep).sum() >= 4
    assert page._fitted_slope(sweep, smooth_only=True) == pytest.approx(2.0, abs=0.02)
    assert page._fitted_slope(sweep, "first_order_error", smooth_only=True) == pytest.approx(
        1.0, abs=0.02
    )


# --- the alignment over training --------------------------------------------------------


def test_gradient_cosine():
    p = _problem()
    g_s = _flat(grad(bce)(p.params, p.model, p.X_s, p.y_s))
    g_q = _flat(grad(bce)(p.params, p.model, p.X_q, p.y_q))
    expected = float(torch.nn.functional.cosine_similarity(g_s, g_q, dim=0))
    assert gradient_cosine(p.params, p.model, p.X_s, p.y_s, p.X_q, p.y_q) == pytest.approx(
        expected, abs=1e-12
    )
    assert gradient_cosine(p.params, p.model, p.X_s, p.y_s, p.X_s, p.y_s) == pytest.approx(
        1.0, abs=1e-12
    )


@pytest.fixture(scope="module")
def german_curves():
    return page._alignment_curves("german", epochs=4)


def test_alignment_curves_shape_and_shared_start(german_curves):
    c = german_curves
    assert list(c.columns) == ["dataset", "seed", "method", "epoch", "cosine"]
    assert len(c) == 2 * 5 and set(c["method"]) == {"erm", "faalgrad"}
    assert page._METHOD_LABELS == {
        "erm": "ERM",
        "faalgrad": "FaAlGrad",
    }  # the labels the page shows
    for _, g in c.groupby("method"):
        assert list(g["epoch"]) == [0, 1, 2, 3, 4]
    start = c[c["epoch"] == 0]["cosine"]
    assert start.nunique() == 1 and c["cosine"].between(-1, 1).all()
    assert not np.allclose(
        c[c["method"] == "erm"]["cosine"], c[c["method"] == "faalgrad"]["cosine"]
    )


def test_alignment_curves_erm_matches_trained_model(german_curves):
    # the last ERM cosine is the cosine at θ after the 4th epoch of train_erm with FaAlGrad's lr
    data = cached_split("german", 0)
    s, q = support_query(data.y_train, data.a_train, "config1", dataset="german")
    config = erm_config("german", max_epochs=4, patience=4, outer_lr=0.1)
    last = {}
    result = train_erm(
        data.X_train,
        data.y_train,
        data.X_val,
        data.y_val,
        config,
        0,
        callback=lambda e, params: last.update(params),
    )
    assert len(result.val_loss) == 4
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    cos = gradient_cosine(
        last,
        result.model,
        t(data.X_train[s]),
        t(data.y_train[s]),
        t(data.X_train[q]),
        t(data.y_train[q]),
    )
    curve = german_curves[german_curves["method"] == "erm"]
    assert curve["cosine"].iloc[-1] == pytest.approx(cos, abs=1e-6)


def test_alignment_curves_deterministic_and_erm_lr(german_curves):
    pd.testing.assert_frame_equal(page._alignment_curves("german", epochs=4), german_curves)
    baseline = page._alignment_curves("german", epochs=4, erm_lr="baseline")
    fa = lambda c: c[c["method"] == "faalgrad"].reset_index(drop=True)  # noqa: E731
    erm = lambda c: c[c["method"] == "erm"]["cosine"].to_numpy()  # noqa: E731
    pd.testing.assert_frame_equal(fa(baseline), fa(german_curves))
    assert not np.allclose(
        erm(baseline)[1:], erm(german_curves)[1:]
    )  # German: 0.001 against FaAlGrad's 0.1


def _curves(values):
    """Curves of several seeds: ``{dataset: {method: [cosines of seed 0, seed 1, ...]}}``."""
    rows = []
    for dataset, methods in values.items():
        for method, per_seed in methods.items():
            for seed, cosines in enumerate(per_seed):
                rows += [
                    {"dataset": dataset, "seed": seed, "method": method, "epoch": e, "cosine": c}
                    for e, c in enumerate(cosines)
                ]
    return pd.DataFrame(rows)


def test_alignment_summary_per_seed():
    curves = _curves(
        {"a": {"erm": [[0.9, 0.0, 0.0, 0.0, 0.0]], "faalgrad": [[0.9, 0.1, 0.1, 0.5, 0.5]]}}
    )
    summary = page._alignment_summary(curves, last_epochs=2)
    row = summary.iloc[0]
    assert row["erm_mean"] == pytest.approx(0.0) and row["faalgrad_mean"] == pytest.approx(0.3)
    assert row["faalgrad_last"] == pytest.approx(0.5) and row["erm_last"] == pytest.approx(0.0)


def _aligned(shift_mean, shift_last, seeds=6):
    """Per seed, FaAlGrad's cosine minus ERM's is ``shift`` plus a small seed-to-seed wobble."""
    wobble = [0.01 * ((-1) ** s) * (1 + s % 3) for s in range(seeds)]
    erm = [[0.0, 0.2, 0.2, 0.1, 0.1] for _ in range(seeds)]
    fa = [
        [0.0, 0.2 + shift_mean + w, 0.2 + shift_mean + w]
        + [0.1 + shift_last + w, 0.1 + shift_last + w]
        for w in wobble
    ]
    return {"erm": erm, "faalgrad": fa}


def test_alignment_cells_test_each_window_against_paired_references():
    from scipy import stats as sps

    curves = _curves({"a": _aligned(0.3, 0.3), "b": _aligned(-0.4, 0.3), "c": _aligned(0.0, 0.0)})
    summary = page._alignment_summary(curves, last_epochs=2)
    cells = page._alignment_cells(summary)
    assert list(zip(cells["dataset"], cells["window"], strict=True)) == [
        (d, w) for d in "abc" for w in ("mean", "last")
    ]
    # the paired difference and its interval are scipy's paired t-test on the summaries
    a = summary[summary["dataset"] == "a"]
    ref = sps.ttest_rel(a["faalgrad_mean"], a["erm_mean"])
    first = cells.iloc[0]
    assert first["mean"] == pytest.approx((a["faalgrad_mean"] - a["erm_mean"]).mean())
    assert first["p"] == pytest.approx(ref.pvalue)
    assert first["low"] == pytest.approx(ref.confidence_interval().low)
    assert cells["p_smaller"].isna().all()  # no paper number: never contradicted
    outcomes = dict(
        zip(zip(cells["dataset"], cells["window"], strict=True), cells["outcome"], strict=True)
    )
    assert outcomes[("a", "mean")] == REPRODUCED and outcomes[("a", "last")] == REPRODUCED
    assert outcomes[("b", "mean")] == OPPOSITE and outcomes[("b", "last")] == REPRODUCED
    assert outcomes[("c", "mean")] == INCONCLUSIVE
    verdict = page._alignment_verdict(cells, last_epochs=2)
    assert verdict.key == "alignment" and verdict.verdict == CONTRADICTED  # b is lower
    assert "1 reproduced, 1 opposite, 1 inconclusive of 3" in verdict.evidence
    assert "paired over 6 seeds" in verdict.evidence and "last 2 epochs" in verdict.evidence
    only_a = page._alignment_cells(summary[summary["dataset"] == "a"])
    assert page._alignment_verdict(only_a).verdict == REPRODUCED
    table = page._alignment_table(cells)
    assert list(table.columns) == ["FaAlGrad", "ERM", "FaAlGrad − ERM", "outcome"]
    assert table.iloc[0]["FaAlGrad − ERM"].startswith("+0.")


# --- parameters --------------------------------------------------------------------------


def test_notebook_defaults_pass():
    params = page.Params(
        dataset="compas",
        seed=0,
        split="config1",
        etas="auto",
        inner_steps=[2, 5, 10],
        slope_tolerance=0.1,
        datasets=["compas", "adult", "communities", "german"],
        epochs=100,
        last_epochs=20,
        erm_lr="faalgrad",
    )
    assert params == page.Params()  # lists become tuples: the defaults are the notebook's
    assert params.datasets == (
        "compas",
        "adult",
        "communities",
        "german",
    ) and params.inner_steps == (2, 5, 10)
    fixed = page.Params(etas=list(page._DEFAULT_ETAS), split="config2", erm_lr="baseline")
    assert fixed.etas == page._DEFAULT_ETAS
    page.Params(
        dataset="compas", seed=0, split="config1", etas=list(page._DEFAULT_ETAS)
    )  # tests/book's defaults


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"dataset": "compass"}, ["dataset", "compas", "german"]),
        ({"dataset": ["compas"]}, ["dataset", "compas"]),
        ({"seed": -1}, ["seed"]),
        ({"split": "swap"}, ["split", "config1", "config2"]),
        ({"split": "ratio"}, ["split", "config1"]),
        ({"etas": "fixed"}, ["etas", "auto"]),
        ({"etas": [1e-3, 1e-2]}, ["etas"]),
        ({"etas": [0.1, 0.01]}, ["etas"]),
        ({"etas": [0.1, 0.01, 0.0]}, ["etas"]),
        ({"etas": "0.1"}, ["etas"]),
        ({"inner_steps": [1, 2]}, ["inner_steps"]),
        ({"inner_steps": []}, ["inner_steps"]),
        ({"inner_steps": 5}, ["inner_steps"]),
        ({"inner_steps": [2, 2]}, ["inner_steps"]),
        ({"inner_steps": [2.0]}, ["inner_steps"]),
        ({"slope_tolerance": 0}, ["slope_tolerance"]),
        ({"slope_tolerance": "0.1"}, ["slope_tolerance"]),
        ({"datasets": "german"}, ["datasets", "compas", "german"]),
        ({"datasets": []}, ["datasets"]),
        ({"datasets": ["german", "german"]}, ["datasets"]),
        ({"datasets": ["germany"]}, ["datasets", "adult"]),
        ({"epochs": 0}, ["epochs"]),
        ({"epochs": 10.0}, ["epochs"]),
        ({"last_epochs": 0}, ["last_epochs"]),
        ({"last_epochs": 30, "epochs": 20}, ["last_epochs", "epochs=20"]),
        ({"erm_lr": "0.001"}, ["erm_lr", "faalgrad", "baseline"]),
    ],
)
def test_bad_parameters_name_parameter_and_choices(kwargs, names):
    with pytest.raises(ValueError) as info:
        page.Params(**kwargs)
    for name in names:
        assert name in str(info.value)


# --- the page protocol -------------------------------------------------------------------


def test_compute_glue_values_and_verdicts_cover_the_page():
    import re
    from pathlib import Path

    params = page.Params(
        dataset="german",
        inner_steps=[2],
        datasets=["german"],
        seeds=2,
        epochs=4,
        last_epochs=2,
        n_jobs=1,
    )
    assert page.specs(params) == []  # no grid: the page computes and trains by itself
    result = page.compute(params, pd.DataFrame())
    assert list(result["curves"]["method"].unique()) == ["ERM", "FaAlGrad"]
    assert list(result["slopes"]["inner_steps"]) == [1, 2] and len(result["summary_table"]) == 2
    assert sorted(result["curves"]["seed"].unique()) == [0, 1]
    values = page.glue_values(result)
    assert all(isinstance(v, str) for v in values.values())
    assert (
        values["dataset"] == "german"
        and values["inner_steps_list"] == "2"
        and values["epochs"] == "4"
    )
    assert values["n_params"] == str(
        sum(p.numel() for p in page._dataset_problem("german").params.values())
    )
    verdicts = page.verdicts(result)
    assert [v.key for v in verdicts] == ["derivation", "alignment"]
    assert "on german" in verdicts[0].evidence and "last 2 epochs" in verdicts[1].evidence
    for claim in ("derivation", "alignment"):
        assert page.forest_figure(result, claim).axes
    # every name the page's prose quotes is glued
    text = (Path(__file__).parents[2] / "notebooks" / "method_check.md").read_text()
    quoted = set(re.findall(r"\{glue:text\}`(\w+)`", text))
    claims = {f"claim_{v.key}_{what}" for v in verdicts for what in ("verdict", "evidence")}
    assert quoted - claims <= set(values), quoted - claims - set(values)
