"""Zero-shot variant-effect metrics: AUROC and AUPRC with bootstrap confidence intervals.

Scores follow the convention "higher = more likely pathogenic"; labels are 1 for
pathogenic, 0 for benign. AUPRC is scikit-learn's average precision. Confidence
intervals are percentile intervals over `n_bootstrap` resamples of the variants
(with replacement, seeded); resamples holding a single class are skipped, and the
number used is reported. Point estimates come from scikit-learn; the bootstrap uses
rank-based re-implementations that the tests check against scikit-learn.
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
    """(low, high, resamples used) percentile interval of `metric` over bootstrap resamples."""
    y, s, _ = _clean(labels, scores)
    if n_bootstrap <= 0 or len(np.unique(y)) < 2:
        return float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        values.append(metric(y[idx], s[idx]))
    if not values:
        return float("nan"), float("nan"), 0
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high), len(values)


def fast_auroc(y: np.ndarray, s: np.ndarray) -> float:
    """AUROC by the rank-sum (Mann-Whitney) formula, ties averaged: equals scikit-learn's."""
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    ranks = rankdata(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fast_auprc(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision over distinct thresholds: equals scikit-learn's average_precision_score."""
    order = np.argsort(-np.asarray(s, dtype=float), kind="mergesort")
    y, s = np.asarray(y, dtype=float)[order], np.asarray(s, dtype=float)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tps = np.cumsum(y)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


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
    for name, fn in (("auroc", fast_auroc), ("auprc", fast_auprc)):
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
