"""The SHAP page (faalgrad.studies.shap): local accuracy, exactness on known models, tables,
glue, claim rule."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import shap  # noqa: E402
import torch  # noqa: E402

from faalgrad.runs import cached_split  # noqa: E402
from faalgrad.splits import SplitData  # noqa: E402
from faalgrad.studies import shap as page  # noqa: E402
from faalgrad.studies.stats import CONTRADICTED, INCONCLUSIVE, REPRODUCED  # noqa: E402
from faalgrad.train import TrainConfig, TrainResult, build_mlp  # noqa: E402


def _result(n_features: int, activation: str = "relu", seed: int = 0, hidden=(6,)) -> TrainResult:
    model = build_mlp(n_features, TrainConfig(hidden=hidden, activation=activation), seed)
    return TrainResult(
        model=model, params={k: v.detach().clone() for k, v in model.named_parameters()}
    )


def _split(n_features: int = 5, seed: int = 3) -> SplitData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, n_features)).astype(np.float32)
    X[:, -1] = rng.integers(0, 2, size=120)  # a 0/1 protected column, last as in split_dataset
    y = rng.integers(0, 2, size=120)
    names = tuple(f"x{i}" for i in range(n_features - 1)) + ("sex_female",)
    return SplitData(
        X[:60],
        y[:60],
        X[:60, -1].astype(int),
        X[60:80],
        y[60:80],
        X[60:80, -1].astype(int),
        X[80:],
        y[80:],
        X[80:, -1].astype(int),
        names,
        "toy",
        seed,
    )


def _explanation(values, names=("a", "b", "c")):
    values = np.asarray(values, dtype=float)
    return shap.Explanation(
        values=values,
        base_values=np.zeros(len(values)),
        data=np.zeros_like(values),
        feature_names=list(names),
    )


# --- attributions ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_deep_shap_is_locally_accurate(activation):
    data = _split()
    result = _result(5, activation)
    e = page._explain_model(result, data, n_explain=30, n_background=25)
    background, explained = page._sample_rows(data, n_explain=30, n_background=25)
    f_x = page._predicted_probability(result, data.X_test[explained])
    assert e.values.shape == (30, 5) and list(e.feature_names) == list(data.feature_names)
    assert page._additivity_error(e, f_x) < 1e-5
    # the base value is the mean prediction over the background rows
    assert np.allclose(
        e.base_values,
        page._predicted_probability(result, data.X_train[background]).mean(),
        atol=1e-6,
    )


def test_explanation_is_deterministic_and_does_not_touch_the_model():
    data = _split()
    result = _result(5)
    before = {k: v.clone() for k, v in result.params.items()}
    a = page._explain_model(result, data, n_explain=20, n_background=20)
    b = page._explain_model(result, data, n_explain=20, n_background=20)
    np.testing.assert_array_equal(a.values, b.values)
    assert all(torch.equal(before[k], result.params[k]) for k in before)
    assert not result.model._forward_hooks and not any(
        m._forward_hooks for m in result.model.modules()
    )


def test_sample_rows_is_seeded_and_clamped():
    data = _split()
    b1, x1 = page._sample_rows(data, n_explain=10, n_background=15)
    b2, x2 = page._sample_rows(data, n_explain=10, n_background=15)
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(x1, x2)
    assert len(set(b1)) == 15 and np.all(np.diff(b1) > 0)
    b, x = page._sample_rows(data, n_explain=1000, n_background=1000)
    assert len(b) == 60 and len(x) == 40


def test_exact_shap_of_a_linear_model():
    rng = np.random.default_rng(0)
    w, c = np.array([2.0, -1.0, 0.5, 0.0]), 0.3
    X, B = rng.normal(size=(7, 4)), rng.normal(size=(11, 4))
    values, base = page._exact_shap(lambda Z: Z @ w + c, X, B)
    np.testing.assert_allclose(values, w * (X - B.mean(axis=0)), atol=1e-12)
    assert base == pytest.approx(B.mean(axis=0) @ w + c)


def test_exact_shap_is_efficient_and_symmetric_on_an_interaction():
    X, B = np.array([[1.0, 1.0, 5.0]]), np.zeros((1, 3))
    values, base = page._exact_shap(lambda Z: Z[:, 0] * Z[:, 1], X, B)
    np.testing.assert_allclose(values, [[0.5, 0.5, 0.0]])
    assert values.sum() + base == pytest.approx(1.0)
    with pytest.raises(ValueError, match="max_features"):
        page._exact_shap(lambda Z: Z[:, 0], np.zeros((1, 13)), np.zeros((1, 13)))


def test_only_the_feature_that_matters_gets_rank_1():
    data = _split()
    result = _result(5)
    weight = result.params["0.weight"]
    weight[:, 1:] = 0.0  # the first layer reads feature x0 only
    e = page._explain_model(result, data, n_explain=30, n_background=25)
    table = page._feature_importance(e)
    assert table.loc["x0", "rank"] == 1 and table.loc["x0", "share"] == pytest.approx(1.0)
    np.testing.assert_allclose(e.values[:, 1:], 0.0, atol=1e-7)
    # and Deep SHAP then equals the exact Shapley values (a function of one feature)
    background, explained = page._sample_rows(data, n_explain=30, n_background=25)
    exact, _ = page._exact_shap(
        lambda Z: page._predicted_probability(result, Z),
        data.X_test[explained],
        data.X_train[background],
    )
    np.testing.assert_allclose(e.values, exact, atol=1e-5)


def test_deep_shap_is_close_to_exact_on_a_small_mlp():
    data = _split()
    result = _result(5, "tanh", hidden=(4,))
    e = page._explain_model(result, data, n_explain=20, n_background=20)
    background, explained = page._sample_rows(data, n_explain=20, n_background=20)
    exact, base = page._exact_shap(
        lambda Z: page._predicted_probability(result, Z),
        data.X_test[explained],
        data.X_train[background],
    )
    assert e.base_values[0] == pytest.approx(base, abs=1e-6)
    scale = np.abs(exact).mean()
    assert np.abs(e.values - exact).mean() < 0.2 * scale
    np.testing.assert_array_equal(
        page._feature_importance(e)["rank"],
        page._feature_importance(_explanation(exact, data.feature_names))["rank"],
    )


# --- importance, tables -----------------------------------------------------------------------


def test_feature_importance_on_a_hand_made_explanation():
    table = page._feature_importance(_explanation([[1.0, -2.0, 0.0], [-3.0, 2.0, 0.0]]))
    assert list(table.index) == ["a", "b", "c"]
    np.testing.assert_allclose(table["mean_abs_shap"], [2.0, 2.0, 0.0])
    np.testing.assert_allclose(table["share"], [0.5, 0.5, 0.0])
    assert list(table["rank"]) == [1, 1, 3]  # ties share the best rank
    got = page._sensitive_importance(_explanation([[1.0, -4.0, 0.5]]), "a")
    assert np.isnan(got.pop("protected_shap"))  # no explained row has a = 1
    assert got == {
        "mean_abs_shap": 1.0,
        "share": pytest.approx(1 / 5.5),
        "rank": 2,
        "n_features": 3,
    }
    e = shap.Explanation(
        values=np.array([[-0.3, 1.0], [0.1, 1.0], [-0.1, 1.0]]),
        base_values=np.zeros(3),
        data=np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]),
        feature_names=["sex_female", "x"],
    )
    assert page._sensitive_importance(e, "sex_female")["protected_shap"] == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="'z'"):
        page._sensitive_importance(_explanation([[1.0, 2.0, 3.0]]), "z")


def _rows(values: dict[tuple[str, str], list[tuple[float, float, int]]]) -> pd.DataFrame:
    """rows from {(dataset, model): [(mean_abs_shap, share, rank) per seed]}."""
    return pd.DataFrame(
        [
            {
                "dataset": d,
                "seed": s,
                "model": m,
                "feature": "sex_female",
                "mean_abs_shap": v,
                "share": sh,
                "rank": r,
                "n_features": 10,
                "protected_shap": -v,
            }
            for (d, m), per_seed in values.items()
            for s, (v, sh, r) in enumerate(per_seed)
        ]
    )


def test_sensitive_rows_and_table():
    names = ("x", "y", "sex_female")
    explanations = {
        ("adult", 0, "baseline"): _explanation([[0.0, 0.0, 4.0]], names),
        ("adult", 0, "faalgrad"): _explanation([[2.0, 0.0, 1.0]], names),
        ("adult", 1, "baseline"): _explanation([[0.0, 0.0, 2.0]], names),
        ("adult", 1, "faalgrad"): _explanation([[1.0, 2.0, 3.0]], names),
    }
    rows = page._sensitive_rows(explanations)
    assert list(rows.columns[:4]) == ["dataset", "seed", "model", "feature"] and len(rows) == 4
    table = page._sensitive_table(rows)
    assert table.shape[0] == 1 and table.loc[0, "n_seeds"] == 2 and table.loc[0, "n_features"] == 3
    assert table.loc[0, "mean_abs_shap_baseline_mean"] == pytest.approx(3.0)
    assert table.loc[0, "mean_abs_shap_baseline_std"] == pytest.approx(np.std([4.0, 2.0], ddof=1))
    assert table.loc[0, "mean_abs_shap_faalgrad_mean"] == pytest.approx(2.0)
    assert table.loc[0, "rank_baseline_mean"] == 1 and table.loc[
        0, "rank_faalgrad_mean"
    ] == pytest.approx(1.5)
    shown = page._format_sensitive_table(table).reset_index().set_index("model")
    assert list(shown.index) == ["baseline", "FaAlGrad"]  # one row per model
    assert (shown["sensitive feature"] == "sex_female").all() and (shown["features"] == 3).all()
    assert shown.loc["baseline", "mean |SHAP|"] == "3.000 ± 1.414"
    assert shown.loc["FaAlGrad", "rank"] == "1.5 ± 0.7"
    with pytest.raises(ValueError, match="share"):
        page._sensitive_table(rows.drop(columns="share"))


def test_tables_glue_values_and_verdicts():
    names = ("x", "y", "sex_female")
    explanations = {
        ("adult", 0, "baseline"): _explanation([[0.0, 0.0, 4.0]], names),
        ("adult", 0, "faalgrad"): _explanation([[2.0, 0.0, 1.0]], names),
        ("adult", 1, "baseline"): _explanation([[0.0, 0.0, 2.0]], names),
        ("adult", 1, "faalgrad"): _explanation([[1.0, 2.0, 3.0]], names),
    }
    accuracy = pd.DataFrame(
        {
            "model": list(page._MODEL_LABELS.values()),
            "additivity_error": [1e-8, 2e-6],
            "max_abs_error": [0.01234, 0.02],
            "sensitive_deep": [0.11, 0.2],
            "sensitive_exact": [0.1, 0.2],
            "rank_deep": [1, 2],
            "rank_exact": [1, 3],
            "spearman": [0.987, 0.9],
        }
    )
    params = page.Params(datasets=["adult"], seeds=2, n_explain=30, n_background=20, n_jobs=1)
    assert page.specs(params) == []  # no grid: the page trains and explains its models itself
    result = page._tables(explanations, accuracy, params)
    shown = result["accuracy_shown"]
    assert list(shown.columns) == list(page._ACCURACY_HEADERS.values())
    assert list(shown["additivity error"]) == ["< 1e-6", ">= 1e-6"]
    assert shown.loc[0, "max |Deep − exact|"] == pytest.approx(0.012)
    assert list(shown["sensitive feature rank (exact)"]) == [1, 3]
    values = page.glue_values(result)
    assert all(isinstance(v, str) for v in values.values())
    assert (
        values["n_seeds"] == "2" and values["n_explain"] == "30" and values["n_background"] == "20"
    )
    assert values["acc_additivity"] == "2.0e-06" and values["acc_max_error"] == "0.020"
    assert (
        values["acc_rel_error"] == "10"
        and values["acc_rank_agree"] == "1"
        and values["acc_min_spearman"] == "0.90"
    )
    assert values["adult_feature"] == "sex_female" and values["adult_n_features"] == "3"
    assert values["adult_before"] == "3.000" and values["adult_after"] == "2.000"
    assert values["adult_rank_before"] == "1.0" and values["adult_rank_after"] == "1.5"
    assert values["adult_protected_before"] == "–"  # no explained row is in the protected group
    assert values["n_datasets"] == "1" and values["n_lower"] == "1" and values["n_rank_down"] == "1"
    [verdict] = page.verdicts(result)
    assert verdict.key == "shap"


def test_model_labels_come_from_the_registry():
    from faalgrad.runs import METHODS

    assert page._MODEL_LABELS["baseline"] == METHODS["erm"].label
    assert page._MODEL_LABELS["faalgrad"].startswith(METHODS["faalgrad"].label)


def test_sensitive_rows_of_real_feature_names():
    names = ("age", "race_Black", "sex_female")
    e = _explanation([[1.0, 0.5, 0.25]], names)
    rows = page._sensitive_rows({("adult", 0, "baseline"): e, ("adult", 0, "faalgrad"): e})
    assert list(rows["feature"]) == ["sex_female"] * 2 and list(rows["rank"]) == [3, 3]


def test_sensitive_feature_is_one_column_for_every_dataset():
    for dataset in ("compas", "german"):
        name = page._sensitive_feature(dataset)
        assert name in cached_split(dataset, 0).feature_names
    with pytest.raises(ValueError, match="exactly one"):
        page._sensitive_feature("adult", ["age", "sex_female", "sex_female"])
    with pytest.raises(ValueError, match="one-hot"):
        page._sensitive_feature("adult", ["age", "sex_male", "sex_female"])


# --- the claim --------------------------------------------------------------------------------


def _seeds(base: tuple, step: tuple, n: int = 6) -> list[tuple]:
    """``n`` seeds of (mean_abs_shap, share, rank) around ``base``, varying by ``step``."""
    wobble = [0.0, 0.3, -0.2, 0.1, -0.3, 0.2][:n]
    return [(base[0] + w * step[0], base[1] + w * step[1], base[2]) for w in wobble]


def test_claim_reproduced_when_every_dataset_drops():
    rows = _rows(
        {
            ("a", "baseline"): _seeds((0.11, 0.21, 2), (0.02, 0.02)),
            ("a", "faalgrad"): _seeds((0.025, 0.055, 8), (0.021, 0.018)),
            ("b", "baseline"): _seeds((0.055, 0.10, 3), (0.01, 0.01)),
            ("b", "faalgrad"): _seeds((0.015, 0.025, 9), (0.012, 0.011)),
        }
    )
    cases = page._shap_cases(rows)
    assert list(cases["outcome"]) == [REPRODUCED] * 4
    assert cases["p_smaller"].isna().all()  # the paper gives no number: nothing to rule out
    v = page._shap_claim(rows)
    assert v.key == "shap" and v.verdict == REPRODUCED
    assert "paired over 6 seeds and Holm-corrected over the 4 cases" in v.evidence
    assert "both drop, per dataset: 2 reproduced of 2 (" in v.evidence
    assert "a 0.110 → 0.025" in v.evidence and "rank 2.0 → 8.0" in v.evidence


def test_claim_contradicted_where_a_dataset_rises_and_inconclusive_on_one_seed():
    drop = {
        ("a", "baseline"): _seeds((0.10, 0.2, 2), (0.02, 0.02)),
        ("a", "faalgrad"): _seeds((0.05, 0.1, 5), (0.021, 0.019)),
    }
    rise = {
        ("b", "baseline"): _seeds((0.05, 0.1, 5), (0.02, 0.02)),
        ("b", "faalgrad"): _seeds((0.10, 0.2, 2), (0.021, 0.019)),
    }
    # b's rise is significant: the data go against the claim on b
    assert page._shap_claim(_rows({**drop, **rise})).verdict == CONTRADICTED
    one_seed = {k: v[:1] for k, v in drop.items()}
    assert page._shap_claim(_rows(one_seed)).verdict == INCONCLUSIVE


def test_claim_needs_a_lower_share_not_just_smaller_outputs():
    # every attribution halves: the sensitive feature's share of the total does not drop
    rows = _rows(
        {
            ("a", "baseline"): _seeds((0.10, 0.2, 2), (0.02, 0.0)),
            ("a", "faalgrad"): _seeds((0.05, 0.2, 2), (0.01, 0.0)),
        }
    )
    cases = page._shap_cases(rows).set_index("statistic")["outcome"]
    assert cases["mean_abs_shap"] == REPRODUCED and cases["share"] == INCONCLUSIVE
    assert page._shap_claim(rows).verdict == INCONCLUSIVE


def test_claim_ignores_a_drop_within_the_seed_noise():
    # paired differences -0.05, +0.04, -0.02: mean -0.01, far inside its interval
    rows = _rows(
        {
            ("a", "baseline"): [(0.10, 0.2, 2), (0.10, 0.2, 2), (0.10, 0.2, 2)],
            ("a", "faalgrad"): [(0.05, 0.1, 3), (0.14, 0.25, 3), (0.08, 0.15, 3)],
        }
    )
    assert page._shap_claim(rows).verdict == INCONCLUSIVE


def test_claim_needs_both_models():
    rows = _rows({("a", "baseline"): [(0.10, 0.2, 2)]})
    with pytest.raises(ValueError, match="both models"):
        page._shap_claim(rows)
    with pytest.raises(ValueError, match="no rows"):
        page._shap_claim(rows.iloc[:0])


# --- parameters, plot --------------------------------------------------------------------------


def test_page_defaults_pass():
    page.Params()
    params = page.Params(
        datasets=["compas", "adult", "communities", "german"],
        seeds=5,
        n_explain=200,
        n_background=100,
        n_jobs=2,
    )
    assert params.datasets == ("compas", "adult", "communities", "german")


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"datasets": ["compass"]}, ["datasets", "compas", "german"]),
        ({"seeds": 0}, ["seeds"]),
        ({"n_explain": 5}, ["n_explain", "10"]),
        ({"n_explain": 50.0}, ["n_explain"]),
        ({"n_background": True}, ["n_background"]),
        ({"n_jobs": 0}, ["n_jobs"]),
    ],
)
def test_bad_parameters_name_parameter_and_choices(kwargs, names):
    with pytest.raises(ValueError) as info:
        page.Params(**kwargs)
    for name in names:
        assert name in str(info.value)


def test_trained_model_rejects_unknown_model():
    with pytest.raises(ValueError, match="baseline, faalgrad"):
        page._trained_model("german", 0, "erm")


def test_beeswarm_always_shows_the_sensitive_feature():
    values = np.tile(np.arange(12, 0, -1, dtype=float), (6, 1)) * np.linspace(-1, 1, 6)[:, None]
    names = [f"f{i}" for i in range(11)] + ["sex_female"]
    e = _explanation(values, names)  # sex_female has the smallest |SHAP|: rank 12
    fig, ax = plt.subplots()
    page._beeswarm(e, feature="sex_female", ax=ax, title="t", max_display=5)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)
    assert "sex_female (sensitive, rank 12/12)" in labels
    assert (
        any(label.startswith("Sum of") for label in labels) and "f0" in labels and len(labels) == 5
    )
