"""Classification metrics against scikit-learn, the accuracy-drop verdict, classifier
checkpoints."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from genobench.benchmarks.esm_speed.classifier import (
    FORMAT_VERSION,
    CheckpointError,
    load_classifier,
    save_classifier,
    split_indices,
    train_classifier,
)
from genobench.metrics.classification import (
    accuracy_drop_verdict,
    baseline_for,
    classification_metrics,
    load_baseline_metrics,
)
from genobench.status import FAIL, NO_BASELINE, PASS


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


@pytest.mark.parametrize(
    "baseline, fast, status",
    [
        (0.90, 0.90, PASS),
        (0.90, 0.95, PASS),  # better than baseline
        (0.90, 0.86, PASS),  # drop 0.04
        (0.90, 0.85, PASS),  # drop exactly the threshold (0.05000000000000004 in floats)
        (0.90, 0.849, FAIL),  # drop 0.051
        (0.90, 0.50, FAIL),
    ],
)
def test_accuracy_drop_threshold(baseline, fast, status):
    v = accuracy_drop_verdict(
        {"accuracy": fast, "f1": fast}, {"accuracy": baseline, "f1": 0.8}, threshold=0.05
    )
    assert v.status == status
    assert v.accuracy_drop == pytest.approx(baseline - fast)
    assert v.deltas["f1"] == pytest.approx(fast - 0.8)
    assert bool(v.next_steps) == (status == FAIL)


def test_no_baseline_reports_the_fast_model_alone():
    v = accuracy_drop_verdict({"accuracy": 0.8}, None)
    assert v.status == NO_BASELINE and np.isnan(v.accuracy_drop)
    assert "0.800 is reported alone" in v.message


def test_baseline_metrics_from_json_file_inline_and_per_model(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"accuracy": 0.9, "f1": 0.88}))
    assert load_baseline_metrics(str(path))["accuracy"] == 0.9
    assert load_baseline_metrics('{"accuracy": 0.7}') == {"accuracy": 0.7}
    assert load_baseline_metrics(None) is None
    per_model = load_baseline_metrics({"m1": {"accuracy": 0.8}})
    assert baseline_for(per_model, "m1") == {"accuracy": 0.8}
    assert baseline_for(per_model, "m2") is None
    with pytest.raises(ValueError, match="not a file"):
        load_baseline_metrics(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="needs an 'accuracy'"):
        load_baseline_metrics('{"f1": 0.7}')
    with pytest.raises(ValueError, match="not valid inline JSON"):
        load_baseline_metrics('{"accuracy": }')


def test_split_is_stratified_seeded_and_complete():
    y = np.array([0] * 60 + [1] * 40)
    s = split_indices(y, (0.6, 0.2, 0.2), seed=1)
    assert sorted(np.concatenate(list(s.values()))) == list(range(100))
    assert [len(s[k]) for k in ("train", "val", "test")] == [60, 20, 20]
    assert y[s["test"]].mean() == pytest.approx(0.4)
    assert all(np.array_equal(s[k], split_indices(y, (0.6, 0.2, 0.2), seed=1)[k]) for k in s)
    with pytest.raises(ValueError, match="three positive fractions"):
        split_indices(y, (0.5, 0.5))


def _toy(dim=8, n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, dim)) + y[:, None] * 1.5
    return x, y


def test_classifier_learns_and_checkpoint_round_trips(tmp_path):
    x, y = _toy()
    split = split_indices(y, seed=0)
    clf, table = train_classifier(
        x, y, split, "toy-model", seed=0, hidden_layer_sizes=[8], alphas=[1e-3, 1.0]
    )
    assert sum(r["selected"] for r in table) == 1
    assert clf.metrics(x[split["test"]], y[split["test"]])["accuracy"] > 0.85
    folder = save_classifier(clf, tmp_path / "ckpt")
    meta = json.loads((folder / "meta.json").read_text())
    assert (meta["format_version"], meta["embedding_dim"], meta["model_id"]) == (
        FORMAT_VERSION,
        8,
        "toy-model",
    )
    back = load_classifier(folder, expected_dim=8, expected_model_id="toy-model")
    np.testing.assert_allclose(back.predict_proba(x), clf.predict_proba(x))


def test_checkpoint_with_wrong_dimension_or_version_is_refused(tmp_path):
    x, y = _toy()
    clf, _ = train_classifier(
        x, y, split_indices(y), "toy-model", hidden_layer_sizes=[4], alphas=[0.01]
    )
    folder = save_classifier(clf, tmp_path / "ckpt")
    with pytest.raises(
        CheckpointError,
        match="trained on 8-dimensional embeddings of "
        "'toy-model', but these embeddings are "
        "16-dimensional",
    ):
        load_classifier(folder, expected_dim=16)
    with pytest.raises(CheckpointError, match="trained on embeddings of 'toy-model', not 'other'"):
        load_classifier(folder, expected_model_id="other")
    with pytest.raises(CheckpointError, match="takes 8-dimensional embeddings"):
        clf.predict_proba(np.zeros((2, 5)))
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(
        CheckpointError, match=f"format version 99, this genobench reads version {FORMAT_VERSION}"
    ):
        load_classifier(folder)
    with pytest.raises(CheckpointError, match="not a classifier checkpoint"):
        load_classifier(tmp_path)
