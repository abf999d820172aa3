"""The steps of the quantization notebook: check the modes, draw the fragments, tokenize
them once, run every mode, gather the tables and bin each mode's embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from genobench.benchmarks.binning import BinningRun, bin_models, figure_name, run_labels
from genobench.benchmarks.quantization.measure import (
    ModeResult,
    TokenBatch,
    encode_batches,
    fidelity_subset,
    run_mode,
)
from genobench.benchmarks.quantization.tables import distribution_rows, layer_rows, quality_row
from genobench.data.fragments import load_fragments, select_fragments
from genobench.data.metagenome import metagenome_csv
from genobench.models.genomic_lm import training_record
from genobench.models.loading import MODE_DESCRIPTIONS, STANDARD, check_mode, load_tokenizer
from genobench.models.local import resolve_model
from genobench.models.registry import spec_for
from genobench.plots.binning import binning_scatter
from genobench.status import OK

Log = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)  # shown while the run goes on


def check_modes(quant_modes: Sequence[str]) -> list[str]:
    """The modes to run, `standard` (the reference of every comparison) first. Raises
    ValueError naming `quant_modes` for an unknown or repeated mode, or without standard."""
    for mode in quant_modes:
        try:
            check_mode(mode)
        except ValueError as exc:
            raise ValueError(f"quant_modes: {exc}") from None
    repeated = sorted({m for m in quant_modes if list(quant_modes).count(m) > 1})
    if repeated:
        raise ValueError(f"quant_modes lists {', '.join(repeated)} more than once")
    if STANDARD not in quant_modes:
        raise ValueError(
            f"quant_modes must include {STANDARD!r} (the baseline), got {list(quant_modes)}"
        )
    return [STANDARD] + [m for m in quant_modes if m != STANDARD]


def draw_fragments(
    csv: str | None,
    n_genomes: int,
    n_fragments: int,
    seed: int,
    short_genomes: str = "drop",
    synthetic_genomes: int = 24,
    synthetic_fragments: int = 60,
    fragment_min_len: int = 2000,
    fragment_max_len: int = 5000,
    log: Log = _print,
) -> pd.DataFrame:
    """`n_genomes` x `n_fragments` fragments drawn with `seed` from the validated fragment
    table `csv`, or, when `csv` is None, from a synthetic metagenome of `synthetic_genomes`
    genomes cut into `synthetic_fragments` fragments each of `fragment_min_len` to
    `fragment_max_len` bp."""
    if csv is None:
        csv = metagenome_csv(
            n_genomes=synthetic_genomes,
            fragments_per_genome=synthetic_fragments,
            min_length=fragment_min_len,
            max_length=fragment_max_len,
            seed=seed,
        )
    fragments = select_fragments(load_fragments(csv), n_genomes, n_fragments, seed, short_genomes)
    log(f"{csv}: {fragments['genome_id'].nunique()} genomes x {n_fragments} fragments")
    return fragments


def describe_model(model: str, log: Log = _print) -> dict[str, Any] | None:
    """Log the model's registry entry (an unlisted hub id or folder: ad hoc) and, for a
    genomic LM genobench trained, its training record, which is returned (else None).
    A `local:<name>` model is built on first use."""
    entry = spec_for(model)
    source = resolve_model(entry.hub_id)
    log(
        f"model {entry.name}: {entry.hub_id} ({entry.family}, "
        f"trust_remote_code={entry.trust_remote_code})"
    )
    trained = training_record(source)
    if trained:
        log(
            f"trained {trained['steps_completed']}/{trained['max_steps']} steps in "
            f"{trained['train_seconds']} s ({trained['n_parameters']:,} parameters): held-out "
            f"{trained['heldout_bits_per_base']:.3f} bits/base (uniform 2.000, true chains "
            f"{trained['oracle_bits_per_base']:.3f})"
            + (" — stopped by the time cap" if trained["stopped_by_time"] else "")
        )
    return trained


@dataclass
class Workload:
    """The token batches every mode runs on: every fragment (timed) and the fidelity subset
    (analysed)."""

    batches: list[TokenBatch]
    fidelity_batches: list[TokenBatch]

    def describe(self) -> str:
        tokens = sum(b.n_tokens for b in self.batches)
        padded = sum(b.n_padded for b in self.batches)
        n_fidelity = sum(len(b.index) for b in self.fidelity_batches)
        return (
            f"{len(self.batches)} batches, {tokens:,} real tokens (padding "
            f"{1 - tokens / padded:.1%}); fidelity on {n_fidelity} fragments"
        )


def tokenize(
    model: str,
    seqs: list[str],
    batch_size: int,
    max_tokens: int,
    fidelity_fragments: int,
    seed: int,
    log: Log = _print,
) -> Workload:
    """Tokenize `seqs` once with the model's tokenizer (no weights loaded) into batches, and
    `fidelity_fragments` of them, drawn with `seed`, into the fidelity batches."""
    tokenizer = load_tokenizer(model)
    subset = fidelity_subset(len(seqs), fidelity_fragments, seed)
    workload = Workload(
        encode_batches(tokenizer, seqs, batch_size, max_tokens),
        encode_batches(tokenizer, seqs, batch_size, max_tokens, subset=subset),
    )
    log(workload.describe())
    return workload


def run_modes(
    model: str,
    quant_modes: Sequence[str],
    workload: Workload,
    device: str = "cpu",
    dtype: str = "auto",
    warmup_batches: int = 1,
    power_interval_ms: float = 100.0,
    timed_repeats: int = 3,
    log: Log = _print,
) -> dict[str, ModeResult]:
    """`run_mode` for every mode, `standard` first (the reference of the others), with a line
    per mode. Raises RuntimeError when `standard` did not run."""
    results: dict[str, ModeResult] = {}
    for mode in check_modes(quant_modes):
        log(f"{mode}: {MODE_DESCRIPTIONS[mode]}")
        r = results[mode] = run_mode(
            model,
            mode,
            workload.batches,
            workload.fidelity_batches,
            device=device,
            dtype=dtype,
            reference=results.get(STANDARD),
            warmup_batches=warmup_batches,
            power_interval_ms=power_interval_ms,
            timed_repeats=timed_repeats,
        )
        if r.status != OK:
            log(f"  {r.status}: {r.reason}")
            continue
        p = r.performance
        log(
            f"  {p['tokens_per_s']:,.0f} tokens/s ({p['tokens_per_s_min']:,.0f}-"
            f"{p['tokens_per_s_max']:,.0f} over {p['timed_repeats']} passes), median batch "
            f"{p['latency_median_s']:.3f} s, footprint {p['footprint_GB'] * 1024:.2f} MiB, "
            f"peak {p['peak_mem_GB']:.3f} GB"
        )
    if results[STANDARD].status != OK:
        raise RuntimeError(f"the standard mode did not run: {results[STANDARD].reason}")
    return results


def performance_table(results: dict[str, ModeResult]) -> pd.DataFrame:
    """performance_metrics.csv: one row per mode (a mode that did not run: its reason)."""
    return pd.DataFrame([r.performance for r in results.values()])


def fidelity_tables(
    results: dict[str, ModeResult],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """quality_metrics.csv, layer_similarity.csv and distribution_statistics.csv of every
    mode, compared with `standard`."""
    reference = results[STANDARD]
    quality = pd.DataFrame([quality_row(r, reference) for r in results.values()])
    layers = pd.DataFrame([row for r in results.values() for row in layer_rows(r, reference)])
    distribution = pd.DataFrame([row for r in results.values() for row in distribution_rows(r)])
    return quality, layers, distribution


def bin_modes(
    results: dict[str, ModeResult],
    fragments: pd.DataFrame,
    umap_dim: int,
    seed: int,
    min_samples: int = 5,
    eps: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, BinningRun]:
    """Every mode's fragment embeddings through the binning pipeline (`bin_models`: UMAP to
    `umap_dim`, DBSCAN, genome-level metrics) -> (binning_metrics.csv: one row per mode with
    its status, a mode that did not run with its reason; cluster_labels.csv; the run)."""
    embeddings = {m: r.embeddings for m, r in results.items() if r.status == OK}
    run = bin_models(
        embeddings, fragments, umap_dim, seed, min_samples=min_samples, eps=eps, sweep=False
    )
    metrics = run.metrics.drop(columns=["clustering", "level"]).rename(columns={"model": "mode"})
    metrics.insert(1, "status", OK)
    table = pd.concat(
        [
            metrics[metrics["mode"] == mode]
            if r.status == OK
            else pd.DataFrame([{"mode": mode, "status": r.status, "reason": r.reason}])
            for mode, r in results.items()
        ],
        ignore_index=True,
    )
    labels = run_labels(run, fragments["fragment_id"]).drop(columns="clustering")
    return table, labels.rename(columns={"model": "mode"}), run


def umap_figures(run: BinningRun, genome_ids) -> dict[str, go.Figure]:
    """Each mode's 2-d UMAP by cluster and by true genome, by figure name."""
    return {
        figure_name(mode, clustering): binning_scatter(
            result.coords_2d,
            result.labels,
            genome_ids,
            title=f"{mode}: ARI {result.metrics['ari']:.3f}",
        )
        for (mode, clustering), result in run.results.items()
    }


def headline(quality: pd.DataFrame, results: dict[str, ModeResult]) -> dict[str, Any] | None:
    """`RunOutputs.headline` arguments: the KL mean of `4bit_nf4` against standard, else of
    the last quantized mode that ran; None when none did."""
    ran = [m for m, r in results.items() if m != STANDARD and r.status == OK]
    if not ran:
        return None
    mode = "4bit_nf4" if "4bit_nf4" in ran else ran[-1]
    return {
        "metric": f"KL mean ({mode} vs standard)",
        "value": float(quality.set_index("mode").loc[mode, "kl_mean"]),
        "mode": mode,
    }
