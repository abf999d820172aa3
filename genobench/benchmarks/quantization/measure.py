"""One quantization mode, measured: load, profile inference, extract embeddings and logits.

`steps.run_modes` calls `run_mode` once per mode on the same token batches
(`encode_batches`, built once with the model's tokenizer), `standard` first:

1. load the model in the mode (peak memory is reset just before, so it counts the
   weights, the loading transients and the activations of inference);
2. warm up on the first `warmup_batches` batches (untimed; a mode that cannot run
   on this device fails here and is reported as skipped with the library's reason);
3. **timed passes**, `timed_repeats` of them, over every batch: the embedding workload
   (the bare model's last hidden state, mean-pooled over real tokens), each batch timed
   with synchronization (`genobench.profiling.timing.time_call`), GPU power sampled by
   NVML throughout; speeds are reported as the median pass with the min and max over the
   repeats (`timing_columns`);
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
import torch
from tqdm.auto import tqdm

from genobench.metrics.fidelity import (
    MomentAccumulator,
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
    timed_repeats: int = 3,
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
    if timed_repeats < 1:
        raise ValueError(f"timed_repeats must be >= 1, got {timed_repeats}")
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
        with torch.inference_mode():
            dtype_name = str(resolve_dtype(dtype, device)).replace("torch.", "")
            footprint = model_footprint_bytes(model)
            for batch in batches[:warmup_batches]:
                embed_batch(model, batch, device)
            monitor = PowerMonitor(device, power_interval_ms, nvml=nvml)
            with monitor:
                repeat_times, embeddings = _timed_passes(
                    model, mode, batches, device, timed_repeats, progress
                )
            monitor.close()
            peak = memory.peak()
            absolute_peak = memory.absolute_peak()
            # bitsandbytes may change the weights' layout on first use (on CPUs with
            # AVX512-BF16 it repacks 4-bit weights, dequantizing a double-quantized absmax),
            # so the footprint is taken both as loaded and as it is after inference
            footprint_run = model_footprint_bytes(model)
            power = monitor.result()
            tokens = sum(b.n_tokens for b in batches)
            seqs = sum(len(b.index) for b in batches)
            perf = {
                "mode": mode,
                "status": OK,
                "reason": None,
                "device": device,
                "dtype": dtype_name,
                "n_sequences": seqs,
                "n_tokens": tokens,
                "padding_fraction": 1 - tokens / sum(b.n_padded for b in batches),
                "n_batches": len(batches),
                "warmup_batches": warmup_batches,
                **timing_columns(repeat_times, tokens, seqs),
                # power is sampled over every timed pass
                "avg_power_W": power.avg_power_W,
                "energy_J": power.energy_J,
                **efficiency(tokens * timed_repeats, sum(map(sum, repeat_times)), power),
                "energy_source": power.energy_source,
                "power_status": power.status
                if power.status == "measured"
                else f"missing: {power.reason}",
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
            analysis = _analysis_pass(model, mode, fidelity_batches, device, reference, progress)
        return ModeResult(mode, OK, performance=perf, embeddings=embeddings, **analysis)
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        if mode == STANDARD:
            raise
        if not isinstance(exc, ValueError) and from_bitsandbytes(exc):
            # bitsandbytes' refusal to run this mode here: skipped, with its reason
            return _skip(mode, f"forward failed: {type(exc).__name__}: {exc}")
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


def timing_columns(
    repeat_times: list[list[float]], n_tokens: int, n_sequences: int
) -> dict[str, float]:
    """Speed columns of `performance_metrics.csv` from the seconds of every batch in each
    timed pass (one list per repeat): the pass time (median over the repeats, with min and
    max), tokens and sequences per second from it (tokens/s min and max from the slowest
    and fastest pass), and batch latency over every timed batch (median, p90, mean; the
    median's min and max over the repeats)."""
    passes = summarize_times([sum(times) for times in repeat_times])
    latency = summarize_times([t for times in repeat_times for t in times])
    medians = [float(np.median(times)) for times in repeat_times]
    return {
        "timed_repeats": passes["n"],
        "timed_s": passes["median_s"],
        "timed_s_min": passes["min_s"],
        "timed_s_max": passes["max_s"],
        "tokens_per_s": n_tokens / passes["median_s"],
        "tokens_per_s_min": n_tokens / passes["max_s"],
        "tokens_per_s_max": n_tokens / passes["min_s"],
        "seqs_per_s": n_sequences / passes["median_s"],
        "latency_median_s": latency["median_s"],
        "latency_median_s_min": min(medians),
        "latency_median_s_max": max(medians),
        "latency_p90_s": latency["p90_s"],
        "latency_mean_s": latency["mean_s"],
    }


def _timed_passes(model, mode, batches, device, repeats, progress):
    """`repeats` timed passes over every batch -> (seconds per batch of each pass, the
    pooled embeddings, rows in sequence order)."""
    n = int(max(b.index.max() for b in batches)) + 1
    embeddings = np.full((n, embedding_size(model.config)), np.nan, dtype=np.float32)
    repeat_times = []
    with tqdm(total=repeats * len(batches), desc=mode, disable=not progress, leave=False) as bar:
        for _ in range(repeats):
            times = []
            for batch in batches:
                # the lambda runs inside this iteration, on this batch
                seconds, pooled = time_call(lambda: embed_batch(model, batch, device), device)  # noqa: B023
                times.append(seconds)
                embeddings[batch.index] = pooled.numpy()
                bar.update()
            repeat_times.append(times)
    return repeat_times, embeddings


def _analysis_pass(model, mode, fidelity_batches, device, reference, progress) -> dict[str, Any]:
    """The untimed analysis pass over the fidelity batches: per-layer pooled embeddings and
    value statistics, and next-token distributions (kept by the reference, compared with the
    reference's by every other mode) -> those fields of ModeResult."""
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
    return {
        "layer_embeddings": layer_emb,
        "layer_stats": [acc.stats() for acc in accumulators or []],
        "logprobs": logprobs if reference is None else None,
        "targets": targets if reference is None else None,
        "token_metrics": token_metrics,
    }
