"""esm_speed validation: the accuracy-drop verdict, baseline metrics, checkpoint reload
check and one model's classifier end to end."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from genobench.benchmarks.esm_speed.classifier import (
    CheckpointError,
    load_classifier,
    save_classifier,
    split_indices,
    train_classifier,
)
from genobench.benchmarks.esm_speed.validation import (
    accuracy_drop_verdict,
    baseline_for,
    load_baseline_metrics,
    validate_encoder,
    verify_checkpoint,
)
from genobench.status import FAIL, NO_BASELINE, PASS


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
    with pytest.raises(ValueError, match="accuracy_threshold must be >= 0"):
        accuracy_drop_verdict({"accuracy": 0.8}, None, threshold=-0.1)


def test_baseline_metrics_from_json_file_inline_and_per_model(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"accuracy": 0.9, "f1": 0.88}))
    assert load_baseline_metrics(str(path))["accuracy"] == 0.9
    assert load_baseline_metrics('{"accuracy": 0.7}') == {"accuracy": 0.7}
    assert load_baseline_metrics(None) is None
    per_model = load_baseline_metrics({"m1": {"accuracy": 0.8}})
    assert baseline_for(per_model, "m1") == {"accuracy": 0.8}
    assert baseline_for(per_model, "m2") is None
    assert baseline_for({"accuracy": 0.7}, "any model") == {"accuracy": 0.7}
    with pytest.raises(ValueError, match="not a file"):
        load_baseline_metrics(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="needs an 'accuracy'"):
        load_baseline_metrics('{"f1": 0.7}')
    with pytest.raises(ValueError, match="not valid inline JSON"):
        load_baseline_metrics('{"accuracy": }')


def _toy(dim=8, n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, dim)) + y[:, None] * 1.5
    return x, y


def test_verify_checkpoint_accepts_its_own_and_refuses_another_classifier(tmp_path):
    x, y = _toy()
    split = split_indices(y)
    saved, _ = train_classifier(x, y, split, "toy", seed=0, hidden_layer_sizes=[4], alphas=[1.0])
    other, _ = train_classifier(x, y, split, "toy", seed=1, hidden_layer_sizes=[4], alphas=[1.0])
    folder = save_classifier(saved, tmp_path / "ckpt")
    back = verify_checkpoint(folder, saved, x)
    np.testing.assert_array_equal(back.predict_proba(x), saved.predict_proba(x))
    worst = np.max(np.abs(saved.predict_proba(x) - other.predict_proba(x)))
    assert worst > 1e-3  # two seeds give two different classifiers
    with pytest.raises(CheckpointError, match="does not predict what the saved one did"):
        verify_checkpoint(folder, other, x)


class EmbeddingTable:
    """A stand-in encoder: each sequence's embedding is a row of a fixed matrix."""

    label = "table [none]"

    def __init__(self, seqs, x):
        self.rows = {s: row for s, row in zip(seqs, x)}

    def embed(self, seqs, batch_size, max_length, progress=False):
        return np.stack([self.rows[s] for s in seqs]).astype(np.float32)


def test_validate_encoder_scores_the_test_split_and_saves_a_checkpoint(tmp_path):
    x, y = _toy()
    labelled = pd.DataFrame({"id": [f"p{i}" for i in range(len(y))], "label": y})
    labelled["seq"] = ["M" + "A" * i for i in range(len(y))]
    splits = split_indices(y, seed=0)
    enc = EmbeddingTable(labelled["seq"], x)
    v = validate_encoder(
        enc, labelled, splits, tmp_path / "ckpt", "pair", "fast", hidden_layer_sizes=[8]
    )
    test = splits["test"]
    assert list(v.test_scores["id"]) == list(labelled["id"].iloc[test])
    scores = v.test_scores["score"]
    assert v.metrics["test"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[test], scores))
    assert v.metrics["test"]["accuracy"] == pytest.approx(
        skm.accuracy_score(y[test], scores >= 0.5)
    )
    assert v.metrics["test"]["accuracy"] > 0.85  # the classes are 1.5 sd apart
    assert v.metrics["val"]["n"] == len(splits["val"])
    assert v.roc[2] == v.metrics["test"]["roc_auc"]
    back = load_classifier(tmp_path / "ckpt", expected_dim=8, expected_model_id=enc.label)
    np.testing.assert_allclose(back.predict_proba(x[test]), scores)
