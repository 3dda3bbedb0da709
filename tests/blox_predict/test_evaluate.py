"""evaluate_predictor / summarize_evaluation: the Figure 10 protocol as a tidy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from blox_predict import (
    BasePredictor,
    DonnaPredictor,
    LanaPredictor,
    evaluate_predictor,
    summarize_evaluation,
)
from blox_predict.base import check_is_fitted, check_targets, to_indices
from blox_predict.evaluate import EVALUATION_COLUMNS, precision_at_k
from blox_space.arch import indices_to_blocks
from blox_space.errors import ConfigError

COLUMNS = [
    "predictor", "train_size", "seed", "n_test", "spearman", "kendall", "precision_at_k", "k",
    "fit_seconds", "predict_seconds", "status", "message",
]  # fmt: skip


class Spy(BasePredictor):
    """Predicts a fixed score per model; records what it was fitted on and its random_state."""

    name = "spy"
    seen: list = []

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, archs, y):
        models = to_indices(archs)
        check_targets(y, len(models))
        Spy.seen.append((models.copy(), self.random_state))
        self.is_fitted_ = True
        return self

    def predict(self, archs):
        check_is_fitted(self)
        return -np.asarray(to_indices(archs), dtype=np.float64)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(3, 45))
    models = rng.choice(91125, size=60, replace=False)
    blocks = indices_to_blocks(models)
    y = table[0, blocks[:, 0]] + table[1, blocks[:, 1]] + table[2, blocks[:, 2]]
    return table, models, y


def test_one_row_per_size_and_seed_with_exactly_the_contract_columns(data):
    table, models, y = data
    out = evaluate_predictor(LanaPredictor(signatures=table), models, y, train_sizes=[5, 20], seeds=(0, 1, 2))
    assert list(out.columns) == COLUMNS == list(EVALUATION_COLUMNS)
    assert out[["train_size", "seed"]].values.tolist() == [[5, 0], [5, 1], [5, 2], [20, 0], [20, 1], [20, 2]]
    assert (
        (out["predictor"] == "lana").all() and (out["status"] == "ok").all() and (out["message"] == "").all()
    )
    assert out["n_test"].tolist() == [55] * 3 + [40] * 3 and (out["k"] == 10).all()
    np.testing.assert_allclose(out[["spearman", "kendall", "precision_at_k"]].to_numpy(), 1.0)
    assert (out["fit_seconds"] >= 0).all() and (out["predict_seconds"] >= 0).all()
    named = evaluate_predictor(
        LanaPredictor(signatures=table), models, y, train_sizes=[5], seeds=[0], name="LANA x"
    )
    assert named["predictor"].tolist() == ["LANA x"]


def test_training_subsets_come_from_default_rng_of_the_seed_and_the_rest_is_held_out(data):
    _, models, y = data
    Spy.seen.clear()
    out = evaluate_predictor(Spy(), models, y, train_sizes=[7], seeds=[3, 4], top_k=100)
    for (fitted, state), seed in zip(Spy.seen, (3, 4)):
        expected = models[np.random.default_rng(seed).choice(len(models), size=7, replace=False)]
        assert fitted.tolist() == expected.tolist()
        assert state == seed  # random_state None -> the evaluation seed
    assert out["k"].tolist() == [53, 53]  # top_k capped at the held-out count
    Spy.seen.clear()
    evaluate_predictor(Spy(random_state=11), models, y, train_sizes=[7], seeds=[3])
    assert Spy.seen[0][1] == 11  # a given random_state is kept


def test_metrics_are_scipy_spearman_kendall_and_top_k_overlap(data):
    _, models, y = data
    out = evaluate_predictor(Spy(), models, y, train_sizes=[10], seeds=[0], top_k=5)
    test = np.setdiff1d(
        np.arange(len(models)), np.random.default_rng(0).choice(len(models), 10, replace=False)
    )
    pred = -models[test].astype(float)
    row = out.iloc[0]
    assert row["spearman"] == pytest.approx(scipy.stats.spearmanr(pred, y[test]).statistic)
    assert row["kendall"] == pytest.approx(scipy.stats.kendalltau(pred, y[test]).statistic)
    assert row["precision_at_k"] == pytest.approx(precision_at_k(y[test], pred, 5))
    assert precision_at_k(np.array([5, 4, 3, 2, 1.0]), np.array([1, 2, 3, 4, 5.0]), 2) == 0.0
    assert precision_at_k(np.array([5, 4, 3, 2, 1.0]), np.array([9, 1, 8, 0, 0.0]), 2) == 0.5


def test_a_predictor_that_cannot_fit_gives_failed_rows_not_a_crash(data):
    table, models, y = data
    out = evaluate_predictor(
        DonnaPredictor(order=2, signatures=table + 5), models, y, train_sizes=[5, 12], seeds=[0, 1]
    )
    small, large = out[out["train_size"] == 5], out[out["train_size"] == 12]
    assert (small["status"] == "failed").all() and small["spearman"].isna().all()
    assert small["message"].str.contains("TooFewPointsError.*at least 10 training models").all()
    assert (large["status"] == "ok").all()
    missing = DonnaPredictor(signatures=np.full((3, 45), np.nan))
    failed = evaluate_predictor(missing, models, y, train_sizes=[20], seeds=[0])
    assert failed["status"].tolist() == ["failed"] and "ConfigError" in failed["message"][0]
    summary = summarize_evaluation(out)
    row = summary[summary["train_size"] == 5].iloc[0]
    assert row["n_seeds"] == 0 and row["n_failed"] == 2 and np.isnan(row["spearman_mean"])
    assert "TooFewPointsError" in row["message"]


def test_train_sizes_that_leave_nothing_to_rank_are_refused_up_front(data):
    table, models, y = data
    est = LanaPredictor(signatures=table)
    for sizes in ([60], [5, 61], [59]):
        with pytest.raises(ConfigError, match="at most 58"):
            evaluate_predictor(est, models, y, train_sizes=sizes)
    with pytest.raises(ConfigError, match=">= 1"):
        evaluate_predictor(est, models, y, train_sizes=[0])
    with pytest.raises(ConfigError, match="seeds is empty"):
        evaluate_predictor(est, models, y, train_sizes=[5], seeds=[])
    with pytest.raises(ConfigError, match="length 60"):
        evaluate_predictor(est, models, y[:-1], train_sizes=[5])


def test_summary_is_a_t_interval_over_the_seeds():
    table = pd.DataFrame(
        {
            "predictor": ["a"] * 4 + ["b"], "train_size": [10] * 4 + [10], "seed": [0, 1, 2, 3, 0],
            "n_test": 50, "spearman": [0.5, 0.6, 0.7, np.nan, 0.9], "kendall": [0.3, 0.4, 0.5, np.nan] + [0.1],
            "precision_at_k": [0.1, 0.2, 0.3, np.nan, 0.5], "k": 10, "fit_seconds": 1.0,
            "predict_seconds": 0.1, "status": ["ok", "ok", "ok", "failed", "ok"], "message": ["", "", "", "boom", ""],
        }
    )  # fmt: skip
    out = summarize_evaluation(table, confidence=0.9)
    a = out[out["predictor"] == "a"].iloc[0]
    half = scipy.stats.t.ppf(0.95, 2) * np.std([0.5, 0.6, 0.7], ddof=1) / np.sqrt(3)
    assert a["spearman_mean"] == pytest.approx(0.6)
    assert (a["spearman_low"], a["spearman_high"]) == (pytest.approx(0.6 - half), pytest.approx(0.6 + half))
    assert a["n_seeds"] == 3 and a["n_failed"] == 1 and a["message"] == "boom"
    b = out[out["predictor"] == "b"].iloc[0]
    assert b["spearman_mean"] == 0.9 and np.isnan(b["spearman_low"]) and b["n_seeds"] == 1
    assert out.columns[:5].tolist() == [
        "predictor",
        "train_size",
        "spearman_mean",
        "spearman_low",
        "spearman_high",
    ]
    with pytest.raises(ConfigError, match="confidence"):
        summarize_evaluation(table, confidence=1.5)
    with pytest.raises(ConfigError, match="lacks columns"):
        summarize_evaluation(table.drop(columns=["kendall"]))
