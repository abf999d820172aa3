# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quantization: what do 8-bit and 4-bit weights cost and save?
#
# Following the GenomeOcean efficiency and quantization benchmarks, one model is
# loaded in each quantization mode (`standard`, bitsandbytes `8bit`, `4bit_nf4`,
# `4bit_fp4`, `4bit_nf4_double`) and, on the same token batches:
#
# * **profiled**: embedding inference over every fragment, warm-up batches excluded,
#   each batch timed with device synchronization; throughput in real (non-padding)
#   tokens/s and sequences/s, batch latency (median, p90); GPU power and energy from
#   NVML (missing, with the reason, on CPU); peak memory and the model's footprint;
# * **compared with `standard`**: next-token distributions token by token (KL
#   divergence mean/median/p99 as llama.cpp defines them, Jensen–Shannon, top-1
#   agreement, perplexity ratio), mean-pooled embeddings (cosine, SNR in dB) at
#   every layer, and the distribution of hidden-state values per layer;
# * **binned**: the fragments' embeddings go through the binning pipeline (UMAP →
#   DBSCAN → ARI and friends), one row per mode.
#
# The default model, `local:genomic-lm`, is a small Mistral-family causal LM with a
# non-overlapping 4-mer DNA tokenizer that genobench trains on the synthetic metagenome
# the first time it is used (a few minutes on 2 CPU cores, then cached), so the fidelity numbers
# come from a model with learned next-token distributions, not random weights.

# %% tags=["parameters"]
csv = None  # fragment CSV (genome_id, fragment_id, seq), or None for the synthetic metagenome
synthetic_genomes = 24  # synthetic metagenome: genomes generated (when csv is None)
synthetic_fragments = 60  # ... fragments cut from each genome
fragment_min_len = 2000  # ... shortest fragment (bp)
fragment_max_len = 5000  # ... longest fragment (bp)
n_genomes = 10  # genomes sampled for the benchmark
n_fragments = 20  # fragments sampled per genome
short_genomes = "drop"  # a genome with < n_fragments fragments: "drop" (warn) or "error"
seed = 0
model = "genomic-lm"  # a registry name, a hub id, a local folder or local:<name>
device = "cpu"
dtype = "auto"  # unquantized weights and 4-bit compute dtype: auto (fp16 GPU, fp32 CPU), ...
quant_modes = ["standard", "8bit", "4bit_nf4", "4bit_fp4", "4bit_nf4_double"]
batch_size = 8
max_tokens = 512  # tokens per fragment (longer fragments are truncated)
warmup_batches = 2  # untimed batches run before the timed pass
power_interval_ms = 100  # NVML power sampling interval
fidelity_fragments = 48  # fragments whose logits and per-layer states are compared
umap_dim = 10  # UMAP dimensions used for clustering
min_samples = 5  # DBSCAN min_samples (also the k of the k-distance curve)
eps = None  # DBSCAN eps, or None for the knee of the k-distance curve (recorded)
output_dir = "reports/interactive/quantization"

# %%
import pandas as pd
from transformers.utils import logging as hf_logging

from genobench.benchmarks.binning import bin_embeddings, labels_table, metrics_row
from genobench.benchmarks.quantization import (
    best_performers,
    distribution_rows,
    encode_batches,
    failure_rows,
    fidelity_subset,
    layer_rows,
    quality_row,
    run_mode,
    summary_table,
)
from genobench.data.fragments import load_fragments, select_fragments
from genobench.data.metagenome import metagenome_csv
from genobench.models.genomic_lm import training_record
from genobench.models.loading import MODE_DESCRIPTIONS, STANDARD, check_mode, load_model
from genobench.models.local import resolve_model
from genobench.models.registry import spec_for
from genobench.plots import use_notebook_renderer
from genobench.plots.binning import binning_scatter
from genobench.plots.quantization import (
    divergence_comparison,
    layer_similarity,
    memory_comparison,
    pareto_tradeoff,
    throughput_comparison,
)
from genobench.report.results import RunOutputs, write_failures
from genobench.status import OK

