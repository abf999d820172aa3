"""The proteins of an esm_speed run: the speed set by length bucket, and the labelled
two-class validation set with its train/val/test split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genobench.data.proteins import (
    bucket_proteins,
    fasta_buckets,
    labelled_fasta,
    phage_host_proteins,
    protein_records,
    quantile_buckets,
    viral_host_proteins,
)


def speed_proteins(
    fasta=None,
    length_buckets=(100, 300, 500),
    bucket_quantiles=None,
    per_bucket: int = 8,
    seed: int = 0,
) -> tuple[pd.DataFrame, list[int]]:
    """The timed proteins (columns id, seq, length, bucket; index 0..n-1) and the buckets.

    Without `fasta`: `per_bucket` seeded synthetic proteins per length bucket. With it:
    its proteins, each in its nearest bucket, the buckets at `bucket_quantiles` of its
    lengths when given.
    """
    if fasta is None:
        return bucket_proteins(length_buckets, per_bucket, seed).reset_index(drop=True), list(
            length_buckets
        )
    records = protein_records(fasta)
    if bucket_quantiles:
        length_buckets = quantile_buckets(records, bucket_quantiles)
    proteins = fasta_buckets(records, length_buckets, per_bucket, seed)
    return proteins.reset_index(drop=True), list(length_buckets)


def validation_proteins(
    validation_real: dict | None = None,
    validation_fasta=None,
    n_per_class: int = 150,
    seed: int = 0,
    min_length: int = 50,
    max_length: int = 250,
    viral_shift: float = 1.5,
) -> pd.DataFrame:
    """The labelled proteins (columns id, seq, label, label_name, ...): real phage vs host
    proteins (`validation_real`), a labelled FASTA (`validation_fasta`), or else the seeded
    synthetic viral-vs-host set."""
    if validation_real is not None:
        missing = {"phages", "host"} - set(validation_real)
        if missing:
            raise ValueError(
                f"validation_real needs {', '.join(sorted(missing))}: give "
                "{phages: [<phage protein sets>], host: <host proteins or genome>}"
            )
        return phage_host_proteins(
            validation_real["phages"],
            validation_real["host"],
            n_per_class,
            seed,
            min_length,
            max_length,
        )
    if validation_fasta is None:
        return viral_host_proteins(
            n_per_class, seed, min_length, max_length, shift_strength=viral_shift
        )
    return labelled_fasta(validation_fasta)


def class_names(labelled: pd.DataFrame) -> list[str]:
    """The names of label 0 and label 1 (column label_name); both classes must be present."""
    names = []
    for k in (0, 1):
        rows = labelled.loc[labelled["label"] == k, "label_name"]
        if rows.empty:
            raise ValueError(
                f"the validation set has no protein of label {k}: a two-class set needs both "
                "labels 0 and 1"
            )
        names.append(rows.iloc[0])
    return names


def split_table(labelled: pd.DataFrame, splits: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rows of validation_proteins.csv: id, label, label_name and the split of each protein."""
    split_of = pd.Series({i: name for name, idx in splits.items() for i in idx})
    return labelled.assign(split=split_of)[["id", "label", "label_name", "split"]]


def describe_sets(
    proteins: pd.DataFrame, labelled: pd.DataFrame, splits: dict[str, np.ndarray]
) -> str:
    """Two lines: the speed proteins per bucket, the validation classes and split sizes."""
    classes = class_names(labelled)
    labels = labelled["label"].to_numpy()
    buckets = ", ".join(f"{b} aa: {n}" for b, n in proteins.groupby("bucket").size().items())
    sizes = ", ".join(f"{k} {len(v)}" for k, v in splits.items())
    return (
        f"speed: {len(proteins)} proteins, buckets {buckets}\n"
        f"validation: {len(labelled)} proteins ({classes[1]} = 1: {int(labels.sum())}, "
        f"{classes[0]} = 0: {int((labels == 0).sum())}); {sizes}"
    )
