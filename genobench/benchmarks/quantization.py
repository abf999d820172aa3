"""One quantization mode, measured: load, profile inference, extract embeddings and logits.

The quantization notebook calls `run_mode` once per mode on the same token batches
(`encode_batches`, built once with the model's tokenizer), `standard` first:

1. load the model in the mode (peak memory is reset just before, so it counts the
   weights, the loading transients and the activations of inference);
2. warm up on the first `warmup_batches` batches (untimed; a mode that cannot run
   on this device fails here and is reported as skipped with the library's reason);
3. **timed pass** over every batch: the embedding workload (the bare model's last
   hidden state, mean-pooled over real tokens), each batch timed with synchronization
   (`genobench.profiling.timing.time_call`), GPU power sampled by NVML throughout;
4. **analysis pass**, untimed, over the fidelity subset: hidden states of every layer
   (mean-pooled embeddings and value statistics) and the LM head's next-token
   log-probabilities, compared token by token with the `standard` run's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from genobench.metrics.fidelity import (
    MomentAccumulator,
    embedding_fidelity,
    reference_summary,
    token_fidelity,
    token_summary,
)
from genobench.models.embed import length_sorted_batches, mean_pool
from genobench.models.loading import (
    STANDARD,
    ModeUnavailable,
    check_mode,
    embedding_size,
    from_bitsandbytes,
    load_model,
    pad_batch,
    resolve_dtype,
)
from genobench.profiling.memory import GB, PeakMemory, model_footprint_bytes, release_memory
from genobench.profiling.power import PowerMonitor, efficiency
from genobench.profiling.timing import summarize_times, time_call
from genobench.status import FAILED, OK, SKIPPED


@dataclass
class TokenBatch:
    """One padded batch of token ids (on CPU) and the positions of its sequences."""

    index: np.ndarray
    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    @property
    def n_tokens(self) -> int:
        """Real (non-padding) tokens."""
        return int(self.attention_mask.sum())

    @property
    def n_padded(self) -> int:
        return int(self.attention_mask.numel())


def encode_batches(
    tokenizer, seqs: list[str], batch_size: int, max_tokens: int, subset: np.ndarray | None = None
) -> list[TokenBatch]:
    """Tokenize (truncating to `max_tokens`) and group into length-sorted padded batches.

    Padding is on the right (`loading.pad_batch`), so real tokens of a causal model keep
    positions 0..n-1.
    `subset` restricts to those sequence indices (the batch indices still refer to `seqs`).
    """
    if batch_size < 1 or max_tokens < 2:
        raise ValueError(
            f"need batch_size >= 1 and max_tokens >= 2, got {batch_size}, {max_tokens}"
        )
    idx = np.arange(len(seqs)) if subset is None else np.asarray(subset)
    enc = tokenizer([seqs[i] for i in idx], truncation=True, max_length=max_tokens)
    lengths = [len(ids) for ids in enc["input_ids"]]
    batches = []
    for order in length_sorted_batches(lengths, batch_size):
        padded = pad_batch(tokenizer, [seqs[i] for i in idx[order]], max_length=max_tokens)
        batches.append(TokenBatch(idx[order], padded["input_ids"], padded["attention_mask"]))
    return batches


def fidelity_subset(n: int, k: int, seed: int) -> np.ndarray:
    """`k` sequence indices out of `n` (all when k >= n), seeded, sorted."""
    if k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


@dataclass
class ModeResult:
    """Everything measured for one mode (arrays are None for a skipped mode)."""

    mode: str
    status: str
    reason: str | None = None
    performance: dict[str, Any] = field(default_factory=dict)
    embeddings: np.ndarray | None = None  # (n_seqs, hidden): timed pass, last layer
    layer_embeddings: np.ndarray | None = None  # (n_layers + 1, n_fidelity, hidden)
    layer_stats: list[dict[str, float]] = field(default_factory=list)
    logprobs: list[torch.Tensor] | None = None  # per fidelity batch (n_positions, vocab)
    targets: list[torch.Tensor] | None = None  # actual next tokens of those positions
    token_metrics: dict[str, float] = field(default_factory=dict)


def _device_inputs(batch: TokenBatch, device: str) -> dict[str, torch.Tensor]:
    return {
        "input_ids": batch.input_ids.to(device),
        "attention_mask": batch.attention_mask.to(device),
    }


def embed_batch(model, batch: TokenBatch, device: str) -> torch.Tensor:
    """The embedding workload: bare model's last hidden state, mean-pooled (CPU float32)."""
    inputs = _device_inputs(batch, device)
    hidden = model.base_model(**inputs).last_hidden_state
    return mean_pool(hidden, inputs["attention_mask"]).float().cpu()


