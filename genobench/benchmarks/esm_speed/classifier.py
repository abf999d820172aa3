"""An MLP classifier on sequence embeddings: seeded splits, training, checkpoints.

A checkpoint is a folder: `meta.json` (format version, embedding dimension, the id of
the model that made the embeddings, classes, training settings) and `model.joblib`
(the scikit-learn pipeline: standardisation + MLPClassifier). `load_classifier` reads
and checks `meta.json` before it unpickles anything, and refuses a checkpoint of
another format version, or one made for embeddings of another dimension or model.
Only load checkpoints you made: joblib files are pickles.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genobench.metrics.classification import classification_metrics

FORMAT_VERSION = 1
META_FILE = "meta.json"
MODEL_FILE = "model.joblib"


class CheckpointError(ValueError):
    """A classifier checkpoint that cannot be used here: the message says why."""


def split_indices(labels, fractions=(0.6, 0.2, 0.2), seed: int = 0) -> dict[str, np.ndarray]:
    """Stratified, seeded train/val/test index arrays (sorted) covering every row once."""
    labels = np.asarray(labels)
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(
            f"split must be three positive fractions summing to 1 "
            f"(train, val, test), got {fractions}"
        )
    idx = np.arange(len(labels))
    train, rest = train_test_split(idx, train_size=fractions[0], stratify=labels, random_state=seed)
    val, test = train_test_split(
        rest,
        train_size=fractions[1] / (fractions[1] + fractions[2]),
        stratify=labels[rest],
        random_state=seed,
    )
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


@dataclass
class EmbeddingClassifier:
    """A fitted pipeline and what it was trained on."""

    pipeline: Any
    embedding_dim: int
    model_id: str
    classes: list[str] = field(default_factory=lambda: ["0", "1"])
    settings: dict[str, Any] = field(default_factory=dict)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.embedding_dim:
            raise CheckpointError(
                f"this classifier takes {self.embedding_dim}-dimensional "
                f"embeddings of {self.model_id}; got shape {x.shape}"
            )
        return x

    def predict_proba(self, x) -> np.ndarray:
        """Probability of class 1 for each row."""
        return self.pipeline.predict_proba(self._check(x))[:, 1]

    def metrics(self, x, y) -> dict[str, float]:
        return classification_metrics(y, self.predict_proba(x))


def train_classifier(
    x,
    y,
    split: dict[str, np.ndarray],
    model_id: str,
    seed: int = 0,
    hidden_layer_sizes=(64,),
    alphas=(1e-4, 1e-2, 1.0),
    max_iter: int = 500,
    classes=("0", "1"),
) -> tuple[EmbeddingClassifier, list[dict[str, Any]]]:
    """Fit one MLP per L2 strength in `alphas` on the train split, keep the one with the best
    validation accuracy (then ROC-AUC, then the smaller alpha). Returns the classifier and
    the selection table (one row per alpha)."""
    import warnings

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).astype(int)
    tr, va = split["train"], split["val"]
    best, rows = None, []
    for alpha in alphas:
        pipe = make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=tuple(hidden_layer_sizes),
                alpha=alpha,
                max_iter=max_iter,
                random_state=seed,
            ),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(x[tr], y[tr])
        val = classification_metrics(y[va], pipe.predict_proba(x[va])[:, 1])
        rows.append(
            {
                "alpha": alpha,
                "val_accuracy": val["accuracy"],
                "val_roc_auc": val["roc_auc"],
                "n_iter": int(pipe[-1].n_iter_),
            }
        )
        key = (val["accuracy"], np.nan_to_num(val["roc_auc"], nan=0.0), -alpha)
        if best is None or key > best[0]:
            best = (key, pipe, alpha)
    settings = {
        "hidden_layer_sizes": list(hidden_layer_sizes),
        "alpha": best[2],
        "seed": seed,
        "max_iter": max_iter,
        "n_train": int(len(tr)),
        "n_val": int(len(va)),
    }
    clf = EmbeddingClassifier(
        best[1], int(x.shape[1]), model_id, [str(c) for c in classes], settings
    )
    for row in rows:
        row["selected"] = row["alpha"] == best[2]
    return clf, rows


def save_classifier(clf: EmbeddingClassifier, folder: str | Path) -> Path:
    """Write the checkpoint folder (meta.json + model.joblib) and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(clf.pipeline, folder / MODEL_FILE)
    meta = {
        "format_version": FORMAT_VERSION,
        "embedding_dim": clf.embedding_dim,
        "model_id": clf.model_id,
        "classes": clf.classes,
        "settings": clf.settings,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return folder


def load_classifier(
    folder: str | Path, expected_dim: int | None = None, expected_model_id: str | None = None
) -> EmbeddingClassifier:
    """Load a checkpoint, refusing (CheckpointError) a missing or unreadable one, another
    format version, or one trained on embeddings of another dimension or model."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file() or not (folder / MODEL_FILE).is_file():
        raise CheckpointError(
            f"{folder}: not a classifier checkpoint (needs {META_FILE} and "
            f"{MODEL_FILE}; write one with save_classifier)"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{meta_path}: unreadable metadata ({exc})") from None
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder}: checkpoint format version {version!r}, this genobench "
            f"reads version {FORMAT_VERSION}. Re-train the classifier with "
            "this version."
        )
    dim = meta.get("embedding_dim")
    if expected_dim is not None and dim != expected_dim:
        raise CheckpointError(
            f"{folder}: trained on {dim}-dimensional embeddings of "
            f"{meta.get('model_id')!r}, but these embeddings are "
            f"{expected_dim}-dimensional. Use a checkpoint of the same model "
            "or re-train."
        )
    if expected_model_id is not None and meta.get("model_id") != expected_model_id:
        raise CheckpointError(
            f"{folder}: trained on embeddings of {meta.get('model_id')!r}, "
            f"not {expected_model_id!r}"
        )
    pipeline = joblib.load(folder / MODEL_FILE)
    n_in = getattr(pipeline[-1], "n_features_in_", dim)
    if n_in != dim:
        raise CheckpointError(
            f"{folder}: meta.json says {dim} dimensions but the saved model "
            f"takes {n_in}; the checkpoint is inconsistent"
        )
    return EmbeddingClassifier(
        pipeline,
        int(dim),
        meta.get("model_id"),
        meta.get("classes", ["0", "1"]),
        meta.get("settings", {}),
    )


def scores_table(pair: str, role: str, ids, labels, scores) -> pd.DataFrame:
    """Rows of `test_scores.csv`: each test protein's true label and predicted P(class 1)."""
    return pd.DataFrame(
        {
            "pair": pair,
            "role": role,
            "id": list(ids),
            "label": np.asarray(labels),
            "score": np.asarray(scores),
        }
    )
