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
# # Semi-CRF on synthetic gene structures: does it learn the true duration laws?
#
# Synthetic sequences are cut from gene models with **known** duration laws (exon
# log-normal(log 150, 0.5) clipped 30-500 bp, intron log-normal(log 3000, 1.0) clipped
# 100-10,000, intergenic log-normal(log 5000, 0.8) clipped 500-20,000; `duration_scale`
# shrinks all of them by one factor, keeping their shape). Bases come from class-specific
# order-1 Markov chains (a weak per-position signal) with GT...AG splice motifs at the intron
# ends. Five models share one encoder and one training loop and differ only in the output
# head:
#
# | model | head |
# | --- | --- |
# | `softmax` | per-position linear + cross-entropy, argmax decoding |
# | `pytorch-crf` | `torchcrf.CRF`, the external linear-CRF baseline |
# | `linear` | genobench `SemiCRF` with K = 1 (a linear CRF) |
# | `semicrf` | `SemiCRF` with K = `max_duration` and a learned duration bias |
# | `semicrf_uniform` | same K, duration bias fixed at zero (ablation) |
#
# CRF models decode with Viterbi. Metrics are on the test split: boundary F1 exact and at
# tolerances, segment F1, macro position F1, and per-class KL between the true and the
# predicted run-duration histograms (durations measured on maximal same-label runs).

# %% tags=["parameters"]
num_train = 64  # training sequences
num_val = 16  # validation sequences (model selection each epoch)
num_test = 16  # test sequences (all reported metrics)
seq_length = 2000  # T, bp per sequence (bins with real_genes)
real_genes = None  # a real genome's Prodigal genes instead: {genome, bin_size}
# (genobench.data.real_gene_structure.RealGeneConfig; one position = bin_size bp)
num_classes = 3  # 3 (intergenic, exon, intron) or 5 (+ utr5, utr3)
seed = 0
duration_scale = (
    0.1  # multiplies the median and clip bounds of every duration law (1: the real laws)
)
composition_strength = 3.0  # class composition contrast (0: no signal, 1: the native tables)
splice_motifs = True  # GT...AG at every intron
mean_introns = 3.0  # mean introns per gene (geometric)
encoder = "bilstm"  # bilstm | mamba_stub (pure PyTorch) | mamba (mamba-ssm, CUDA only)
features = "onehot"  # onehot (5 dims) | kmer4 (256 dims, sliding-window 4-mer frequencies)
kmer_window = 32  # window of the kmer4 features
max_duration = 256  # K of the semi-CRF models
hidden_dim = 32
num_layers = 2
d_state = 16  # state size of the mamba / mamba_stub blocks
batch_size = 8
lr = 0.01
weight_decay = 0.01
epochs = 15
device = "cpu"
num_threads = None  # CPU threads for torch and the numba semi-CRF kernels; None: library defaults
log_every = 40  # a log line every this many optimizer steps
backend = "auto"  # semi-CRF backend: auto | reference | triton
models = ["softmax", "pytorch-crf", "linear", "semicrf", "semicrf_uniform"]
boundary_tolerances = [0, 1, 5]  # bp; 0 / 10 / 50 of the issue, times duration_scale 0.1
duration_bins = 30  # log-spaced bins of the duration histograms
kl_smoothing = 0.5  # pseudo-count added to every bin of both histograms before the KL
select_on = "boundary_f1"  # best epoch by: boundary_f1 (largest tolerance) | position_f1 | val_loss
data_dir = None  # where generated splits are kept; None: the genobench cache, gene_structure/
checkpoint_dir = None  # None: checkpoints/ under state_dir
state_dir = None  # lasting state (checkpoints); genobench run: the cache, per run + params
resume = True  # continue from <checkpoint_dir>/<model>_last.pt when one is there
output_dir = "reports/interactive/semicrf_synthetic"

# %%
import torch
from IPython.display import display

from genobench.benchmarks.semicrf_synthetic import TrainConfig
from genobench.benchmarks.semicrf_synthetic.comparison import (
    comparison_table,
    headline,
    semicrf_verdict,
)
from genobench.benchmarks.semicrf_synthetic.steps import (
    Stopwatch,
    checkpoint_folder,
    configure,
    data_summary,
    duration_figure,
    learned_duration_figure,
    load_data,
    model_settings,
    predictions_table,
    run_record,
    score_models,
    train_models,
)
from genobench.plots import use_notebook_renderer
from genobench.plots.semicrf_synthetic import training_curves
from genobench.report.results import RunOutputs

