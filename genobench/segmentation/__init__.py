"""Sequence segmentation: encoders, output heads (softmax, linear CRF, semi-CRF) and training."""

from genobench.segmentation.encoders import ENCODERS, build_encoder
from genobench.segmentation.heads import MODELS, SegmentationModel, build_head
from genobench.segmentation.train import TrainConfig, TrainResult, load_best, predict, train_model

__all__ = ["ENCODERS", "MODELS", "SegmentationModel", "TrainConfig", "TrainResult", "build_encoder",
           "build_head", "load_best", "predict", "train_model"]