use_notebook_renderer()
hf_logging.disable_progress_bar()
out = RunOutputs(output_dir)
for mode in quant_modes:
    check_mode(mode)
if STANDARD not in quant_modes:
    raise ValueError(f"quant_modes must include {STANDARD!r} (the baseline), got {quant_modes}")
quant_modes = [STANDARD] + [m for m in quant_modes if m != STANDARD]  # the reference first

# %% [markdown]
# ## Data and model
# `n_genomes` genomes × `n_fragments` fragments are drawn with the seed from the
# validated fragment table. The model is resolved through the registry (hub id,
# architecture family, whether it needs `trust_remote_code`); a local genomic LM is
# built on first use and its training record shown.

# %%
if csv is None:
    csv = metagenome_csv(
        n_genomes=synthetic_genomes,
        fragments_per_genome=synthetic_fragments,
        min_length=fragment_min_len,
        max_length=fragment_max_len,
        seed=seed,
    )
fragments = select_fragments(load_fragments(csv), n_genomes, n_fragments, seed, short_genomes)
out.table(fragments[["genome_id", "fragment_id"]], "selected_fragments.csv")
seqs = fragments["seq"].tolist()

entry = spec_for(model)  # the registry entry (an unlisted hub id or folder: ad hoc)
source = resolve_model(entry.hub_id)  # builds local:<name> models on first use
_, tokenizer = load_model(model, STANDARD, "cpu", "float32")
batches = encode_batches(tokenizer, seqs, batch_size, max_tokens)
fid_index = fidelity_subset(len(seqs), fidelity_fragments, seed)
fid_batches = encode_batches(tokenizer, seqs, batch_size, max_tokens, subset=fid_index)
n_tokens = sum(b.n_tokens for b in batches)
print(
    f"{csv}: {fragments['genome_id'].nunique()} genomes x {n_fragments} fragments; "
    f"{len(batches)} batches, {n_tokens:,} real tokens "
    f"(padding {1 - n_tokens / sum(b.n_padded for b in batches):.1%}); "
    f"fidelity on {len(fid_index)} fragments"
)
print(
    f"model {entry.name}: {entry.hub_id} ({entry.family}, "
    f"trust_remote_code={entry.trust_remote_code})"
)
trained = training_record(source)
if trained:
    print(
        f"trained {trained['steps_completed']}/{trained['max_steps']} steps in "
        f"{trained['train_seconds']} s ({trained['n_parameters']:,} parameters): held-out "
        f"{trained['heldout_bits_per_base']:.3f} bits/base (uniform 2.000, true chains "
        f"{trained['oracle_bits_per_base']:.3f})"
        + (" — stopped by the time cap" if trained["stopped_by_time"] else "")
    )
    out.json(trained, "model_training.json")

# %% [markdown]
# ## Run every mode
# `standard` first: it is the reference for every comparison. A mode this install or
# device cannot run is reported as skipped with the library's reason.

# %%
results = {}
for mode in quant_modes:
    print(f"{mode}: {MODE_DESCRIPTIONS[mode]}", flush=True)
    results[mode] = run_mode(
        model,
        mode,
        batches,
        fid_batches,
        device=device,
        dtype=dtype,
        reference=results.get(STANDARD),
        warmup_batches=warmup_batches,
        power_interval_ms=power_interval_ms,
    )
    r = results[mode]
    if r.status != OK:
        print(f"  {r.status}: {r.reason}")
    else:
        p = r.performance
        print(
            f"  {p['tokens_per_s']:,.0f} tokens/s, median batch {p['latency_median_s']:.3f} s,"
            f" footprint {p['footprint_GB'] * 1024:.2f} MiB, peak {p['peak_mem_GB']:.3f} GB"
        )
reference = results[STANDARD]
if reference.status != OK:
    raise RuntimeError(f"the standard mode did not run: {reference.reason}")
write_failures(output_dir, failure_rows(results))  # a failed mode makes the run partial

