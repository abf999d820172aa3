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
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import display

from genobench.benchmarks.semicrf_synthetic import MODELS, TrainConfig
from genobench.benchmarks.semicrf_synthetic.steps import fit, law_samples, predictions_table, score
from genobench.data.gene_structure import GeneStructureConfig, load_or_generate
from genobench.data.real_gene_structure import RealGeneConfig, load_or_build, real_gene_datasets
from genobench.metrics.segmentation import (
    bootstrap_difference,
    boundary_f1,
    duration_kls,
    log_bins,
    run_durations,
)
from genobench.plots import use_notebook_renderer
from genobench.plots.semicrf_synthetic import (
    duration_comparison,
    learned_durations,
    training_curves,
)
from genobench.report.results import RunOutputs

use_notebook_renderer()
if num_threads:
    import numba

    torch.set_num_threads(num_threads)
    numba.set_num_threads(min(num_threads, numba.config.NUMBA_NUM_THREADS))
out = RunOutputs(output_dir)
checkpoint_dir = Path(checkpoint_dir or Path(state_dir or out.dir) / "checkpoints")
unknown = sorted(set(models) - set(MODELS))
if unknown:
    raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
if device == "cuda" and not torch.cuda.is_available():
    raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA GPU; use device 'cpu'")
notebook_start, notebook_cpu = time.perf_counter(), time.process_time()

# %% [markdown]
# ## Data
# The splits are generated once per setting and kept on disk (with every sampled segment
# duration), so later runs reuse them. With `real_genes` the labels are Prodigal's gene
# calls on a packaged genome (intergenic / gene on + strand / gene on - strand), one
# position is a bin of `bin_size` bp (durations and tolerances count bins), the "law" of
# a class is a log-normal fitted to the annotation's runs over the whole genome, and the
# source is listed below.

# %%
start = time.perf_counter()
if real_genes is None:
    data_config = GeneStructureConfig(
        num_train=num_train,
        num_val=num_val,
        num_test=num_test,
        seq_length=seq_length,
        num_classes=num_classes,
        seed=seed,
        duration_scale=duration_scale,
        mean_introns=mean_introns,
        composition_strength=composition_strength,
        splice_motifs=splice_motifs,
    )
    data = load_or_generate(data_config, data_dir)
else:
    data_config = RealGeneConfig(
        seq_length=seq_length,
        num_train=num_train,
        num_val=num_val,
        num_test=num_test,
        seed=seed,
        **real_genes,
    )
    data = load_or_build(data_config, data_dir)
    out.table(real_gene_datasets(data_config), "datasets.csv")
    display(real_gene_datasets(data_config))
data_seconds = time.perf_counter() - start
classes = data.class_names
num_classes = len(classes)
laws = data.laws()
durations = data.true_durations()
out.table(durations, "true_durations.csv")
test = data["test"]
true_runs = run_durations(test.labels.astype(np.int64), num_classes, test.lengths)
summary = pd.DataFrame(
    {
        "class": classes,
        "law median (bp)": [laws[c].median for c in classes],
        "law clip (bp)": [f"{laws[c].low}-{laws[c].high}" for c in classes],
        "sampled median (bp)": [
            durations.loc[durations["class"] == c, "duration"].median() for c in classes
        ],
        "fraction of test positions": [
            float((test.labels == i).mean()) for i in range(num_classes)
        ],
        "test runs": [len(true_runs[i]) for i in range(num_classes)],
        f"share of sampled segments <= K={max_duration}": [
            float((durations.loc[durations["class"] == c, "duration"] <= max_duration).mean())
            for c in classes
        ],
    }
)
print(
    f"{data.path}: {num_train}/{num_val}/{num_test} sequences of {seq_length} bp "
    f"({'loaded' if data_seconds < 1 else 'generated'} in {data_seconds:.1f} s)"
)
summary

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
model_kwargs = dict(
    encoder=encoder,
    hidden_dim=hidden_dim,
    num_layers=num_layers,
    max_duration=max_duration,
    backend=backend,
)
if encoder in ("mamba", "mamba_stub"):
    model_kwargs["d_state"] = d_state
trained, results, timings = {}, {}, {}
for name in models:
    trained[name], results[name], timings[name] = fit(
        name, data, train_config, checkpoint_dir, model_kwargs, resume=resume
    )
    timings[name]["parameters"] = sum(p.numel() for p in trained[name].parameters())
    timings[name]["best_epoch"] = results[name].best_epoch
fig = training_curves({name: r.history for name, r in results.items()}, max(boundary_tolerances))
out.figure(fig, "training_curves")
fig.show()

# %% [markdown]
# ## Test metrics

# %%
rows, predictions = [], {}
for name, model in trained.items():
    metrics, predictions[name], decode_s = score(
        model, data, train_config, boundary_tolerances, duration_bins, kl_smoothing
    )
    timings[name]["test_decode_s"] = decode_s
    rows.append({"model": name, **metrics, **timings[name]})
