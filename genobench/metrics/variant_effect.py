"""Zero-shot variant-effect metrics: AUROC and AUPRC with bootstrap confidence intervals.

Scores follow the convention "higher = more likely pathogenic"; labels are 1 for
pathogenic, 0 for benign. AUPRC is scikit-learn's average precision. Confidence
intervals are percentile intervals over `n_bootstrap` resamples of the variants
(with replacement, seeded); resamples holding a single class are skipped, and the
number used is reported. Point estimates come from scikit-learn; the bootstrap scores all
resamples at once with rank-based re-implementations that the tests check against
scikit-learn (1000 resamples of 50 score sets: 3.6 s, against 24 s one resample at a time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def _clean(labels, scores) -> tuple[np.ndarray, np.ndarray, int]:
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length ({len(y)} vs {len(s)})")
    keep = np.isfinite(s)
    return y[keep], s[keep], int((~keep).sum())


def auroc(labels, scores) -> float:
    """ROC AUC (NaN scores dropped; NaN when only one class remains)."""
    y, s, _ = _clean(labels, scores)
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else float("nan")


def auprc(labels, scores) -> float:
    """Average precision (NaN scores dropped; NaN when only one class remains)."""
    y, s, _ = _clean(labels, scores)
    return float(average_precision_score(y, s)) if len(np.unique(y)) == 2 else float("nan")


def bootstrap_ci(
    labels, scores, metric, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, int]:
    """(low, high, resamples used) percentile interval of `metric` over bootstrap resamples.

    `metric(Y, S)` scores every resample at once: Y and S are (resamples, n) arrays, one
    resample per row, and it returns one value per row (`auroc_rows`, `auprc_rows`)."""
    y, s, _ = _clean(labels, scores)
    if n_bootstrap <= 0 or len(np.unique(y)) < 2:
        return float("nan"), float("nan"), 0
    idx = np.random.default_rng(seed).integers(0, len(y), (n_bootstrap, len(y)))
    ys = y[idx]
    both = ys.min(axis=1) != ys.max(axis=1)  # a resample holding one class has no AUC
    if not both.any():
        return float("nan"), float("nan"), 0
    values = metric(ys[both], s[idx[both]])
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high), int(both.sum())


def auroc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUROC of each row of (rows, n) labels `y` and scores `s`, by the rank-sum
    (Mann-Whitney) formula with ties averaged: equals scikit-learn's."""
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=bool)
    n1 = y.sum(axis=1)
    n0 = y.shape[1] - n1
    ranks = rankdata(s, axis=1)
    return (np.where(y, ranks, 0.0).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def auprc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Average precision of each row over its distinct thresholds: equals scikit-learn's
    average_precision_score."""
    s = np.asarray(s, dtype=float)
    order = np.argsort(-s, axis=1, kind="mergesort")
    y = np.take_along_axis(np.asarray(y, dtype=float), order, axis=1)
    s = np.take_along_axis(s, order, axis=1)
    tps = np.cumsum(y, axis=1)
    # a threshold ends at the last score of each tie group
    end = np.concatenate([np.diff(s, axis=1) != 0, np.ones((len(s), 1), bool)], axis=1)
    tps_at_end = np.where(end, tps, 0.0)
    before = np.concatenate([np.zeros((len(s), 1)), tps_at_end[:, :-1]], axis=1)
    new_tps = np.where(end, tps - np.maximum.accumulate(before, axis=1), 0.0)
    precision = tps / np.arange(1, s.shape[1] + 1)
    return (new_tps * precision).sum(axis=1) / tps[:, -1]


def metric_row(labels, scores, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """AUROC, AUPRC, their CIs and the counts for one set of scored variants."""
    y, s, n_nan = _clean(labels, scores)
    two = len(np.unique(y)) == 2
    row = {
        "n": int(len(y)),
        "n_pathogenic": int(y.sum()),
        "n_unscored": n_nan,
        "auroc": float(roc_auc_score(y, s)) if two else float("nan"),
        "auprc": float(average_precision_score(y, s)) if two else float("nan"),
        "auprc_baseline": float(y.mean()) if len(y) else float("nan"),
    }
    for name, fn in (("auroc", auroc_rows), ("auprc", auprc_rows)):
        low, high, used = bootstrap_ci(y, s, fn, n_bootstrap, seed)
        row[f"{name}_low"], row[f"{name}_high"] = low, high
    row["n_bootstrap"] = used
    return row


def zeroshot_metrics(
    scores: pd.DataFrame, n_bootstrap: int = 1000, seed: int = 0, group_cols=("model", "method")
) -> pd.DataFrame:
    """Metrics per model/method, overall (`region_type` = "all") and per region type.

    `scores` is long-format: group_cols, region_type, label, pathogenicity.
    """
    rows = []
    for keys, group in scores.groupby(list(group_cols), sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        parts = [("all", group)] + [(r, g) for r, g in group.groupby("region_type", sort=True)]
        for region, part in parts:
            row = dict(zip(group_cols, keys))
            row["region_type"] = region
            row.update(metric_row(part["label"], part["pathogenicity"], n_bootstrap, seed))
            rows.append(row)
    return pd.DataFrame(rows)


def roc_pr_points(labels, scores) -> dict[str, np.ndarray]:
    """ROC (fpr, tpr) and precision-recall (recall, precision) curve points."""
    y, s, _ = _clean(labels, scores)
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    return {"fpr": fpr, "tpr": tpr, "recall": recall, "precision": precision}
