"""The models side by side, and whether the semi-CRF beats the best other model.

`comparison_table` picks the columns compared; `semicrf_verdict` tests the semi-CRF
against the best other model on boundary F1 at the largest tolerance and on the mean
duration KL with a paired bootstrap over the test sequences
(`genobench.metrics.segmentation.bootstrap_difference`): a margin counts as clear when
its 95% interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from genobench.data.gene_structure import GeneStructureData
from genobench.metrics.segmentation import bootstrap_difference, boundary_f1, duration_kls, log_bins

SEMICRF = "semicrf"
Statistic = Callable[[list[np.ndarray], list[np.ndarray]], float]


def comparison_table(
    table: pd.DataFrame, tolerances: Sequence[int], class_names: Sequence[str]
) -> pd.DataFrame:
    """The compared columns of `metrics.csv`, one row per model (index `model`): boundary
    F1 at each tolerance, segment and macro position F1, duration KLs, training time."""
    return table.set_index("model")[
        [f"boundary_f1_tol{k}" for k in tolerances]
        + ["segment_f1", "position_macro_f1", "duration_kl_mean"]
        + [f"duration_kl_{c}" for c in class_names]
        + ["train_wall_s", "train_cpu_s", "best_epoch"]
    ]


def boundary_statistic(tolerance: int) -> Statistic:
    """Boundary F1 at `tolerance`, pooled over the given sequences."""
    return lambda true, pred: boundary_f1(true, pred, tolerance)["f1"]


def kl_statistic(num_classes: int, edges: np.ndarray, smoothing: float) -> Statistic:
    """Mean over classes of the duration KL (classes without a value left out)."""

    def mean_kl(true, pred) -> float:
        values = list(duration_kls(true, pred, num_classes, edges, smoothing).values())
        return float(np.nanmean(values))

    return mean_kl


def verdict_row(
    metric: str,
    column: str,
    comparison: pd.DataFrame,
    other: str,
    diff: dict[str, float],
    higher_is_better: bool,
) -> dict[str, Any]:
    """One row of `semicrf_verdict.csv` from a `bootstrap_difference` (semicrf - other)."""
    better = diff["difference"] > 0 if higher_is_better else diff["difference"] < 0
    clear = diff["low"] > 0 or diff["high"] < 0
    return {
        "metric": metric,
        SEMICRF: float(comparison.loc[SEMICRF, column]),
        "best other": other,
        "its value": float(comparison.loc[other, column]),
        "semicrf - other": diff["difference"],
        "95% interval": f"[{diff['low']:+.3f}, {diff['high']:+.3f}]",
        "verdict": ("semicrf better" if better else "semicrf not better")
        + (" (interval excludes 0)" if clear else " (within the noise: interval holds 0)"),
    }


def semicrf_verdict(
    comparison: pd.DataFrame,
    predictions: dict[str, np.ndarray],
    data: GeneStructureData,
    tolerance: int,
    n_bins: int,
    smoothing: float,
    seed: int,
    n_boot: int = 300,
    split: str = "test",
) -> pd.DataFrame:
    """`semicrf_verdict.csv`: the semi-CRF against the best other model (by the table) on
    boundary F1 at `tolerance` and on the mean duration KL (bins as in the duration
    figure), paired bootstrap over the `split` sequences. Empty without a semi-CRF or
    without another model."""
    if SEMICRF not in comparison.index or len(comparison) < 2:
        return pd.DataFrame()
    others = comparison.drop(index=SEMICRF)
    test = data[split]
    edges = log_bins(data.config.seq_length, n_bins)
    top = f"boundary_f1_tol{tolerance}"
    rows = []
    for metric, column, statistic, best, higher in (
        (
            f"boundary F1 @{tolerance} bp",
            top,
            boundary_statistic(tolerance),
            others[top].idxmax(),
            True,
        ),
        (
            "mean duration KL",
            "duration_kl_mean",
            kl_statistic(data.config.num_classes, edges, smoothing),
            others["duration_kl_mean"].idxmin(),
            False,
        ),
    ):
        diff = bootstrap_difference(
            test.labels.astype(np.int64),
            predictions[SEMICRF],
            predictions[best],
            statistic,
            n_boot=n_boot,
            seed=seed,
            lengths=test.lengths,
        )
        rows.append(verdict_row(metric, column, comparison, best, diff, higher))
    return pd.DataFrame(rows)


def headline(comparison: pd.DataFrame, tolerance: int) -> dict[str, Any]:
    """`RunOutputs.headline` arguments: boundary F1 at `tolerance` of the semi-CRF (with its
    mean duration KL), else of the first model."""
    top = f"boundary_f1_tol{tolerance}"
    if SEMICRF not in comparison.index:
        name = comparison.index[0]
        return {
            "metric": f"boundary F1 @{tolerance} bp ({name})",
            "value": float(comparison.loc[name, top]),
        }
    return {
        "metric": f"boundary F1 @{tolerance} bp ({SEMICRF})",
        "value": float(comparison.loc[SEMICRF, top]),
        "duration_kl_mean": float(comparison.loc[SEMICRF, "duration_kl_mean"]),
    }
