"""Binary classification metrics (scikit-learn) and the accuracy-drop verdict.

`classification_metrics` gives accuracy, precision, recall, F1 and ROC-AUC (from
class-1 probabilities) with the confusion matrix; `accuracy_drop_verdict` compares a
fast model's metrics with a baseline's: a drop in accuracy larger than the threshold
fails.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

from genobench.status import FAIL, NO_BASELINE, PASS

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
# Metric differences are compared with this slack, so that a drop of exactly the
# threshold (e.g. 0.90 -> 0.85 at 0.05, which is 0.05000000000000004 in floats) passes.
TOLERANCE = 1e-9

NEXT_STEPS = (
    "Check embedding fidelity first: the cosine similarity of the two models' embeddings on "
    "the same proteins (comparison.csv); below ~0.99 the fast model is not computing the same "
    "function (attention masking of padding, special tokens in the pooling, precision).",
    "Re-run both models in float32: a drop that disappears is a half-precision effect; "
    "keep float32 for the affected layers or use bfloat16.",
    "Check tokenization and pooling: both models must see the same tokens (BOS/EOS, "
    "truncation at max_length) and pool over residues only.",
    "Re-train with other seeds (seed parameter) to see whether the drop exceeds the "
    "seed-to-seed spread of the classifier; a larger validation set narrows it.",
    "If the fast model is a different checkpoint (e.g. further trained or smaller), the drop "
    "is a model difference, not an attention-kernel one: compare on shared weights.",
)


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


@dataclass
class Verdict:
    """The outcome of a baseline comparison."""

    status: str  # PASS, FAIL or NO BASELINE
    accuracy_drop: float  # baseline accuracy - fast accuracy (NaN without a baseline)
    threshold: float
    message: str
    deltas: dict[str, float] = field(default_factory=dict)  # fast - baseline, per metric
    next_steps: tuple[str, ...] = ()


def accuracy_drop_verdict(
    fast: dict[str, float], baseline: dict[str, float] | None, threshold: float = 0.05
) -> Verdict:
    """FAIL when baseline accuracy - fast accuracy > threshold, else PASS; NO BASELINE
    when there is none to compare with (the fast model's metrics stand alone)."""
    if not (threshold >= 0):
        raise ValueError(f"accuracy_threshold must be >= 0, got {threshold}")
    if "accuracy" not in fast or _nan(fast["accuracy"]):
        raise ValueError("the fast model's metrics need an accuracy")
    if baseline is None or _nan(baseline.get("accuracy")):
        return Verdict(
            NO_BASELINE,
            float("nan"),
            threshold,
            f"no baseline metrics: the fast model's accuracy "
            f"{fast['accuracy']:.3f} is reported alone, nothing is compared. Give "
            "baseline_metrics (a JSON file or inline JSON) or a loadable reference "
            "model.",
        )
    drop = float(baseline["accuracy"]) - float(fast["accuracy"])
    deltas = {
        m: float(fast[m]) - float(baseline[m])
        for m in METRICS
        if m in fast and m in baseline and not _nan(baseline[m]) and not _nan(fast[m])
    }
    text = (
        f"accuracy {fast['accuracy']:.3f} vs baseline {float(baseline['accuracy']):.3f}: "
        f"drop {drop:+.3f} (threshold {threshold:.3f})"
    )
    if drop > threshold + TOLERANCE:
        return Verdict(FAIL, drop, threshold, f"{text} exceeds the threshold", deltas, NEXT_STEPS)
    return Verdict(PASS, drop, threshold, f"{text} is within the threshold", deltas)


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def load_baseline_metrics(value: Any) -> dict[str, Any] | None:
    """`baseline_metrics` parameter -> a dict, or None when not given.

    Accepts a dict, inline JSON text (starting with `{`) or the path of a JSON file.
    The dict is either one metrics mapping (with `accuracy`) or a mapping of model id
    -> metrics mapping. Raises ValueError naming the problem otherwise.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        data = value
    elif isinstance(value, (str, Path)):
        text = str(value).strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"baseline_metrics is not valid inline JSON: {exc}") from None
        else:
            path = Path(text)
            if not path.is_file():
                raise ValueError(
                    f"baseline_metrics: {path} is not a file (give a JSON file, "
                    "inline JSON such as '{\"accuracy\": 0.9}', or null)"
                )
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"baseline_metrics: {path} is not valid JSON: {exc}") from None
    else:
        raise ValueError(
            f"baseline_metrics must be a dict, JSON text or a path, got {type(value).__name__}"
        )
    if not isinstance(data, dict):
        raise ValueError("baseline_metrics must be a JSON object")
    if "accuracy" not in data and not all(
        isinstance(v, dict) and "accuracy" in v for v in data.values()
    ):
        raise ValueError(
            "baseline_metrics needs an 'accuracy' (one baseline), or model id -> "
            "{'accuracy': ...} for several"
        )
    return data


def baseline_for(baselines: dict[str, Any] | None, model_id: str) -> dict[str, Any] | None:
    """The baseline metrics that apply to `model_id` (one shared baseline or a per-model one)."""
    if not baselines:
        return None
    if "accuracy" in baselines:
        return baselines
    return baselines.get(model_id)