performance = pd.DataFrame([r.performance for r in results.values()])
out.table(performance, "performance_metrics.csv")
performance.set_index("mode")[
    [
        "status",
        "tokens_per_s",
        "seqs_per_s",
        "latency_median_s",
        "latency_p90_s",
        "avg_power_W",
        "energy_J",
        "tokens_per_joule",
        "peak_mem_GB",
        "footprint_GB",
        "power_status",
    ]
]

# %% [markdown]
# ## Fidelity to `standard`
# Token level over the fidelity fragments (every position that has a next token);
# `embedding_*` compares the mean-pooled last hidden state of every fragment.

# %%
quality = pd.DataFrame([quality_row(r, reference) for r in results.values()])
layers = pd.DataFrame([row for r in results.values() for row in layer_rows(r, reference)])
distribution = pd.DataFrame([row for r in results.values() for row in distribution_rows(r)])
out.table(quality, "quality/quality_metrics.csv")
out.table(layers, "quality/layer_similarity.csv")
out.table(distribution, "quality/distribution_statistics.csv")
shown = [
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
    if c in quality
]
quality.set_index("mode")[shown]

# %%
fig = divergence_comparison(quality)
out.figure(fig, "divergence_comparison")
fig.show()
fig = layer_similarity(layers)
out.figure(fig, "cosine_by_layer")
fig.show()

# %% [markdown]
# Hidden-state value statistics per layer (real tokens only); quantization error shows
# up as shifted extremes and kurtosis before it shows in the pooled embeddings.

# %%
distribution.pivot(index="layer", columns="mode", values="abs_max").round(3)

# %% [markdown]
# ## Binning per mode
# Each mode's fragment embeddings through UMAP (`umap_dim`) and DBSCAN, scored against
# the true genomes.

# %%
rows, labels, binned = [], [], {}
for mode, r in results.items():
    if r.status != OK:
        rows.append(pd.DataFrame([{"mode": mode, "status": r.status, "reason": r.reason}]))
        continue
    binned[mode] = bin_embeddings(
        r.embeddings, fragments["genome_id"], umap_dim, seed, min_samples=min_samples, eps=eps
    )
    row = metrics_row(mode, binned[mode], len(fragments)).rename(columns={"model": "mode"})
    row.insert(1, "status", OK)
    rows.append(row)
    labels.append(labels_table(mode, fragments["fragment_id"], binned[mode]))
binning = pd.concat(rows, ignore_index=True)
out.table(binning, "binning_metrics.csv")
out.table(
    pd.concat(labels, ignore_index=True).rename(columns={"model": "mode"}), "cluster_labels.csv"
)
binning.round(3)

# %%
for mode, result in binned.items():
    fig = binning_scatter(
        result.coords_2d,
        result.labels,
        fragments["genome_id"],
        title=f"{mode}: ARI {result.metrics['ari']:.3f}",
    )
    out.figure(fig, f"umap_{mode}")
    fig.show()

# %% [markdown]
# ## Summary
# Speed, memory, fidelity and binning side by side, relative to `standard`; the
# Pareto front holds the modes no other mode beats on both throughput and footprint.

# %%
summary = summary_table(performance, quality, binning)
best = best_performers(summary)
out.table(summary, "quant_summary.csv")
out.table(best, "best_performers.csv")
headline_mode = next(
    (
        m
        for m in ("4bit_nf4", *quant_modes[::-1])
        if m != STANDARD and m in results and results[m].status == OK
    ),
    None,
)
if headline_mode:
    out.headline(
        f"KL mean ({headline_mode} vs standard)",
        float(quality.set_index("mode").loc[headline_mode, "kl_mean"]),
        mode=headline_mode,
    )
best

# %%
summary.set_index("mode").round(4)

# %%
for name, fig in (
    ("throughput_comparison", throughput_comparison(performance)),
    ("memory_comparison", memory_comparison(performance)),
    ("pareto_tradeoff", pareto_tradeoff(summary)),
):
    out.figure(fig, name)
    fig.show()
