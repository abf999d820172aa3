"""The quantization run's tables: fidelity rows per mode, the summary relative to
`standard` and the best mode per criterion."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from genobench.benchmarks.quantization.measure import ModeResult
from genobench.metrics.fidelity import embedding_fidelity
from genobench.models.loading import STANDARD
from genobench.profiling.timing import speed_ratio
from genobench.status import FAIL, NOT_MEASURED, OK, PASS, WITHIN_NOISE

# the fidelity columns shown and summarised (a table has those its modes measured)
QUALITY_COLUMNS = (
    "kl_mean",
    "kl_median",
    "kl_p99",
    "js_mean",
    "top1_agreement",
    "ppl_ratio",
    "embedding_cosine_mean",
    "embedding_snr_db",
)
# speed with its range over the timed passes (shown in the performance table and the summary)
SPEED_COLUMNS = (
    "tokens_per_s",
    "tokens_per_s_min",
    "tokens_per_s_max",
    "seqs_per_s",
    "latency_median_s",
    "latency_median_s_min",
    "latency_median_s_max",
)
# the performance columns shown: speed, power, memory
PERFORMANCE_COLUMNS = (
    "status",
    "timed_repeats",
    *SPEED_COLUMNS,
    "latency_p90_s",
    "avg_power_W",
    "energy_J",
    "tokens_per_joule",
    "peak_mem_GB",
    "footprint_GB",
    "power_status",
)


def quality_row(result: ModeResult, reference: ModeResult) -> dict[str, Any]:
    """One row of quality_metrics.csv: token-level and embedding fidelity vs `standard`.

    The reference's own row holds its base statistics only (its comparison columns are empty).
    """
    row: dict[str, Any] = {"mode": result.mode, "status": result.status}
    if result.status != OK:
        return {**row, "reason": result.reason}
    row.update(result.token_metrics)
    if result is reference:
        return row
    for key, value in embedding_fidelity(reference.embeddings, result.embeddings).items():
        row[f"embedding_{key}"] = value
    return row


def layer_rows(result: ModeResult, reference: ModeResult) -> list[dict[str, Any]]:
    """Rows of layer_similarity.csv: pooled embedding cosine/SNR per layer (0 = embeddings);
    none for the reference itself."""
    if result.status != OK or result.layer_embeddings is None or result is reference:
        return []
    rows = []
    for layer, (ref, emb) in enumerate(zip(reference.layer_embeddings, result.layer_embeddings)):
        rows.append({"mode": result.mode, "layer": layer, **embedding_fidelity(ref, emb)})
    return rows


def distribution_rows(result: ModeResult) -> list[dict[str, Any]]:
    """Rows of distribution_statistics.csv: hidden-state value statistics per layer."""
    return [
        {"mode": result.mode, "layer": layer, **stats}
        for layer, stats in enumerate(result.layer_stats)
    ]


def pareto_front(cost, gain, gain_low=None, gain_high=None) -> np.ndarray:
    """Boolean mask of the points no other point dominates (lower-or-equal cost and a gain at
    least as high, one of them strictly). With `gain_low` and `gain_high`, the gain's range
    over timed repeats, gains whose ranges overlap count as equal and a gain is higher only
    when its whole range is. NaN points are never on the front."""
    cost = np.asarray(cost, dtype=float)
    gain = np.asarray(gain, dtype=float)
    low = gain if gain_low is None else np.asarray(gain_low, dtype=float)
    high = gain if gain_high is None else np.asarray(gain_high, dtype=float)
    ok = ~(np.isnan(cost) | np.isnan(gain))
    front = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(ok):
        higher = low > high[i]
        tied = (low <= high[i]) & (high >= low[i])
        dominated = ok & (cost <= cost[i]) & (higher | tied) & ((cost < cost[i]) | higher)
        front[i] = not dominated.any()
    return front


def _pass_times(row) -> dict[str, float]:
    return {"min_s": row["timed_s_min"], "median_s": row["timed_s"], "max_s": row["timed_s_max"]}


def speed_rows(performance: pd.DataFrame) -> pd.DataFrame:
    """Each mode's speed against `standard` from the timed passes (`speed_ratio`): speedup
    (median pass), speedup_min and speedup_max over the repeats, and speed_verdict: PASS
    (faster in every repeat), FAIL (slower in every repeat), WITHIN NOISE (the repeat
    ranges overlap), NOT MEASURED (a mode that did not run); empty for `standard`."""
    perf = performance.reset_index(drop=True)
    base = _pass_times(perf[perf["mode"] == STANDARD].iloc[0])
    rows = []
    for _, row in perf.iterrows():
        ratio = speed_ratio(base, _pass_times(row))
        verdict = None
        if row["mode"] != STANDARD:
            if row["status"] != OK:
                verdict = NOT_MEASURED
            elif ratio["overlap"]:
                verdict = WITHIN_NOISE
            else:
                verdict = PASS if ratio["speedup"] > 1 else FAIL
        rows.append(
            {
                "speedup_vs_standard": ratio["speedup"],
                "speedup_min": ratio["speedup_min"],
                "speedup_max": ratio["speedup_max"],
                "speed_verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


def summary_table(
    performance: pd.DataFrame, quality: pd.DataFrame, binning: pd.DataFrame
) -> pd.DataFrame:
    """quant_summary.csv: the headline figures of every mode, relative to `standard`."""
    cols_q = [c for c in QUALITY_COLUMNS if c in quality.columns]
    columns = ["mode", "status", *SPEED_COLUMNS, "peak_mem_GB", "footprint_GB", "tokens_per_joule"]
    df = (
        performance[columns]
        .reset_index(drop=True)
        .merge(quality[["mode"] + cols_q], on="mode", how="left")
    )
    if "ari" in binning.columns:
        df = df.merge(binning[["mode", "ari"]], on="mode", how="left")
    base = df[df["mode"] == STANDARD].iloc[0]
    df = pd.concat([df, speed_rows(performance)], axis=1)
    df["footprint_ratio"] = df["footprint_GB"] / base["footprint_GB"]
    df["peak_mem_ratio"] = df["peak_mem_GB"] / base["peak_mem_GB"]
    if "ari" in df.columns:
        df["ari_delta"] = df["ari"] - base["ari"]
    df["pareto_throughput_vs_footprint"] = pareto_front(
        df["footprint_GB"], df["tokens_per_s"], df["tokens_per_s_min"], df["tokens_per_s_max"]
    )
    return df


def best_performers(summary: pd.DataFrame) -> pd.DataFrame:
    """best_performers.csv: the best mode for each criterion (missing criteria say why).

    Speed criteria compare the ranges over the timed passes: when the best mode's range
    overlaps another's, the mode is WITHIN NOISE and the note names the modes it cannot be
    told from."""
    criteria = [
        ("fastest (tokens/s)", "tokens_per_s", "max"),
        ("lowest latency (median s/batch)", "latency_median_s", "min"),
        ("smallest footprint (GB)", "footprint_GB", "min"),
        ("lowest peak memory (GB)", "peak_mem_GB", "min"),
        ("most energy-efficient (tokens/J)", "tokens_per_joule", "max"),
        ("most faithful quantized mode (KL mean)", "kl_mean", "min"),
        ("highest top-1 agreement (quantized)", "top1_agreement", "max"),
        ("best binning (ARI)", "ari", "max"),
    ]
    ranged = {"tokens_per_s", "latency_median_s"}  # with <column>_min and <column>_max
    ok = summary[summary["status"] == OK]
    rows = []
    for name, col, how in criteria:
        pool = ok
        if name.startswith(("most faithful", "highest top-1")):
            pool = ok[ok["mode"] != STANDARD]
        values = pool[col] if col in pool.columns else pd.Series(dtype=float)
        values = pd.to_numeric(values, errors="coerce").dropna()
        if values.empty:
            note = (
                "not measured here (no NVML/GPU)"
                if col == "tokens_per_joule"
                else "no measured mode"
            )
            rows.append({"criterion": name, "mode": None, "value": math.nan, "note": note})
            continue
        i = values.idxmax() if how == "max" else values.idxmin()
        mode, note = pool.loc[i, "mode"], ""
        if col in ranged:
            low, high = pool[f"{col}_min"], pool[f"{col}_max"]
            tied = pool.loc[(low <= high[i]) & (high >= low[i]) & (pool.index != i), "mode"]
            if len(tied):
                note = (
                    f"{mode} is best by the median, but its range over the timed passes "
                    f"overlaps that of {', '.join(tied)}"
                )
                mode = WITHIN_NOISE
        rows.append({"criterion": name, "mode": mode, "value": values[i], "note": note})
    front = ok[ok["pareto_throughput_vs_footprint"]]["mode"].tolist()
    rows.append(
        {
            "criterion": "Pareto front (throughput vs footprint)",
            "mode": ", ".join(front),
            "value": math.nan,
            "note": "modes not beaten on both footprint and speed (beyond the timed passes' range)",
        }
    )
    return pd.DataFrame(rows)
