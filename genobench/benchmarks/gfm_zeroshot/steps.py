"""The steps of the gfm_zeroshot notebook: its models, its variant task, its headline."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from genobench.data.planted_genome import PlantedGenomeSpec, planted_genome_files
from genobench.data.real_variants import real_variant_files, variant_datasets
from genobench.models.registry import ModelSpec, load_registry, select_models

HEADLINE_COLUMNS = ["model", "method", "n", "auroc", "auroc_low", "auroc_high", "auprc",
                    "auprc_low", "auprc_high", "auprc_baseline"]  # fmt: skip


def model_specs(
    models: list[str], registry: str | Path | None = None, standin_steps: int | None = None
) -> list[ModelSpec]:
    """The registry entries of `models` (genobench's registry, or the YAML `registry`), with
    every stand-in's training steps set to `standin_steps` when given."""
    specs = select_models(load_registry(registry), list(models))
    if standin_steps is None:
        return specs
    return [
        dataclasses.replace(s, standin={**s.standin, "steps": int(standin_steps)})
        if s.standin
        else s
        for s in specs
    ]


def variant_task(
    real: dict[str, Any] | None,
    reference: str | None,
    variants: str | None,
    planted: dict[str, Any],
    seed: int,
) -> tuple[str, str, pd.DataFrame | None]:
    """(reference FASTA, variants table, datasets description or None) of the task:
    the real-genome task when `real` is given, else the user's `reference` and `variants`,
    else the planted genome built from `planted` and `seed`."""
    if real is not None:
        files = real_variant_files(**real)
        datasets = variant_datasets(real["genome"], real.get("missense", False))
        return str(files["genome"]), str(files["variants"]), datasets
    if (reference is None) != (variants is None):
        raise ValueError(
            "gfm_zeroshot: give both `reference` and `variants` (your own task), or "
            f"neither (the planted genome); got reference={reference!r}, "
            f"variants={variants!r}"
        )
    if reference is not None:
        return str(reference), str(variants), None
    files = planted_genome_files(PlantedGenomeSpec(**{"seed": seed, **planted}))
    return str(files["genome"]), str(files["variants"]), None


def model_table(specs: list[ModelSpec]) -> pd.DataFrame:
    """One row per model: name, source, type, size, context, tokenization, methods."""
    return pd.DataFrame(
        [
            {
                "model": s.name,
                "name": s.display_name or s.name,
                "source": s.hub_id,
                "type": s.type,
                "family": s.family,
                "params": s.params,
                "embedding_dim": s.embedding_dim,
                "context_bp": s.max_length,
                "tokenization": s.tokenization,
                "methods": ", ".join(s.methods),
                "trust_remote_code": s.trust_remote_code,
                "needs_4bit_for_24GB": s.needs_4bit,
                "notes": s.notes,
            }
            for s in specs
        ]
    )


def unscored_counts(scores: pd.DataFrame) -> pd.Series:
    """Variants each (model, method) could not score (NaN raw score), where any."""
    counts = scores.groupby(["model", "method"])["raw_score"].apply(lambda s: s.isna().sum())
    return counts[counts > 0]


def best_overall(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The all-regions rows (headline columns) and the row of the best AUROC among them."""
    overall = metrics[metrics["region_type"] == "all"]
    return overall[HEADLINE_COLUMNS], overall.sort_values("auroc", ascending=False).iloc[0]
