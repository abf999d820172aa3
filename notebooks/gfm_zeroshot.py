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
# # Zero-shot variant-effect scoring by genomic foundation models
#
# Can a genomic language model tell a damaging variant from a harmless one without
# ever seeing a label? Each model scores every variant from the reference window
# around it and the same window carrying the alternate allele:
#
# - **encoders** (masked LMs): cosine distance between the mean-pooled ref and alt
#   embeddings (`embedding_distance`), the same over the tokens around the variant
#   (`embedding_distance_local`), and the masked-marginal log-likelihood ratio
#   log p(alt) − log p(ref) at the masked variant token (`masked_marginal`);
# - **causal LMs**: log p(alt window) − log p(ref window) (`log_likelihood_ratio`);
# - the **k-mer Markov** baseline: the same LLR under an order-k Markov chain fitted
#   on the reference.
#
# Scores are turned into a *pathogenicity* score (higher = more damaging: the distance,
# or minus the LLR) and compared with the labels by AUROC and AUPRC, overall and per
# region type, with bootstrap 95% confidence intervals.
#
# The default data is a synthetic genome with planted functional elements (splice
# sites, promoter CAAT/TATA boxes, CTCF-like sites, a P-loop motif in exons) sampled
# from position weight matrices; a variant is pathogenic when it breaks a motif core
# base and benign elsewhere. The local stand-in models are trained briefly on that
# genome, so their zero-shot signal is learned, not built in.

# %% tags=["parameters"]
models = [
    "kmer-markov",
    "planted-bert",
    "planted-nt",
    "planted-mistral",
    "planted-mamba",
]  # registry names
registry = None  # a registry YAML of your own, or None for genobench's (models/registry.yaml)
reference = None  # reference FASTA, or None for the planted genome
variants = None  # variants CSV/VCF (chrom, pos, ref, alt, label, region_type), or None
planted = {}  # planted-genome settings (genobench.data.planted_genome.PlantedGenomeSpec)
real = None  # real-genome task instead: {genome: packaged genome or FASTA, n_per_class,
# missense, seed} (genobench.data.real_variants.real_variant_files)
standin_steps = None  # override the stand-ins' training steps (smoke runs), or None
window = 128  # window cap in bp; each model uses min(its max length, window)
local_radius = 16  # bp either side of the variant for embedding_distance_local
batch_size = 32
device = "cpu"
load_in_4bit = "auto"  # true, false, or "auto": 4-bit for entries with needs_4bit
seed = 0
n_bootstrap = 1000
output_dir = "reports/interactive/gfm_zeroshot"

# %%
import transformers
from IPython.display import display

from genobench.benchmarks.gfm_zeroshot.scoring import score_models
from genobench.benchmarks.gfm_zeroshot.steps import (
    best_overall,
    model_specs,
    model_table,
    unscored_counts,
    variant_task,
)
from genobench.data.genes import load_genome
from genobench.data.variants import load_variants
from genobench.metrics.variant_effect import zeroshot_metrics
from genobench.plots import use_notebook_renderer
from genobench.plots.gfm_zeroshot import (
    auroc_intervals,
    region_heatmap,
    roc_pr_figure,
    score_distributions,
)
from genobench.report.results import RunOutputs, write_failures

use_notebook_renderer()
transformers.logging.set_verbosity_error()  # e.g. Mamba's "falling back to PyTorch" notices
out = RunOutputs(output_dir)
specs = model_specs(models, registry, standin_steps)

# %% [markdown]
# ## Data
# The reference and the variants are validated before any model is loaded: every ref
# allele must match the reference, alleles are A/C/G/T, positions are in range (the
# error names the row). A real-genome task (`real`) draws single-base changes in the
# genes Prodigal calls on a packaged genome: stop-gain (pathogenic, 1) against synonymous
# (benign, 0); its source is listed below.

# %%
reference, variants, datasets = variant_task(real, reference, variants, planted, seed)
genome = load_genome(reference)
table = load_variants(variants, genome)
print(f"{reference}: {len(genome)} sequence(s), {sum(map(len, genome.values())):,} bp")
print(f"{variants}: {len(table)} variants, {int(table['label'].sum())} pathogenic")
if datasets is not None:
    out.table(datasets, "datasets.csv")
    display(datasets)
table.groupby(["region_type", "label"]).size().unstack("label").rename(
    columns={0: "benign", 1: "pathogenic"}
)

# %% [markdown]
# ## Models
# The registry entries being compared (type, size, context, VRAM need). Stand-ins are
# trained on the reference on first use and cached; hub models load through the shared
# loading code (4-bit through bitsandbytes where the entry needs it).

# %%
comparison = model_table(specs)
out.table(comparison, "model_comparison.csv")
comparison.drop(columns=["source", "notes"])

# %% [markdown]
# ## Score every variant

# %%
scores, timing, failures = score_models(
    specs,
    table,
    genome,
    window,
    batch_size=batch_size,
    device=device,
    load_in_4bit=load_in_4bit,
    local_radius=local_radius,
    seed=seed,
)
write_failures(output_dir, failures)  # a model that failed is a row here; the run is partial
timing
out.table(scores, "variant_scores.csv")
out.table(timing, "timing.csv")
unscored = unscored_counts(scores)
if len(unscored):
    print("variants a method could not score (NaN, left out of its metrics):")
    print(unscored.to_string())

# %% [markdown]
# ## AUROC and AUPRC
# Overall (`region_type` = all) and per region type; `_low`/`_high` are the bootstrap
# 95% interval. AUPRC's chance level is the pathogenic fraction (`auprc_baseline`).

# %%
metrics = zeroshot_metrics(scores, n_bootstrap=n_bootstrap, seed=seed)
out.table(metrics, "zeroshot_metrics.csv")
overall, best = best_overall(metrics)
out.headline(f"AUROC ({best['model']}, {best['method']})", best["auroc"])
overall.round(3)

# %%
fig = auroc_intervals(metrics)
out.figure(fig, "auroc_intervals")
fig.show()

# %% [markdown]
# ### By region type

# %%
fig = region_heatmap(metrics)
out.figure(fig, "auroc_heatmap")
fig.show()
metrics.pivot_table(
    index=["model", "method"], columns="region_type", values="auroc", sort=False
).round(3)

# %% [markdown]
# ## ROC and precision-recall curves

# %%
fig = roc_pr_figure(scores, metrics, title="zero-shot variant effect, all regions")
out.figure(fig, "roc_pr")
fig.show()

# %% [markdown]
# ## Score distributions
# Benign vs pathogenic pathogenicity scores per region type.

# %%
fig = score_distributions(scores)
out.figure(fig, "score_distributions")
fig.show()
