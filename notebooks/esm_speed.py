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
# # ESM speed and validation: fast vs reference protein encoder
#
# Two questions about a fast-attention ESM2 (FastESM2-style: PyTorch
# `scaled_dot_product_attention`) against the reference ESM2:
#
# 1. **Speed.** How much faster does it extract protein embeddings (residue-only mean
#    pooling), per length bucket? PASS if reference time / fast time ≥ `speedup_threshold`;
#    WITHIN NOISE when the two models' timed repeats overlap (they cannot be told apart).
# 2. **Validation.** Does an MLP classifier trained on its embeddings lose accuracy on a
#    binary task (default: synthetic "viral vs host" proteins)? FAIL if the accuracy
#    drop against the baseline exceeds `accuracy_threshold`.
#
# Each pair names a reference and a fast model (hub id, local path, or `local:<name>`
# for an ESM2-architecture checkpoint genobench builds with random weights). When both
# are the same checkpoint, the pair compares `attn_implementation="eager"` with `"sdpa"`
# on identical weights, and the embeddings' cosine similarity shows the fast path
# computes the same function. Two different checkpoints have no cosine (their embeddings
# are not comparable row by row), and their accuracy drop measures the model difference.

# %% [markdown]
# ## Summary

# %%
from IPython.display import Markdown, display

summary_display = display(
    Markdown(
        "_The run did not reach its end: no verdict. The error is "
        "in the cell where execution stopped._"
    ),
    display_id=True,
)

# %% tags=["parameters"]
fasta = None  # speed proteins: a protein FASTA, a packaged dataset (genobench.data.packaged;
# a genome gives its Prodigal gene calls), or None for seeded synthetic proteins
length_buckets = [100, 300, 500]  # protein lengths (aa); a FASTA's proteins go to the nearest
bucket_quantiles = None  # with `fasta`: buckets at these quantiles of its lengths instead
per_bucket = 8  # proteins timed per length bucket
pairs = [  # reference vs fast; keys: reference, fast, [reference_attention, fast_attention,
    # trust_remote_code, shared_weights, name]
    {"reference": "local:esm2-t6-8m", "fast": "local:esm2-t6-8m"},
    {"reference": "local:esm2-t12-35m", "fast": "local:esm2-t12-35m"},
]
reference_attention = "eager"  # attn_implementation of reference models (None: as shipped)
fast_attention = "sdpa"  # ... of fast models (None for remote-code models such as FastESM2)
trust_remote_code = False
batch_size = 8
max_length = 1026  # tokens per protein incl. BOS/EOS; longer ones are truncated
warmup = 10  # untimed calls of each model per bucket; one call runs the whole bucket
num_runs = 3  # timed calls of each model per bucket
speedup_threshold = 2.0  # PASS if reference time / fast time is at least this
device = "cpu"
dtype = "float32"  # float32, float16 or bfloat16
validation_pairs = [0]  # indices into `pairs` whose classifier accuracy is compared
validation_fasta = (
    None  # two-class FASTA, headers carry the class (see labelled_fasta); None: synthetic
)
validation_real = None  # {phages: [...], host: ...}: real phage vs bacterial proteins
# (genobench.data.proteins.phage_host_proteins, lengths validation_min/max_length)
n_per_class = 150  # synthetic viral vs host: proteins per class
validation_min_length = 50
validation_max_length = 250
viral_shift = 1.5  # synthetic: strength of the viral composition shift (0: none; harder when lower)
split = [0.6, 0.2, 0.2]  # train, val, test fractions (stratified, seeded)
hidden_layer_sizes = [64]
alphas = [0.0001, 0.01, 1.0]  # L2 strengths tried; the best on val is kept
baseline_metrics = None  # JSON file or inline JSON of baseline test metrics; None: the reference
accuracy_threshold = 0.05  # FAIL if baseline accuracy minus fast accuracy exceeds this
seed = 0
output_dir = "reports/interactive/esm_speed"

# %%
import pandas as pd
import torch

from genobench.benchmarks.esm_speed.classifier import split_indices
from genobench.benchmarks.esm_speed.comparison import (
    METRIC_COLUMNS,
    comparison_table,
    headline,
    run_verdicts,
    summary_markdown,
    validation_metrics_table,
)
from genobench.benchmarks.esm_speed.inputs import (
    class_names,
    describe_sets,
    speed_proteins,
    split_table,
    validation_proteins,
)
from genobench.benchmarks.esm_speed.pairs import check_validation_pairs, run_pairs
from genobench.benchmarks.esm_speed.speed import (
    SUMMARY_COLUMNS,
    hardware_info,
    normalize_pairs,
    speed_tables,
)
from genobench.benchmarks.esm_speed.validation import load_baseline_metrics
from genobench.data.proteins import protein_datasets
from genobench.plots import use_notebook_renderer
from genobench.plots.esm_speed import roc_curves, throughput_by_bucket
from genobench.report.results import RunOutputs, write_failures

use_notebook_renderer()
out = RunOutputs(output_dir)
torch.manual_seed(seed)
pair_list = normalize_pairs(pairs, reference_attention, fast_attention, trust_remote_code)
validated = check_validation_pairs(validation_pairs, len(pair_list))
baselines = load_baseline_metrics(baseline_metrics)
hardware = hardware_info(device)
out.json({"hardware": hardware, "pairs": pair_list}, "hardware.json")
pd.Series(hardware).to_frame("value")

