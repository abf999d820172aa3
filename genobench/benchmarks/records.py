"""One record per benchmark notebook: the question it answers, its headline metric and key figure.

The site's front page and the README read these records instead of repeating the prose.
`key_figure` is the name a notebook gives `RunOutputs.figure` (a `*` matches any text,
e.g. `umap_*` is the first model's UMAP); the site shows `figures/<name>.json` of a run.
"""

from __future__ import annotations

from dataclasses import dataclass

DIRECTIONS = {"higher": "higher is better", "lower": "lower is better", "pass": "PASS is the goal"}


@dataclass(frozen=True)
class BenchmarkInfo:
    """What one benchmark notebook answers and how its result is read."""

    name: str
    title: str
    question: str
    headline: str
    direction: str  # a key of DIRECTIONS
    key_figure: str
    key_figure_caption: str

    @property
    def direction_text(self) -> str:
        """`higher is better`, `lower is better` or `PASS is the goal`."""
        return DIRECTIONS[self.direction]


BENCHMARKS: dict[str, BenchmarkInfo] = {
    b.name: b
    for b in (
        BenchmarkInfo(
            "quantization",
            "Quantization",
            "What do 8-bit and 4-bit weights (bitsandbytes) cost in fidelity, and what do they buy "
            "in speed, memory and energy, against the 16-bit model?",
            "mean KL divergence of the 4-bit NF4 model's next-token distribution from the "
            "standard model's",
            "lower",
            "pareto_tradeoff",
            "speed, memory and fidelity of each mode: the Pareto trade-off",
        ),
        BenchmarkInfo(
            "binning",
            "Binning",
            "Do a model's embeddings still separate genomes (UMAP, DBSCAN, then ARI, purity, "
            "completeness, silhouette)?",
            "adjusted Rand index of the first model's clusters against the true genomes",
            "higher",
            "umap_*",
            "UMAP of the first model: predicted clusters beside true genomes",
        ),
        BenchmarkInfo(
            "semicrf_synthetic",
            "Semi-CRF on synthetic genes",
            "Does a semi-Markov CRF learn the true segment-duration distributions of synthetic "
            "gene structures where a linear CRF and a softmax head cannot?",
            "boundary F1 of the semi-CRF at the widest tolerance",
            "higher",
            "duration_comparison",
            "predicted segment durations of each model over the true laws",
        ),
        BenchmarkInfo(
            "gradient_check",
            "Gradient check",
            "Do the Triton semi-CRF kernels agree with the PyTorch reference in the partition "
            "function and its gradients at T = 1k to 100k?",
            "every criterion met at every T",
            "pass",
            "gradient_check",
            "error against the reference and forward + backward time vs T",
        ),
        BenchmarkInfo(
            "esm_speed",
            "ESM speed",
            "How much faster is a fast-attention protein encoder (FastESM2-style SDPA) than the "
            "reference ESM2, and does a downstream classifier lose accuracy?",
            "throughput speedup of the fast encoder over the reference",
            "higher",
            "throughput_by_bucket",
            "throughput of each encoder by sequence-length bucket",
        ),
        BenchmarkInfo(
            "gfm_zeroshot",
            "GFM zero-shot variants",
            "How well do genomic foundation models score variant effects zero-shot (embedding "
            "distance for encoders, log-likelihood ratio for causal models)?",
            "AUROC of the best model and method on all variants",
            "higher",
            "auroc_intervals",
            "AUROC per model and method with its bootstrap 95% interval",
        ),
    )
}
