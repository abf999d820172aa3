"""Binary classification metrics (scikit-learn): pure functions of (y_true, y_score).

`classification_metrics` gives accuracy, precision, recall, F1 and ROC-AUC (from
class-1 probabilities) with the confusion matrix; `roc_points` the ROC curve.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

# the scores of classification_metrics (besides the confusion matrix cells and n)
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def classification_metrics(y_true, y_score, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (predicting 1 when y_score >= threshold), ROC-AUC of
    the class-1 scores, and the confusion matrix cells tn, fp, fn, tp.

    ROC-AUC is NaN when y_true holds a single class; precision is 0 with no positive
    predictions (scikit-learn's zero_division=0).
    """
    y_true = np.asarray(y_true).astype(int)
    y_score = np.asarray(y_score, dtype=float)
    if y_true.shape != y_score.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_score must be 1-d of the same length, got "
            f"{y_true.shape} and {y_score.shape}"
        )
    if not set(np.unique(y_true)) <= {0, 1}:
        raise ValueError(f"binary labels 0/1 expected, got {sorted(set(np.unique(y_true)))}")
    y_pred = (y_score >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    auc = float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else float("nan")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": auc,
        "tn": int(tn),
        "fp": int(fp),
        "fn": int(fn),
        "tp": int(tp),
        "n": int(len(y_true)),
    }


def roc_points(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of the ROC curve of class-1 scores."""
    fpr, tpr, _ = roc_curve(np.asarray(y_true).astype(int), np.asarray(y_score, dtype=float))
    return fpr, tpr
