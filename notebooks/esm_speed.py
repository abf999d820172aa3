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
#    pooling), per length bucket? PASS if reference time / fast time ≥ `speedup_threshold`.
# 2. **Validation.** Does an MLP classifier trained on its embeddings lose accuracy on a
#    binary task (default: synthetic "viral vs host" proteins)? FAIL if the accuracy
#    drop against the baseline exceeds `accuracy_threshold`.
#
# Each pair names a reference and a fast model (hub id, local path, or `local:<name>`
# for an ESM2-architecture checkpoint genobench builds with random weights). When both
# are the same checkpoint, the pair compares `attn_implementation="eager"` with `"sdpa"`
# on identical weights, and the embeddings' cosine similarity shows the fast path
# computes the same function.

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
import numpy as np
import pandas as pd
import torch

from genobench.benchmarks.esm_speed.classifier import (
    load_classifier,
    save_classifier,
    scores_table,
    split_indices,
    train_classifier,
)
from genobench.benchmarks.esm_speed.speed import (
    hardware_info,
    load_role,
    normalize_pairs,
    speed_summary,
    speedups,
    time_pair,
)
from genobench.data.proteins import (
    bucket_proteins,
    fasta_buckets,
    labelled_fasta,
    phage_host_proteins,
    protein_datasets,
    protein_records,
    quantile_buckets,
    viral_host_proteins,
)
from genobench.metrics.classification import (
    accuracy_drop_verdict,
    baseline_for,
    load_baseline_metrics,
    roc_points,
)
from genobench.models.esm import row_cosine
from genobench.plots import use_notebook_renderer
from genobench.plots.esm_speed import roc_curves, throughput_by_bucket
from genobench.report.results import RunOutputs, write_failures
from genobench.status import FAIL, NO_BASELINE, NOT_MEASURED, PASS

use_notebook_renderer()
out = RunOutputs(output_dir)
torch.manual_seed(seed)
pair_list = normalize_pairs(pairs, reference_attention, fast_attention, trust_remote_code)
bad = [i for i in validation_pairs if not 0 <= i < len(pair_list)]
if bad:
    raise ValueError(f"validation_pairs {bad} are not indices of pairs (0..{len(pair_list) - 1})")
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
if fasta is None:
    proteins = bucket_proteins(length_buckets, per_bucket, seed)
else:
    records = protein_records(fasta)
    if bucket_quantiles:
        length_buckets = quantile_buckets(records, bucket_quantiles)
    proteins = fasta_buckets(records, length_buckets, per_bucket, seed)
proteins = proteins.reset_index(drop=True)
if validation_real is not None:
    labelled = phage_host_proteins(
        validation_real["phages"],
        validation_real["host"],
        n_per_class,
        seed,
        validation_min_length,
        validation_max_length,
    )
elif validation_fasta is None:
    labelled = viral_host_proteins(
        n_per_class, seed, validation_min_length, validation_max_length, shift_strength=viral_shift
    )
else:
    labelled = labelled_fasta(validation_fasta)
labels = labelled["label"].to_numpy()
splits = split_indices(labels, split, seed)
classes = [labelled.loc[labelled["label"] == k, "label_name"].iloc[0] for k in (0, 1)]
out.table(proteins[["id", "length", "bucket"]], "speed_proteins.csv")
out.table(
    labelled.assign(split=pd.Series({i: s for s, idx in splits.items() for i in idx}))[
        ["id", "label", "label_name", "split"]
    ],
    "validation_proteins.csv",
)
print(
    f"speed: {len(proteins)} proteins, buckets "
    + ", ".join(f"{b} aa: {n}" for b, n in proteins.groupby("bucket").size().items())
)
print(
    f"validation: {len(labelled)} proteins ({classes[1]} = 1: {int(labels.sum())}, "
    f"{classes[0]} = 0: {int((labels == 0).sum())}); "
    + ", ".join(f"{k} {len(v)}" for k, v in splits.items())
)
datasets = protein_datasets(fasta, length_buckets, validation_real)
out.table(datasets, "datasets.csv")
datasets

# %% [markdown]
# ## Speed
# For each pair both models are loaded (a model that cannot load is reported and the
# pair goes on with what it has), warmed up, then timed in alternation on each bucket.
# Validation pairs also embed the labelled set and train one classifier per model.

