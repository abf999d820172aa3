"""The embedding classifier: seeded splits, training, checkpoints."""

import json

import numpy as np
import pytest

from genobench.benchmarks.esm_speed.classifier import (
    FORMAT_VERSION,
    CheckpointError,
    load_classifier,
    save_classifier,
    split_indices,
    train_classifier,
)


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