def _next_token_positions(mask: torch.Tensor) -> torch.Tensor:
    """Boolean (B, T): real positions followed by a real token (they have a next token)."""
    nxt = torch.zeros_like(mask, dtype=torch.bool)
    nxt[:, :-1] = mask[:, 1:].bool()
    return nxt & mask.bool()


@torch.inference_mode()
def analyse_batch(model, batch: TokenBatch, device: str, causal: bool):
    """Per-layer pooled embeddings and real-token hidden values; next-token log-probs."""
    inputs = _device_inputs(batch, device)
    out = model(**inputs, output_hidden_states=True)
    mask = inputs["attention_mask"]
    pooled = torch.stack([mean_pool(h.float(), mask) for h in out.hidden_states]).cpu()
    real = mask.bool()
    values = [h[real] for h in out.hidden_states]
    logp = targets = None
    if causal and getattr(out, "logits", None) is not None:
        keep = _next_token_positions(mask)
        logp = torch.log_softmax(out.logits[keep].double(), -1).float().cpu()
        targets = inputs["input_ids"][:, 1:][keep[:, :-1]].cpu()
    elif getattr(out, "logits", None) is not None:  # masked LM: the distribution at each position
        logp = torch.log_softmax(out.logits[real].double(), -1).float().cpu()
    return pooled, values, logp, targets


def _skip(mode: str, reason: str, status: str = SKIPPED) -> ModeResult:
    return ModeResult(
        mode=mode,
        status=status,
        reason=reason,
        performance={"mode": mode, "status": status, "reason": reason},
    )


def run_mode(
    model_source: str,
    mode: str,
    batches: list[TokenBatch],
    fidelity_batches: list[TokenBatch],
    device: str = "cpu",
    dtype="auto",
    reference: ModeResult | None = None,
    warmup_batches: int = 1,
    power_interval_ms: float = 100.0,
    head: str | None = None,
    trust_remote_code: bool | None = None,
    progress: bool = True,
    nvml=None,
) -> ModeResult:
    """Load `model_source` in `mode` and measure it on `batches` (see the module doc).

    `reference` is the `standard` run: token and embedding fidelity are computed against
    it. A run without reference is the reference: it keeps its next-token distributions
    and reports only its own statistics (entropy, top probability, perplexity).
    A mode this install or device cannot run comes back with status "skipped" and the
    library's reason; any other error of a quantized mode comes back as status "failed"
    with the error (a failed row of a partial run); errors in `standard` raise.
    """
    check_mode(mode)
    if warmup_batches < 0:
        raise ValueError(f"warmup_batches must be >= 0, got {warmup_batches}")
    if not batches:
        raise ValueError("no batches to run")
    release_memory(device)
    memory = PeakMemory(device).reset()
    started = time.perf_counter()
    try:
        model, _ = load_model(
            model_source, mode, device, dtype, head=head, trust_remote_code=trust_remote_code
        )
    except ModeUnavailable as exc:
        return _skip(mode, exc.reason)
    load_s = time.perf_counter() - started
    try:
        return _measure(
            model,
            mode,
            batches,
            fidelity_batches,
            device,
            reference,
            warmup_batches,
            power_interval_ms,
            progress,
            memory,
            load_s,
            nvml,
            resolve_dtype(dtype, device),
        )
    except _ForwardFailed as exc:
        return _skip(mode, exc.reason)
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        if mode == STANDARD:
            raise
        return _skip(mode, f"{type(exc).__name__}: {exc}", FAILED)
    finally:
        del model
        release_memory(device)


def failure_rows(results: dict[str, ModeResult]) -> list[dict[str, Any]]:
    """The failed modes as rows for `genobench.report.results.write_failures`."""
    return [
        {"what": f"mode {mode}", "error": r.reason}
        for mode, r in results.items()
        if r.status == FAILED
    ]


