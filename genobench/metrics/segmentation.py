"""Segmentation metrics: boundaries, segments, positions and duration distributions.

Pure functions of per-position label arrays. A batch is a sequence of 1-d integer arrays
(one per sequence, each already cut to its length) or a 2-d array with `lengths`.

Definitions
-----------
* Runs: the maximal runs of one label, (start, end, label) with end exclusive. Every
  segment-level quantity (boundaries, segments, durations) is measured on runs, so a long
  region that a model emits as several consecutive segments of one label (e.g. K-capped
  semi-CRF segments joined by self-transitions) counts once.
* Boundaries: the positions i in 1..L-1 where label[i] != label[i-1] (unlabelled).
  A predicted boundary matches a true one within tolerance k when |p - t| <= k; matching
  is one-to-one (each boundary matched at most once) and maximal. Counts are summed over
  sequences (micro average): precision = TP / predicted, recall = TP / true.
* Segment F1: a predicted run is a true positive when a true run has the same start, end
  and label.
* Position F1: per-class F1 over all positions, then the unweighted mean over the classes
  that occur in the truth or the prediction (a class absent from both is left out).
* Duration KL: per class, the run durations of the truth and of the prediction are
  histogrammed on the same log-spaced bins; `smoothing` (default 0.5, i.e. add-half)
  pseudo-counts are added to every bin of both histograms before normalising, so an empty
  bin never makes the KL infinite. KL(true || predicted) in nats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_SMOOTHING = 0.5
DEFAULT_BINS = 30


def as_sequences(labels, lengths=None) -> list[np.ndarray]:
    """A list of 1-d int arrays: from a list of arrays, or a 2-d array cut to `lengths`."""
    if isinstance(labels, np.ndarray) and labels.ndim == 2 or hasattr(labels, "dim"):
        array = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
        if lengths is None:
            lengths = np.full(array.shape[0], array.shape[1])
        return [
            np.asarray(row[: int(n)], dtype=np.int64) for row, n in zip(array, np.asarray(lengths))
        ]
    if lengths is not None:
        return [
            np.asarray(row[: int(n)], dtype=np.int64) for row, n in zip(labels, np.asarray(lengths))
        ]
    return [np.asarray(row, dtype=np.int64) for row in labels]


def runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs (start, end, label) of a 1-d label array, end exclusive."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    return [(int(s), int(e), int(labels[s])) for s, e in zip(starts, ends)]


def boundaries(labels: np.ndarray) -> np.ndarray:
    """Positions i (1 <= i < L) where the label changes."""
    labels = np.asarray(labels)
    return np.flatnonzero(labels[1:] != labels[:-1]) + 1


def match_boundaries(true: np.ndarray, pred: np.ndarray, tolerance: int) -> int:
    """Size of a maximum one-to-one matching with |p - t| <= tolerance (sorted greedy sweep)."""
    true, pred = np.sort(np.asarray(true)), np.sort(np.asarray(pred))
    matched, j = 0, 0
    for t in true:
        while j < pred.size and pred[j] < t - tolerance:
            j += 1
        if j < pred.size and pred[j] <= t + tolerance:
            matched += 1
            j += 1
    return matched


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else (1.0 if n_true == 0 else 0.0)
    recall = tp / n_true if n_true else (1.0 if n_pred == 0 else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def boundary_f1(true_labels, pred_labels, tolerance: int = 0, lengths=None) -> dict[str, float]:
    """Boundary precision, recall and F1 at `tolerance` positions, summed over sequences.

    With no boundary in either truth or prediction the scores are 1 (nothing to find,
    nothing wrongly found).
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    tp = n_pred = n_true = 0
    for t, p in zip(
        as_sequences(true_labels, lengths), as_sequences(pred_labels, lengths), strict=True
    ):
        _check_pair(t, p)
        bt, bp = boundaries(t), boundaries(p)
        tp += match_boundaries(bt, bp, tolerance)
        n_true += bt.size
        n_pred += bp.size
    return {**_prf(tp, n_pred, n_true), "n_true": n_true, "n_pred": n_pred}


