"""Sequence segmentation: encoders, output heads (softmax, linear CRF, semi-CRF) and training."""

from genobench.benchmarks.semicrf_synthetic.encoders import ENCODERS, build_encoder
from genobench.benchmarks.semicrf_synthetic.heads import MODELS, SegmentationModel, build_head
from genobench.benchmarks.semicrf_synthetic.train import (
    TrainConfig,
    TrainResult,
    load_best,
    predict,
    train_model,
)

__all__ = [
    "ENCODERS",
    "MODELS",
    "SegmentationModel",
    "TrainConfig",
    "TrainResult",
    "build_encoder",
    "build_head",
    "load_best",
    "predict",
    "train_model",
]
