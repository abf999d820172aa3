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
# # Binning: do embeddings still separate genomes?
#
# Metagenomic binning groups DNA fragments by the genome they came from. Following
# the GenomeOcean binning benchmark, each model embeds every fragment; UMAP reduces
# the embeddings (to `umap_dim` dimensions for clustering, to 2 for the plots) and
# DBSCAN clusters them. The clusters are scored against the true `genome_id`
# (adjusted Rand index, purity, completeness, homogeneity, silhouette).
# Tetranucleotide frequency (`tnf`) is the classical, model-free baseline.

# %% tags=["parameters"]
csv = None  # fragment CSV (genome_id, fragment_id, seq), or None for the synthetic metagenome
synthetic_genomes = 24  # synthetic metagenome: genomes generated (when csv is None)
synthetic_fragments = 60  # ... fragments cut from each genome
fragment_min_len = 2000  # ... shortest fragment (bp)
fragment_max_len = 5000  # ... longest fragment (bp)
n_genomes = 20  # genomes sampled for the benchmark
n_fragments = 50  # fragments sampled per genome
short_genomes = "drop"  # a genome with < n_fragments fragments: "drop" (warn) or "error"
seed = 0
models = ["tnf"]  # registry names (e.g. tnf, genomeocean-4b), hub ids, folders or local:<name>
batch_size = 16
max_tokens = 1024
device = "cpu"
umap_dim = 10  # UMAP dimensions used for clustering
min_samples = 5  # DBSCAN min_samples (also the k of the k-distance curve)
eps = None  # DBSCAN eps, or None for the knee of the k-distance curve (recorded)
output_dir = "reports/interactive/binning"

# %%
import pandas as pd

from genobench.binning import bin_embeddings, embed_models, labels_table, metrics_row
from genobench.data.fragments import load_fragments, select_fragments
from genobench.data.metagenome import metagenome_csv
from genobench.plots import binning_scatter, use_notebook_renderer
from genobench.results import RunOutputs, write_failures

use_notebook_renderer()
out = RunOutputs(output_dir)

# %% [markdown]
# ## Data
# The input table is validated before any work (required columns, nucleotide alphabet,
# unique fragment ids); then `n_genomes` genomes and `n_fragments` fragments of each
# are drawn with the seed.

# %%
if csv is None:
    csv = metagenome_csv(n_genomes=synthetic_genomes, fragments_per_genome=synthetic_fragments,
                         min_length=fragment_min_len, max_length=fragment_max_len, seed=seed)
fragments = select_fragments(load_fragments(csv), n_genomes, n_fragments, seed, short_genomes)
out.table(fragments[["genome_id", "fragment_id"]], "selected_fragments.csv")
lengths = fragments["seq"].str.len()
print(f"{csv}: {fragments['genome_id'].nunique()} genomes x {n_fragments} fragments, "
      f"{lengths.min()}-{lengths.max()} bp (median {lengths.median():.0f})")

# %% [markdown]
# ## Embed, reduce, cluster
# DBSCAN's `eps` is read off the knee of the k-distance curve when not given; the value
# used is in the table.

# %%
embeddings, failures = embed_models(models, fragments["seq"].tolist(), batch_size, max_tokens,
                                    device)
write_failures(output_dir, failures)  # a model that failed is a row there; the run is partial
rows, labels, results = [], [], {}
for model, x in embeddings.items():
    results[model] = bin_embeddings(x, fragments["genome_id"], umap_dim, seed,
                                    min_samples=min_samples, eps=eps)
    rows.append(metrics_row(model, results[model], len(fragments)))
    labels.append(labels_table(model, fragments["fragment_id"], results[model]))
metrics = pd.concat(rows, ignore_index=True)
out.table(metrics, "binning_metrics.csv")
out.table(pd.concat(labels, ignore_index=True), "cluster_labels.csv")
out.headline(f"ARI ({metrics['model'].iloc[0]})", metrics["ari"].iloc[0])
metrics.round(3)

# %% [markdown]
# ## UMAP of the fragments
# Left: coloured by DBSCAN cluster (grey = noise). Right: coloured by true genome.

# %%
for model, result in results.items():
    fig = binning_scatter(result.coords_2d, result.labels, fragments["genome_id"],
                          title=f"{model}: ARI {result.metrics['ari']:.3f}")
    out.figure(fig, f"umap_{model.replace('/', '_').replace(':', '_')}")
    fig.show()
