"""Glue of the semi-CRF synthetic benchmark: build, train and score one model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genobench.benchmarks.semicrf_synthetic.heads import SegmentationModel
from genobench.benchmarks.semicrf_synthetic.train import (
    TrainConfig,
    TrainResult,
    load_best,
    predict,
    train_model,
)
from genobench.data.gene_structure import FEATURE_DIMS, GeneStructureData
from genobench.metrics.segmentation import segmentation_metrics


def build_model(
    name: str,
    num_classes: int,
    features: str,
    encoder: str,
    hidden_dim: int,
    num_layers: int,
    max_duration: int,
    backend: str,
    seed: int,
    **encoder_kwargs,
) -> SegmentationModel:
    """A model seeded with `seed` (every model starts from the same encoder weights)."""
    torch.manual_seed(seed)
    return SegmentationModel(
        name,
        num_classes,
        FEATURE_DIMS[features],
        encoder,
        hidden_dim,
        num_layers,
        max_duration,
        backend,
        **encoder_kwargs,
    )


def fit(
    name: str,
    data: GeneStructureData,
    config: TrainConfig,
    checkpoint_dir: str | Path,
    model_kwargs: dict[str, Any],
    resume: bool = True,
    log=print,
) -> tuple[SegmentationModel, TrainResult, dict]:
    """Build and train one model; return it with its best weights loaded, and timings."""
    model = build_model(
        name, data.config.num_classes, config.features, seed=config.seed, **model_kwargs
    )
    spec = {"data": data.config.key(), **model_kwargs}
    wall, cpu = time.perf_counter(), time.process_time()
    result = train_model(
        name,
        model,
        data["train"],
        data["val"],
        config,
        checkpoint_dir,
        data.config.num_classes,
        resume=resume,
        spec=spec,
        log=log,
    )
    timings = {
        "train_wall_s": time.perf_counter() - wall,
        "train_cpu_s": time.process_time() - cpu,
        "train_s_total": result.train_seconds,
    }
    load_best(model, result, config.device)
    return model, result, timings


def score(
    model: SegmentationModel,
    data: GeneStructureData,
    config: TrainConfig,
    tolerances,
    n_bins: int,
    smoothing: float,
    split: str = "test",
) -> tuple[dict, np.ndarray, float]:
    """Decode a split (Viterbi for CRF heads, argmax for softmax) and compute every metric."""
    start = time.perf_counter()
    pred, _ = predict(model, data[split], config)
    seconds = time.perf_counter() - start
    truth = data[split].labels.astype(np.int64)
    metrics = segmentation_metrics(
        truth,
        pred,
        data.config.num_classes,
        tolerances,
        n_bins,
        smoothing,
        data.class_names,
        data[split].lengths,
    )
    return metrics, pred, seconds


def law_samples(data: GeneStructureData) -> dict[int, np.ndarray]:
    """The generator's sampled durations per class (all splits, whole segments)."""
    table = data.true_durations()
    return {
        c: table.loc[table["label"] == c, "duration"].to_numpy()
        for c in range(data.config.num_classes)
    }


def predictions_table(
    predictions: dict[str, np.ndarray], data: GeneStructureData, split: str = "test"
) -> pd.DataFrame:
    """Rows of `test_predictions.csv`: per model, sequence and real position (within its
    length), the true and the predicted class."""
    lengths = data[split].lengths
    truth = data[split].labels
    seq = np.concatenate([np.full(n, i) for i, n in enumerate(lengths)])
    pos = np.concatenate([np.arange(n) for n in lengths])
    parts = [
        pd.DataFrame(
            {
                "model": name,
                "sequence": seq,
                "position": pos,
                "true": truth[seq, pos],
                "pred": np.asarray(pred)[seq, pos],
            }
        )
        for name, pred in predictions.items()
    ]
    return pd.concat(parts, ignore_index=True)
