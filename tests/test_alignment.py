"""The gradient-alignment approximation of the one-step meta-gradient (paper 4.1)."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from faalgrad import alignment
from faalgrad.train import TrainConfig, build_mlp


def _problem(activation="tanh", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(float)
    model = build_mlp(5, TrainConfig(hidden=(6,), activation=activation), seed)
    return alignment.make_problem(model, X[:20], y[:20], X[20:], y[20:], inner_lr=0.01)


def test_problem_is_float64():
    p = _problem()
    assert all(v.dtype == torch.float64 for v in p.params.values())
    assert p.X_s.dtype == torch.float64 and p.n_params == 5 * 6 + 6 + 6 + 1


def test_equal_to_exact_at_eta_zero():
    p = _problem()
    exact = alignment._flat(alignment.exact_gradient(p, 0.0))
    approx = alignment._flat(alignment.alignment_gradient(p, 0.0))
    torch.testing.assert_close(approx, exact, rtol=0, atol=1e-14)


def test_alignment_term_is_gradient_of_dot_product():
    # central finite difference of g_q . g_s along a random direction
    p = _problem()
    eta = 0.1
    g_dot = alignment._flat(alignment.alignment_gradient(p, 0.0)) - alignment._flat(alignment.alignment_gradient(p, eta))
    g_dot = g_dot / eta
    direction = {k: torch.randn_like(v, generator=torch.Generator().manual_seed(1)) for k, v in p.params.items()}
    h = 1e-5
    plus = {k: p.params[k] + h * direction[k] for k in p.params}
    minus = {k: p.params[k] - h * direction[k] for k in p.params}
    f = lambda q: float(alignment._loss_grads_dot(q, p.model, p.X_s, p.y_s, p.X_q, p.y_q))  # noqa: E731
    fd = (f(plus) - f(minus)) / (2 * h)
    assert float(g_dot @ alignment._flat(direction)) == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_error_is_second_order_on_smooth_network():
    sweep = alignment.error_sweep(_problem("tanh"), np.logspace(-4, -1, 7))
    assert list(sweep.columns) == ["eta", "error", "relative_error", "first_order_error", "activation_flips", "smooth"]
    assert sweep["smooth"].all()  # tanh: no ReLU kinks
    assert alignment.fitted_slope(sweep) == pytest.approx(2.0, abs=0.1)
    assert alignment.fitted_slope(sweep, "first_order_error") == pytest.approx(1.0, abs=0.1)
    assert (sweep["error"] < sweep["first_order_error"]).all()


def test_relu_flips_counted_and_smooth_fit():
    p = _problem("relu")
    sweep = alignment.error_sweep(p, [1e-6, 1e-5, 1e-4, 1e-3, 3.0e-1, 0.9])
    assert sweep["activation_flips"].is_monotonic_increasing
    assert sweep["smooth"].iloc[0] and not sweep["smooth"].iloc[-1]
    assert alignment.fitted_slope(sweep, smooth_only=True) == pytest.approx(2.0, abs=0.1)
    assert alignment.activation_flips(p, 0.0) == 0


def test_smooth_fit_needs_two_rows():
    sweep = pd.DataFrame({"eta": [0.1, 0.2], "error": [1.0, 4.0], "smooth": [True, False]})
    with pytest.raises(ValueError, match="flip-free"):
        alignment.fitted_slope(sweep, smooth_only=True)
    assert alignment.fitted_slope(sweep) == pytest.approx(2.0)


def test_long_form_has_both_quantities():
    sweep = alignment.error_sweep(_problem(), [1e-3, 1e-2, 1e-1])
    long = alignment.long_form(sweep)
    assert len(long) == 6 and long["quantity"].nunique() == 2


def test_dataset_problem_uses_config1_split():
    p = alignment.dataset_problem("german", 0)
    assert p.dataset == "german" and len(p.y_s) > 0 and len(p.y_q) > 0
    assert isinstance(p.model, nn.Sequential)