def segment_f1(true_labels, pred_labels, lengths=None) -> dict[str, float]:
    """Exact-run precision, recall and F1 (start, end and label all equal), summed over
    sequences."""
    tp = n_pred = n_true = 0
    for t, p in zip(
        as_sequences(true_labels, lengths), as_sequences(pred_labels, lengths), strict=True
    ):
        _check_pair(t, p)
        rt, rp = set(runs(t)), set(runs(p))
        tp += len(rt & rp)
        n_true += len(rt)
        n_pred += len(rp)
    return {**_prf(tp, n_pred, n_true), "n_true": n_true, "n_pred": n_pred}


def position_f1(true_labels, pred_labels, num_classes: int, lengths=None) -> dict[str, float]:
    """Per-class F1 over positions (`f1_<c>`) and their macro mean (`macro_f1`), plus accuracy."""
    t = np.concatenate(as_sequences(true_labels, lengths))
    p = np.concatenate(as_sequences(pred_labels, lengths))
    _check_pair(t, p)
    out: dict[str, float] = {"accuracy": float((t == p).mean()) if t.size else float("nan")}
    scores = []
    for c in range(num_classes):
        tp = int(((t == c) & (p == c)).sum())
        n_true, n_pred = int((t == c).sum()), int((p == c).sum())
        if n_true == 0 and n_pred == 0:
            out[f"f1_{c}"] = float("nan")
            continue
        out[f"f1_{c}"] = _prf(tp, n_pred, n_true)["f1"]
        scores.append(out[f"f1_{c}"])
    out["macro_f1"] = float(np.mean(scores)) if scores else float("nan")
    return out


def run_durations(labels_list, num_classes: int, lengths=None) -> dict[int, np.ndarray]:
    """Durations of the maximal runs of each class, pooled over sequences."""
    found: dict[int, list[int]] = {c: [] for c in range(num_classes)}
    for labels in as_sequences(labels_list, lengths):
        for start, end, label in runs(labels):
            if 0 <= label < num_classes:
                found[label].append(end - start)
    return {c: np.asarray(v, dtype=np.int64) for c, v in found.items()}


