"""ESM speed protocol: a reference and a fast encoder timed on the same proteins per length
bucket, the speedup, and PASS/FAIL.

Protocol (per pair of models, per length bucket):

- the bucket's proteins are tokenized and moved to the device once, outside the timing
  (both models use the same tokenizer vocabulary, so tokenization is common cost);
- one *call* is the whole bucket: every batch through the model, residue-only mean
  pooling, and the pooled embeddings copied to the CPU;
- `warmup` calls of each model are run and discarded, then `num_runs` timed calls of
  each, alternating the order (reference first on even runs, fast first on odd ones) so
  slow drift of the machine falls on both models alike; every call is timed by
  `genobench.profiling.timing.time_call` (device synchronized before and after,
  `time.perf_counter`);
- per-sequence time, sequences/s and tokens/s (non-padding tokens, BOS/EOS included)
  follow from each run; the table gives their mean, median, min and max over runs;
- speedup = median reference time / median fast time, per bucket and over all buckets
  (the sum of the buckets' median times), with its range over the repeats (slowest fast
  repeat against fastest reference one, and the reverse); when the two models' repeat
  ranges overlap the verdict is WITHIN NOISE, else PASS if the speedup reaches the
  threshold and FAIL if not.
"""

from __future__ import annotations

import math
import os
import platform
from typing import Any

import numpy as np
import pandas as pd
import torch

from genobench.models.esm import EsmEncoder
from genobench.profiling.memory import PeakMemory, model_footprint_bytes, release_memory
from genobench.profiling.timing import speed_ratio, time_call
from genobench.status import FAIL, NOT_MEASURED, PASS, WITHIN_NOISE

TOLERANCE = 1e-9
ROLES = ("reference", "fast")
TIME_KEYS = ("min_s", "median_s", "max_s")
RATIO_KEYS = ("speedup", "speedup_min", "speedup_max", "overlap")
# the columns of speed_summary shown in the report
SUMMARY_COLUMNS = [
    "pair",
    "role",
    "attention",
    "bucket",
    "n_seqs",
    "n_repeats",
    "total_s_median",
    "total_s_min",
    "total_s_max",
    "per_seq_ms_median",
    "seqs_per_s_median",
    "tokens_per_s_median",
    "peak_mem_mb",
]
PAIR_KEYS = {
    "reference",
    "fast",
    "reference_attention",
    "fast_attention",
    "trust_remote_code",
    "shared_weights",
    "name",
}


def normalize_pairs(
    pairs,
    reference_attention: str | None = "eager",
    fast_attention: str | None = "sdpa",
    trust_remote_code: bool | None = None,
) -> list[dict[str, Any]]:
    """Fill each pair's defaults; refuse unknown keys or a pair without both models."""
    if not pairs:
        raise ValueError("pairs is empty: give at least one {reference: ..., fast: ...}")
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict) or "reference" not in pair or "fast" not in pair:
            raise ValueError(
                f"pairs[{i}] must be a mapping with 'reference' and 'fast' models, got {pair!r}"
            )
        unknown = set(pair) - PAIR_KEYS
        if unknown:
            raise ValueError(
                f"pairs[{i}]: unknown key(s) {', '.join(sorted(unknown))}; "
                f"allowed: {', '.join(sorted(PAIR_KEYS))}"
            )
        p = {
            "reference_attention": reference_attention,
            "fast_attention": fast_attention,
            "trust_remote_code": trust_remote_code,
            **pair,
        }
        p.setdefault("name", f"{p['reference']} vs {p['fast']}")
        if "shared_weights" not in p:
            p["shared_weights"] = p["reference"] == p["fast"]
        out.append(p)
    return out


def load_role(
    pair: dict[str, Any], role: str, device: str = "cpu", dtype=None
) -> tuple[EsmEncoder | None, dict[str, Any], dict[str, Any] | None]:
    """Load the `role` ("reference" or "fast") model of a normalized pair -> (encoder or None,
    its row of the load table, a failure row for `genobench.report.results.write_failures` or None).

    A model that cannot load is a failed row with the error class and message (and the
    fix when the loader knows it); the pair goes on with the other model.
    """
    from genobench.report.results import failure_row

    row = {"pair": pair["name"], "role": role, "model": pair[role]}
    try:
        enc = EsmEncoder(
            pair[role], pair[f"{role}_attention"], device, dtype, pair["trust_remote_code"]
        )
    except Exception as exc:  # noqa: BLE001 - one model's failure is its row, not the run's
        failure = failure_row(f"{pair['name']}: {role} {pair[role]}", exc)
        return (
            None,
            {
                **row,
                "attention": pair[f"{role}_attention"],
                "status": "failed",
                "parameters_M": np.nan,
                "hidden_size": np.nan,
                "reason": failure["error"],
            },
            failure,
        )
    return (
        enc,
        {
            **row,
            "attention": enc.attn_implementation,
            "status": "loaded",
            "parameters_M": enc.num_parameters() / 1e6,
            "hidden_size": enc.hidden_size,
            "reason": "",
        },
        None,
    )


