"""The steps of the semi-CRF synthetic notebook: check the settings, load the data, train
and score every model, and gather what the run records."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from genobench.benchmarks.semicrf_synthetic.heads import MODELS, SegmentationModel
from genobench.benchmarks.semicrf_synthetic.train import (
    TrainConfig,
    TrainResult,
    load_best,
    predict,
    train_model,
)
from genobench.data.gene_structure import (
    FEATURE_DIMS,
    GeneStructureConfig,
    GeneStructureData,
    load_or_generate,
)
from genobench.data.real_gene_structure import RealGeneConfig, load_or_build, real_gene_datasets
from genobench.metrics.segmentation import log_bins, run_durations, segmentation_metrics
from genobench.plots.semicrf_synthetic import duration_comparison, learned_durations

# the notebook parameters a run records in metrics.json (its "config")
SETTINGS = (
    "num_train",
    "num_val",
    "num_test",
    "seq_length",
    "real_genes",
    "num_classes",
    "seed",
    "duration_scale",
    "composition_strength",
    "splice_motifs",
    "mean_introns",
    "encoder",
    "features",
    "kmer_window",
    "max_duration",
    "hidden_dim",
    "num_layers",
    "d_state",
    "batch_size",
    "lr",
    "weight_decay",
    "epochs",
    "device",
    "num_threads",
    "log_every",
    "backend",
    "models",
    "boundary_tolerances",
    "duration_bins",
    "kl_smoothing",
    "select_on",
    "resume",
)


@dataclass
class Stopwatch:
    """Wall-clock and process CPU seconds since it was made."""

    wall: float = field(default_factory=time.perf_counter)
    cpu: float = field(default_factory=time.process_time)

    def wall_s(self) -> float:
        return time.perf_counter() - self.wall

    def cpu_s(self) -> float:
        """CPU seconds of every thread of the process."""
        return time.process_time() - self.cpu


def configure(models: Sequence[str], device: str, num_threads: int | None) -> None:
    """Check the models and the device before any work, and give torch and the numba
    semi-CRF kernels `num_threads` threads (None: the libraries' defaults)."""
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(
            f"models: unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}"
        )
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA GPU; use 'cpu'")
    if num_threads:
        import numba

        torch.set_num_threads(num_threads)
        numba.set_num_threads(min(num_threads, numba.config.NUMBA_NUM_THREADS))


def checkpoint_folder(
    checkpoint_dir: str | Path | None, state_dir: str | Path | None, run_dir: str | Path
) -> Path:
    """`checkpoint_dir`, else `checkpoints/` under `state_dir`, else under the run folder."""
    return Path(checkpoint_dir or Path(state_dir or run_dir) / "checkpoints")


def load_data(
    real_genes: Mapping[str, Any] | None,
    data_dir: str | Path | None,
    log=print,
    **settings: Any,
) -> tuple[GeneStructureData, pd.DataFrame | None, float]:
    """The splits, kept under `data_dir` and reused -> (data, the real genome's provenance
    table or None, seconds taken).

    `settings` are the generator's (`GeneStructureConfig`'s fields: num_train, num_val,
    num_test, seq_length, seed, num_classes, duration_scale, ...). With `real_genes` (the
    genome and bin size) the splits are cut from a real genome's gene calls instead; of
    `settings` only those `RealGeneConfig` shares (split sizes, seq_length, seed) apply."""
    start = time.perf_counter()
    if real_genes is None:
        config = GeneStructureConfig(**settings)
        data, datasets = load_or_generate(config, data_dir), None
    else:
        shared = {f.name: settings[f.name] for f in fields(RealGeneConfig) if f.name in settings}
        config = RealGeneConfig(**shared, **real_genes)
        data, datasets = load_or_build(config, data_dir), real_gene_datasets(config)
    seconds = time.perf_counter() - start
    log(
        f"{data.path}: {config.num_train}/{config.num_val}/{config.num_test} sequences of "
        f"{config.seq_length} bp ({'loaded' if seconds < 1 else 'generated'} in {seconds:.1f} s)"
    )
    return data, datasets, seconds


def data_summary(data: GeneStructureData, max_duration: int, split: str = "test") -> pd.DataFrame:
    """Per class: its law (median, clip), the sampled median, its share of the `split`
    positions, the `split` runs and the share of sampled segments no longer than K."""
    classes = data.class_names
    laws = data.laws()
    durations = data.true_durations()
    test = data[split]
    runs = run_durations(test.labels.astype(np.int64), len(classes), test.lengths)
    sampled = {c: durations.loc[durations["class"] == c, "duration"] for c in classes}
    return pd.DataFrame(
        {
            "class": classes,
            "law median (bp)": [laws[c].median for c in classes],
            "law clip (bp)": [f"{laws[c].low}-{laws[c].high}" for c in classes],
            "sampled median (bp)": [sampled[c].median() for c in classes],
            "fraction of test positions": [
                float((test.labels == i).mean()) for i in range(len(classes))
            ],
            "test runs": [len(runs[i]) for i in range(len(classes))],
            f"share of sampled segments <= K={max_duration}": [
                float((sampled[c] <= max_duration).mean()) for c in classes
            ],
        }
    )


def model_settings(
    encoder: str,
    hidden_dim: int,
    num_layers: int,
    max_duration: int,
    backend: str,
    d_state: int,
) -> dict[str, Any]:
    """`build_model` keyword arguments shared by every model (`d_state` for mamba only)."""
    kwargs: dict[str, Any] = dict(
        encoder=encoder,
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        max_duration=max_duration,
        backend=backend,
    )
    if encoder in ("mamba", "mamba_stub"):
        kwargs["d_state"] = d_state
    return kwargs


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


def train_models(
    models: Sequence[str],
    data: GeneStructureData,
    config: TrainConfig,
    checkpoint_dir: str | Path,
    model_kwargs: dict[str, Any],
    resume: bool = True,
    log=print,
) -> tuple[dict[str, SegmentationModel], dict[str, TrainResult], dict[str, dict]]:
    """Build and train every model in turn -> (models with their best weights loaded,
    training results, timings with the parameter count and the best epoch)."""
    trained, results, timings = {}, {}, {}
    spec = {"data": data.config.key(), **model_kwargs}
    for name in models:
        model = build_model(
            name, data.config.num_classes, config.features, seed=config.seed, **model_kwargs
        )
        clock = Stopwatch()
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
        timings[name] = {
            "train_wall_s": clock.wall_s(),
            "train_cpu_s": clock.cpu_s(),
            "train_s_total": result.train_seconds,
            "parameters": sum(p.numel() for p in model.parameters()),
            "best_epoch": result.best_epoch,
        }
        load_best(model, result, config.device)
        trained[name], results[name] = model, result
    return trained, results, timings


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


def score_models(
    trained: Mapping[str, SegmentationModel],
    data: GeneStructureData,
    config: TrainConfig,
    tolerances: Sequence[int],
    n_bins: int,
    smoothing: float,
    timings: Mapping[str, dict],
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, dict]]:
    """`score` every model on the test split -> (`metrics.csv`: one row per model with its
    metrics and timings, the predictions, the timings with `test_decode_s` added)."""
    rows, predictions, timed = [], {}, {}
    for name, model in trained.items():
        metrics, predictions[name], decode_s = score(
            model, data, config, tolerances, n_bins, smoothing
        )
        timed[name] = {**timings[name], "test_decode_s": decode_s}
        rows.append({"model": name, **metrics, **timed[name]})
    return pd.DataFrame(rows), predictions, timed


