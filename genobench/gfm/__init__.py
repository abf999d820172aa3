"""Genomic foundation models for zero-shot variant-effect scoring.

registry (the YAML registry and its validation), models (`GenomicModel` wrappers and
`build_model`), standins (small models trained on the reference), markov (the k-mer
baseline), plots (figures of the benchmark).
"""