use_notebook_renderer()
configure(models, device, num_threads)
out = RunOutputs(output_dir)
checkpoint_dir = checkpoint_folder(checkpoint_dir, state_dir, out.dir)
clock = Stopwatch()

# %% [markdown]
# ## Data
# The splits are generated once per setting and kept on disk (with every sampled segment
# duration), so later runs reuse them. With `real_genes` the labels are Prodigal's gene
# calls on a packaged genome (intergenic / gene on + strand / gene on - strand), one
# position is a bin of `bin_size` bp (durations and tolerances count bins), the "law" of
# a class is a log-normal fitted to the annotation's runs over the whole genome, and the
# source is listed below.

# %%
data, datasets, data_seconds = load_data(
    real_genes,
    data_dir,
    num_train=num_train,
    num_val=num_val,
    num_test=num_test,
    seq_length=seq_length,
    seed=seed,
    num_classes=num_classes,
    duration_scale=duration_scale,
    mean_introns=mean_introns,
    composition_strength=composition_strength,
    splice_motifs=splice_motifs,
)
if datasets is not None:
    out.table(datasets, "datasets.csv")
    display(datasets)
out.table(data.true_durations(), "true_durations.csv")
data_summary(data, max_duration)

# %% [markdown]
# ## Training
# Same encoder (seeded identically), same AdamW loop and epochs for every model; the
# checkpoint with the best validation score is kept (`checkpoints/<model>_best.pt`).

# %%
train_config = TrainConfig(
    epochs=epochs,
    batch_size=batch_size,
    lr=lr,
    weight_decay=weight_decay,
    seed=seed,
    log_every=log_every,
    device=device,
    features=features,
    kmer_window=kmer_window,
    select_on=select_on,
    tolerances=tuple(boundary_tolerances),
)
model_kwargs = model_settings(encoder, hidden_dim, num_layers, max_duration, backend, d_state)
trained, results, timings = train_models(
    models, data, train_config, checkpoint_dir, model_kwargs, resume=resume
)
fig = training_curves({name: r.history for name, r in results.items()}, max(boundary_tolerances))
out.figure(fig, "training_curves")
fig.show()

# %% [markdown]
# ## Test metrics

# %%
table, predictions, timings = score_models(
    trained, data, train_config, boundary_tolerances, duration_bins, kl_smoothing, timings
)
out.table(table, "metrics.csv")
out.table(predictions_table(predictions, data), "test_predictions.csv")
out.json(run_record(globals(), data, table, results, timings, data_seconds, clock), "metrics.json")

# %% [markdown]
# ## Duration distributions (the money plot)
# Rows are classes; the first column is the truth (test runs, and the generator's law as a
# dotted line), then one column per model with its predicted run durations over the truth
# (dashed). KL(true || predicted) on log-spaced bins, add-0.5 smoothing, is in each corner.

# %%
fig = duration_figure(data, predictions, table, duration_bins)
out.figure(fig, "duration_comparison")
fig.show()

# %% [markdown]
# ## What the semi-CRF learned about durations
# The learned duration bias b(d) against the log-density of the true law, both shifted to
# a maximum of 0 (shapes compare; the bias is not itself normalised). Durations the
# training data never shows keep b near 0. Runs longer than K are trained as several
# K-long pieces, so classes whose durations exceed K pile their bias up at d = K.

# %%
fig = learned_duration_figure(trained, data, "semicrf")
if fig is not None:
    out.figure(fig, "learned_durations_semicrf")
    fig.show()

# %% [markdown]
# ## Comparison
# Boundary F1 at each tolerance, segment F1, macro position F1, mean and per-class duration
# KL (lower is better), and training time. The semi-CRF is set against the best other
# model on boundary F1 at the largest tolerance and on the mean duration KL by a paired
# bootstrap over the test sequences: is the margin larger than the noise?

# %%
comparison = comparison_table(table, boundary_tolerances, data.class_names)
out.headline(**headline(comparison, max(boundary_tolerances)))
verdict = semicrf_verdict(
    comparison, predictions, data, max(boundary_tolerances), duration_bins, kl_smoothing, seed
)
if not verdict.empty:
    out.table(verdict, "semicrf_verdict.csv")
    display(verdict.round(3))
print(
    f"notebook time so far: {clock.wall_s():.0f} s wall, {clock.cpu_s():.0f} s CPU "
    f"(all threads) on {torch.get_num_threads()} torch threads"
)
comparison.round(3)
