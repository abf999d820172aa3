import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from genobench.metrics.variant_effect import (
    auprc,
    auprc_rows,
    auroc,
    auroc_rows,
    bootstrap_ci,
    metric_row,
    zeroshot_metrics,
)


@pytest.mark.parametrize("ties", [False, True])
def test_metrics_match_scikit_learn(ties):
    rng = np.random.default_rng(1)
    for n in rng.integers(4, 80, 10):
        # 30 resamples of n variants, scored row by row against scikit-learn
        y = rng.integers(0, 2, (30, n))
        y[:, :2] = [0, 1]
        s = rng.integers(0, 4, (30, n)).astype(float) if ties else rng.normal(size=(30, n))
        rows_auroc, rows_auprc = auroc_rows(y, s), auprc_rows(y, s)
        for i in range(len(y)):
            assert auroc(y[i], s[i]) == pytest.approx(roc_auc_score(y[i], s[i]), abs=1e-12)
            assert auprc(y[i], s[i]) == pytest.approx(
                average_precision_score(y[i], s[i]), abs=1e-12
            )
            assert rows_auroc[i] == pytest.approx(roc_auc_score(y[i], s[i]), abs=1e-12)
            assert rows_auprc[i] == pytest.approx(average_precision_score(y[i], s[i]), abs=1e-12)


def test_bootstrap_draws_the_resamples_a_loop_of_single_draws_would():
    y = np.array([1, 0, 0, 0, 0, 0])  # a third of resamples miss the positive: skipped
    s = np.random.default_rng(2).normal(size=6)
    draws = np.random.default_rng(7)
    values = []
    for _ in range(200):
        idx = draws.integers(0, 6, 6)
        if y[idx].min() != y[idx].max():
            values.append(roc_auc_score(y[idx], s[idx]))
    low, high, used = bootstrap_ci(y, s, auroc_rows, n_bootstrap=200, seed=7)
    assert used == len(values) < 200
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)


def test_nan_scores_are_dropped_and_counted():
    y = np.array([0, 1, 0, 1, 1])
    s = np.array([0.1, 0.9, np.nan, 0.8, 0.2])
    keep = ~np.isnan(s)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y[keep], s[keep]))
    row = metric_row(y, s, n_bootstrap=0)
    assert (row["n"], row["n_unscored"], row["n_pathogenic"]) == (4, 1, 3)


def test_one_class_gives_nan_not_an_error():
    assert np.isnan(auroc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert np.isnan(bootstrap_ci([1, 1], [0.1, 0.2], auroc_rows)[0])


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = y + rng.normal(scale=1.5, size=300)
    low, high, used = bootstrap_ci(y, s, auroc_rows, n_bootstrap=300, seed=4)
    assert low < roc_auc_score(y, s) < high and used == 300
    assert bootstrap_ci(y, s, auroc_rows, n_bootstrap=300, seed=4)[:2] == (low, high)
    assert 0.02 < high - low < 0.2


def test_zeroshot_metrics_per_model_and_region():
    rng = np.random.default_rng(0)
    n = 200
    base = pd.DataFrame(
        {"label": rng.integers(0, 2, n), "region_type": rng.choice(["coding", "splice"], n)}
    )
    scores = pd.concat(
        [
            base.assign(
                model="good",
                method="m",
                pathogenicity=base["label"] + rng.normal(scale=0.5, size=n),
            ),
            base.assign(model="random", method="m", pathogenicity=rng.normal(size=n)),
        ]
    )
    m = zeroshot_metrics(scores, n_bootstrap=50)
    assert list(m["region_type"]) == ["all", "coding", "splice"] * 2
    good = m[(m["model"] == "good") & (m["region_type"] == "coding")].iloc[0]
    part = base[base["region_type"] == "coding"].index
    sub = scores[(scores["model"] == "good")].loc[part]
    assert good["auroc"] == pytest.approx(roc_auc_score(sub["label"], sub["pathogenicity"]))
    assert good["auroc"] > 0.8
    assert m.loc[m["model"] == "random", "auroc"].between(0.3, 0.7).all()