def log_bins(max_duration: int, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Log-spaced bin edges on whole durations from 1 to `max_duration` (inclusive).

    Edges are rounded to integers and made unique, so the short end has bins of width 1
    rather than empty bins; bin i holds durations d with edges[i] <= d < edges[i+1].
    """
    if max_duration < 1 or n_bins < 1:
        raise ValueError(f"need max_duration >= 1 and n_bins >= 1, got {max_duration}, {n_bins}")
    edges = np.unique(np.round(np.geomspace(1, max_duration + 1, n_bins + 1)).astype(np.int64))
    return edges if edges.size >= 2 else np.array([1, max_duration + 1])


def histogram(durations: np.ndarray, edges: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """Probability of each bin after adding `smoothing` pseudo-counts to every bin.

    Durations beyond the last edge go into the last bin. With no durations and no
    smoothing the result is all zeros.
    """
    durations = np.clip(np.asarray(durations), edges[0], edges[-1] - 1)
    counts = np.histogram(durations, bins=edges)[0].astype(float) + smoothing
    total = counts.sum()
    return counts / total if total > 0 else counts


def histogram_kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats for probability vectors (terms with p = 0 contribute 0)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    keep = p > 0
    if (q[keep] <= 0).any():
        return float("inf")
    return float(np.sum(p[keep] * np.log(p[keep] / q[keep])))


def duration_kl(
    true_durations: np.ndarray,
    pred_durations: np.ndarray,
    edges: np.ndarray,
    smoothing: float = DEFAULT_SMOOTHING,
) -> float:
    """KL(true || predicted) of two duration samples on `edges` with add-`smoothing` counts.

    NaN when the truth has no run of the class (nothing to compare against).
    """
    if len(true_durations) == 0:
        return float("nan")
    return histogram_kl(
        histogram(true_durations, edges, smoothing), histogram(pred_durations, edges, smoothing)
    )


def duration_kls(
    true_labels,
    pred_labels,
    num_classes: int,
    edges: np.ndarray,
    smoothing: float = DEFAULT_SMOOTHING,
    lengths=None,
) -> dict[int, float]:
    """Per-class duration KL between the run durations of the truth and the prediction."""
    true = run_durations(true_labels, num_classes, lengths)
    pred = run_durations(pred_labels, num_classes, lengths)
    return {c: duration_kl(true[c], pred[c], edges, smoothing) for c in range(num_classes)}


def segmentation_metrics(
    true_labels,
    pred_labels,
    num_classes: int,
    tolerances: Sequence[int] = (0, 10, 50),
    n_bins: int = DEFAULT_BINS,
    smoothing: float = DEFAULT_SMOOTHING,
    class_names: Sequence[str] | None = None,
    lengths=None,
) -> dict[str, float]:
    """Every metric in one flat dict.

    Keys: boundary_{precision,recall,f1}_tol{k} for each tolerance, segment_{precision,
    recall,f1}, position_macro_f1, position_accuracy, position_f1_<class>, duration_kl_<class>
    and duration_kl_mean (mean over classes present in the truth). Duration bins are
    log-spaced from 1 to the longest sequence.
    """
    true = as_sequences(true_labels, lengths)
    pred = as_sequences(pred_labels, lengths)
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    out: dict[str, float] = {}
    for k in tolerances:
        for key, value in boundary_f1(true, pred, k).items():
            if key in ("precision", "recall", "f1"):
                out[f"boundary_{key}_tol{k}"] = value
    out.update(
        {
            f"segment_{k}": v
            for k, v in segment_f1(true, pred).items()
            if k in ("precision", "recall", "f1")
        }
    )
    pos = position_f1(true, pred, num_classes)
    out["position_macro_f1"] = pos["macro_f1"]
    out["position_accuracy"] = pos["accuracy"]
    for c, name in enumerate(names):
        out[f"position_f1_{name}"] = pos[f"f1_{c}"]
    edges = log_bins(max((len(t) for t in true), default=1), n_bins)
    kls = duration_kls(true, pred, num_classes, edges, smoothing)
    for c, name in enumerate(names):
        out[f"duration_kl_{name}"] = kls[c]
    finite = [v for v in kls.values() if np.isfinite(v)]
    out["duration_kl_mean"] = float(np.mean(finite)) if finite else float("nan")
    return out


def _check_pair(true: np.ndarray, pred: np.ndarray) -> None:
    if true.shape != pred.shape:
        raise ValueError(
            f"true and predicted labels differ in length: {true.shape} vs {pred.shape}"
        )


def bootstrap_difference(
    true_labels,
    pred_a,
    pred_b,
    statistic,
    n_boot: int = 1000,
    seed: int = 0,
    lengths=None,
    level: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap over sequences of statistic(true, a) - statistic(true, b).

    `statistic(true_list, pred_list) -> float` is evaluated on the same resampled sequences
    for both predictions. Returns the observed difference and the percentile interval.
    """
    true = as_sequences(true_labels, lengths)
    a, b = as_sequences(pred_a, lengths), as_sequences(pred_b, lengths)
    observed = statistic(true, a) - statistic(true, b)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(true), len(true))
        t = [true[j] for j in idx]
        diffs[i] = statistic(t, [a[j] for j in idx]) - statistic(t, [b[j] for j in idx])
    low, high = np.nanpercentile(diffs, [50 * (1 - level), 50 * (1 + level)])
    return {"difference": float(observed), "low": float(low), "high": float(high)}
