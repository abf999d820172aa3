"""Classification metrics against scikit-learn and by hand."""

import numpy as np
import pytest
from sklearn import metrics as skm

from genobench.metrics.classification import classification_metrics, roc_points


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    m = classification_metrics(y, score)
    pred = (score >= 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert [[m["tn"], m["fp"]], [m["fn"], m["tp"]]] == skm.confusion_matrix(y, pred).tolist()


def test_metrics_by_hand_and_edge_cases():
    m = classification_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (1, 1, 1, 1)
    assert m["accuracy"] == m["precision"] == m["recall"] == m["f1"] == 0.5
    assert m["roc_auc"] == 0.75
    assert np.isnan(classification_metrics([1, 1], [0.2, 0.9])["roc_auc"])
    with pytest.raises(ValueError, match="binary labels"):
        classification_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="1-d of the same length"):
        classification_metrics([0, 1, 1], [0.1, 0.2])


def test_roc_points_by_hand():
    # scores 0.1 (neg), 0.4 (pos), 0.6 (neg), 0.9 (pos): thresholds inf, 0.9, 0.6, 0.4, 0.1
    fpr, tpr = roc_points([0, 1, 0, 1], [0.1, 0.4, 0.6, 0.9])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