table = pd.DataFrame(rows)
out.table(table, "metrics.csv")
out.table(predictions_table(predictions, data), "test_predictions.csv")
config = {
    key: value
    for key, value in globals().items()
    if key
    in (
        "num_train",
        "num_val",
        "num_test",
        "seq_length",
        "num_classes",
        "seed",
        "real_genes",
        "duration_scale",
        "composition_strength",
        "splice_motifs",
        "mean_introns",
        "encoder",
        "features",
        "kmer_window",
        "max_duration",
        "hidden_dim",
        "num_layers",
        "d_state",
        "batch_size",
        "lr",
        "weight_decay",
        "epochs",
        "device",
        "num_threads",
        "log_every",
        "backend",
        "models",
        "boundary_tolerances",
        "duration_bins",
        "kl_smoothing",
        "select_on",
        "resume",
    )
}
out.json(
    {
        "config": config,
        "data_path": str(data.path),
        "class_names": list(classes),
        "duration_laws": {c: vars(laws[c]) for c in classes},
        "metrics": {row["model"]: {k: v for k, v in row.items() if k != "model"} for row in rows},
        "history": {name: r.history for name, r in results.items()},
        "timings": {
            "data_s": data_seconds,
            "models": timings,
            "notebook_s": time.perf_counter() - notebook_start,
            "notebook_cpu_s": time.process_time() - notebook_cpu,
        },
        "torch_threads": torch.get_num_threads(),
    },
    "metrics.json",
)

# %% [markdown]
# ## Duration distributions (the money plot)
# Rows are classes; the first column is the truth (test runs, and the generator's law as a
# dotted line), then one column per model with its predicted run durations over the truth
# (dashed). KL(true || predicted) on log-spaced bins, add-0.5 smoothing, is in each corner.

# %%
edges = log_bins(seq_length, duration_bins)
pred_runs = {
    name: run_durations(pred, num_classes, test.lengths) for name, pred in predictions.items()
}
kls = {
    name: {
        c: table.set_index("model").loc[name, f"duration_kl_{classes[c]}"]
        for c in range(num_classes)
    }
    for name in predictions
}
fig = duration_comparison(true_runs, pred_runs, kls, edges, classes, law_samples(data))
out.figure(fig, "duration_comparison")
fig.show()

# %% [markdown]
# ## What the semi-CRF learned about durations
# The learned duration bias b(d) against the log-density of the true law, both shifted to
# a maximum of 0 (shapes compare; the bias is not itself normalised). Durations the
# training data never shows keep b near 0. Runs longer than K are trained as several
# K-long pieces, so classes whose durations exceed K pile their bias up at d = K.

# %%
for name in ("semicrf",):
    if name in trained:
        bias = trained[name].head.crf.duration_bias.detach().cpu().numpy()
        fig = learned_durations(
            bias,
            laws,
            classes,
            title=f"{name}: learned duration bias vs the law (d <= K = {max_duration})",
        )
        out.figure(fig, f"learned_durations_{name}")
        fig.show()

# %% [markdown]
# ## Comparison
# Boundary F1 at each tolerance, segment F1, macro position F1, mean and per-class duration
# KL (lower is better), and training time.

# %%
tol_cols = [f"boundary_f1_tol{k}" for k in boundary_tolerances]
kl_cols = ["duration_kl_mean"] + [f"duration_kl_{c}" for c in classes]
comparison = table.set_index("model")[
    tol_cols
    + ["segment_f1", "position_macro_f1"]
    + kl_cols
    + ["train_wall_s", "train_cpu_s", "best_epoch"]
]
top_tol = max(boundary_tolerances)
top = f"boundary_f1_tol{top_tol}"


def boundary_stat(t, p):
    return boundary_f1(t, p, top_tol)["f1"]


def kl_stat(t, p):
    edges_ = log_bins(seq_length, duration_bins)
    values = list(duration_kls(t, p, num_classes, edges_, kl_smoothing).values())
    return float(np.nanmean(values))


if "semicrf" in comparison.index:
    others = comparison.drop(index="semicrf")
    semi = comparison.loc["semicrf"]
    out.headline(
        f"boundary F1 @{top_tol} bp (semicrf)",
        float(semi[top]),
        duration_kl_mean=float(semi["duration_kl_mean"]),
    )
    truth_labels = test.labels.astype(np.int64)
    verdicts = []
    if len(others):
        # paired bootstrap over the test sequences: is the margin larger than the noise?
        for label, column, stat, best in (
            (f"boundary F1 @{top_tol} bp", top, boundary_stat, others[top].idxmax()),
            ("mean duration KL", "duration_kl_mean", kl_stat, others["duration_kl_mean"].idxmin()),
        ):
            diff = bootstrap_difference(
                truth_labels,
                predictions["semicrf"],
                predictions[best],
                stat,
                n_boot=300,
                seed=seed,
                lengths=test.lengths,
            )
            better = diff["difference"] > 0 if column == top else diff["difference"] < 0
            clear = diff["low"] > 0 or diff["high"] < 0
            verdicts.append(
                {
                    "metric": label,
                    "semicrf": float(semi[column]),
                    "best other": best,
                    "its value": float(others.loc[best, column]),
                    "semicrf - other": diff["difference"],
                    "95% interval": f"[{diff['low']:+.3f}, {diff['high']:+.3f}]",
                    "verdict": ("semicrf better" if better else "semicrf not better")
                    + (
                        " (interval excludes 0)"
                        if clear
                        else " (within the noise: interval holds 0)"
                    ),
                }
            )
        verdict = pd.DataFrame(verdicts)
        out.table(verdict, "semicrf_verdict.csv")
        print("semicrf against the best other model, paired bootstrap over test sequences:")
        print(verdict.round(3).to_string(index=False))
else:
    out.headline(
        f"boundary F1 @{top_tol} bp ({comparison.index[0]})", float(comparison[top].iloc[0])
    )
print(
    f"notebook time so far: {time.perf_counter() - notebook_start:.0f} s wall, "
    f"{time.process_time() - notebook_cpu:.0f} s CPU (all threads) on "
    f"{torch.get_num_threads()} torch threads"
)
comparison.round(3)