def run_record(
    params: Mapping[str, Any],
    data: GeneStructureData,
    table: pd.DataFrame,
    results: Mapping[str, TrainResult],
    timings: Mapping[str, dict],
    data_seconds: float,
    clock: Stopwatch,
) -> dict[str, Any]:
    """`metrics.json`: the settings (`SETTINGS` of `params`, the notebook's namespace), the
    data, every model's metrics, training history and timings."""
    classes = data.class_names
    laws = data.laws()
    config = {key: params[key] for key in SETTINGS}
    config["num_classes"] = len(classes)  # real genes set it
    return {
        "config": config,
        "data_path": str(data.path),
        "class_names": list(classes),
        "duration_laws": {c: vars(laws[c]) for c in classes},
        "metrics": table.set_index("model").to_dict("index"),
        "history": {name: r.history for name, r in results.items()},
        "timings": {
            "data_s": data_seconds,
            "models": dict(timings),
            "notebook_s": clock.wall_s(),
            "notebook_cpu_s": clock.cpu_s(),
        },
        "torch_threads": torch.get_num_threads(),
    }


def duration_figure(
    data: GeneStructureData,
    predictions: Mapping[str, np.ndarray],
    table: pd.DataFrame,
    n_bins: int,
    split: str = "test",
) -> go.Figure:
    """The true and each model's predicted run durations per class (`n_bins` log-spaced
    bins up to the sequence length), with the duration KLs of `table`."""
    test = data[split]
    n = data.config.num_classes
    classes = data.class_names
    true_runs = run_durations(test.labels.astype(np.int64), n, test.lengths)
    pred_runs = {name: run_durations(p, n, test.lengths) for name, p in predictions.items()}
    by_model = table.set_index("model")
    kls = {
        name: {c: by_model.loc[name, f"duration_kl_{classes[c]}"] for c in range(n)}
        for name in predictions
    }
    edges = log_bins(data.config.seq_length, n_bins)
    return duration_comparison(true_runs, pred_runs, kls, edges, classes, law_samples(data))


def learned_duration_figure(
    trained: Mapping[str, SegmentationModel], data: GeneStructureData, name: str = "semicrf"
) -> go.Figure | None:
    """Model `name`'s learned duration bias against each class's law (None when `name` was
    not trained)."""
    if name not in trained:
        return None
    crf = trained[name].head.crf
    return learned_durations(
        crf.duration_bias.detach().cpu().numpy(),
        data.laws(),
        data.class_names,
        title=f"{name}: learned duration bias vs the law (d <= K = {crf.max_duration})",
    )


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