# %% [markdown]
# ## Data
# Speed: `per_bucket` proteins per length bucket (seeded synthetic, lengths within ±10 %
# of the bucket, or real proteins, each in its nearest bucket). Validation: a seeded
# two-class set (synthetic, a labelled FASTA, or real phage vs bacterial proteins of equal
# length distributions) split stratified into train/val/test. Real datasets used are
# listed with their source package and how the labels were made.

# %%
proteins, buckets = speed_proteins(fasta, length_buckets, bucket_quantiles, per_bucket, seed)
labelled = validation_proteins(
    validation_real,
    validation_fasta,
    n_per_class,
    seed,
    validation_min_length,
    validation_max_length,
    viral_shift,
)
splits = split_indices(labelled["label"].to_numpy(), split, seed)
classes = class_names(labelled)
out.table(proteins[["id", "length", "bucket"]], "speed_proteins.csv")
out.table(split_table(labelled, splits), "validation_proteins.csv")
print(describe_sets(proteins, labelled, splits))
datasets = protein_datasets(fasta, buckets, validation_real)
out.table(datasets, "datasets.csv")
datasets

# %% [markdown]
# ## Speed
# For each pair both models are loaded (a model that cannot load is reported and the
# pair goes on with what it has), warmed up, then timed in alternation on each bucket.
# Validation pairs also embed the labelled set and train one classifier per model; each
# classifier is saved under `checkpoints/` and reloaded to check it predicts the same.

# %%
runs = run_pairs(
    pair_list,
    proteins,
    labelled,
    splits,
    validated,
    out.dir / "checkpoints",
    classes=classes,
    batch_size=batch_size,
    warmup=warmup,
    num_runs=num_runs,
    device=device,
    dtype=dtype,
    max_length=max_length,
    seed=seed,
    hidden_layer_sizes=hidden_layer_sizes,
    alphas=alphas,
)
load_table = runs.load_table()
write_failures(output_dir, runs.failures)  # a model that failed to load makes the run partial
out.table(load_table, "models.csv")
load_table

# %% [markdown]
# ### Speed table
# Per model and bucket: total seconds of the bucket, per-sequence milliseconds,
# sequences/s and tokens/s (non-padding tokens, BOS/EOS included): mean, median and
# min–max over the `num_runs` timed repeats (`n_repeats`). Peak memory is the model's
# weights plus what one call added at its peak: CUDA allocations on a GPU, the process's
# resident set on CPU (`peak_mem_note` says which; the largest of the runs is shown).

# %%
raw = runs.raw_timings()
summary, speed = speed_tables(raw, speedup_threshold)
out.table(raw, "speed_runs.csv")
out.table(summary, "speed.csv")
out.table(speed, "speedup_by_bucket.csv")
summary.reindex(columns=SUMMARY_COLUMNS).round(4)

# %% [markdown]
# Speedup per bucket: median reference time / median fast time, with its range over the
# repeats (`speedup_min`: slowest fast repeat against the fastest reference one;
# `speedup_max`: the reverse). When the two models' repeat ranges overlap the verdict is
# WITHIN NOISE: these repeats cannot tell the two apart.

# %%
speed.round(3)

# %%
if len(summary):
    fig = throughput_by_bucket(
        summary, "seqs_per_s", title=f"Throughput by length bucket ({hardware['device_name']})"
    )
    out.figure(fig, "throughput_by_bucket")
    fig.show()

# %% [markdown]
# ## Validation
# One MLP classifier per model (standardised embeddings, L2 strength chosen on the
# validation split), metrics on the held-out test split. The baseline is
# `baseline_metrics` when given, otherwise the reference model's classifier of this run.

# %%
validation_metrics = validation_metrics_table(pair_list, runs.validation, baselines)
comparison = comparison_table(
    pair_list,
    speed,
    runs.fidelity,
    runs.validation,
    validated,
    baselines,
    speedup_threshold,
    accuracy_threshold,
)
out.table(validation_metrics, "validation_metrics.csv")
out.table(comparison, "comparison.csv")
test_scores = runs.test_scores()
if len(test_scores):
    out.table(test_scores, "test_scores.csv")
validation_metrics.reindex(columns=METRIC_COLUMNS).round(3)

# %%
curves = runs.roc_curves()
if curves:
    fig = roc_curves(curves, title=f"ROC curves on the test split ({classes[1]} = positive)")
    out.figure(fig, "roc_curves")
    fig.show()

# %% [markdown]
# ## Comparison
# One row per pair: overall speedup (sum of the buckets' median times) with its range
# over the repeats, embedding cosine similarity when the weights are shared, and the
# validation verdict.

# %%
comparison.drop(columns=["next_steps"], errors="ignore").round(4)

# %%
verdicts = run_verdicts(comparison)
summary_md = summary_markdown(
    comparison, load_table, verdicts, hardware, speedup_threshold, accuracy_threshold
)
summary_display.update(Markdown(summary_md))
out.json(
    {**verdicts, "hardware": hardware, "pairs": comparison.to_dict(orient="records")},
    "summary.json",
)
metric, value = headline(comparison)
out.headline(metric, value, **verdicts)
Markdown(summary_md)