# %%
loads, raw_parts, fidelity, validation, curves, failures = [], [], [], {}, {}, []
test_scores = []
for i, pair in enumerate(pair_list):
    encoders = {}
    for role in ("reference", "fast"):
        encoders[role], row, failure = load_role(pair, role, device, dtype)
        loads.append(row)
        if failure:
            failures.append(failure)
            print(f"could not load {role} {pair[role]}: {failure['error']}")
    if not any(encoders.values()):
        continue
    raw, emb = time_pair(
        encoders["reference"],
        encoders["fast"],
        proteins,
        batch_size,
        warmup,
        num_runs,
        device,
        max_length,
    )
    raw.insert(0, "pair", pair["name"])
    raw_parts.append(raw)
    if pair["shared_weights"] and all(e is not None for e in emb.values()) and len(emb) == 2:
        cos = row_cosine(emb["reference"], emb["fast"])
        fidelity.append(
            {
                "pair": pair["name"],
                "cosine_mean": cos.mean(),
                "cosine_min": cos.min(),
                "n": len(cos),
            }
        )
    if i in validation_pairs:
        result = {"pair": pair["name"], "fast_model": pair["fast"], "metrics": {}}
        for role, enc in encoders.items():
            if enc is None:
                continue
            x = enc.embed(labelled["seq"].tolist(), batch_size, max_length, progress=False)
            clf, selection = train_classifier(
                x, labels, splits, enc.label, seed, hidden_layer_sizes, alphas, classes=classes
            )
            ckpt = save_classifier(clf, out.dir / "checkpoints" / f"pair{i}_{role}")
            reloaded = load_classifier(ckpt, expected_dim=x.shape[1])
            assert np.allclose(reloaded.predict_proba(x), clf.predict_proba(x))
            for split_name in ("val", "test"):
                idx = splits[split_name]
                result["metrics"][(role, split_name)] = clf.metrics(x[idx], labels[idx])
            test = splits["test"]
            test_scores.append(
                scores_table(
                    pair["name"],
                    role,
                    labelled["id"].iloc[test],
                    labels[test],
                    clf.predict_proba(x[test]),
                )
            )
            fpr, tpr = roc_points(labels[test], test_scores[-1]["score"])
            curves[f"pair {i} {role}: {enc.label}"] = (
                fpr,
                tpr,
                result["metrics"][(role, "test")]["roc_auc"],
            )
            result[f"{role}_label"] = enc.label
            result[f"{role}_alpha"] = clf.settings["alpha"]
        validation[i] = result
    for enc in encoders.values():
        if enc is not None:
            enc.release()
    del encoders

load_table = pd.DataFrame(loads)
write_failures(output_dir, failures)  # a model that failed to load makes the run partial
out.table(load_table, "models.csv")
load_table

# %% [markdown]
# ### Speed table
# Per model and bucket: total seconds of the bucket, per-sequence milliseconds,
# sequences/s and tokens/s (non-padding tokens, BOS/EOS included): mean, median and
# min–max over `num_runs` runs. Peak memory is the model's weights plus what one call
# added at its peak: CUDA allocations on a GPU, the process's resident set on CPU
# (`peak_mem_note` says which; the largest of the runs is shown).

# %%
if raw_parts:
    raw = pd.concat(raw_parts, ignore_index=True)
    summary = speed_summary(raw)
    speed = speedups(summary, speedup_threshold)
else:
    raw = summary = speed = pd.DataFrame()
    print("no model could be loaded: nothing was timed")
out.table(raw, "speed_runs.csv")
out.table(summary, "speed.csv")
out.table(speed, "speedup_by_bucket.csv")
cols = [
    "pair",
    "role",
    "attention",
    "bucket",
    "n_seqs",
    "total_s_median",
    "total_s_min",
    "total_s_max",
    "per_seq_ms_median",
    "seqs_per_s_median",
    "tokens_per_s_median",
    "peak_mem_mb",
]
summary[cols].round(4) if len(summary) else summary

# %%
speed.round(3) if len(speed) else speed

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
metric_rows, comparisons = [], []
fid = {f["pair"]: f for f in fidelity}
for i, pair in enumerate(pair_list):
    speed_all = (
        speed[(speed["pair"] == pair["name"]) & (speed["bucket"] == "all")]
        if len(speed)
        else pd.DataFrame()
    )
    row = {
        "pair": pair["name"],
        "reference": pair["reference"],
        "fast": pair["fast"],
        "speedup": speed_all["speedup"].iloc[0] if len(speed_all) else np.nan,
        "speedup_threshold": speedup_threshold,
        "speed_verdict": speed_all["verdict"].iloc[0] if len(speed_all) else NOT_MEASURED,
        "cosine_mean": fid.get(pair["name"], {}).get("cosine_mean", np.nan),
        "cosine_min": fid.get(pair["name"], {}).get("cosine_min", np.nan),
    }
    result = validation.get(i)
    if result is not None:
        for (role, split_name), m in result["metrics"].items():
            metric_rows.append(
                {
                    "pair": pair["name"],
                    "role": role,
                    "model": result.get(f"{role}_label"),
                    "split": split_name,
                    "source": "this run",
                    **m,
                }
            )
        fast_test = result["metrics"].get(("fast", "test"))
        given = baseline_for(baselines, pair["fast"])
        if given is not None:
            baseline, source = given, "baseline_metrics"
            metric_rows.append(
                {
                    "pair": pair["name"],
                    "role": "baseline",
                    "model": None,
                    "split": "test",
                    "source": "baseline_metrics",
                    **given,
                }
            )
        else:
            baseline = result["metrics"].get(("reference", "test"))
            source = "reference (this run)" if baseline else "none"
        if fast_test is None:
            row.update(
                validation_verdict=NOT_MEASURED,
                baseline_source=source,
                validation_message="the fast model did not load: nothing to validate",
            )
        else:
            v = accuracy_drop_verdict(fast_test, baseline, accuracy_threshold)
            row.update(
                validation_verdict=v.status,
                baseline_source=source,
                baseline_accuracy=(baseline or {}).get("accuracy", np.nan),
                fast_accuracy=fast_test["accuracy"],
                accuracy_drop=v.accuracy_drop,
                accuracy_threshold=accuracy_threshold,
                validation_message=v.message,
                next_steps=" | ".join(v.next_steps),
            )
    else:
        row.update(validation_verdict="not validated (not in validation_pairs)")
    comparisons.append(row)