class _ForwardFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@torch.inference_mode()
def _measure(
    model,
    mode,
    batches,
    fidelity_batches,
    device,
    reference,
    warmup_batches,
    power_interval_ms,
    progress,
    memory,
    load_s,
    nvml,
    dtype,
) -> ModeResult:
    footprint = model_footprint_bytes(model)
    try:
        for batch in batches[:warmup_batches]:
            embed_batch(model, batch, device)
        return _profile_and_analyse(
            model,
            mode,
            batches,
            fidelity_batches,
            device,
            reference,
            warmup_batches,
            power_interval_ms,
            progress,
            memory,
            load_s,
            nvml,
            dtype,
            footprint,
        )
    except (RuntimeError, NotImplementedError) as exc:
        if mode == STANDARD or not from_bitsandbytes(exc):
            raise
        raise _ForwardFailed(f"forward failed: {type(exc).__name__}: {exc}") from exc


def _profile_and_analyse(
    model,
    mode,
    batches,
    fidelity_batches,
    device,
    reference,
    warmup_batches,
    power_interval_ms,
    progress,
    memory,
    load_s,
    nvml,
    dtype,
    footprint,
) -> ModeResult:
    n = int(max(b.index.max() for b in batches)) + 1
    hidden = embedding_size(model.config)
    embeddings = np.full((n, hidden), np.nan, dtype=np.float32)
    times, tokens, seqs = [], 0, 0
    monitor = PowerMonitor(device, power_interval_ms, nvml=nvml)
    with monitor:
        for batch in tqdm(batches, desc=f"{mode}", disable=not progress, leave=False):
            # the lambda runs inside this iteration, on this batch
            seconds, pooled = time_call(lambda: embed_batch(model, batch, device), device)  # noqa: B023
            times.append(seconds)
            embeddings[batch.index] = pooled.numpy()
            tokens += batch.n_tokens
            seqs += len(batch.index)
    monitor.close()
    peak = memory.peak()
    absolute_peak = memory.absolute_peak()
    # bitsandbytes may change the weights' layout on first use (on CPUs with AVX512-BF16
    # it repacks 4-bit weights, dequantizing a double-quantized absmax), so the
    # footprint is taken both as loaded and as it is after inference
    footprint_run = model_footprint_bytes(model)
    power = monitor.result()
    timed_s = float(np.sum(times))
    lat = summarize_times(times)
    perf = {
        "mode": mode,
        "status": OK,
        "reason": None,
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "n_sequences": seqs,
        "n_tokens": tokens,
        "padding_fraction": 1 - tokens / sum(b.n_padded for b in batches),
        "n_batches": len(batches),
        "warmup_batches": warmup_batches,
        "timed_s": timed_s,
        "tokens_per_s": tokens / timed_s,
        "seqs_per_s": seqs / timed_s,
        "latency_median_s": lat["median_s"],
        "latency_p90_s": lat["p90_s"],
        "latency_mean_s": lat["mean_s"],
        "avg_power_W": power.avg_power_W,
        "energy_J": power.energy_J,
        **efficiency(tokens, timed_s, power),
        "energy_source": power.energy_source,
        "power_status": power.status if power.status == "measured" else f"missing: {power.reason}",
        "power_samples": power.n_samples,
        "peak_mem_GB": peak / GB,
        "peak_mem_kind": memory.kind,
        "process_peak_rss_GB": None if memory.on_gpu else absolute_peak / GB,
        "footprint_GB": footprint / GB,
        "footprint_after_run_GB": footprint_run / GB,
        "footprint_hf_GB": model.get_memory_footprint() / GB
        if hasattr(model, "get_memory_footprint")
        else math.nan,
        "load_s": load_s,
    }

    # analysis pass (untimed): per-layer hidden states and next-token distributions
    causal = type(model).__name__.endswith("ForCausalLM")
    pooled_layers, accumulators, logprobs, targets = [], None, [], []
    per_token: dict[str, list[np.ndarray]] = {}
    ref_index = 0
    for batch in tqdm(fidelity_batches, desc=f"{mode} fidelity", disable=not progress, leave=False):
        pooled, values, logp, tgt = analyse_batch(model, batch, device, causal)
        pooled_layers.append(pooled)
        if accumulators is None:
            accumulators = [MomentAccumulator() for _ in values]
        for acc, v in zip(accumulators, values):
            acc.update(v)
        if logp is None:
            continue
        if reference is None:  # this run is the reference: keep its distributions
            logprobs.append(logp)
            targets.append(tgt)
        else:
            ref_logp, ref_tgt = reference.logprobs[ref_index], reference.targets[ref_index]
            for key, arr in token_fidelity(ref_logp, logp, ref_tgt).items():
                per_token.setdefault(key, []).append(arr)
            ref_index += 1
    layer_emb = None
    if pooled_layers:
        layer_emb = torch.cat(pooled_layers, dim=1).numpy()  # (L+1, n_fid, H) in batch order
    if per_token:
        token_metrics = token_summary({k: np.concatenate(v) for k, v in per_token.items()})
    elif logprobs:
        token_metrics = reference_summary(
            torch.cat(logprobs), None if targets[0] is None else torch.cat(targets)
        )
    else:
        token_metrics = {}
    return ModeResult(
        mode=mode,
        status=OK,
        performance=perf,
        embeddings=embeddings,
        layer_embeddings=layer_emb,
        layer_stats=[acc.stats() for acc in accumulators or []],
        logprobs=logprobs if reference is None else None,
        targets=targets if reference is None else None,
        token_metrics=token_metrics,
    )


