"""genobench: a reproducible benchmark report for genomic language models."""

__version__ = "0.1.0"