validation_metrics = pd.DataFrame(metric_rows)
comparison = pd.DataFrame(comparisons)
out.table(validation_metrics, "validation_metrics.csv")
out.table(comparison, "comparison.csv")
if test_scores:
    out.table(pd.concat(test_scores, ignore_index=True), "test_scores.csv")
mcols = [
    "pair",
    "role",
    "split",
    "source",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "tn",
    "fp",
    "fn",
    "tp",
]
validation_metrics[mcols].round(3) if len(validation_metrics) else "no pair was validated"

# %%
if curves:
    fig = roc_curves(curves, title=f"ROC curves on the test split ({classes[1]} = positive)")
    out.figure(fig, "roc_curves")
    fig.show()

# %% [markdown]
# ## Comparison
# One row per pair: overall speedup (sum of the buckets' median times), embedding
# cosine similarity when the weights are shared, and the validation verdict.

# %%
comparison.drop(columns=["next_steps"], errors="ignore").round(4)

# %%
measured = comparison[comparison["speed_verdict"] != NOT_MEASURED]
speed_status = (
    NOT_MEASURED if measured.empty else PASS if (measured["speed_verdict"] == PASS).all() else FAIL
)
judged = comparison[comparison["validation_verdict"].isin([PASS, FAIL, NO_BASELINE])]
if judged.empty:
    validation_status = NOT_MEASURED
elif (judged["validation_verdict"] == FAIL).any():
    validation_status = FAIL
elif (judged["validation_verdict"] == PASS).any():
    validation_status = PASS
else:
    validation_status = NO_BASELINE


def _fmt(x, spec=".2f", unit=""):
    return "n/a" if pd.isna(x) else f"{x:{spec}}{unit}"


lines = [
    f"**Speed: {speed_status}** (speedup = reference time / fast time, PASS if ≥ "
    f"{speedup_threshold:g}×) on {hardware['device_name']}, torch {hardware['torch']}"
    + (f", CUDA {hardware['cuda']}" if hardware["cuda"] else "")
    + ".",
    "",
    f"**Validation: {validation_status}** (FAIL if the accuracy drop against the "
    f"baseline > {accuracy_threshold:g}).",
    "",
    "| pair | speedup | speed | cosine (min) | baseline acc. | fast acc. | drop | validation |",
    "|---|---|---|---|---|---|---|---|",
]
for _, r in comparison.iterrows():
    lines.append(
        f"| {r['pair']} | {_fmt(r['speedup'], '.2f', '×')} | {r['speed_verdict']} | "
        f"{_fmt(r['cosine_min'], '.6f')} | {_fmt(r.get('baseline_accuracy'), '.3f')} | "
        f"{_fmt(r.get('fast_accuracy'), '.3f')} | {_fmt(r.get('accuracy_drop'), '+.3f')} | "
        f"{r['validation_verdict']} |"
    )
failed_loads = load_table[load_table["status"] == "failed"] if len(load_table) else load_table
if len(failed_loads):
    lines += ["", "Models that could not be loaded:"]
    lines += [
        f"- {r['role']} `{r['model']}`: {r['reason'][:300]}" for _, r in failed_loads.iterrows()
    ]
for _, r in comparison.iterrows():
    if r["validation_verdict"] == NO_BASELINE:
        lines += ["", f"{r['pair']}: {r['validation_message']}"]
    if r["validation_verdict"] == FAIL:
        lines += ["", f"**{r['pair']}: {r['validation_message']}.** Next steps:"]
        lines += [f"1. {s}" for s in r["next_steps"].split(" | ")]
summary_md = "\n".join(lines)
summary_display.update(Markdown(summary_md))
out.json(
    {
        "speed": speed_status,
        "validation": validation_status,
        "hardware": hardware,
        "pairs": comparison.to_dict(orient="records"),
    },
    "summary.json",
)
first = measured.iloc[0] if len(measured) else None
out.headline(
    f"speedup ({first['pair']})" if first is not None else "speedup",
    float(first["speedup"]) if first is not None else float("nan"),
    speed=speed_status,
    validation=validation_status,
)
Markdown(summary_md)