def verdict(speedup: float, threshold: float = 2.0, overlap: bool = False) -> str:
    """NOT MEASURED if the speedup is NaN, WITHIN NOISE if the two models' repeat ranges
    overlap (`overlap`), else PASS if speedup >= threshold and FAIL if below."""
    if speedup is None or math.isnan(speedup):
        return NOT_MEASURED
    if overlap:
        return WITHIN_NOISE
    return PASS if speedup >= threshold - TOLERANCE else FAIL


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else the platform's processor name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_info(device: str = "cpu") -> dict[str, Any]:
    """Device name, torch and CUDA versions, CPU and threads."""
    info = {
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device_name": None,
    }
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
    else:
        info["device_name"] = f"CPU ({info['cpu']}, {info['torch_threads']} torch threads)"
    return info


class _Peak:
    """Peak memory of one timed call: the model's weights (`model_footprint_bytes`) plus what
    the call added at its peak (`genobench.profiling.memory.PeakMemory`): on CUDA the peak
    of `torch.cuda.max_memory_allocated` minus what was allocated before the call, so a
    second model resident on the device does not count; on CPU the increase of the
    process's peak resident set size over the call, after freed memory is handed back to
    the OS (`release_memory`). Where the CPU peak cannot be reset it is NaN, with the
    reason in `note`. Measured outside the timed region."""

    def __init__(self, device: str):
        self.device = device
        self.note = ""

    def measure(self, encoder: EsmEncoder, fn):
        release_memory(self.device)
        region = PeakMemory(self.device).reset()
        timed = time_call(fn, self.device)
        if not region.resettable:
            self.note = (
                "not measured: this system does not let the process reset its peak "
                "resident set size (/proc/self/clear_refs)"
            )
            return timed, float("nan")
        added = region.peak() - (region.baseline_bytes if region.on_gpu else 0)
        self.note = f"weights + {region.kind}"
        return timed, (model_footprint_bytes(encoder.model) + max(added, 0)) / 2**20


def bucket_workload(encoder: EsmEncoder, seqs: list[str], batch_size: int, max_length: int = 1024):
    """The timed call for one bucket (every batch, pooled, to CPU), and its token count."""
    batches = [
        encoder.tokenize(seqs[i : i + batch_size], max_length)
        for i in range(0, len(seqs), batch_size)
    ]
    n_tokens = int(sum(int(b["attention_mask"].sum()) for b in batches))

    def run() -> np.ndarray:
        return torch.cat([encoder.pool(b) for b in batches]).numpy()

    return run, n_tokens


