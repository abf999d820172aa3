"""Validation of a fast encoder: a classifier trained on each model's embeddings, and the
accuracy-drop verdict against a baseline.

`validate_encoder` embeds the labelled proteins with one model, trains its classifier
(`classifier.train_classifier`), saves the checkpoint and checks that it reloads to the same
predictions, then scores the val and test splits. `accuracy_drop_verdict` compares the fast
model's test metrics with a baseline (`baseline_metrics`, read by `load_baseline_metrics`, or
the reference model's classifier): a drop in accuracy larger than the threshold fails, and
the verdict carries next steps for finding out why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genobench.benchmarks.esm_speed.classifier import (
    CheckpointError,
    EmbeddingClassifier,
    load_classifier,
    save_classifier,
    scores_table,
    train_classifier,
)
from genobench.metrics.classification import METRICS, roc_points
from genobench.status import FAIL, NO_BASELINE, PASS

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


def verify_checkpoint(folder: str | Path, clf: EmbeddingClassifier, x) -> EmbeddingClassifier:
    """Reload the checkpoint in `folder` and check it predicts what `clf` predicts on `x`;
    raise CheckpointError saying by how much it differs otherwise. Returns the reloaded one."""
    reloaded = load_classifier(
        folder, expected_dim=clf.embedding_dim, expected_model_id=clf.model_id
    )
    before, after = clf.predict_proba(x), reloaded.predict_proba(x)
    if not np.allclose(after, before):
        worst = float(np.max(np.abs(after - before)))
        raise CheckpointError(
            f"{folder}: the reloaded classifier does not predict what the saved one did "
            f"(largest probability difference {worst:.3g} on {len(before)} proteins); the "
            "checkpoint was overwritten or the scikit-learn version changed. Delete it and re-run."
        )
    return reloaded


@dataclass
class EncoderValidation:
    """One model's classifier: metrics per split, the test scores and ROC curve."""

    label: str  # the model's label (EsmEncoder.label)
    alpha: float  # the L2 strength selected on the val split
    metrics: dict[str, dict[str, float]]  # split ("val", "test") -> classification metrics
    test_scores: pd.DataFrame  # rows of test_scores.csv
    roc: tuple[np.ndarray, np.ndarray, float]  # test split: fpr, tpr, ROC-AUC


def validate_encoder(
    encoder,
    labelled: pd.DataFrame,
    splits: dict[str, np.ndarray],
    checkpoint_dir: str | Path,
    pair_name: str,
    role: str,
    *,
    classes=("0", "1"),
    seed: int = 0,
    hidden_layer_sizes=(64,),
    alphas=(1e-4, 1e-2, 1.0),
    batch_size: int = 8,
    max_length: int = 1024,
) -> EncoderValidation:
    """Embed `labelled` (columns id, seq, label) with `encoder`, train its classifier on the
    train split, save it to `checkpoint_dir` (verified by reloading) and score val and test."""
    x = encoder.embed(labelled["seq"].tolist(), batch_size, max_length, progress=False)
    labels = labelled["label"].to_numpy()
    clf, _ = train_classifier(
        x, labels, splits, encoder.label, seed, hidden_layer_sizes, alphas, classes=classes
    )
    save_classifier(clf, checkpoint_dir)
    verify_checkpoint(checkpoint_dir, clf, x)
    metrics = {s: clf.metrics(x[splits[s]], labels[splits[s]]) for s in ("val", "test")}
    test = splits["test"]
    scores = scores_table(
        pair_name, role, labelled["id"].iloc[test], labels[test], clf.predict_proba(x[test])
    )
    fpr, tpr = roc_points(labels[test], scores["score"])
    return EncoderValidation(
        encoder.label,
        clf.settings["alpha"],
        metrics,
        scores,
        (fpr, tpr, metrics["test"]["roc_auc"]),
    )