# ---- tables ---------------------------------------------------------------------------
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


def pareto_front(cost, gain) -> np.ndarray:
    """Boolean mask of points not dominated (lower-or-equal cost and higher-or-equal gain,
    one strictly). NaN points are never on the front."""
    cost = np.asarray(cost, dtype=float)
    gain = np.asarray(gain, dtype=float)
    ok = ~(np.isnan(cost) | np.isnan(gain))
    front = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(ok):
        dominated = (
            ok & (cost <= cost[i]) & (gain >= gain[i]) & ((cost < cost[i]) | (gain > gain[i]))
        )
        front[i] = not dominated.any()
    return front


def summary_table(
    performance: pd.DataFrame, quality: pd.DataFrame, binning: pd.DataFrame
) -> pd.DataFrame:
    """quant_summary.csv: the headline figures of every mode, relative to `standard`."""
    cols_q = [
        c
        for c in (
            "kl_mean",
            "kl_median",
            "kl_p99",
            "js_mean",
            "top1_agreement",
            "ppl_ratio",
            "embedding_cosine_mean",
            "embedding_snr_db",
        )
        if c in quality.columns
    ]
    df = performance[
        [
            "mode",
            "status",
            "tokens_per_s",
            "seqs_per_s",
            "latency_median_s",
            "peak_mem_GB",
            "footprint_GB",
            "tokens_per_joule",
        ]
    ].merge(quality[["mode"] + cols_q], on="mode", how="left")
    if "ari" in binning.columns:
        df = df.merge(binning[["mode", "ari"]], on="mode", how="left")
    base = df[df["mode"] == STANDARD].iloc[0]
    df["speedup_vs_standard"] = df["tokens_per_s"] / base["tokens_per_s"]
    df["footprint_ratio"] = df["footprint_GB"] / base["footprint_GB"]
    df["peak_mem_ratio"] = df["peak_mem_GB"] / base["peak_mem_GB"]
    if "ari" in df.columns:
        df["ari_delta"] = df["ari"] - base["ari"]
    df["pareto_throughput_vs_footprint"] = pareto_front(df["footprint_GB"], df["tokens_per_s"])
    return df


def best_performers(summary: pd.DataFrame) -> pd.DataFrame:
    """best_performers.csv: the best mode for each criterion (missing criteria say why)."""
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
        rows.append(
            {"criterion": name, "mode": pool.loc[i, "mode"], "value": values[i], "note": ""}
        )
    front = ok[ok["pareto_throughput_vs_footprint"]]["mode"].tolist()
    rows.append(
        {
            "criterion": "Pareto front (throughput vs footprint)",
            "mode": ", ".join(front),
            "value": math.nan,
            "note": "modes not beaten on both speed and footprint",
        }
    )
    return pd.DataFrame(rows)
