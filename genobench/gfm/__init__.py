"""Genomic foundation models for zero-shot variant-effect scoring.

models (`GenomicModel` wrappers and `build_model`), scoring (every model, each isolated),
standins (small models trained on the reference), markov (the k-mer baseline). The
models themselves are entries of the one registry, genobench.models.registry.
"""