def time_pair(
    reference: EsmEncoder | None,
    fast: EsmEncoder | None,
    proteins: pd.DataFrame,
    batch_size: int = 8,
    warmup: int = 10,
    num_runs: int = 3,
    device: str = "cpu",
    max_length: int = 1024,
    progress=None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Time the loaded models of a pair on `proteins` (columns seq, bucket) by bucket.

    Returns one row per (role, bucket, run) with seconds, token count and peak memory,
    and each role's embeddings of all proteins (row order of `proteins`) from its last run.
    A role whose encoder is None (it failed to load) is skipped.
    """
    if warmup < 0 or num_runs < 1:
        raise ValueError(f"need warmup >= 0 and num_runs >= 1, got {warmup}, {num_runs}")
    encoders = {
        role: enc for role, enc in (("reference", reference), ("fast", fast)) if enc is not None
    }
    peak = _Peak(device)
    rows, embeddings = [], {role: None for role in encoders}
    for bucket, group in proteins.groupby("bucket", sort=True):
        seqs = group["seq"].tolist()
        calls = {
            role: bucket_workload(enc, seqs, batch_size, max_length)
            for role, enc in encoders.items()
        }
        for fn, _ in calls.values():
            for _ in range(warmup):
                fn()
        for run in range(num_runs):
            order = list(calls) if run % 2 == 0 else list(calls)[::-1]
            for role in order:
                fn, n_tokens = calls[role]
                (seconds, emb), mem = peak.measure(encoders[role], fn)
                rows.append(
                    {
                        "role": role,
                        "model": encoders[role].name,
                        "attention": encoders[role].attn_implementation,
                        "bucket": int(bucket),
                        "run": run,
                        "seconds": seconds,
                        "n_seqs": len(seqs),
                        "n_tokens": n_tokens,
                        "n_residues": int(group["seq"].str.len().sum()),
                        "peak_mem_mb": mem,
                    }
                )
                if run == num_runs - 1:
                    if embeddings[role] is None:
                        embeddings[role] = np.zeros((len(proteins), emb.shape[1]), np.float32)
                    embeddings[role][proteins.index.get_indexer(group.index)] = emb
        if progress:
            progress(bucket)
    raw = pd.DataFrame(rows)
    if len(raw):
        raw["peak_mem_note"] = peak.note
    return raw, embeddings


def speed_summary(raw: pd.DataFrame) -> pd.DataFrame:
    """Per (pair, role, bucket): the number of timed repeats (`n_repeats`), total seconds,
    per-sequence ms, sequences/s and tokens/s (mean, median, min, max over the repeats) and
    peak memory."""
    df = raw.copy()
    df["per_seq_ms"] = 1000 * df["seconds"] / df["n_seqs"]
    df["seqs_per_s"] = df["n_seqs"] / df["seconds"]
    df["tokens_per_s"] = df["n_tokens"] / df["seconds"]
    keys = [k for k in ("pair", "role", "model", "attention", "bucket") if k in df]
    out = (
        df.groupby(keys, sort=False)
        .agg(
            n_repeats=("run", "size"),
            n_seqs=("n_seqs", "first"),
            n_tokens=("n_tokens", "first"),
            peak_mem_mb=("peak_mem_mb", "max"),
            peak_mem_note=("peak_mem_note", "first"),
        )
        .reset_index()
    )
    for col in ("seconds", "per_seq_ms", "seqs_per_s", "tokens_per_s"):
        stats = df.groupby(keys, sort=False)[col].agg(["mean", "median", "min", "max"])
        stats.columns = [f"{col}_{s}" for s in stats.columns]
        out = out.merge(stats.reset_index(), on=keys)
    return out.rename(columns={c: c.replace("seconds_", "total_s_") for c in out.columns})


def _bucket_times(role: pd.DataFrame | None, bucket) -> dict[str, float]:
    """min_s, median_s, max_s and n (repeats) of one role's total seconds in `bucket` (the
    sums over buckets for `all`); NaN (n 0) for a role or bucket that was not timed."""
    if role is None or (bucket != "all" and bucket not in role.index):
        return {**dict.fromkeys(TIME_KEYS, np.nan), "n": 0}
    rows = role if bucket == "all" else role.loc[[bucket]]
    return {
        "min_s": float(rows["total_s_min"].sum()),
        "median_s": float(rows["total_s_median"].sum()),
        "max_s": float(rows["total_s_max"].sum()),
        "n": int(rows["n_repeats"].min()),
    }


def speedups(summary: pd.DataFrame, threshold: float = 2.0) -> pd.DataFrame:
    """Per pair and bucket (and `all` buckets): reference and fast seconds (min, median, max
    over the timed repeats), the number of repeats, speedup = median reference / median fast
    with its range over the repeats (`genobench.profiling.timing.speed_ratio`), whether the
    two models' repeat ranges overlap, and the verdict against `threshold`.

    The `all` row sums the buckets' medians, and for its range the buckets' fastest and
    slowest repeats: a range at least as wide as that of any one repeat's total.
    """
    rows = []
    for pair, g in summary.groupby("pair", sort=False):
        by_role = {role: gg.set_index("bucket") for role, gg in g.groupby("role")}
        buckets = sorted(set(g["bucket"]))
        for bucket in [*buckets, "all"]:
            times = {role: _bucket_times(by_role.get(role), bucket) for role in ROLES}
            ref, fast = times["reference"], times["fast"]
            measured = not any(math.isnan(t["median_s"]) for t in times.values())
            ratio = speed_ratio(ref, fast) if measured else dict.fromkeys(RATIO_KEYS, np.nan)
            rows.append(
                {
                    "pair": pair,
                    "bucket": str(bucket),
                    **{f"{role}_{k}": times[role][k] for role in ROLES for k in TIME_KEYS},
                    "n_repeats": min(ref["n"], fast["n"]),
                    "speedup": ratio["speedup"],
                    "speedup_min": ratio["speedup_min"],
                    "speedup_max": ratio["speedup_max"],
                    "overlap": ratio["overlap"] if measured else None,
                    "threshold": threshold,
                    "verdict": verdict(ratio["speedup"], threshold, measured and ratio["overlap"]),
                }
            )
    return pd.DataFrame(rows)


def speed_tables(raw: pd.DataFrame, threshold: float = 2.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`speed_summary` and `speedups` of the timed calls (`time_pair` rows with a pair
    column); two empty tables when nothing was timed."""
    if raw.empty:
        return pd.DataFrame(), pd.DataFrame()
    summary = speed_summary(raw)
    return summary, speedups(summary, threshold)
