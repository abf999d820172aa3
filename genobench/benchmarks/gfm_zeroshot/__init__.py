"""gfm_zeroshot: zero-shot variant-effect scoring by genomic foundation models.

`scorers` wraps each model (`GenomicModel`, `build_model`) with its scoring methods;
`scoring` runs every model on a variant table, each isolated, so one failure is one row.
The models are entries of the one registry, `genobench.models.registry`.
"""
